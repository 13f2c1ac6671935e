"""The Live section on its own (issue 13): its own classifier, opened on a worker on the
host's device; its own layer, stepped with PgDown / PgUp / J / K; notes a student needs,
written on the view; a still picture (Explore's too); stale results cleared at once; and
a layout that fits 1366 x 768 in both themes without sideways scrolling."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from explorer.gui.common import theme
from explorer.gui.common.section import Section, SectionHost
from explorer.gui.live import section as live_section
from explorer.gui.live.section import SOURCE_KINDS, LiveView


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_view(qtbot, **kwargs) -> LiveView:
    v = LiveView(**kwargs)
    qtbot.addWidget(v, before_close_func=lambda w: w.shutdown())
    v.synthetic_size = (64, 64)
    return v


@pytest.fixture
def ready(qtbot):
    """The section on the window's (CPU) device, its own default network loaded."""
    errors = []
    host = SectionHost(device=torch.device("cpu"), show_error=errors.append)
    v = make_view(qtbot, host=host)
    qtbot.waitUntil(lambda: v.network is not None, timeout=60000)
    v.errors = errors
    return v


def test_opens_its_own_classifier_on_the_hosts_device(ready):
    v = ready
    assert isinstance(v, Section)
    assert v.network.name == "tinyvgg-shapes" and v.network.task == "classify"
    assert v.engine.device == torch.device("cpu") and v.errors == []
    names = [v.network_box.itemData(i) for i in range(v.network_box.count())]
    assert names[:2] == ["lenet5-digits", "tinyvgg-shapes"]  # shipped first
    assert "resnet18" in names
    for not_a_classifier in ("fcn-shapes", "unet-shapes", "mtcnn-pnet", "fast-rcnn-shapes"):
        assert not_a_classifier not in names
    assert v.network_box.currentData() == "tinyvgg-shapes"
    layers = [v.layer_box.itemData(i) for i in range(v.layer_box.count())]
    assert layers == [info.name for info in v.layers] and "features.conv1" in layers
    assert v.layer == "features.conv1" == v.layer_box.currentData()
    assert not v.note_label.isVisibleTo(v)  # trained on shapes, shown shapes: nothing to say


def test_start_before_the_network_has_loaded_runs_once_it_has(qtbot):
    v = make_view(qtbot, device="cpu")
    assert v.network is None and v.start()  # the load is still running
    assert not v.start_button.isEnabled() and v.stop_button.isEnabled()
    qtbot.waitUntil(lambda: v.frames_shown >= 2, timeout=60000)
    assert v.latest.network == "tinyvgg-shapes" and v.running
    v.stop()
    assert not v.running and v.start_button.isEnabled()


def test_a_missing_camera_before_the_load_ends_in_one_message(qtbot):
    v = make_view(qtbot, device="cpu")
    v.choose_source("camera", camera=99)
    with qtbot.waitSignal(v.errorOccurred, timeout=60000) as err:
        assert v.start()
    assert "camera 99" in err.args[0] and "\n" not in err.args[0]
    qtbot.waitUntil(lambda: not v.running, timeout=15000)
    assert v.start_button.isEnabled()


def test_choosing_a_network_clears_stale_results_and_says_what_it_means(qtbot, ready):
    v = ready
    v.step()
    qtbot.waitUntil(lambda: v.frames_shown >= 1, timeout=30000)
    assert v.mosaic_canvas.image_shape is not None and v.topk_label.text()
    v.stop()
    v.choose_network("lenet5-digits")
    # tinyvgg's maps and top-5 answer no question about lenet: gone at once
    assert v.latest is None and v.mosaic_canvas.image_shape is None
    assert v.topk_label.text() == "" and "Loading lenet5-digits" in v.status_label.text()
    qtbot.waitUntil(lambda: v.network.name == "lenet5-digits", timeout=60000)
    assert v.note_label.isVisibleTo(v) and "handwritten digit" in v.note_label.text()
    assert v.layer_box.currentData() == "conv1"  # its first feature maps
    v.step()
    qtbot.waitUntil(lambda: v.latest is not None, timeout=30000)
    assert v.latest.network == "lenet5-digits" and v.latest.layer == "conv1"
    v.stop()


def test_notes_for_random_weights_and_for_frames_unlike_the_training_data(qtbot, ready):
    from tests.core.test_live_engine import tiny_net

    v = ready
    v.choose_source("camera")
    assert v.note_label.isVisibleTo(v) and "drawn shapes" in v.note_label.text()
    v.choose_source("synthetic")
    assert not v.note_label.isVisibleTo(v)
    v.set_network(tiny_net())  # never trained
    assert "random weights" in v.note_label.text() and "meaningless" in v.note_label.text()


def test_a_failed_load_keeps_the_running_network_and_says_why(qtbot, ready, monkeypatch):
    from explorer.errors import ModelError

    v = ready

    def broken(name, device, ctx):
        raise ModelError(f"{name}: the weights file is damaged")

    monkeypatch.setattr(live_section, "_open_classifier", broken)
    with qtbot.waitSignal(v.errorOccurred, timeout=15000) as err:
        v.choose_network("lenet5-digits")
    assert err.args[0] == "lenet5-digits: the weights file is damaged"
    assert v.errors == [err.args[0]]
    assert v.network.name == "tinyvgg-shapes" and v.network_box.currentData() == "tinyvgg-shapes"


