"""The Detection tab: runs in a worker, draws boxes / heat map / ground truth, animates,
cancels, and reports bad settings without a traceback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.gui.detect.section import METHODS, DetectionTab, heat_image, rect_path


@pytest.fixture
def tab(qtbot):
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # steadier on a shared machine
    t = DetectionTab(device="cpu")
    qtbot.addWidget(t, before_close_func=lambda w: w.shutdown())
    t.resize(900, 700)
    t.show()
    yield t
    torch.set_num_threads(n)


def _choose(tab, method: str, head: str | None = None) -> None:
    tab.method.setCurrentIndex(next(i for i, (_l, m, h) in enumerate(METHODS)
                                    if m == method and (head is None or h == head)))


def test_sliding_on_a_scene_draws_everything(tab, qtbot):
    from explorer.nets.registry import load_network

    tab.set_network(load_network("mtcnn-pnet"))  # a small classifier: quick to slide
    tab.set_scene(3)
    assert tab.gt is not None and len(tab.gt[0]) >= 1
    xs, _ys = tab.gt_item.getData()
    assert len(xs) == 6 * len(tab.gt[0])
    _choose(tab, "sliding")
    tab.scales_edit.setText("1,0.5")
    tab.threshold.setValue(0.0)
    assert tab.run() is not None
    assert tab.wait(60)
    det = tab.result
    assert det is not None and det.method == "sliding-shared", tab.errors
    assert tab.level.count() == 2 and tab.heat_class.count() == 3
    assert tab.heat.isVisible()
    assert len(tab._box_items) == 2 * len(det)  # a rectangle and a label per box
    assert tab.progress.value() == 100
    # the animation walks the windows of the chosen level and fills the map in
    tab.speed.setValue(200)
    tab.slide_button.setChecked(True)
    assert tab.timer.isActive()
    assert tab._box_items == []  # the final boxes wait for the end of the replay
    tab._tick()
    assert tab.current.isVisible() and tab.info.text().startswith("window")
    qtbot.waitUntil(lambda: not tab.timer.isActive(), timeout=10_000)
    assert len(tab._box_items) == 2 * len(det) and not tab.current.isVisible()


def test_proposals_rcnn_and_animation(tab, qtbot):
    tab.set_scene(4)
    _choose(tab, "proposals", "rcnn")
    assert tab.mode.isVisibleTo(tab) and not tab.scales_edit.isVisibleTo(tab)
    tab.show_windows.setChecked(True)
    tab.run()
    assert tab.wait(60)
    det = tab.result
    assert det is not None and det.method == "rcnn", tab.errors
    xs, _ = tab.windows_item.getData()
    assert len(xs) == 6 * len(det.proposals)
    tab._on_animate(True)
    tab._tick()
    assert tab.current.isVisible() and tab.info.text().startswith("proposal")
    tab._stop_animation()
    assert not tab.timer.isActive()


def test_bad_scales_and_no_image(tab):
    tab.run()
    assert tab.errors and "picture" in tab.errors[-1]
    tab.set_image(np.zeros((40, 40, 3), np.float32))
    tab.scales_edit.setText("1,zebra")
    assert tab.run() is None
    assert "scales" in tab.errors[-1]


def test_cancel_drops_the_answer(tab):
    tab.set_scene(5)
    _choose(tab, "sliding")
    tab.impl.setCurrentText("naive")
    tab.run()
    tab.cancel()
    assert tab.wait(60)
    assert tab.result is None


def test_helpers():
    xs, ys = rect_path(np.array([[0, 0, 2, 3.0]]))
    assert xs[:5].tolist() == [0, 2, 2, 0, 0] and ys[:5].tolist() == [0, 0, 3, 3, 0]
    assert np.isnan(xs[5])
    probs = np.array([[[0.9]], [[0.05]], [[0.05]]])
    assert heat_image(probs, 0, None)[0, 0] == pytest.approx(0.05)
    assert heat_image(probs, 0, 0)[0, 0] == pytest.approx(0.9)
