"""The Detection section: stands on its own (its own picture and network, computed on the
window's device), runs in a worker, draws boxes / heat map / ground truth with labels that
hide nothing, animates at a pace a class can follow, cancels, clears stale results and
says in words when a choice cannot give a meaningful answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QLabel

from explorer.detect.draw import leader
from explorer.gui.common.section import SectionHost
from explorer.gui.detect.section import (
    DEFAULT_SPEED,
    METHODS,
    DetectionTab,
    heat_image,
    rect_path,
    sweep_seconds_at,
)


def _make(qtbot, host: SectionHost | None = None, run_when_shown: bool = False
          ) -> DetectionTab:
    # the tests run what they need themselves; the first-show run has a test of its own
    t = DetectionTab(host=host or SectionHost(), run_when_shown=run_when_shown)
    qtbot.addWidget(t, before_close_func=lambda w: w.shutdown())
    t.resize(1100, 700)
    t.show()
    return t


@pytest.fixture
def tab(qtbot):
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # steadier on a shared machine
    yield _make(qtbot)
    torch.set_num_threads(n)


def _choose(tab, method: str, head: str | None = None, network: str | None = None) -> None:
    tab.method.setCurrentIndex(next(i for i, (_l, m, h) in enumerate(METHODS)
                                    if m == method and (head is None or h == head)))
    if network is not None:
        index = tab.network.findData(network)
        assert index >= 0, network
        tab.network.setCurrentIndex(index)


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def test_starts_on_its_own_picture_and_network(tab):
    assert tab.picture is not None and tab.picture.source == "sample:shapes"
    assert tab.gt is not None and len(tab.gt[0]) >= 1
    assert tab.network_name() == "tinyvgg-shapes"
    assert "Press Detect" in tab.caption.text()


def test_the_window_shows_boxes_at_once(qtbot):
    """Shown for the first time (as the window shows it), the section detects in its own
    picture without a click, and draws the boxes."""
    tab = _make(qtbot, run_when_shown=True)
    qtbot.waitUntil(lambda: tab.run_result is not None or bool(tab.errors), timeout=120_000)
    assert not tab.errors and tab.run_result.network == "tinyvgg-shapes"
    assert len(tab.result) >= 1 and len(tab._box_items) == len(tab.result)
    assert "box(es) from" in tab.caption.text()
    tab.hide()
    tab.show()  # only the first time
    assert not tab.runner.busy


def test_sliding_on_a_scene_draws_everything(tab, qtbot):
    tab.set_scene(3)
    assert tab.picture.source == "scene:3" and tab.scene_spin.value() == 3
    xs, _ys = tab.gt_item.getData()
    assert len(xs) == 6 * len(tab.gt[0])
    _choose(tab, "sliding", network="mtcnn-pnet")  # a small classifier: quick to slide
    tab.scales_edit.setText("1,0.5")
    tab.threshold.setValue(0.0)
    assert tab.run() is not None
    assert tab.wait(60)
    det = tab.result
    assert det is not None and det.method == "sliding-shared", tab.errors
    assert tab.level.count() == 2 and tab.heat_class.count() == 3
    assert tab.heat.isVisible()
    assert len(tab._box_items) == len(tab._labels) == len(det)  # a box and a label each
    assert tab.progress.value() == 100
    assert "mtcnn-pnet on cpu" in tab.caption.text()
    # the animation walks the windows of the chosen level and fills the map in
    tab.speed.setValue(100)
    tab.slide_button.setChecked(True)
    assert tab.timer.isActive()
    assert tab._box_items == []  # the final boxes wait for the end of the replay
    tab._tick(0.0)
    assert tab.current.isVisible() and tab.info.text().startswith("Window 1 of")
    qtbot.waitUntil(lambda: not tab.timer.isActive(), timeout=15_000)
    assert len(tab._box_items) == len(det) and not tab.current.isVisible()


def test_replay_lasts_ten_to_twenty_seconds_by_default(tab):
    tab.set_scene(5)
    tab.run()
    assert tab.wait(120) and tab.result is not None, tab.errors
    windows = len(tab._anim_boxes())
    assert windows > 500  # tinyvgg's largest level on a scene: about a thousand windows
    assert 10 <= tab.sweep_seconds() <= 20
    assert tab.windows_per_second() == pytest.approx(windows / tab.sweep_seconds())
    assert "windows/s" in tab.speed_label.text() and f"{windows:,}" in tab.speed_label.text()
    # replayed by the clock: after 1 s of 15 it shows about a fifteenth of the windows
    tab.slide_button.setChecked(True)
    tab._tick(1.0)
    assert tab._anim_i == int(tab.windows_per_second()) + 1
    tab._stop_animation()
    assert sweep_seconds_at(0) > 20 and sweep_seconds_at(100) < 10
    # frame by frame, as the timer drives it (a clock that moves one timer interval per
    # frame, not the wall clock): the sweep ends after 10-20 s of frames, every window
    # shown in order and none skipped by more than a frame's worth
    tab.speed.setValue(DEFAULT_SPEED)
    tab.slide_button.setChecked(True)
    frame, frames, seen = tab.timer.interval() / 1000, 0, []
    while tab.timer.isActive():
        frames += 1
        tab._tick(frames * frame)
        seen.append(tab._anim_i)
        assert frames < 10_000
    seconds = frames * frame
    assert 10 <= seconds <= 20, seconds
    assert seen[-1] == windows and seen == sorted(seen)
    assert max(b - a for a, b in zip(seen, seen[1:])) <= tab.windows_per_second() * frame + 1
    assert tab._box_items and not tab.current.isVisible()  # the boxes come back at the end
    # the speed control is labelled at both ends and says what it means in seconds
    labels = [w.text() for w in tab.show_panel.widget().findChildren(QLabel)]
    assert "Speed: slow" in labels and "fast" in labels
    assert "15 s for all" in tab.speed_label.text()


def test_proposals_rcnn_and_animation(tab):
    tab.set_scene(4)
    _choose(tab, "proposals", "rcnn")
    assert tab.mode.isVisibleTo(tab) and not tab.scales_edit.isVisibleTo(tab)
    assert not tab.level.isVisibleTo(tab)
    tab.show_windows.setChecked(True)
    tab.run()
    assert tab.wait(60)
    det = tab.result
    assert det is not None and det.method == "rcnn", tab.errors
    xs, _ = tab.windows_item.getData()
    assert len(xs) == 6 * len(det.proposals)
    tab._on_animate(True)
    tab._tick(0.0)
    assert tab.current.isVisible() and tab.info.text().startswith("Proposal 1 of")
    tab._stop_animation()
    assert not tab.timer.isActive()


def test_labels_hide_neither_each_other_nor_boxes(tab):
    """R-CNN on scene 5 put "cross 0.90" over the star's label; now every label has its
    own place and covers no other box's outline."""
    tab.set_scene(5)
    _choose(tab, "proposals", "rcnn")
    tab.run()
    assert tab.wait(60) and tab.result is not None, tab.errors
    labels, boxes = tab.label_rects(), tab.box_rects()
    assert len(labels) == len(boxes) == len(tab.result) >= 3
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            assert _overlap(labels[i], labels[j]) <= 1.0, (i, j)  # touching at most
        for j, box in enumerate(boxes):
            inner = (box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1)  # touching is fine
            assert j == i or _overlap(labels[i], inner) <= 1.0, (i, j)
    # labels moved beside the picture are joined to their boxes by a line
    assert len(tab._leaders) == sum(
        leader(lab, box) is not None for lab, box in zip(labels, boxes))


