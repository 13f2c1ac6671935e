"""Hardening: a long live session (1,000 frames of the synthetic source through a small
network, switching layers as a lecturer would) keeps its memory and threads flat."""

from __future__ import annotations

import gc
import os
import threading

import torch

from explorer.core.trace import layer_table
from explorer.live.engine import LiveEngine
from explorer.live.sources import SyntheticSource
from explorer.nets.registry import load_network

FRAMES = 1000
WARM_UP = 100
MAX_GROWTH_MB = 50.0


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; psutil is not needed)."""
    with open("/proc/self/statm") as fh:
        resident = int(fh.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_thousand_live_frames_keep_memory_and_threads_flat():
    net = load_network("tinyvgg-shapes", device="cpu")
    engine = LiveEngine(net, device="cpu", threads=1)
    layers = [lay.name for lay in layer_table(net) if len(lay.out_shape) == 3 and lay.is_leaf]
    assert len(layers) >= 4
    threads_before = threading.active_count()
    seen = []

    def on_result(result) -> None:
        seen.append(result.layer)
        if len(seen) % 50 == 0:  # a new layer every 50 frames
            engine.set_layer(layers[(len(seen) // 50) % len(layers)])

    assert engine.run(SyntheticSource((96, 96), seed=1), on_result, pace=0,
                      max_frames=WARM_UP) == WARM_UP
    gc.collect()
    before = rss_mb()
    done = engine.run(SyntheticSource((96, 96), seed=2), on_result, pace=0,
                      max_frames=FRAMES)
    gc.collect()
    growth = rss_mb() - before
    print(f"\nlive: {done} frames after {WARM_UP} warm-up, RSS {before:.0f} MB -> "
          f"{before + growth:.0f} MB ({growth:+.1f} MB)")
    assert done == FRAMES and len(seen) == WARM_UP + FRAMES
    assert len(set(seen)) >= 4, "the layer switches did not reach the results"
    assert growth <= MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB over {FRAMES} frames"
    assert threading.active_count() == threads_before, "the grabber thread was left running"
    assert torch.get_num_threads() >= 1
