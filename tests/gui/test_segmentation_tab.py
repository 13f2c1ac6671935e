"""The Segmentation section, driven with qtbot under the offscreen platform."""

import os
import threading

import numpy as np
import pytest
import torch

from explorer.gui.common.section import Section, SectionHost
from explorer.gui.segment.section import SegmentationTab, best_columns, heat_rgba
from explorer.segment import colors
from explorer.segment.run import SHIPPED_SEGMENTERS

OKABE_ITO = {colors.rgb(c) for c in colors.OKABE_ITO.values()}


def _make(qtbot, host=None, size=(1366, 740)):
    w = SegmentationTab(host=host or SectionHost(device=torch.device("cpu")))
    qtbot.addWidget(w, before_close_func=lambda t: t.shutdown())
    w.resize(*size)
    w.show()
    return w


@pytest.fixture
def tab(qtbot):
    return _make(qtbot)


def _wait(tab, qtbot):
    runners = (tab.runner, tab.field_runner, tab.up_runner)
    qtbot.waitUntil(lambda: not any(r.busy for r in runners), timeout=120_000)
    assert all(r.wait(30) for r in runners)


def test_scene_runs_scores_and_fields(tab, qtbot, tmp_path):
    assert isinstance(tab, Section)
    tab.set_scene(3)
    _wait(tab, qtbot)
    assert not tab.errors, tab.errors
    assert tab.picture.source == "scene:3" and tab.scene_spin.value() == 3
    assert list(tab.preds) == list(SHIPPED_SEGMENTERS)
    # input, three predictions, ground truth, disagreement
    assert list(tab.panels) == ["input", *SHIPPED_SEGMENTERS, "truth", "disagreement"]
    assert set(tab.scores) == set(SHIPPED_SEGMENTERS)
    assert tab.table.rowCount() == 3
    assert tab.table.item(0, 0).text() == "fcn"
    assert tab.table.item(0, 0).toolTip() == "fcn-shapes: shipped weights"
    assert tab.table.item(0, 1).text() == "this picture"
    miou = float(tab.table.item(0, 3).text())
    assert miou == pytest.approx(tab.scores["fcn-shapes"].mean_iou, abs=5e-3)
    # every picture has a caption under it
    for key, panel in tab.panels.items():
        assert panel.caption.text(), key
    assert "mIoU" in tab.panels["unet-shapes"].caption.text()
    # disagreement between the lecture's pair by default
    assert (tab.combo_a.currentText(), tab.combo_b.currentText()) == ("fcn-shapes",
                                                                      "unet-shapes")
    d = tab.dis
    assert d is not None
    ref = tab.preds["fcn-shapes"].classes != tab.preds["unet-shapes"].classes
    assert (d.mask == ref).all()
    # same network on both sides: nothing differs
    tab.combo_b.setCurrentText("fcn-shapes")
    assert tab.dis.fraction == 0.0
    # a click shows every network's fields
    tab.click(40.0, 70.0)
    _wait(tab, qtbot)
    assert set(tab.fields) == set(SHIPPED_SEGMENTERS)
    for name in SHIPPED_SEGMENTERS:
        panel = tab.panels[name]
        assert panel.theory.isVisible() and panel.effective.isVisible()
        assert panel.heat.image is not None and panel.heat.image.shape == (128, 128, 4)
    assert "Pixel (row 40, column 70)" in tab.field_label.text()
    # opacity redraws the overlays without rerunning anything
    before = tab.panels["unet-shapes"].canvas.item.image.copy()
    tab.opacity.setValue(10)
    assert not np.allclose(before, tab.panels["unet-shapes"].canvas.item.image)
    shot = os.environ.get("SEG_SCREENSHOT")
    if shot:
        qtbot.wait(200)
        tab.grab().save(shot)


def test_colours_are_colour_blind_safe_and_distinct(tab, qtbot):
    tab.set_scene(6)  # cross, triangle, circle, square
    _wait(tab, qtbot)
    items = dict(tab.legend_items())
    assert "only fcn right" in items and "only unet right" in items
    objects = {k: v for k, v in items.items() if not k.startswith("background")}
    # every class and disagreement colour is one of Okabe and Ito's, and no two meanings
    # share one (cross and "only unet right" were both orange)
    assert set(objects.values()) <= OKABE_ITO
    assert len(set(objects.values())) == len(objects)
    assert items["cross"] != items["only unet right"]
    # the legend draws its text in the palette's text colour (no colour of its own)
    assert tab.legend.items == tab.legend_items()
    assert "color:" not in tab.styleSheet()


