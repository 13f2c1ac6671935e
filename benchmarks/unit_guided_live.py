"""Guided backpropagation on every camera frame: milliseconds per frame of
:class:`explorer.units.live_guided.LiveGuided` (a guided copy made once) against a plain
forward pass of the network to the same layer at the same frame size, and against Captum's
GuidedBackprop as the unit card calls it (hooks set up on every call). Target: at most
33 ms per frame (30 frames per second) for tinyvgg-shapes on the CPU.

Networks: tinyvgg-shapes at its 64x64 input and at 128x128 (it runs fully
convolutionally on a bigger frame), and torchvision's resnet18 (random weights: the cost
does not depend on them) at 224x224, each from the unit's layer named below; the channel
followed is each frame's strongest.

    python -m benchmarks.unit_guided_live [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import time

import torch

from benchmarks._report import cli
from explorer.nets.registry import load_network
from explorer.units.backward import backward_views
from explorer.units.common import LayerProbe
from explorer.units.live_guided import LiveGuided

TARGET_S = 1 / 30
CASES = (("tinyvgg-shapes", "features.relu6", 64), ("tinyvgg-shapes", "features.relu6", 128),
         ("resnet18", "layer3", 224))


def _median_s(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def case_figure(name: str, layer: str, size: int, repeats: int) -> dict:
    net = load_network(name, device="cpu")
    x = torch.rand(1, 3, size, size)
    probe = LayerProbe(net, layer)
    live = LiveGuided(net, layer)

    def plain():
        with torch.inference_mode():
            probe(x)

    plain_s = _median_s(plain, repeats)
    live_s = _median_s(lambda: live(x), repeats)
    channel = live(x)[1]
    captum_s = _median_s(lambda: backward_views(net, x, layer, channel, views=["guided"]),
                         max(3, repeats // 3))
    return {"name": f"guided backprop per frame, {name} {layer}, {size}x{size}",
            "threads": torch.get_num_threads(), "baseline": "plain forward to the layer",
            "baseline_s": plain_s, "value_s": live_s, "ratio": live_s / plain_s,
            "captum_s": captum_s, "target": f"<= {TARGET_S * 1e3:.0f} ms",
            "ok": live_s <= TARGET_S, "weights": net.weights_source}


def run(repeats: int = 20, quick: bool = False) -> list[dict]:
    repeats = 5 if quick else max(3, repeats)
    return [case_figure(name, layer, size, repeats) for name, layer, size in CASES]


def describe(r: dict) -> str:
    return (f"{r['name']} ({r['threads']} threads, {r['weights']} weights): "
            f"{r['value_s'] * 1e3:.1f} ms per frame = {r['ratio']:.1f}x a plain forward "
            f"({r['baseline_s'] * 1e3:.1f} ms); Captum's GuidedBackprop "
            f"{r['captum_s'] * 1e3:.1f} ms; target {r['target']}: "
            f"{'met' if r['ok'] else 'missed'}")


def main() -> None:
    cli(__doc__, run, describe, repeats=20)


if __name__ == "__main__":
    main()