def test_page_keys_and_j_k_step_through_the_layers(qtbot, ready):
    v = ready
    v.show()
    v.activateWindow()  # shortcuts fire in the active window only
    qtbot.waitUntil(v.isActiveWindow, timeout=5000)
    v.start_button.setFocus()
    names = [v.layer_box.itemData(i) for i in range(v.layer_box.count())]
    first = names.index(v.layer)
    qtbot.keyClick(v.start_button, Qt.Key.Key_PageDown)
    assert v.layer == names[first + 1]
    qtbot.keyClick(v.start_button, Qt.Key.Key_J)
    assert v.layer == names[first + 2] == v.layer_box.currentData()
    qtbot.keyClick(v.start_button, Qt.Key.Key_K)
    qtbot.keyClick(v.start_button, Qt.Key.Key_PageUp)
    assert v.layer == names[first]
    assert v.step_layer(-100) == names[0] and v.step_layer(+1000) == names[-1]
    assert v.engine._want_layer == names[-1]  # the engine shows it from the next frame


def test_a_new_layer_while_stopped_clears_the_old_maps(qtbot, ready):
    v = ready
    v.step()
    qtbot.waitUntil(lambda: v.frames_shown >= 1, timeout=30000)
    v.stop()
    v.set_layer("features.conv2")
    assert v.mosaic_canvas.image_shape is None and "features.conv2" in v.mosaic_caption.text()
    v.step()
    qtbot.waitUntil(lambda: v.latest is not None, timeout=30000)
    assert v.latest.layer == "features.conv2"
    v.stop()


def test_a_still_picture_and_explores_picture(qtbot):
    from explorer.app.pictures import open_picture

    scene = open_picture("scene:0")
    errors = []
    picture = {"now": None}
    host = SectionHost(device=torch.device("cpu"), explore=lambda: (None, picture["now"]),
                       show_error=errors.append)
    v = make_view(qtbot, host=host)
    qtbot.waitUntil(lambda: v.network is not None, timeout=60000)
    v.choose_source("picture")
    assert v.explore_button.isVisibleTo(v) and v.picture_button.isVisibleTo(v)
    assert not v.start() and "choose a picture" in errors[-1]
    v.explore_button.click()
    assert "Explore has no picture" in errors[-1]
    picture["now"] = scene
    v.explore_button.click()
    assert v.picture is scene and v.source_kind == "picture"
    v.step()
    qtbot.waitUntil(lambda: v.latest is not None, timeout=30000)
    assert v.latest.frame.shape == scene.array.shape
    assert v.note_label.isVisibleTo(v) is False  # a shapes scene for a shapes network
    v.stop()


@pytest.mark.parametrize("presentation", [False, True])
def test_fits_1366_by_768_without_sideways_scrolling(qtbot, qapp, ready, presentation):
    v = ready
    try:
        theme.apply(qapp, presentation=presentation, remember=False)
        for kind in SOURCE_KINDS:
            v.choose_source(kind)
            width = v.minimumSizeHint().width()
            assert width <= 1366 - 30, (kind, width)  # window frame and margins
        v.resize(1366 - 30, 768 - 110)  # menu, tabs and status bar take the rest
        v.show()
        qtbot.waitExposed(v)
        height = v.heightForWidth(v.width())
        assert height <= 768 - 110, height
    finally:
        theme.apply(qapp, presentation=False, remember=False)


def test_text_takes_the_palettes_colours():
    text = Path(live_section.__file__).read_text()
    assert "setStyleSheet" not in text and "color:" not in text
    assert "#" not in "".join(line for line in text.splitlines() if "QColor" in line)


