"""The lecture tour in a real window: walked with the keys from the first step to the
last, each step showing its page with the lecture's preset and its caption; the keys do
not fight editors; Esc leaves to explore and F5 comes back at the same step; and
`tour --export` writes real PNGs whose caption can be read back (tesseract, if present)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from explorer.gui.common import theme
from explorer.tour.steps import STEPS


@pytest.fixture
def touring(qtbot, qapp):
    """A window with the tour started at step 1 (presentation mode, not full screen)."""
    from explorer.gui.main_window import MainWindow

    win = MainWindow(device="cpu")
    qtbot.addWidget(win)  # its closeEvent stops every section's workers
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    win.tour.start(0, full_screen=False)
    yield win
    from explorer.gui.tour.export import settle

    settle(win, 180)  # the steps' work done before the window goes: nothing arrives late
    win.tour.leave()
    win.close()
    # deleted now, whatever Python still refers to it (a step's queued callback may):
    # its children and the menus its plots own go with it
    win.deleteLater()
    theme.apply(qapp, presentation=False)


def _press(qtbot, win, key) -> None:
    target = QApplication.focusWidget() or win
    qtbot.keyClick(target, key)


def _check_shows(win, index: int) -> None:
    """The window shows step `index`: its section, its page, its preset and its caption."""
    step = STEPS[index]
    tour = win.tour
    assert tour.index == index and tour.active
    assert tour.bar.isVisible() and not win.statusBar().isVisible()
    assert f"step {index + 1} of {len(STEPS)}" in tour.bar.text
    assert step.caption in tour.bar.text and step.title in tour.bar.text
    assert win.presentation
    sections = ["explore", "detection", "segmentation", "lab", "live", "why"]
    assert sections[win.sections.currentIndex()] == step.section
    p = step.preset
    if step.section == "explore":
        assert win.tabs.currentIndex() == ("predictions", "layer", "kernels").index(p["tab"])
        return
    if step.section != "lab":
        section = win.current_section()
        if step.section == "detection":
            from explorer.gui.detect.section import METHODS
            from explorer.gui.tour.presets import DETECTION_METHODS
            _label, method, head = METHODS[section.method.currentIndex()]
            assert (method, head) == DETECTION_METHODS[p["method"]]
            assert section.scene_spin.value() == p["scene"]
        if step.section == "segmentation":
            if "networks" in p:
                assert set(section.selected()) == set(p["networks"])
            assert section.pages.currentIndex() == ("compare", "upsampling").index(p["tab"])
        if step.section == "why":
            assert section.tabs.currentWidget() is getattr(section, p["tab"])
        return
    from explorer.gui.lab.lab_panel import PAGE_KEYS

    panel = win.section("lab")
    assert PAGE_KEYS[panel.current_index()] == step.page
    page = panel.current_page()
    assert tour.widget is page
    if step.page == "conv":
        st = page.settings()
        assert (st["stride"], st["padding"], st["operation"]) == (
            p["stride"], p["padding"], p["operation"])
        assert page.kernel().shape == (p["size"], p["size"]) and page.step_index == p["step"] - 1
        if step.id == "strides":
            assert page.chain == [128, 62, 29, 13, 5, 1]
        if p["operation"] == "upsample":
            assert page.upsampled.shape == (8, 8) and page.output.shape == (8, 8)
        if p["operation"] == "transposed":
            assert page.step_count() == 16 and page.output.shape == (9, 9)
    if step.page == "pool":
        assert page.output.tolist() == [[617, 614], [614, 625]]
    if step.page == "params":
        assert "524,288" in page.naive_label.text()
        assert page.tabs.currentIndex() == ("question", "vgg").index(p["tab"])
    if step.page == "gallery":
        assert page.tabs.currentIndex() == (
            "lenet", "alexnet", "vgg16", "inception", "resnet").index(p["tab"])


def test_walk_every_step_with_the_keys_and_back(qtbot, touring):
    win = touring
    _check_shows(win, 0)
    keys = [Qt.Key.Key_Space, Qt.Key.Key_Right, Qt.Key.Key_PageDown]
    for index in range(1, len(STEPS)):
        _press(qtbot, win, keys[index % 3])
        _check_shows(win, index)
    # at the end the keys stay on the last step
    _press(qtbot, win, Qt.Key.Key_Space)
    _check_shows(win, len(STEPS) - 1)
    for index in range(len(STEPS) - 2, len(STEPS) - 5, -1):
        _press(qtbot, win, Qt.Key.Key_Left if index % 2 else Qt.Key.Key_PageUp)
        _check_shows(win, index)


def test_the_tour_takes_space_from_the_lab_and_leaves_it_to_editors(qtbot, touring):
    win = touring
    conv = [i for i, s in enumerate(STEPS) if s.id == "convolution"][0]
    win.tour.go(conv)
    page = win.tour.widget
    page.setFocus()
    before = page.step_index
    _press(qtbot, win, Qt.Key.Key_Space)  # the tour's step, not the page's demonstration
    assert win.tour.index == conv + 1 and page.step_index == before
    pool = [i for i, s in enumerate(STEPS) if s.id == "pooling"][0]
    win.tour.go(pool)
    spin = win.tour.widget.size_spin
    spin.setFocus()
    assert QApplication.focusWidget() is spin
    _press(qtbot, win, Qt.Key.Key_Up)  # an editor keeps its keys...
    _press(qtbot, win, Qt.Key.Key_Right)
    _press(qtbot, win, Qt.Key.Key_Space)
    assert win.tour.index == pool and spin.value() == 6
    _press(qtbot, win, Qt.Key.Key_PageDown)  # ...but the clicker's key always turns
    assert win.tour.index == pool + 1


def test_esc_leaves_to_explore_and_f5_resumes_at_the_same_step(qtbot, touring):
    win = touring
    conv = [i for i, s in enumerate(STEPS) if s.id == "padding"][0]
    win.tour.go(conv)
    page = win.tour.widget
    page.setFocus()
    _press(qtbot, win, Qt.Key.Key_Escape)
    assert not win.tour.active and not win.tour.bar.isVisible()
    assert win.statusBar().isVisible() and win.presentation  # still presenting
    assert "F5" in win.statusBar().currentMessage()
    # exploring: Space is the Lab's again (the page's own demonstration steps)
    before = page.step_index
    _press(qtbot, win, Qt.Key.Key_Space)
    assert page.step_index == before + 1 and win.tour.index == conv
    page.stride_spin.setValue(2)  # the teacher changes something
    qtbot.keyClick(win, Qt.Key.Key_F5)
    assert win.tour.active and win.tour.index == conv
    _check_shows(win, conv)
    assert page.settings()["stride"] == 1  # the step's preset again
    # the menu does the same; Esc twice leaves presentation mode too
    _press(qtbot, win, Qt.Key.Key_Escape)
    win.tour.resume_action.trigger()
    assert win.tour.active and win.tour.index == conv
    _press(qtbot, win, Qt.Key.Key_Escape)
    _press(qtbot, win, Qt.Key.Key_Escape)
    assert not win.tour.active and not win.presentation
    from explorer.gui.main_window import SHORTCUTS

    assert "F5" in {keys for keys, _what, _where in SHORTCUTS}
    assert "Tour" in win.keyboard_help_text()


def test_export_writes_pngs_a_reader_can_read(qtbot, qapp, tmp_path, capsys):
    from PIL import Image

    from explorer.cli import main

    out = tmp_path / "deck"
    code = main(["tour", "--export", str(out), "--steps", "pooling,strides",
                 "--size", "1366x768", "--device", "cpu", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["08_strides.png", "09_pooling.png"]  # nothing half-written beside
    for name in names:
        with Image.open(out / name) as im:
            assert im.size == (1366, 768)
            pixels = np.asarray(im.convert("RGB"))
        # presentation mode: a dark slide with light text, not an empty picture
        assert pixels.mean() < 90 and pixels.std() > 20
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed: the caption was not read back")
    # the caption bar (bottom of the slide), enlarged and inverted for the reader
    with Image.open(out / "09_pooling.png") as im:
        strip = im.convert("L").crop((0, 768 - 110, 1366, 768))
    strip = Image.eval(strip, lambda v: 255 - v).resize((1366 * 2, 220))
    strip.save(tmp_path / "strip.png")
    text = subprocess.run(["tesseract", str(tmp_path / "strip.png"), "-", "--psm", "6"],
                          capture_output=True, text=True, timeout=60).stdout
    flat = " ".join(text.split())
    assert f"step 9 of {len(STEPS)}" in flat, flat
    assert "617 614" in flat and "614 625" in flat, flat


def test_export_interrupted_leaves_whole_pictures_only(tmp_path):
    """Ctrl-C during `tour --export`: exit 130, the slides written so far are whole PNGs
    and no temporary file is left beside them."""
    from PIL import Image

    from tests.gui.signals import interrupt_when

    out = tmp_path / "deck"
    code, err = interrupt_when("[1/4]", "tour", "--export", str(out), "--steps",
                               "pooling,fc-image,strides,vgg", "--size", "1366x768",
                               "--device", "cpu")
    assert code == 130, err
    assert "none half-written" in err
    names = sorted(p.name for p in out.iterdir())
    assert names and names[0] == "01_fc-image.png" and len(names) < 4
    assert all(n.endswith(".png") and not n.startswith(".") for n in names)
    for name in names:
        with Image.open(out / name) as im:
            im.load()
            assert im.size == (1366, 768)
