"""Sliding window, naive against shared (OverFeat): the same window scores on a 512x512
picture, by cropping every window or by one fully convolutional pass. Target: shared at
least 20x faster.

tinyvgg-shapes: 64x64 windows every 8 px (57 x 57 = 3,249 windows, each cut out with the
16 + 14 px of context its padded 3x3 convolutions see, so up to 94x94); mtcnn-pnet: 12x12
windows every 2 px (251 x 251 = 63,001). One scale, no border padding, CPU. Runs alternate
(naive, shared, naive, ...) so a busy machine slows both alike; the figure is the ratio of
the medians. The largest difference between the two score maps is printed too: both agree
to float rounding (see explorer/detect/sliding.py).

    python -m benchmarks.detect_sliding [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from benchmarks._report import cli
from explorer.data import shapes
from explorer.detect.classifier import from_network
from explorer.detect.sliding import slide
from explorer.nets.registry import load_network

TARGET = 20.0
SIZE = 512


def measure(name: str, repeats: int = 3) -> dict:
    clf = from_network(load_network(name, device="cpu"))
    image = shapes.make_scene(np.random.default_rng(0), (SIZE, SIZE), (6, 10)).image
    kw = dict(scales=[1.0], pad=False, stride=clf.stride, threshold=0.5)
    slide(clf, image[:128, :128], impl="naive", **kw)  # warm-up
    slide(clf, image[:128, :128], impl="shared", **kw)
    naive, shared = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a = slide(clf, image, impl="naive", **kw)
        naive.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = slide(clf, image, impl="shared", **kw)
        shared.append(time.perf_counter() - t0)
    n, s = statistics.median(naive), statistics.median(shared)
    diff = float((a.maps[0].probs - b.maps[0].probs).abs().max())
    return {"name": f"sliding window {name} {SIZE}x{SIZE} cpu", "model": name,
            "windows": a.windows, "baseline": "naive (crop every window)", "baseline_s": n,
            "value_s": s, "ratio": n / s, "target": f">= {TARGET:g}x", "ok": n / s >= TARGET,
            "max_abs_diff": diff, "threads": torch.get_num_threads()}


def run(repeats: int = 3, quick: bool = False) -> list[dict]:
    repeats = 1 if quick else repeats
    return [measure(n, repeats) for n in ("tinyvgg-shapes", "mtcnn-pnet")]


def describe(r: dict) -> str:
    return (f"{r['name']}: {r['windows']} windows, max |naive - shared| = "
            f"{r['max_abs_diff']:.2g}; naive {r['baseline_s']:.2f} s, shared "
            f"{r['value_s'] * 1e3:.0f} ms")


def main() -> None:
    cli(__doc__, run, describe, repeats=3)


if __name__ == "__main__":
    main()