def test_in_the_window_the_layer_keys_step_lives_layer_not_explores(qtbot, window):
    window.show_section("Live")
    live = window.section("Live")
    qtbot.waitUntil(lambda: live.network is not None, timeout=60000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    live.start_button.setFocus()
    explore_layer = window.layer_tree.current_name
    before = live.layer
    qtbot.keyClick(live.start_button, Qt.Key.Key_PageDown)
    assert live.layer != before and live.layer == live.layer_box.currentData()
    qtbot.keyClick(live.start_button, Qt.Key.Key_K)
    assert live.layer == before
    assert window.layer_tree.current_name == explore_layer
    # Live runs its own network on the window's device, not Explore's
    assert live.network is not window.network and live.device == window.device


def test_in_the_window_the_first_look_shows_one_frame_without_a_loop(qtbot, window):
    """Shown in the window for the first time, Live draws one frame of moving shapes with
    its maps and top-5 (no loop, no thread left running)."""
    window.show_section("Live")
    live = window.section("Live")
    qtbot.waitUntil(lambda: live.latest is not None, timeout=60000)
    assert not live.running and live.frames_shown == 0
    assert live.latest.network == live.network.name and live.latest.layer == live.layer
    assert live.mosaic_canvas.image_shape is not None and live.topk_label.text()
    assert "Start runs the loop" in live.fps_label.text()
    assert not live.previewer.busy


def test_a_standalone_view_starts_empty(qtbot, ready):
    ready.show()
    qtbot.waitExposed(ready)
    qtbot.wait(200)
    assert not ready.previewer.busy and ready.latest is None
    assert ready.mosaic_canvas.image_shape is None


def test_layer_keys_work_right_after_switching_to_live(qtbot, window):
    """Ctrl+5 (or a click on the tab) and then PgDown / J: the keys reach Live's layers
    although the focus was in Explore (in a real window they did nothing)."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.layer_tree.setFocus()
    window.show_section("Live")
    live = window.section("Live")
    qtbot.waitUntil(lambda: live.network is not None, timeout=60000)

    def inside() -> bool:
        focus = QApplication.focusWidget()
        return focus is not None and (focus is live or live.isAncestorOf(focus))

    qtbot.waitUntil(inside, timeout=5000)
    before, explore_layer = live.layer, window.layer_tree.current_name
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_PageDown)
    assert live.layer != before
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_J)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_K)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_PageUp)
    assert live.layer == before and window.layer_tree.current_name == explore_layer


def test_guided_backprop_replaces_the_frame_every_frame(qtbot, ready):
    v = ready
    v.set_layer("features.relu4")
    v.guided_box.setChecked(True)  # as a person ticks it
    assert v.engine.guided
    v.step()
    qtbot.waitUntil(lambda: v.frames_shown >= 1 and v.latest is not None
                    and v.latest.guided is not None, timeout=60000)
    r = v.latest
    assert r.layer == "features.relu4" and r.guided.shape == (64, 64)
    assert r.guided.max() > 0 and 0 <= r.guided_channel < 32
    assert f"channel {r.guided_channel} of features.relu4" in v.frame_caption.text()
    v.guided_box.setChecked(False)
    assert not v.engine.guided


def test_drawing_keeps_to_the_screens_refresh_and_shows_the_newest(qtbot, ready, monkeypatch):
    """The loop may finish frames faster than a screen shows them: the section draws at
    most once per refresh, always the newest result, and what arrives in between is
    drawn when the refresh comes (not lost, not drawn twice)."""
    v = ready
    interval = 0.1  # a 10 Hz screen, so the test sees the spacing
    monkeypatch.setattr(v, "refresh_interval", lambda: interval)
    drawn: list[tuple[float, int]] = []
    v.resultShown.connect(lambda r: drawn.append((time.perf_counter(), r.index)))
    v.synthetic_fps = 200.0  # far faster than the screen
    v.start()
    qtbot.waitUntil(lambda: len(drawn) >= 6, timeout=60000)
    v.stop()
    gaps = [b[0] - a[0] for a, b in zip(drawn[:-1], drawn[1:-1])]  # the last: drawn by stop
    assert min(gaps) >= interval * 0.9, gaps
    indices = [i for _, i in drawn]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    # many frames went through the loop between two drawings: newest wins, none queued
    assert v.engine.frames > len(drawn)
    assert not v._draw_timer.isActive()  # stopped with the loop


def test_refresh_interval_follows_the_screen_within_bounds(ready, monkeypatch):
    from explorer.gui.live import section

    v = ready
    v.show()
    for hz, expected in ((60.0, 60.0), (144.0, 144.0), (0.0, section.DEFAULT_REFRESH_HZ),
                         (5.0, section.REFRESH_BOUNDS_HZ[0]),
                         (1000.0, section.REFRESH_BOUNDS_HZ[1])):
        monkeypatch.setattr(type(v.screen()), "refreshRate", lambda _self, hz=hz: hz)
        assert v.refresh_interval() == pytest.approx(1 / expected)


def test_words_change_a_few_times_a_second_and_end_on_the_last_picture(qtbot, ready,
                                                                       monkeypatch):
    """While running, the top-5 and the rates change at most every TEXT_INTERVAL_S (each
    change lays out the panel); when the loop stops they are those of the last drawn
    result."""
    v = ready
    monkeypatch.setattr(v, "refresh_interval", lambda: 0.01)
    changes: list[float] = []
    v.fps_label.setText("")
    original = v.fps_label.setText
    monkeypatch.setattr(v.fps_label, "setText", lambda text: (
        changes.append(time.perf_counter()), original(text)))
    v.synthetic_fps = 200.0
    v.start()
    qtbot.waitUntil(lambda: len(changes) >= 4 and v.frames_shown >= 30, timeout=60000)
    v.stop()
    gaps = [b - a for a, b in zip(changes[:-1], changes[1:-1])]
    assert gaps and min(gaps) >= live_section.TEXT_INTERVAL_S * 0.9, gaps
    assert len(changes) < v.frames_shown  # pictures were drawn more often than words
    last = v.latest
    assert f"{last.seconds * 1e3:.0f} ms/frame" in v.fps_label.text()
    expected = "\n".join(f"{p:6.1%}  {name}" for name, p in last.topk)
    assert v.topk_label.text() == expected