def test_photo_without_ground_truth_says_shapes_networks_mean_little(tab, qtbot):
    from explorer.app.pictures import open_sample

    tab.checks["fcn-dilated-shapes"].setChecked(False)
    _wait(tab, qtbot)
    tab.set_picture(open_sample("coffee"))
    # said at once, before anything ran
    assert tab.warning.isVisible()
    assert "trained only on synthetic shapes" in tab.warning.text()
    _wait(tab, qtbot)
    assert list(tab.preds) == ["fcn-shapes", "unet-shapes"]
    assert tab.scores == {} and "truth" not in tab.panels
    assert tab.table.item(0, 3).text() == "—"
    assert tab.table.item(0, 1).text() == "no ground truth"
    assert tab.preds["fcn-shapes"].classes.shape == tab.picture.size
    assert "fcn-shapes and unet-shapes were trained only on synthetic shapes" in \
        tab.warning.text()
    assert "mean little" in tab.warning.text()
    assert "trained on shapes only" in tab.panels["fcn-shapes"].caption.text()
    # back on a scene, the warning goes
    tab.set_scene(2)
    assert not tab.warning.isVisible()


def test_random_weights_are_said_on_the_view(tab, qtbot):
    tab.set_scene(1)
    _wait(tab, qtbot)
    tab._networks["unet-shapes"].weights_source = "random"
    tab.run()
    _wait(tab, qtbot)
    assert "unet-shapes has random weights" in tab.warning.text()
    assert "random weights" in tab.panels["unet-shapes"].caption.text()


def test_shapes_sample_gets_its_truth(tab, qtbot):
    tab.set_sample("shapes")
    _wait(tab, qtbot)
    assert tab.picture.gt is not None and "truth" in tab.panels


def test_the_section_chooses_its_own_picture(qtbot, tmp_path, monkeypatch):
    from explorer.app.pictures import open_sample
    from explorer.data.shapes import held_out_scene
    from explorer.gui.common import messages

    explore_picture = open_sample("chelsea")
    banner: list[str] = []
    host = SectionHost(device=torch.device("cpu"),
                       explore=lambda: ("a network", explore_picture),
                       show_error=banner.append)
    tab = _make(qtbot, host)
    # the scene spin box opens held-out scene N (the same scene:N as everywhere)
    tab.scene_spin.setValue(11)
    assert tab.picture.source == "scene:11"
    np.testing.assert_array_equal(tab.picture.image, held_out_scene(11).image)
    # Explore's picture only when asked for
    assert tab.use_explore()
    assert tab.image is explore_picture and tab.picture.name == "chelsea"
    # a file, checked first: one sentence on the view and in the window's banner
    assert not tab.open_file(str(tmp_path))
    assert "is a folder" in tab.errors[-1] and banner[-1] == tab.errors[-1]
    assert tab.error_label.isVisible() and "\n" not in tab.error_label.text()
    assert tab.picture.name == "chelsea"  # a bad choice leaves the picture as it was
    from PIL import Image as PILImage

    path = tmp_path / "mine.png"
    PILImage.fromarray(np.full((40, 50, 3), 200, np.uint8)).save(path)
    monkeypatch.setattr(messages, "ask_open_file", lambda *a: str(path))
    tab.ask_image()
    assert tab.picture.name == "mine" and tab.picture.size == (40, 50)
    assert not tab.error_label.isVisible()
    # a sample from the combo box
    tab.sample_box.setCurrentIndex(tab.sample_box.findText("coins"))
    tab.sample_box.activated.emit(tab.sample_box.findText("coins"))
    assert tab.picture.name == "coins"
    _wait(tab, qtbot)
    assert not tab.errors[1:], tab.errors


def test_explore_without_a_picture(qtbot):
    tab = _make(qtbot, SectionHost(device=torch.device("cpu")))
    assert not tab.use_explore()
    assert "Explore has no picture" in tab.errors[-1]


def test_stale_results_go_the_moment_the_input_changes(tab, qtbot):
    tab.set_scene(3)
    _wait(tab, qtbot)
    tab.click(40.0, 40.0)
    _wait(tab, qtbot)
    assert tab.preds and tab.fields and tab.scores
    tab.set_scene(4)
    # at once, before the new run has answered
    assert tab.preds == {} and tab.scores == {} and tab.fields == {} and tab.dis is None
    assert list(tab.panels) == ["input", "truth"]
    assert tab.legend.items == [] and tab.field_label.text() == ""
    _wait(tab, qtbot)
    assert list(tab.preds) == list(SHIPPED_SEGMENTERS)
    # unticking a network clears the answers too, and the rest run again
    tab.checks["fcn-shapes"].setChecked(False)
    assert tab.preds == {}
    _wait(tab, qtbot)
    assert list(tab.preds) == ["fcn-dilated-shapes", "unet-shapes"]


