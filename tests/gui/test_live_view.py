"""The Live panel on the synthetic source: frames arrive, the rate is measured, layer and
network switch while running, a slow screen skips results, stop leaves no thread."""

import time

import pytest
import torch

from explorer.gui.live.section import LiveView
from explorer.nets.registry import load_network


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tinyvgg():
    return load_network("tinyvgg-shapes", device="cpu")


@pytest.fixture
def view(qtbot, tinyvgg):
    v = LiveView(device="cpu")
    qtbot.addWidget(v, before_close_func=lambda w: w.shutdown())
    v.synthetic_size = (128, 128)
    v.set_network(tinyvgg)
    v.show()
    return v


def test_frames_arrive_and_fps_is_measured(qtbot, view, tinyvgg):
    with qtbot.waitSignal(view.runningChanged, timeout=5000) as started:
        assert view.start()
    assert started.args == [True]
    qtbot.waitUntil(lambda: view.frames_shown >= 6, timeout=30000)
    r = view.latest
    assert r.network == "tinyvgg-shapes" and r.layer == "features.conv1"
    assert r.fps > 0 and r.frame.shape == (128, 128, 3) and r.shape == (16, 64, 64)
    assert view.mosaic_canvas.image_shape == r.mosaic.image.shape
    assert view.frame_canvas.image_shape == (128, 128)
    assert len(view.topk_label.text().splitlines()) == 5
    assert "fps network" in view.fps_label.text()
    # the window's network is neither moved nor hooked: the engine runs a copy
    assert view.engine.network.module is not tinyvgg.module
    assert sum(len(m._forward_hooks) for m in tinyvgg.module.modules()) == 0
    with qtbot.waitSignal(view.runningChanged, timeout=15000) as stopped:
        view.stop()
    assert stopped.args == [False] and not view.running
    shown = view.frames_shown
    qtbot.wait(200)
    assert view.frames_shown == shown


def test_layer_and_network_switch_while_running(qtbot, view):
    view.start()
    qtbot.waitUntil(lambda: view.frames_shown >= 2, timeout=30000)
    view.set_layer("features.conv3")
    qtbot.waitUntil(lambda: view.latest.layer == "features.conv3", timeout=15000)
    assert view.latest.shape == (32, 32, 32)
    assert view.mosaic_canvas.image_shape == view.latest.mosaic.image.shape
    lenet = load_network("lenet5-digits", device="cpu")
    view.set_network(lenet)
    # tinyvgg's maps and top-5 are gone at once: they no longer answer the question
    assert view.latest is None and view.mosaic_canvas.image_shape is None
    assert view.topk_label.text() == ""
    qtbot.waitUntil(lambda: view.latest is not None and view.latest.network == "lenet5-digits",
                    timeout=15000)
    assert view.latest.layer != "features.conv3"  # lenet has no such layer: its first maps
    assert len(view.latest.shape) == 3
    # precision and device switches take effect while running, too
    view.half_box.setChecked(True)
    view.set_device(torch.device("cpu"))
    shown = view.frames_shown
    qtbot.waitUntil(lambda: view.frames_shown >= shown + 2, timeout=15000)
    assert view.engine.half and view.latest.device == "cpu"
    view.stop()


def test_pause_and_step(qtbot, view):
    view.step()  # starts paused and shows one frame
    qtbot.waitUntil(lambda: view.frames_shown == 1, timeout=30000)
    first = view.latest.index
    view.step()
    qtbot.waitUntil(lambda: view.frames_shown == 2, timeout=15000)
    assert view.latest.index == first + 1
    qtbot.wait(300)
    assert view.frames_shown == 2  # paused: nothing without a step
    view.pause(False)
    qtbot.waitUntil(lambda: view.frames_shown >= 5, timeout=30000)
    view.stop()


def test_a_slow_screen_skips_results_instead_of_queueing(qtbot, view, monkeypatch):
    draw = view.show_result

    def slow_draw(result):
        draw(result)
        time.sleep(0.15)  # the GUI thread is busy: results pile up in the worker

    monkeypatch.setattr(view, "show_result", slow_draw)
    view.start()
    qtbot.waitUntil(lambda: view.frames_shown >= 5, timeout=30000)
    worker = view.worker
    view.stop()
    assert worker.dropped > 0
    assert view.engine.frames > view.frames_shown


def test_missing_camera_reports_and_stops(qtbot, view):
    view.choose_source("camera", camera=99)
    with qtbot.waitSignal(view.errorOccurred, timeout=15000) as err:
        view.start()
    assert "camera 99" in err.args[0]
    qtbot.waitUntil(lambda: not view.running, timeout=15000)
    # the synthetic source still works afterwards
    view.choose_source("synthetic")
    view.start()
    qtbot.waitUntil(lambda: view.frames_shown >= 1, timeout=30000)
    view.stop()


def test_cannot_start_without_network_or_video(qtbot):
    v = LiveView(device="cpu", network=None)  # no network of its own to open
    qtbot.addWidget(v, before_close_func=lambda w: w.shutdown())
    with qtbot.waitSignal(v.errorOccurred, timeout=1000):
        assert not v.start()
    v.set_network(load_network("tinyvgg-shapes", device="cpu"))
    v.choose_source("video")
    with qtbot.waitSignal(v.errorOccurred, timeout=1000) as err:
        assert not v.start()
    assert "video" in err.args[0] and not v.running
