"""The Lab panel: every page builds, keys step, presentation mode asks the window, PNG
export at 2x."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage


@pytest.fixture
def panel(qtbot, qapp):
    from explorer.gui.common import theme
    from explorer.gui.lab import LabPanel

    theme.apply(qapp, presentation=False, zoom_to=1.0, remember=False)
    p = LabPanel()
    qtbot.addWidget(p, before_close_func=lambda w: w.shutdown())
    p.resize(1280, 800)
    p.show()
    yield p
    p.shutdown()
    theme.apply(qapp, presentation=False)


def test_every_page_builds(panel):
    from explorer.gui.lab.common import LabPage

    assert len(panel.pages) == 8
    for i in range(len(panel.pages)):
        panel.set_page(i)
        page = panel.current_page()
        assert isinstance(page, LabPage)
        assert panel.stack.currentWidget().widget() is page
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


def test_presentation_mode_is_the_windows_theme(panel, qtbot, qapp):
    """F11 and the button ask the host; the standalone host switches the theme, and the
    pages follow it: larger text, the dark palette, no palette or font of the Lab's own."""
    from explorer.gui.common import theme

    page = panel.current_page()
    before = page.heading.font().pointSizeF()
    qtbot.keyClick(panel.list, Qt.Key.Key_F11)
    assert panel.presentation and panel.present_button.isChecked()
    assert theme.current() is theme.PRESENTATION
    assert page.heading.font().pointSizeF() == pytest.approx(before * theme.PRESENTATION_SCALE)
    assert qapp.palette().color(panel.backgroundRole()).name() == theme.PRESENTATION.window
    assert not panel.autoFillBackground()  # the window's palette, not the Lab's own
    # a page built during the presentation gets the large text too
    panel.set_page(2)
    assert panel.current_page().heading.font().pointSizeF() == pytest.approx(
        before * theme.PRESENTATION_SCALE)
    qtbot.keyClick(panel.list, Qt.Key.Key_Escape)
    assert not panel.presentation and not panel.present_button.isChecked()
    assert page.heading.font().pointSizeF() == pytest.approx(before)


def test_presentation_controls_call_the_host(qtbot, qapp):
    """In the window the host does the theme, full screen and restoring the window; the
    Lab's button, F11 and Esc only ask it, and the button shows what the window did."""
    from explorer.gui.common import theme
    from explorer.gui.common.section import SectionHost
    from explorer.gui.lab import LabPanel

    asked = []
    state = {"on": False}

    def set_presentation(on: bool) -> None:
        asked.append(on)
        state["on"] = on
        theme.apply(qapp, presentation=on)

    host = SectionHost(set_presentation=set_presentation, presenting=lambda: state["on"])
    panel = LabPanel(host=host)
    qtbot.addWidget(panel, before_close_func=lambda w: w.shutdown())
    panel.show()
    try:
        panel.present_button.click()
        assert asked == [True] and panel.present_button.isChecked()
        qtbot.keyClick(panel.list, Qt.Key.Key_Escape)
        assert asked == [True, False] and not panel.present_button.isChecked()
        qtbot.keyClick(panel.list, Qt.Key.Key_F11)
        assert asked == [True, False, True]
        qtbot.keyClick(panel.list, Qt.Key.Key_F11)
        assert asked == [True, False, True, False]
        # a host that refuses: the button does not pretend
        refused = LabPanel(host=SectionHost())
        qtbot.addWidget(refused)
        refused.present_button.click()
        assert not refused.present_button.isChecked()
    finally:
        theme.apply(qapp, presentation=False)


def test_show_page_takes_the_lab_commands_names(panel):
    from explorer.gui.lab.lab_panel import PAGE_KEYS

    assert PAGE_KEYS == ("conv", "pool", "params", "equivariance", "rf", "hierarchy",
                         "digit", "gallery")
    page = panel.show_page("pool")
    assert panel.current_index() == 1 and type(page).__name__ == "PoolPage"
    assert type(panel.show_page("params")).__name__ == "ParamsPage"
    with pytest.raises(KeyError, match="conv, pool, params"):
        panel.show_page("pooling")


def test_arrows_stay_with_sliders_spin_and_combo_boxes(panel, qtbot):
    """← on a slider moves the slider, not the page; PgDn / PgUp turn pages always."""
    conv = panel.show_page("conv")
    slider = conv.speed_slider
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus, timeout=2000)
    value = slider.value()
    qtbot.keyClick(slider, Qt.Key.Key_Left)
    assert slider.value() == value - 1
    assert panel.current_index() == 0 and conv.step_index == -1
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    qtbot.keyClick(slider, Qt.Key.Key_Space)
    assert slider.value() == value and conv.step_index == -1
    combo = conv.padding_combo
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus, timeout=2000)
    qtbot.keyClick(combo, Qt.Key.Key_Right)
    assert panel.current_index() == 0 and conv.step_index == -1
    spin = conv.stride_spin
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    qtbot.keyClick(spin, Qt.Key.Key_Left)
    assert panel.current_index() == 0 and conv.step_index == -1
    # PgDn steps even from the spin box (a presenter's clicker), PgUp steps back
    qtbot.keyClick(spin, Qt.Key.Key_PageDown)
    assert conv.step_index == 0
    qtbot.keyClick(spin, Qt.Key.Key_PageUp)
    assert panel.current_index() == 0
    # with the focus back on the page list, the arrows step again
    panel.list.setFocus()
    qtbot.waitUntil(panel.list.hasFocus, timeout=2000)
    qtbot.keyClick(panel.list, Qt.Key.Key_Right)
    assert conv.step_index >= 0


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