def test_computes_on_the_hosts_device(qtbot):
    host = SectionHost(device=torch.device("cpu"))
    tab = _make(qtbot, host)
    tab.set_scene(2)
    _wait(tab, qtbot)
    assert tab.device == host.device
    assert all(p.network.device == host.device for p in tab.preds.values())
    tab.set_device(torch.device("cpu"))  # the same device: nothing lost
    assert tab.preds
    if torch.cuda.is_available():
        tab.set_device(torch.device("cuda"))
        assert tab.preds == {}  # stale: the networks move
        _wait(tab, qtbot)
        assert all(p.network.device.type == "cuda" for p in tab.preds.values())


def test_wrong_masks_are_reported_not_raised(tab, qtbot, tmp_path):
    from PIL import Image as PILImage

    small, seven = tmp_path / "small.png", tmp_path / "seven.png"
    PILImage.fromarray(np.zeros((32, 32), np.uint8)).save(small)
    PILImage.fromarray(np.full((128, 128), 7, np.uint8)).save(seven)
    tab.set_scene(3)
    assert not tab.open_mask(str(small))
    assert "same size" in tab.errors[-1]
    assert not tab.open_mask(str(seven))
    assert "holds the value 7, but fcn-shapes has only 6 classes" in tab.errors[-1]
    assert not tab.open_mask(str(tmp_path / "missing.png"))
    assert "no such file" in tab.errors[-1]
    assert tab.picture.source == "scene:3"


def test_held_out_scores_fill_the_table(tab, qtbot, monkeypatch):
    import explorer.gui.segment.section as mod

    monkeypatch.setattr(mod, "HELD_OUT_SCENES", 2)
    _wait(tab, qtbot)
    tab.evaluate_held_out()
    _wait(tab, qtbot)
    # under each network's row for this picture, its row for the held-out scenes
    assert tab.table.rowCount() == 6
    assert [tab.table.item(r, 1).text() for r in range(2)] == ["this picture",
                                                               "2 held-out scenes"]
    assert set(tab.held_out) == set(SHIPPED_SEGMENTERS)
    miou = float(tab.table.item(1, 3).text())
    assert miou == pytest.approx(tab.held_out["fcn-shapes"]["mean_iou"], abs=5e-3)
    # unticking a network drops its held-out row too
    tab.checks["unet-shapes"].setChecked(False)
    assert "unet-shapes" not in tab.held_out


def _blocking(monkeypatch, module, name, at):
    """Replace module.name with a wrapper that counts its calls and, at call `at`, waits
    for the test to cancel: the cancel then lands at a known unit of work."""
    original = getattr(module, name)
    state = {"calls": 0, "reached": threading.Event(), "go": threading.Event()}

    def wrapper(*args, **kwargs):
        state["calls"] += 1
        if state["calls"] == at:
            state["reached"].set()
            assert state["go"].wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return state


def test_cancelling_held_out_scoring_stops_after_the_unit_under_way(tab, qtbot, monkeypatch):
    """The deterministic replacement of the wall-clock test: cancel while batch 3 of 10 is
    being drawn; at most that unit finishes, nothing is shown, the view is free at once."""
    import explorer.gui.segment.section as mod
    from explorer.segment import compare

    _wait(tab, qtbot)
    monkeypatch.setattr(mod, "HELD_OUT_SCENES", 40)
    monkeypatch.setattr(mod, "EVAL_BATCH", 4)
    state = _blocking(monkeypatch, compare, "held_out_batch", at=3)
    assert tab.evaluate_held_out() is not None
    qtbot.waitUntil(state["reached"].is_set, timeout=120_000)
    assert tab.cancel_button.isVisible()
    tab.cancel_button.click()
    assert not tab.cancel_button.isVisible()  # the view is free at once
    state["go"].set()
    _wait(tab, qtbot)
    assert state["calls"] == 3  # no batch was drawn after the cancel
    assert tab.held_out == {} and not tab.errors


def test_cancelling_a_run_stops_after_the_network_under_way(tab, qtbot, monkeypatch):
    from explorer.segment import run

    _wait(tab, qtbot)
    state = _blocking(monkeypatch, run, "segment", at=2)
    tab.set_scene(5)
    qtbot.waitUntil(state["reached"].is_set, timeout=120_000)
    tab.cancel()
    state["go"].set()
    _wait(tab, qtbot)
    assert state["calls"] == 2  # the third network never ran
    assert tab.preds == {} and not tab.errors


def test_heat_rgba_is_transparent_where_cold():
    rgba = heat_rgba(np.array([[0.0, 1.0]], np.float32))
    assert rgba.shape == (1, 2, 4) and rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 220
    # one outlier does not wash out the rest: the 99th percentile is full strength
    heat = np.full((40, 40), 0.01, np.float32)
    heat[0, 0] = 1.0
    assert heat_rgba(heat)[5, 5, 3] == 220


