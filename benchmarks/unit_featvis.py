"""Feature visualisation of a whole layer of tinyvgg-shapes, all channels as one batch,
256 steps, against optimising one channel alone times the number of channels. Target: at
most 20 s per layer on the CPU (2 cores).

The one-channel baseline runs fewer steps (32) and is extrapolated to 256 steps and to
every channel (the time per step of one picture does not depend on the step). A third
figure: guided backpropagation from one unit on a 128x128 picture as the live view runs it
(:class:`~explorer.units.live_guided.LiveGuided`: a guided copy made once), against a plain
forward pass to the same layer (target: at most 33 ms, 30 per second); the unit card's
Captum call (hooks set up on every call) is given beside it.

    python -m benchmarks.unit_featvis [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import time

import torch

from benchmarks._report import cli
from explorer.nets.registry import load_network
from explorer.units.backward import backward_views
from explorer.units.common import LayerProbe, unit_layer
from explorer.units.featvis import Settings, resolve_precision, tile_side, visualise
from explorer.units.live_guided import LiveGuided

TARGET_S = 20.0
TARGET_LIVE_S = 1 / 30
STEPS = 256
BASE_STEPS = 32


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def layer_figure(net, layer: str, steps: int = STEPS) -> dict:
    channels = unit_layer(net, layer).channels
    s = Settings(steps=steps)
    tile = tile_side(net, LayerProbe(net, layer), s.tiles)
    visualise(net, layer, [0], steps=2, cache_dir=False)  # warm-up: describe, fuse
    batched = _timed(lambda: visualise(net, layer, settings=s, cache_dir=False))
    one = _timed(lambda: visualise(net, layer, [channels // 2], steps=BASE_STEPS,
                                   cache_dir=False))
    baseline = one * STEPS / BASE_STEPS * channels
    value = batched * STEPS / steps
    note = (f"one channel alone timed for {BASE_STEPS} steps, extrapolated to {STEPS} "
            f"steps x {channels} channels")
    if steps != STEPS:
        note += f"; the layer timed for {steps} steps, extrapolated to {STEPS}"
    note += (f"; optimised as a {tile[1]}x{tile[0]} tile until the polish" if tile
             else "; the whole input all along")
    return {"name": f"featvis tinyvgg-shapes {layer}: {channels} channels x {STEPS} steps",
            "layer": layer, "channels": channels, "steps": STEPS,
            "precision": resolve_precision(s.precision, net.device),
            "threads": torch.get_num_threads(), "baseline": "one channel at a time",
            "baseline_s": baseline, "value_s": value, "ratio": value / baseline,
            "target": f"<= {TARGET_S:g} s", "ok": value <= TARGET_S, "note": note}


def live_figure(net, repeats: int = 10, size: int = 128) -> dict:
    layer = "features.relu6"
    x = torch.randn(1, 3, size, size)
    probe = LayerProbe(net, layer)
    live = LiveGuided(net, layer)
    live(x), backward_views(net, x, layer, 0, views=["guided"])  # warm-up
    plain, guided, captum = [], [], []
    for _ in range(repeats):
        with torch.inference_mode():
            plain.append(_timed(lambda: probe(x)))
        guided.append(_timed(lambda: live(x)))
        captum.append(_timed(lambda: backward_views(net, x, layer, 0, views=["guided"])))
    p, g = statistics.median(plain), statistics.median(guided)
    return {"name": f"guided backprop tinyvgg-shapes {layer} unit, {size}x{size}",
            "threads": torch.get_num_threads(), "baseline": "plain forward to the layer",
            "baseline_s": p, "value_s": g, "ratio": g / p,
            "captum_s": statistics.median(captum),
            "target": f"<= {TARGET_LIVE_S * 1e3:.0f} ms", "ok": g <= TARGET_LIVE_S}


def run(repeats: int = 1, quick: bool = False) -> list[dict]:
    net = load_network("tinyvgg-shapes")
    steps = 64 if quick else STEPS
    return [layer_figure(net, "features.relu4", steps),
            layer_figure(net, "features.relu6", steps),
            live_figure(net, 5 if quick else 10 * max(1, repeats))]


def describe(r: dict) -> str:
    if "channels" in r:
        return (f"{r['name']} ({r['threads']} threads, {r['precision']}): "
                f"{r['value_s']:.1f} s as one batch, "
                f"{r['baseline_s']:.1f} s one channel at a time ({r['note']})")
    return (f"{r['name']}: {r['value_s'] * 1e3:.1f} ms live (a guided copy made once), "
            f"plain forward {r['baseline_s'] * 1e3:.1f} ms, Captum as the card calls it "
            f"{r['captum_s'] * 1e3:.1f} ms")


def main() -> None:
    cli(__doc__, run, describe, repeats=1)


if __name__ == "__main__":
    main()
