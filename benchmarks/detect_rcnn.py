"""R-CNN against Fast R-CNN on the same 1,000 proposals: warp every region and run the
whole classifier on it, or run the trunk once and pool each region from the feature map.
Target: Fast R-CNN at least 5x faster.

A 512x512 shapes picture, 1,000 random boxes (16-200 px; both methods get the same ones, and
proposal generation is not timed), tinyvgg-shapes for R-CNN, fast-rcnn-shapes for Fast
R-CNN, CPU. Runs alternate; the figure is the ratio of the medians.

    python -m benchmarks.detect_rcnn [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from benchmarks._report import cli
from explorer.data import shapes
from explorer.detect.classifier import from_network
from explorer.detect.fast_rcnn import fast_rcnn_detect
from explorer.detect.proposals import random_boxes
from explorer.detect.rcnn import rcnn_detect
from explorer.nets.registry import load_network

TARGET = 5.0
SIZE = 512
PROPOSALS = 1000


def run(repeats: int = 3, quick: bool = False) -> list[dict]:
    repeats = 1 if quick else repeats
    clf = from_network(load_network("tinyvgg-shapes", device="cpu"))
    fast = load_network("fast-rcnn-shapes", device="cpu")
    image = shapes.make_scene(np.random.default_rng(0), (SIZE, SIZE), (6, 10)).image
    boxes = random_boxes(PROPOSALS, SIZE, SIZE, seed=0, min_size=16)
    boxes[:, 2:] = torch.minimum(boxes[:, 2:], boxes[:, :2] + 200)

    def rcnn():
        return rcnn_detect(clf, image, boxes)

    def fast_rcnn():
        return fast_rcnn_detect(fast.module, image, boxes, mean=fast.mean, std=fast.std)

    rcnn_detect(clf, image, boxes[:64])  # warm-up
    fast_rcnn_detect(fast.module, image, boxes[:64])
    slow, quick = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rcnn()
        slow.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fast_rcnn()
        quick.append(time.perf_counter() - t0)
    s, q = statistics.median(slow), statistics.median(quick)
    return [{"name": f"R-CNN vs Fast R-CNN, {PROPOSALS} proposals, {SIZE}x{SIZE} cpu",
             "baseline": "R-CNN (warp + tinyvgg per region)", "baseline_s": s,
             "value_s": q, "ratio": s / q, "target": f">= {TARGET:g}x", "ok": s / q >= TARGET,
             "fast_rcnn_weights": fast.weights_source, "threads": torch.get_num_threads()}]


def describe(r: dict) -> str:
    return (f"{r['name']}: R-CNN {r['baseline_s']:.2f} s, Fast R-CNN "
            f"{r['value_s'] * 1e3:.0f} ms")


def main() -> None:
    cli(__doc__, run, describe, repeats=3)


if __name__ == "__main__":
    main()