def test_place_labels_on_a_crowded_picture():
    """Pure placement: ten boxes on top of each other still get ten labels that cover
    nothing, beside the picture when there is no room by the boxes."""
    from explorer.detect.draw import labels_hide, place_labels

    boxes = np.array([[100 + 3 * k, 100 + 2 * k, 300 - k, 260 + k] for k in range(10)], float)
    sizes = np.full((10, 2), [90.0, 22.0])
    corners = place_labels(boxes, sizes, (0, 0, 800, 500), picture=(80, 50, 420, 450))
    assert not labels_hide(corners, sizes, boxes)


def test_bad_settings_and_no_picture(tab):
    tab.picture = None
    tab.run()
    assert tab.errors and "picture" in tab.errors[-1]
    tab.open_spec("scene:1")
    tab.scales_edit.setText("1,zebra")
    assert tab.run() is None
    assert "scales" in tab.errors[-1] and tab.error_label.isVisibleTo(tab)
    # the window's field is "Scales", not a command-line option: no "--" in its words
    for slip in ("1,,2", "1,1"):
        tab.scales_edit.setText(slip)
        assert tab.run() is None
        assert "scale" in tab.errors[-1] and "--" not in tab.errors[-1], tab.errors[-1]
    assert not tab.open_spec("/no/such/picture.png") and "no such file" in tab.errors[-1]
    assert tab.picture.source == "scene:1"  # the old picture stays


