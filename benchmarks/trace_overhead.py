"""Trace overhead: one traced pass (every module's output kept) against a plain forward
of the same model, vgg16 and resnet18 at 224x224 on the CPU. Target: at most 1.15x.

Runs alternate (plain, traced, plain, traced, ...) so that a noisy, shared machine slows
both sides alike; the figure is the ratio of the medians.

    python -m benchmarks.trace_overhead [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import time

import torch

from benchmarks._report import cli
from explorer.core.trace import layer_table, trace
from explorer.nets.registry import load_network

TARGET = 1.15


def measure(name: str, repeats: int = 10, size: int = 224) -> dict:
    net = load_network(name, device="cpu")
    x = torch.randn(1, 3, size, size)
    layer_table(net, (size, size))  # described once per network, as in the app
    with torch.inference_mode():
        net.module(x)  # warm-up
    trace(net, x)
    plain, traced = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with torch.inference_mode():
            net.module(x)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tr = trace(net, x)
        traced.append(time.perf_counter() - t0)
        del tr
    p, t = statistics.median(plain), statistics.median(traced)
    return {"name": f"trace overhead {name} {size}x{size} cpu", "model": name,
            "baseline": "plain forward", "baseline_s": p, "value_s": t, "ratio": t / p,
            "target": f"<= {TARGET}x", "ok": t / p <= TARGET}


def run(repeats: int = 10) -> list[dict]:
    return [measure(n, repeats) for n in ("vgg16", "resnet18")]


def describe(r: dict) -> str:
    return (f"{r['name']}: plain {r['baseline_s'] * 1e3:.1f} ms, traced "
            f"{r['value_s'] * 1e3:.1f} ms")


def main() -> None:
    cli(__doc__, run, describe, repeats=10)


if __name__ == "__main__":
    main()
