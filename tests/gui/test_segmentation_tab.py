"""The Segmentation tab, driven with qtbot under the offscreen platform."""

import os

import numpy as np
import pytest

from explorer.gui.segment.section import SegmentationTab, heat_rgba
from explorer.segment.run import SHIPPED_SEGMENTERS


@pytest.fixture
def tab(qtbot):
    w = SegmentationTab()
    qtbot.addWidget(w, before_close_func=lambda t: t.shutdown())
    w.resize(1500, 950)
    w.show()
    return w


def _wait(tab, qtbot):
    runners = (tab.runner, tab.field_runner, tab.up_runner)
    qtbot.waitUntil(lambda: not any(r.busy for r in runners), timeout=60_000)
    assert all(r.wait(30) for r in runners)


def test_scene_runs_scores_and_fields(tab, qtbot, tmp_path):
    tab.set_scene(3)
    _wait(tab, qtbot)
    assert not tab.errors, tab.errors
    assert list(tab.preds) == list(SHIPPED_SEGMENTERS)
    # input, three predictions, ground truth, disagreement
    assert list(tab.panels) == ["input", *SHIPPED_SEGMENTERS, "truth", "disagreement"]
    assert set(tab.scores) == set(SHIPPED_SEGMENTERS)
    assert tab.table.rowCount() == 3
    assert tab.table.item(0, 0).text() == "fcn-shapes"
    miou = float(tab.table.item(0, 3).text())
    assert miou == pytest.approx(tab.scores["fcn-shapes"].mean_iou, abs=1e-3)
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


def test_photo_without_ground_truth(tab, qtbot):
    from explorer.data.samples import load_sample

    tab.checks["fcn-dilated-shapes"].setChecked(False)
    _wait(tab, qtbot)
    tab.set_image(load_sample("coffee"))
    _wait(tab, qtbot)
    assert list(tab.preds) == ["fcn-shapes", "unet-shapes"]
    assert tab.scores == {} and "truth" not in tab.panels
    assert tab.table.item(0, 3).text() == "—"
    assert tab.preds["fcn-shapes"].classes.shape == tab.picture.size


def test_shapes_sample_gets_its_truth(tab, qtbot):
    from explorer.data.samples import load_sample

    tab.set_image(load_sample("shapes"))
    _wait(tab, qtbot)
    assert tab.picture.gt is not None and "truth" in tab.panels


def test_wrong_size_mask_is_reported_not_raised(tab):
    tab.set_image(np.zeros((64, 64, 3), np.float32), gt_mask=np.zeros((32, 32), np.int64),
                  run=False)
    assert tab.errors and "same size" in tab.errors[-1]


def test_held_out_scores_fill_the_table(tab, qtbot, monkeypatch):
    import explorer.gui.segment.section as mod

    monkeypatch.setattr(mod, "HELD_OUT_SCENES", 2)
    tab.evaluate_held_out()
    _wait(tab, qtbot)
    headers = [tab.table.horizontalHeaderItem(c).text()
               for c in range(tab.table.columnCount())]
    assert "held-out mIoU" in headers
    assert tab.table.rowCount() == 3


def test_heat_rgba_is_transparent_where_cold():
    rgba = heat_rgba(np.array([[0.0, 1.0]], np.float32))
    assert rgba.shape == (1, 2, 4) and rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 220
    # one outlier does not wash out the rest: the 99th percentile is full strength
    heat = np.full((40, 40), 0.01, np.float32)
    heat[0, 0] = 1.0
    assert heat_rgba(heat)[5, 5, 3] == 220


def test_upsampling_page(tab, qtbot):
    tab.set_scene(3, run=False)
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
    shot = os.environ.get("SEG_SCREENSHOT_UP")
    if shot:
        qtbot.wait(200)
        tab.grab().save(shot)


def test_hidden_tab_runs_when_shown(qtbot):
    w = SegmentationTab()
    qtbot.addWidget(w, before_close_func=lambda t: t.shutdown())
    w.set_scene(4)
    assert not w.runner.busy and not w.preds  # hidden: nothing runs yet
    w.show()
    _wait(w, qtbot)
    assert list(w.preds) == list(SHIPPED_SEGMENTERS)


def test_open_mask(tab, qtbot, tmp_path, monkeypatch):
    from PIL import Image as PILImage

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
    assert (tab.picture.gt == truth).all() and tab.picture.gt_classes is None
    assert set(tab.scores) == set(SHIPPED_SEGMENTERS)