def test_cancel_drops_the_answer(tab):
    tab.set_scene(5)
    _choose(tab, "sliding")
    tab.impl.setCurrentText("naive")
    tab.run()
    tab.cancel()
    assert tab.wait(60)
    assert tab.result is None


def test_computes_on_host_device(qtbot, monkeypatch):
    """Every network the section opens is opened on host.device (set_device changes it)."""
    from explorer.app import networks

    asked = []
    real = networks.open_network

    def recording(spec, device="cpu", task=None):
        asked.append((spec.name, torch.device(device)))
        return real(spec, "cpu", task)  # this machine may have no GPU: compute on the CPU

    monkeypatch.setattr(networks, "open_network", recording)
    tab = _make(qtbot, SectionHost(device=torch.device("cpu")))
    assert tab.device == torch.device("cpu")
    tab.set_scene(1)
    tab.scales_edit.setText("1")
    tab.run()
    assert tab.wait(60) and tab.result is not None, tab.errors
    assert asked == [("tinyvgg-shapes", torch.device("cpu"))]
    assert tab.run_result.device == "cpu"
    tab.set_device(torch.device("cuda", 0))
    tab.run()
    assert tab.wait(60)
    assert asked[-1] == ("tinyvgg-shapes", torch.device("cuda", 0))
    assert tab.run_result is not None and tab.run_result.device == "cuda:0"


def test_changing_the_picture_clears_the_old_result(tab):
    tab.set_scene(2)
    tab.scales_edit.setText("1")
    tab.run()
    assert tab.wait(60) and tab.result is not None
    assert tab._box_items or len(tab.result) == 0
    tab.set_scene(6)
    assert tab.result is None and tab._box_items == [] and tab._labels == []
    assert tab.level.count() == 0 and "Press Detect" in tab.caption.text()
    # an answer still on its way for the old picture is dropped too
    tab.run()
    tab.open_spec("sample:coins")
    assert tab.wait(60)
    assert tab.result is None and tab.picture.source == "sample:coins"
    # and a changed setting clears it as well
    tab.open_spec("scene:2")
    tab.run()
    assert tab.wait(60) and tab.result is not None
    tab.threshold.setValue(0.8)  # not the sliding window's default (0.9): a change
    assert tab.result is None


def test_never_uses_explores_network_unless_asked(qtbot, monkeypatch):
    from explorer.app import networks
    from explorer.app.pictures import open_picture

    asked_explore = []
    explore_picture = open_picture("scene:7")

    class NotForDetection:
        name = "explore's network"

    def explore():
        asked_explore.append(1)
        return NotForDetection(), explore_picture

    opened = []
    real = networks.open_network
    monkeypatch.setattr(networks, "open_network",
                        lambda spec, device="cpu", task=None: opened.append(spec.name)
                        or real(spec, device, task))
    tab = _make(qtbot, SectionHost(explore=explore))
    tab.scales_edit.setText("1")
    tab.run()
    assert tab.wait(60) and tab.result is not None, tab.errors
    assert asked_explore == [] and opened == ["tinyvgg-shapes"]
    assert tab.use_explore()
    assert asked_explore == [1] and tab.picture is explore_picture and tab.result is None
    tab.run()
    assert tab.wait(60) and tab.result is not None
    assert opened == ["tinyvgg-shapes"]  # cached; Explore's network never used
    assert tab.run_result.network == "tinyvgg-shapes"


