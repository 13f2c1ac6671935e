"""How soon a cancel stops detection: the seconds from ``task.cancel()`` to the job's
:class:`~explorer.errors.Cancelled`, against the seconds the whole job takes. Target: every
cancel lands within half a second.

Jobs (CPU, one thread each, cancelled a third of the way through): a naive sliding window
of tinyvgg-shapes over a 192x192 scene (one scale, stride 8: each window cut out and
classified; checked every 32 windows), R-CNN on 1,000 random proposals of a 512x512 scene
(checked every batch of 64 warped regions), and selective search in quality mode on the
astronaut at 256x256 (one OpenCV call, run in a child process that the cancel kills). The
tests count the work done after a cancel (tests/core/test_cancel_detect.py); this measures
the time.

    python -m benchmarks.detect_cancel [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import threading
import time

import numpy as np
import torch

from benchmarks._report import cli
from explorer.core.tasks import FlagTask
from explorer.data import shapes
from explorer.errors import Cancelled

TARGET_S = 0.5


def _jobs():
    from explorer.data.samples import load_sample
    from explorer.detect.classifier import from_network
    from explorer.detect.proposals import random_boxes, selective_search
    from explorer.detect.rcnn import rcnn_detect
    from explorer.detect.sliding import slide
    from explorer.nets.registry import load_network

    clf = from_network(load_network("tinyvgg-shapes", device="cpu"))
    scene192 = shapes.make_scene(np.random.default_rng(0), (192, 192), (3, 6)).image
    scene512 = shapes.make_scene(np.random.default_rng(1), (512, 512), (6, 10)).image
    boxes = random_boxes(1000, 512, 512, seed=0, min_size=16)
    astronaut = np.ascontiguousarray(load_sample("astronaut").array[::2, ::2])
    return [
        ("naive sliding window, tinyvgg-shapes, 192x192",
         lambda task: slide(clf, scene192, impl="naive", stride=8, scales=[1.0], task=task)),
        ("R-CNN, 1,000 proposals, 512x512",
         lambda task: rcnn_detect(clf, scene512, boxes, task=task)),
        ("selective search (quality), 256x256, child process",
         lambda task: selective_search(astronaut, "quality", task=task)),
    ]


def _cancel_after(job, delay: float) -> float:
    """Seconds from cancel to Cancelled when `job` is cancelled `delay` s after it starts."""
    task = FlagTask()
    done: dict[str, float] = {}

    def work() -> None:
        try:
            job(task)
        except Cancelled:
            done["at"] = time.perf_counter()

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(delay)
    asked = time.perf_counter()
    task.cancel()
    thread.join()
    return done.get("at", asked) - asked


def run(repeats: int = 3, quick: bool = False) -> list[dict]:
    repeats = 1 if quick else repeats
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = []
        for name, job in _jobs():
            t0 = time.perf_counter()
            job(None)
            whole = time.perf_counter() - t0
            latency = statistics.median(_cancel_after(job, whole / 3) for _ in range(repeats))
            rows.append({"name": f"cancel {name}", "baseline": "the whole job",
                         "baseline_s": whole, "value_s": latency,
                         "ratio": whole / max(latency, 1e-6),
                         "target": f"cancel within {TARGET_S:g} s",
                         "ok": latency <= TARGET_S, "threads": 1})
        return rows
    finally:
        torch.set_num_threads(threads)


def describe(r: dict) -> str:
    return (f"{r['name']}: whole job {r['baseline_s']:.2f} s, stopped "
            f"{r['value_s'] * 1e3:.0f} ms after the cancel")


def main() -> None:
    cli(__doc__, run, describe, repeats=3)


if __name__ == "__main__":
    main()
