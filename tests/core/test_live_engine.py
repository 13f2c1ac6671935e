"""The live engine: latest frame wins, pause and step, one hook on the shown layer,
layer/network switches at the next frame, and the same numbers a full trace gives."""

import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from explorer.core.images import Image
from explorer.core.mosaic import mosaic
from explorer.core.network import Network, preprocess
from explorer.core.trace import trace
from explorer.errors import UserError
from explorer.live.engine import FpsMeter, Grabber, LiveEngine
from explorer.live.prep import FramePrep
from explorer.live.sources import SyntheticSource

CLASSES = ["a", "b", "c", "d", "e", "f", "g"]


def tiny_net(in_channels: int = 3, size: int = 32, seed: int = 0) -> Network:
    torch.manual_seed(seed)
    module = nn.Sequential()
    module.add_module("conv1", nn.Conv2d(in_channels, 4, 3, padding=1))
    module.add_module("relu1", nn.ReLU())
    module.add_module("conv2", nn.Conv2d(4, 8, 3, stride=2, padding=1))
    module.add_module("pool", nn.AdaptiveAvgPool2d(1))
    module.add_module("flat", nn.Flatten())
    module.add_module("fc", nn.Linear(8, len(CLASSES)))
    mean = (0.5,) * in_channels
    std = (0.25,) * in_channels
    return Network(module.eval(), f"tiny{in_channels}", "classify", (size, size),
                   in_channels, mean, std, list(CLASSES))


def hook_count(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in module.modules())


@pytest.fixture(autouse=True)
def one_thread():
    # the machine is shared: keep torch to one thread here, as the other core tests do
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("channels", [3, 1])
def test_frame_prep_matches_core_preprocess(channels):
    net = tiny_net(channels, size=24)
    frame = SyntheticSource((40, 70), seed=5).frame_at(3)
    want = preprocess(net, Image(frame, "f", None, ""))
    got = FramePrep(net)(frame)
    assert got.shape == want.shape == (1, channels, 24, 24)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_process_gives_the_traces_mosaic_and_topk():
    net = tiny_net()
    frame = SyntheticSource((32, 32), seed=1).frame_at(0)
    engine = LiveEngine(net, "conv2", device="cpu")
    result = engine.process(frame, index=7)
    tr = trace(net, preprocess(net, Image(frame, "f", None, "")))
    want = mosaic(tr.activation("conv2"))
    assert result.index == 7 and result.layer == "conv2" and result.shape == (8, 16, 16)
    np.testing.assert_allclose(result.mosaic.image, want.image, atol=1e-5)
    assert [name for name, _ in result.topk] == [name for name, _ in tr.topk(5)]
    np.testing.assert_allclose([p for _, p in result.topk], [p for _, p in tr.topk(5)],
                               atol=1e-5)
    assert result.frame is frame and result.seconds > 0


def test_only_the_shown_layer_is_kept_with_one_hook():
    net = tiny_net()
    engine = LiveEngine(net, "conv1", device="cpu")
    src = SyntheticSource((32, 32))
    engine.process(src.read())
    # the engine runs its own copy: one hook there, none on the caller's module
    assert hook_count(engine.network.module) == 1
    assert hook_count(net.module) == 0
    assert engine.network.module is not net.module
    # nothing but the tap holds an activation, and the tap gave it away with the result
    assert engine.tap.output is None
    kept = []
    for n, m in engine.network.module.named_modules():
        for hook in m._forward_hooks.values():
            kept.append(n)
            assert hook.__self__ is engine.tap
    assert kept == ["conv1"]
    for _ in range(3):
        engine.process(src.read())
    assert hook_count(engine.network.module) == 1  # no hook per frame