def test_network_picker_offers_what_fits_the_method(tab):
    _choose(tab, "sliding")
    names = [tab.network.itemData(i) for i in range(tab.network.count())]
    assert names[:3] == ["tinyvgg-shapes", "lenet5-digits", "mtcnn-pnet"]
    assert "resnet18" in names and "vgg16" in names
    assert not {"fcn-shapes", "unet-shapes", "fast-rcnn-shapes", "mtcnn-rnet"} & set(names)
    _choose(tab, "proposals", "fast-rcnn")
    assert [tab.network.itemData(i) for i in range(tab.network.count())] == ["fast-rcnn-shapes"]
    _choose(tab, "mtcnn")
    assert tab.network.count() == 1 and "P-Net" in tab.network.currentText()


def test_warnings_in_words_on_the_view(tab):
    _choose(tab, "sliding", network="resnet18")
    notice = tab.notice.text()
    assert tab.notice.isVisibleTo(tab)
    if not tab._available["resnet18"]:
        assert "random weights" in notice and "(random weights)" in tab.network.currentText()
    assert "no 'background' class" in notice
    assert "larger than the 128x128 picture" in notice  # a 224-px window on 128 px
    assert tab.run() is not None and tab.wait(120)
    assert "larger than" in tab.errors[-1]  # refused before any work
    _choose(tab, "sliding", network="tinyvgg-shapes")
    tab.open_spec("sample:chelsea")
    assert "coloured shapes" in tab.notice.text()
    _choose(tab, "mtcnn")
    tab.open_spec("scene:3")
    assert "faces" in tab.notice.text()
    # zero boxes, and why
    _choose(tab, "sliding", network="tinyvgg-shapes")
    tab.scales_edit.setText("1")
    tab.threshold.setValue(1.0)
    tab.run()
    assert tab.wait(60) and tab.result is not None and len(tab.result) == 0
    assert "No box" in tab.notice.text() and "the best was" in tab.notice.text()


def test_fits_1366_by_768_without_sideways_scrolling(tab, qtbot):
    from PySide6.QtCore import QCoreApplication

    tab.resize(1340, 640)  # what a 1366x768 window leaves for a section
    for _ in range(3):
        QCoreApplication.processEvents()
    assert tab.minimumSizeHint().width() <= 1340
    for controls in (tab.controls, tab.show_panel):
        assert controls.widget().minimumSizeHint().width() <= controls.viewport().width()
        assert not controls.horizontalScrollBar().isVisible()
        assert not controls.verticalScrollBar().isVisible()
    for label in (tab.caption, tab.legend, tab.notice, tab.info):
        assert label.wordWrap()


def test_helpers():
    xs, ys = rect_path(np.array([[0, 0, 2, 3.0]]))
    assert xs[:5].tolist() == [0, 2, 2, 0, 0] and ys[:5].tolist() == [0, 0, 3, 3, 0]
    assert np.isnan(xs[5])
    probs = np.array([[[0.9]], [[0.05]], [[0.05]]])
    assert heat_image(probs, 0, None)[0, 0] == pytest.approx(0.05)
    assert heat_image(probs, 0, 0)[0, 0] == pytest.approx(0.9)


def test_heat_map_covers_the_picture_and_peaks_on_an_object(tab):
    """At rest the heat map combines every pyramid level in picture pixels (one level
    alone showed no hot spot on scene 3) and its hottest pixel lies on an object."""
    tab.set_scene(3)
    tab.run()
    assert tab.wait(120) and tab.result is not None, tab.errors
    h, w = tab.picture.array.shape[:2]
    rect = tab.heat.mapRectToParent(tab.heat.boundingRect())
    assert (rect.width(), rect.height()) == (w, h)
    rgba = tab.heat.image
    alpha = rgba[..., 3].astype(float)
    # a hot spot: the hottest pixels are far more opaque than the median (mostly clear)
    assert alpha.max() >= 200 and np.median(alpha) < 100
    r, c = np.unravel_index(int(np.argmax(alpha)), alpha.shape)
    boxes = tab.gt[0]
    assert any(b[0] <= c < b[2] and b[1] <= r < b[3] for b in boxes), (r, c, boxes)