def test_upsampling_page(tab, qtbot):
    tab.set_scene(3)
    tab.pages.setCurrentWidget(tab.upsampling)
    _wait(tab, qtbot)
    demo = tab.upsampling.demo
    assert demo is not None and demo.network == "fcn-shapes" and demo.factor == 8
    assert tab.upsampling.panels[0].canvas.image_shape == (16, 16)
    assert tab.upsampling.panels[5].canvas.image_shape == (128, 128)
    assert "ripple" in tab.upsampling.panels[5].caption.text()
    tab.upsampling.network.setCurrentText("fcn-dilated-shapes")
    _wait(tab, qtbot)
    assert tab.upsampling.demo.factor == 4 and tab.upsampling.demo.low.shape == (32, 32)
    # a new picture clears the page at once
    tab.set_scene(4)
    assert tab.upsampling.demo is None
    _wait(tab, qtbot)
    shot = os.environ.get("SEG_SCREENSHOT_UP")
    if shot:
        qtbot.wait(200)
        tab.grab().save(shot)


def test_hidden_tab_runs_when_shown(qtbot):
    w = SegmentationTab(host=SectionHost())
    qtbot.addWidget(w, before_close_func=lambda t: t.shutdown())
    w.set_scene(4)
    assert not w.runner.busy and not w.preds  # hidden: nothing runs yet
    w.show()
    _wait(w, qtbot)
    assert list(w.preds) == list(SHIPPED_SEGMENTERS)


def test_open_mask(tab, qtbot, tmp_path, monkeypatch):
    from PIL import Image as PILImage

    from explorer.data.shapes import CLASSES
    from explorer.gui.common import messages

    tab.set_scene(6)
    _wait(tab, qtbot)
    truth = tab.picture.gt.copy()
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    PILImage.fromarray(truth.astype(np.uint8)).save(good)
    PILImage.fromarray(np.zeros((10, 12), np.uint8)).save(bad)
    monkeypatch.setattr(messages, "ask_open_file", lambda *a: str(bad))
    tab.ask_mask()
    assert "12x10 pixels but the image is 128x128" in tab.errors[-1]
    monkeypatch.setattr(messages, "ask_open_file", lambda *a: str(good))
    tab.ask_mask()
    _wait(tab, qtbot)
    assert (tab.picture.gt == truth).all() and tab.picture.gt_classes == tuple(CLASSES)
    assert set(tab.scores) == set(SHIPPED_SEGMENTERS)


def test_best_columns():
    # six square panels: one row on a wide, short strip; two rows of three when tall
    assert best_columns(6, 1340, 300, chrome=60)[0] == 6
    assert best_columns(6, 1340, 1000, chrome=60)[0] == 3
    assert best_columns(1, 500, 500)[0] == 1


@pytest.mark.parametrize("size, presentation", [
    ((1366, 740), False), ((1920, 1040), False), ((1920, 1040), True), ((1366, 740), True),
])
def test_fits_the_screen_without_sideways_scrolling(qtbot, size, presentation):
    """In a scroll area as the window shows it: at laptop and projector sizes, in both
    themes, nothing scrolls sideways or up and down, nothing is clipped, and the legend
    and the scores are on screen."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QFrame, QScrollArea

    from explorer.gui.common import theme

    theme.apply(presentation=presentation, remember=False)
    try:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        tab = SegmentationTab(host=SectionHost(device=torch.device("cpu")))
        area.setWidget(tab)
        qtbot.addWidget(area, before_close_func=lambda _a: tab.shutdown())
        area.resize(*size)
        area.show()
        tab.set_scene(6)
        _wait(tab, qtbot)
        tab.click(40.0, 70.0)
        _wait(tab, qtbot)
        qtbot.wait(50)
        assert not area.horizontalScrollBar().isVisible()
        assert tab.width() <= size[0]
        assert not tab.table.horizontalScrollBar().isVisible()
        everything_on_screen = True
        assert not area.verticalScrollBar().isVisible()
        page = QRect(0, 0, tab.width(), tab.height())
        widgets = [tab.legend, tab.table, tab.field_label, *tab.panels.values()]
        for widget in widgets:
            rect = QRect(widget.mapTo(tab, QPoint(0, 0)), widget.size())
            assert page.contains(rect), (type(widget).__name__, rect, size)  # not clipped
            if everything_on_screen:
                assert rect.bottom() < size[1], (type(widget).__name__, rect, size)
        # wrapped text gets the height it needs
        assert tab.legend.height() >= tab.legend.heightForWidth(tab.legend.width())
        for panel in tab.panels.values():
            assert panel.caption.height() >= panel.caption.heightForWidth(
                panel.caption.width())
            assert panel.canvas.height() >= 140  # pictures a room can see
        shot = os.environ.get("SEG_SCREENSHOT_DIR")
        if shot:
            area.grab().save(f"{shot}/seg-{size[0]}x{size[1]}-{int(presentation)}.png")
    finally:
        theme.apply(presentation=False, remember=False)