def test_layer_switch_changes_the_mosaic_at_the_next_frame():
    engine = LiveEngine(tiny_net(), device="cpu")
    src = SyntheticSource((32, 32))
    first = engine.process(src.read())
    assert first.layer == "conv1" and first.shape == (4, 32, 32)  # default: first map layer
    engine.set_layer("conv2")
    assert engine.layer == "conv1"  # pending until the next frame
    second = engine.process(src.read())
    assert second.layer == "conv2" and second.shape == (8, 16, 16)
    assert second.mosaic.image.shape != first.mosaic.image.shape
    assert hook_count(engine.network.module) == 1
    engine.set_layer("fc")
    third = engine.process(src.read())
    assert third.shape == (len(CLASSES),) and third.mosaic.channels == len(CLASSES)
    with pytest.raises(UserError, match="no layer"):
        engine.set_layer("conv9")


def test_network_switch_keeps_the_layer_name_when_it_exists():
    engine = LiveEngine(tiny_net(size=32), "conv2", device="cpu")
    src = SyntheticSource((32, 32))
    assert engine.process(src.read()).shape == (8, 16, 16)
    grey = tiny_net(1, size=20, seed=1)
    engine.set_network(grey)
    result = engine.process(src.read())
    assert result.network == "tiny1" and result.layer == "conv2" and result.shape == (8, 10, 10)
    assert hook_count(engine.network.module) == 1

    other = tiny_net(size=16)
    other.module = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.LazyLinear(7))
    other.module(torch.zeros(1, 3, 16, 16))
    other.module.eval()
    engine.set_network(other)  # no layer "conv2" there: its first map layer instead
    result = engine.process(src.read())
    assert result.layer == "0" and result.shape == (2, 14, 14)


def test_set_device_moves_the_engines_copy_only():
    net = tiny_net()
    engine = LiveEngine(net, device="cpu")
    engine.set_device("cpu")
    engine.process(SyntheticSource((32, 32)).read())
    assert engine.network.device.type == "cpu"
    with pytest.raises(UserError):
        engine.set_device("nonsense-device")


def test_grabber_keeps_only_the_newest_frame():
    src = SyntheticSource((16, 16))
    grabber = Grabber(src)
    for _ in range(3):
        grabber.grab_now()
    index, frame = grabber.take(0)
    assert index == 3 and grabber.dropped == 2
    np.testing.assert_array_equal(frame, SyntheticSource((16, 16)).frame_at(2))
    assert grabber.take(0) is None  # a frame is handed out once
    grabber.grab_now()
    assert grabber.take(0)[0] == 4 and grabber.dropped == 2


def test_latest_frame_wins_with_a_slow_consumer():
    engine = LiveEngine(tiny_net(), device="cpu")
    seen = []

    def slow(result):
        seen.append(result.index)
        time.sleep(0.1)  # a consumer far slower than the 400 fps source

    done = engine.run(SyntheticSource((32, 32), fps_hint=400), slow, max_frames=6)
    assert done == 6 and len(seen) == 6
    gaps = np.diff(seen)
    assert (gaps >= 1).all()  # newer each time, never an old frame
    assert gaps.max() > 3  # frames were skipped, not queued
    # every frame read up to the last one shown was either shown or dropped
    assert engine.dropped == seen[-1] - len(seen)
    assert engine.dropped > 5


def test_fast_consumer_drops_nothing_on_a_slow_source():
    engine = LiveEngine(tiny_net(), device="cpu")
    seen = []
    # 10 fps: a 100 ms margin per frame, even on a busy machine
    engine.run(SyntheticSource((32, 32), fps_hint=10), lambda r: seen.append(r.index),
               max_frames=5)
    assert seen == [1, 2, 3, 4, 5] and engine.dropped == 0


