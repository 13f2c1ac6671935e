"""Graph build + layout: torch.fx trace, the meta-device shape pass and igraph's Sugiyama
layout of googlenet, resnet50, densenet121 and densenet201 at 224x224 on the CPU, beside
one traced forward of the same network (explorer.core.trace.trace). Target: at most 2 s
each for build + layout.

The layer table (receptive fields) is described once per network before timing, as the
app does when it opens a network; its cold cost is printed beside. Runs alternate
(traced, graph, traced, graph, ...) so a noisy, shared machine slows both sides alike;
the figures are medians. Networks come from the registry as the app opens them (random
weights unless the hub cache has torchvision's).

    python -m benchmarks.graph_layout [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import time

import torch

from benchmarks._report import cli
from explorer.core.trace import layer_table, trace
from explorer.graph import build_graph
from explorer.nets.registry import load_network

TARGET_S = 2.0
MODELS = ("googlenet", "resnet50", "densenet121", "densenet201")


def measure(name: str, repeats: int = 5, size: int = 224) -> dict:
    net = load_network(name, device="cpu")
    x = torch.randn(1, 3, size, size)
    t0 = time.perf_counter()
    layer_table(net, (size, size))
    describe = time.perf_counter() - t0
    trace(net, x)  # warm-up
    build_graph(net)
    traced, built = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tr = trace(net, x)
        traced.append(time.perf_counter() - t0)
        del tr
        t0 = time.perf_counter()
        graph = build_graph(net)
        built.append(time.perf_counter() - t0)
    t, b = statistics.median(traced), statistics.median(built)
    return {"name": f"graph build+layout {name} {size}x{size} cpu", "model": name,
            "baseline": "one traced forward", "baseline_s": t, "value_s": b,
            "ratio": b / t, "describe_s": describe, "nodes": len(graph.nodes),
            "edges": len(graph.edges), "routed_edges": sum(graph.routed),
            "target": f"build+layout <= {TARGET_S:g} s", "ok": b <= TARGET_S}


def run(repeats: int = 5) -> list[dict]:
    return [measure(n, repeats) for n in MODELS]


def describe(r: dict) -> str:
    return (f"{r['name']}: {r['nodes']} nodes, {r['edges']} edges "
            f"({r['routed_edges']} placed by the layout); traced forward "
            f"{r['baseline_s'] * 1e3:.0f} ms, build+layout {r['value_s'] * 1e3:.0f} ms "
            f"(layer table, once: {r['describe_s'] * 1e3:.0f} ms)")


def main() -> None:
    cli(__doc__, run, describe, repeats=5)


if __name__ == "__main__":
    main()