def _cache_random_faster_rcnn() -> None:
    import torchvision

    from explorer.detect import faster_rcnn

    torch.manual_seed(0)
    model = torchvision.models.get_model(faster_rcnn.default_name(), weights=None,
                                         weights_backbone=None, num_classes=91)
    path = faster_rcnn.cache_file(faster_rcnn.default_name())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)


def test_faster_rcnn_without_weights_says_so(tab):
    _choose(tab, "faster-rcnn")
    assert tab.network.count() == 4 and tab.network.currentText() == "MobileNet-v3, 320 px"
    # said before running, and never called "random weights"
    assert "COCO weights are not on this computer" in tab.notice.text()
    assert "random" not in tab.notice.text()
    assert tab.run() is None
    assert "No COCO weights for MobileNet-v3, 320 px" in tab.errors[-1]
    # a message with a long path or dotted name wraps inside the column instead of
    # widening it past the window (a label breaks lines only at spaces)
    from explorer.detect import faster_rcnn
    from explorer.errors import ModelError

    with pytest.raises(ModelError) as exc:
        faster_rcnn.check(tab.network_name())
    tab.show_error(str(exc.value))
    assert tab.error_label.minimumSizeHint().width() <= 300
    assert tab.errors[-1] == str(exc.value)  # the words kept as they were said
    assert not tab.scales_edit.isVisible() and not tab.show_heat.isVisible()


def test_faster_rcnn_runs_on_a_photo_and_shows_its_rpn_proposals(qtbot):
    _cache_random_faster_rcnn()  # before the section lists what is cached
    tab = _make(qtbot)
    tab.open_spec("sample:astronaut")
    _choose(tab, "faster-rcnn")
    assert tab.network_name() == "fasterrcnn_mobilenet_v3_large_320_fpn"
    assert "COCO weights" not in tab.notice.text()  # its weights are here
    assert tab.threshold.value() == pytest.approx(0.5)
    tab.threshold.setValue(0.0)
    tab.show_windows.setChecked(True)
    assert tab.run() is not None
    assert tab.wait(120), "Faster R-CNN did not finish"
    det = tab.result
    assert det is not None and det.method == "faster-rcnn", tab.errors
    assert len(det) > 0 and len(tab._box_items) == len(det)
    assert "proposals" in tab.caption.text() and "fasterrcnn" in tab.caption.text()
    xs, _ys = tab.windows_item.getData()
    assert len(xs) == 6 * min(len(det.proposals), 2000)  # the RPN's regions, drawn
    assert set(det.timings) >= {"backbone", "rpn", "heads"}
    assert "rpn" in tab.timings.text()


def test_the_ground_truth_legend_wraps_as_one_piece(tab):
    """Its dashed swatch and its words never split across lines (the swatch ended one line
    and "ground truth" began the next at 1366x768)."""
    tab.set_scene(5)
    text = tab.legend.text()
    # box-drawing dashes: after a hyphen-minus Qt may break even before a no-break space
    assert "&nbsp;╌╌&nbsp;</span>&nbsp;ground&nbsp;truth" in text
    assert "- -" not in text and "-&nbsp;" not in text


def test_box_labels_take_the_presentation_text_size(tab, qtbot):
    """F11 after a detection: the labels on the boxes grow with the rest of the text (they
    kept the size they were drawn in, small on a projector, until the next Detect)."""
    from explorer.gui.common import theme

    tab.set_scene(5)
    _choose(tab, "sliding")
    assert tab.run() is not None and tab.wait(60) and tab._labels, tab.errors
    before = tab._labels[0].textItem.font().pointSizeF()
    try:
        theme.apply(presentation=True, remember=False)
        qtbot.waitUntil(lambda: tab._labels and tab._labels[0].textItem.font().pointSizeF()
                        >= before * theme.PRESENTATION_SCALE * 0.95, timeout=5000)
    finally:
        theme.apply(presentation=False, remember=False)