def test_a_viewer_gets_no_more_results_than_its_screen_shows(monkeypatch):
    # a 20 Hz "screen": every frame goes through the network and counts, but only those
    # a refresh apart are tiled and handed over, and the last frame is always shown
    from explorer.live import engine as live_engine

    tiled = []
    real_mosaic = live_engine.mosaic
    monkeypatch.setattr(live_engine, "mosaic",
                        lambda *a, **k: tiled.append(1) or real_mosaic(*a, **k))
    engine = LiveEngine(tiny_net(), device="cpu")
    engine.show_interval = 0.05
    computed = []
    real_compute = engine._compute
    monkeypatch.setattr(engine, "_compute",
                        lambda item: computed.append(item.index) or real_compute(item))
    results, stamps = [], []

    def on_result(r):
        results.append(r)
        stamps.append(time.perf_counter())

    engine.run(SyntheticSource((32, 32), fps_hint=400), on_result, max_frames=60)
    assert engine.frames == len(computed) == 60
    assert 2 <= len(results) < 60 and len(tiled) == len(results)
    assert all(r.mosaic is not None and r.mosaic.image.size for r in results)
    assert min(np.diff(stamps[:-1]), default=1.0) >= 0.03  # a refresh apart, less slack
    assert results[-1].index == computed[-1]  # the last frame is the last picture
    assert results[-1].fps > 0
    # without a viewer's interval every frame is handed over, as before
    engine.show_interval = None
    every = []
    engine.run(SyntheticSource((32, 32), fps_hint=400), every.append, max_frames=10)
    assert len(every) == 10


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_pause_and_single_step():
    engine = LiveEngine(tiny_net(), device="cpu")
    results = []
    engine.pause()
    engine.start(SyntheticSource((32, 32), fps_hint=100), results.append)
    try:
        time.sleep(0.3)
        assert results == [] and engine.running
        engine.step()
        assert _wait(lambda: len(results) == 1)
        engine.step()
        assert _wait(lambda: len(results) == 2)
        time.sleep(0.2)
        assert len(results) == 2  # paused: nothing more without a step
        assert results[1].index == results[0].index + 1  # the very next frame
        engine.resume()
        assert _wait(lambda: len(results) >= 8)
        assert engine.fps > 0
        # switch layer while running: later results use it
        engine.set_layer("conv2")
        assert _wait(lambda: results[-1].layer == "conv2")
    finally:
        engine.stop()
    assert not engine.running and engine.error is None
    n = len(results)
    time.sleep(0.1)
    assert len(results) == n
    assert not [t for t in threading.enumerate() if t.name.startswith("live-")]


def test_run_ends_with_the_source_and_errors_reach_the_caller(tmp_path):
    class Three:
        name, fps_hint = "three", None

        def __init__(self):
            self.n = 0

        def open(self):
            pass

        def close(self):
            pass

        def read(self):
            self.n += 1
            return SyntheticSource((32, 32)).frame_at(0) if self.n <= 3 else None

    engine = LiveEngine(tiny_net(), device="cpu")
    assert 1 <= engine.run(Three(), pace=0) <= 3

    class Broken(Three):
        def read(self):
            raise OSError("camera unplugged")

    engine.start(Broken())
    assert _wait(lambda: not engine.running)
    engine.stop()
    assert isinstance(engine.error, OSError)


def test_fps_meter_is_a_moving_average():
    meter = FpsMeter(window=5)
    assert meter.rate == 0.0
    for i in range(10):
        meter.tick(i * 0.1)
    assert meter.rate == pytest.approx(10.0)
    for i in range(5):
        meter.tick(1.0 + i * 0.5)  # slowed down: the old ticks have left the window
    assert meter.rate == pytest.approx(2.0)


def test_no_network_is_a_user_error():
    with pytest.raises(UserError):
        LiveEngine(device="cpu").process(np.zeros((8, 8, 3), np.float32))


def test_auto_threads_picks_a_count_and_restores_torchs(monkeypatch):
    engine = LiveEngine(tiny_net(), device="cpu", threads="auto")
    torch.set_num_threads(2)
    before = torch.get_num_threads()
    seen = []
    engine.run(SyntheticSource((32, 32), fps_hint=200), lambda r: seen.append(
        torch.get_num_threads()), max_frames=3)
    chosen = engine.tuned_threads["tiny3"]
    assert chosen in (1, before) and seen == [chosen] * 3
    assert engine.frames == 3  # the timing runs are not counted as shown frames
    assert torch.get_num_threads() == before
    for bad in (0, "many"):
        with pytest.raises(UserError):
            LiveEngine(device="cpu", threads=bad)


