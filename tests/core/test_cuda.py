"""On a CUDA GPU (issue 17): live resnet18 at 224x224, frame to screen-ready picture, at
60 fps or more; float16 autocast against float32; the real out-of-memory fallback (most
of the GPU taken first); the unit card's layer visualisation on the GPU.

No GPU has been lent to this project's machines yet, so these are skipped with that
reason wherever ``torch.cuda.is_available()`` is False; they are never faked with a CPU
stand-in. Where a GPU is at hand:

    python -m pytest -q -m cuda          # these tests
    cnn-explorer bench --json            # the figures for the README

The 60 fps test is the one timed test of the suite: the rate is the target itself, and it
is measured the way benchmarks/live_fps.py measures it (seconds of a running loop, from
the first result to the last), on a machine that has the GPU to itself.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from explorer.app.pictures import open_picture
from explorer.app.tracing import trace_picture
from explorer.core.device import is_oom
from explorer.live.engine import LiveEngine, reduced_precision
from explorer.live.sources import SyntheticSource
from explorer.nets.registry import load_network

NO_GPU = ("no CUDA GPU on this machine (none has been lent yet); where one is, run "
          "`python -m pytest -q -m cuda` and `cnn-explorer bench --json`")

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)]

CUDA = torch.device("cuda")


def _rate(engine: LiveEngine, size: int, seconds: float, pace: float) -> tuple[float, list]:
    """Results per second of `engine` on synthetic frames, from the first to the last."""
    stamps, results = [], []

    def on_result(result) -> None:
        stamps.append(time.perf_counter())
        results.append(result)

    engine.run(SyntheticSource((size, size), seed=0, fps_hint=pace), on_result,
               seconds=seconds)
    assert len(stamps) > 10
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]), results


@pytest.mark.parametrize("half", [False, True], ids=["fp32", "fp16"])
def test_live_resnet18_224_reaches_60_fps_to_a_screen_ready_picture(half):
    """The whole live path up to what the window blits: read, upload through pinned
    memory, prepare, resnet18, the first convolution's mosaic coloured as RGBA, top-5."""
    engine = LiveEngine(load_network("resnet18"), device=CUDA, half=half,
                        colormap="viridis")
    for i in range(5):  # cuDNN tuning and first allocations are not the rate
        engine.process(SyntheticSource((224, 224)).frame_at(i))
    fps, results = _rate(engine, 224, seconds=3.0, pace=240.0)
    last = results[-1]
    assert last.device.startswith("cuda") and last.rgba is not None
    assert last.rgba.shape[:2] == last.mosaic.image.shape and last.rgba.dtype == np.uint8
    assert len(last.topk) == 5
    assert fps >= 60.0, f"{fps:.1f} fps (timings of the last frame: {last.timings})"


def test_fp16_autocast_runs_in_half_and_agrees_with_fp32():
    net = load_network("tinyvgg-shapes", device=CUDA)  # trained: its top-1 is confident
    picture = open_picture("shape-crop")
    from explorer.core.network import preprocess

    x = preprocess(net, picture).to(CUDA)
    with torch.inference_mode():
        full = net.module(x)
        with reduced_precision(CUDA, True):
            half = net.module(x)
    assert full.dtype == torch.float32 and half.dtype == torch.float16
    assert int(full.argmax()) == int(half.argmax())
    torch.testing.assert_close(half.float().softmax(1), full.softmax(1), atol=2e-2, rtol=0)
    # the live engine's half path gives the same mosaic, to float16's precision
    frame = SyntheticSource((128, 128), seed=3).frame_at(0)
    a = LiveEngine(net, device=CUDA).process(frame)
    b = LiveEngine(net, device=CUDA, half=True).process(frame)
    assert a.layer == b.layer and a.mosaic.image.shape == b.mosaic.image.shape
    gaps = np.isnan(a.mosaic.image)
    np.testing.assert_array_equal(gaps, np.isnan(b.mosaic.image))
    assert np.abs(a.mosaic.image[~gaps] - b.mosaic.image[~gaps]).max() < 0.02
    assert [label for label, _ in a.topk[:1]] == [label for label, _ in b.topk[:1]]


def _fill_gpu(keep_free: int) -> list[torch.Tensor]:
    """Allocate the GPU's memory in chunks until at most `keep_free` bytes are left."""
    hog: list[torch.Tensor] = []
    chunk = 1 << 30
    while chunk >= 1 << 20:
        free, _total = torch.cuda.mem_get_info()
        if free - chunk < keep_free:
            chunk //= 2
            continue
        try:
            hog.append(torch.empty(chunk, dtype=torch.uint8, device=CUDA))
        except torch.OutOfMemoryError:
            chunk //= 2
    return hog


def test_out_of_memory_falls_back_to_the_cpu_for_real():
    """vgg16 on the GPU, then nearly all of the GPU's memory taken: the traced pass runs
    out of memory on the GPU for real and runs on the CPU instead, with the same answer a
    CPU pass gives and the note that says so."""
    picture = open_picture("sample:chelsea")
    reference, _, _ = trace_picture(load_network("vgg16"), picture)  # on the CPU
    net = load_network("vgg16", device=CUDA)
    hog = _fill_gpu(keep_free=16 << 20)  # vgg16's first activations alone need more
    try:
        with pytest.raises(Exception) as raised:  # the GPU really is full
            torch.empty(64 << 20, dtype=torch.uint8, device=CUDA)
        assert is_oom(raised.value)
        tr, _picture, note = trace_picture(net, picture)
    finally:
        del hog
        torch.cuda.empty_cache()
    assert note is not None and "out of memory" in note
    first = tr.layers[0].name
    assert tr.activation(first).device.type == "cpu"
    torch.testing.assert_close(tr.probs, reference.probs, atol=1e-4, rtol=1e-4)
    assert tr.topk(1)[0][0] == reference.topk(1)[0][0]


def test_unit_card_layer_visualisation_on_the_gpu(tmp_path):
    """The unit card's feature visualisation of a mid layer, every channel as one batch on
    the GPU: each channel's own picture drives it harder than the others' pictures, and
    the time is printed for the README."""
    from explorer.app.units import visualise_layer
    from explorer.units.common import LayerProbe, channel_means, normalise

    net = load_network("tinyvgg-shapes", device=CUDA)
    layer = "features.relu4"
    t0 = time.perf_counter()
    fv = visualise_layer(net, layer, steps=256, cache_dir=tmp_path)
    seconds = time.perf_counter() - t0
    print(f"unit card: {layer} of tinyvgg-shapes, 256 steps, 32 channels on "
          f"{torch.cuda.get_device_name(0)}: {seconds:.2f} s")
    assert fv.pixels.shape == (32, 3, 64, 64) and not fv.cached
    assert np.isfinite(fv.pixels).all() and fv.pixels.min() >= 0 and fv.pixels.max() <= 1
    with torch.no_grad():
        x = torch.as_tensor(fv.pixels, device=CUDA)
        cross = channel_means(LayerProbe(net, layer)(normalise(net, x))).float().cpu().numpy()
    own = np.diag(cross)
    others = np.array([np.delete(cross[:, c], c).max() for c in range(32)])
    assert (own > others).mean() >= 0.9
