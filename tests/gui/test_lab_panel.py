"""The Lab panel: every page builds, keys step, presentation mode, PNG export at 2x."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage


@pytest.fixture
def panel(qtbot):
    from explorer.gui.lab import LabPanel

    p = LabPanel()
    qtbot.addWidget(p, before_close_func=lambda w: w.shutdown())
    p.resize(1280, 800)
    p.show()
    yield p
    p.shutdown()


def test_every_page_builds(panel):
    from explorer.gui.lab.common import LabPage

    assert len(panel.pages) == 8
    for i in range(len(panel.pages)):
        panel.set_page(i)
        page = panel.current_page()
        assert isinstance(page, LabPage)
        assert panel.stack.currentWidget() is page
        assert panel.list.currentRow() == i
    assert panel.wait(120)
    assert len(panel.built_pages()) == 8


def test_keys_step_then_turn_pages(panel, qtbot):
    panel.set_page(1)  # pooling: two demonstration steps, then the next page
    pool = panel.current_page()
    qtbot.keyClick(panel.list, Qt.Key.Key_Space)
    assert pool.demo_step == 1 and panel.current_index() == 1
    qtbot.keyClick(panel.list, Qt.Key.Key_Right)
    assert pool.demo_step == 2 and panel.current_index() == 1
    qtbot.keyClick(panel.list, Qt.Key.Key_Right)
    assert panel.current_index() == 2
    qtbot.keyClick(panel.list, Qt.Key.Key_Left)  # back to pooling, which steps back first
    assert panel.current_index() == 2 - 1 or pool.demo_step == 1
    panel.set_page(2)
    panel.previous()
    assert panel.current_index() == 1
    panel.set_page(0)
    conv = panel.current_page()
    panel.next()
    assert panel.current_index() == 0 and conv.step_index == 0  # the animation stepped


def test_presentation_mode_fonts_palette_and_back(panel, qtbot):
    page = panel.current_page()
    before = page.heading.font().pointSizeF()
    list_before = panel.list.font().pointSizeF()
    qtbot.keyClick(panel.list, Qt.Key.Key_F11)
    assert panel.presentation and panel.present_button.isChecked()
    assert page.heading.font().pointSizeF() == pytest.approx(before * 1.6)
    assert panel.list.font().pointSizeF() == pytest.approx(list_before * 1.6)
    assert panel.palette().color(panel.backgroundRole()).name() == "#000000"
    assert panel.window().isFullScreen()
    # a page built during the presentation gets the large fonts too
    panel.set_page(2)
    assert panel.current_page().heading.font().pointSizeF() == pytest.approx(before * 1.6)
    panel.set_presentation(False)
    assert not panel.presentation
    assert page.heading.font().pointSizeF() == pytest.approx(before)
    assert panel.list.font().pointSizeF() == pytest.approx(list_before)


def test_export_writes_png_at_twice_the_size(panel, tmp_path):
    out = tmp_path / "page.png"
    size = panel.export_png(out)
    page = panel.current_page()
    image = QImage(str(out))
    assert not image.isNull()
    assert (image.width(), image.height()) == size == (2 * page.width(), 2 * page.height())
    # not a blank picture: the numeric grid and text are in it
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37)
               for y in range(0, image.height(), 37)}
    assert len(colours) > 5


def test_set_image_offers_the_main_windows_picture(panel):
    from explorer.data.samples import load_sample

    panel.set_page(5)
    image = load_sample("coins")
    panel.set_image(image)
    page = panel.current_page()
    page.image_combo.setCurrentText("current image")
    assert page.image_combo.image() is image