def test_reduced_precision_stays_close():
    frame = SyntheticSource((32, 32), seed=2).frame_at(1)
    full = LiveEngine(tiny_net(), "conv2", device="cpu").process(frame)
    half = LiveEngine(tiny_net(), "conv2", device="cpu", half=True).process(frame)
    assert half.shape == full.shape and half.mosaic.image.dtype == np.float32
    np.testing.assert_allclose(half.mosaic.image, full.mosaic.image, atol=0.05)
    assert half.topk[0][0] == full.topk[0][0]


def test_the_copy_drops_foreign_hooks_and_the_same_network_is_not_copied_again():
    net = tiny_net()
    kept = []
    handle = net.module.conv2.register_forward_hook(lambda m, i, o: kept.append(o))
    engine = LiveEngine(net, "conv1", device="cpu")
    src = SyntheticSource((32, 32))
    engine.process(src.read())
    handle.remove()
    assert kept == [] and hook_count(engine.network.module) == 1
    module = engine.network.module
    engine.set_network(net, "conv2")  # the same network again (a new image was loaded)
    result = engine.process(src.read())
    assert engine.network.module is module and result.layer == "conv2"


def test_colormap_gives_an_rgba_mosaic_matching_the_lookup_table():
    from explorer.core import colormaps

    engine = LiveEngine(tiny_net(), "conv2", device="cpu", colormap="inferno")
    result = engine.process(SyntheticSource((32, 32)).read())
    img, rgba = result.mosaic.image, result.rgba
    assert rgba.dtype == np.uint8 and rgba.shape == img.shape + (4,)
    gaps = np.isnan(img)
    assert gaps.any() and (rgba[gaps] == 0).all()  # gaps transparent
    want = colormaps.apply(img, "inferno")
    np.testing.assert_array_equal(rgba[~gaps][:, :3], want[~gaps])
    assert (rgba[~gaps][:, 3] == 255).all()
    engine.colormap = None
    assert engine.process(SyntheticSource((32, 32)).read()).rgba is None


class _Words(nn.Module):
    """Runs a convolution, then answers in words instead of numbers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        self.conv1(x)
        return {"answer": "a cat"}


def test_a_network_that_returns_no_tensor_is_reported_in_words():
    from explorer.errors import ModelError

    net = tiny_net()
    net.module = _Words().eval()
    with pytest.raises(ModelError, match="returned a dict, not a tensor"):
        LiveEngine(net, device="cpu").process(SyntheticSource((32, 32)).read())


def test_a_network_whose_output_overflows_is_reported_in_words():
    from explorer.errors import ModelError

    net = tiny_net()
    with torch.no_grad():
        net.module.conv2.weight.fill_(3e38)  # finite weights, infinite sums
    engine = LiveEngine(net, "conv2", device="cpu")
    with pytest.raises(ModelError, match=r"tiny3's output holds (NaN|infinity).*layer conv2"):
        engine.process(SyntheticSource((32, 32)).read())


def test_guided_backprop_on_every_frame_equals_captums():
    from explorer.units.backward import backward_views

    net = tiny_net()
    frame = SyntheticSource((32, 32), seed=2).frame_at(0)
    engine = LiveEngine(net, "relu1", device="cpu", channels_last=False)
    assert engine.process(frame).guided is None  # off unless asked for
    engine.guided = True
    result = engine.process(frame)
    x = preprocess(net, Image(frame, "f", None, ""))
    act = trace(net, x).activation("relu1")  # Tensor[C, H, W]
    channel = int(act.flatten(1).mean(1).argmax())
    assert result.guided_channel == channel and result.guided.shape == (32, 32)
    want = backward_views(net, x, "relu1", channel, views=["guided"])["guided"].map
    assert want.max() > 0
    np.testing.assert_allclose(result.guided, want, rtol=1e-4, atol=1e-5 * float(want.max()))
    assert "guided" in result.timings and hook_count(net.module) == 0


def test_pipeline_leaves_a_core_for_the_stages_around_the_network():
    from explorer.live.engine import pipeline_threads

    assert pipeline_threads(2, cores=2) == 1  # this project's machines: one thread
    assert pipeline_threads(16, cores=16) == 15
    assert pipeline_threads(4, cores=16) == 4  # never more than torch was given
    assert pipeline_threads(1, cores=1) == 1
