"""Trace overhead: one traced pass (every module's output kept) against a plain forward
of the same model, vgg16 and resnet18 at 224x224 on the CPU, side by side with the two
libraries that do the same job: torchvision's FX feature extractor
(``create_feature_extractor`` returning every node) and torchlens (``torchlens.trace``,
every operation's output saved; an optional benchmark dependency: ``pip install -e
".[bench]"``, its row says so when it is missing). Target for the trace: at most 1.15x.

Runs alternate (plain, traced, extractor, torchlens, plain, ...) so that a noisy, shared
machine slows every side alike; each figure is the ratio of its median to the plain
forward's median, all measured in the same run.

    python -m benchmarks.trace_overhead [--repeats N] [--json]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from benchmarks._report import cli
from explorer.core.trace import layer_table, trace
from explorer.nets.registry import load_network

TARGET = 1.15


def _fx_extractor(module: torch.nn.Module) -> Callable:
    """torchvision's feature extractor returning every node's output (eval graph)."""
    from torchvision.models.feature_extraction import (
        create_feature_extractor,
        get_graph_node_names,
    )

    _train, nodes = get_graph_node_names(module)
    nodes = [n for n in nodes if n != "x"]
    return create_feature_extractor(module, return_nodes=nodes).eval()


def _torchlens() -> Callable | None:
    """torchlens.trace keeping every operation's output, or None where not installed."""
    try:
        import torchlens
        from torchlens.options import CaptureOptions
    except ImportError:
        return None
    # unwrapped when done, so the plain forwards between its runs are really plain
    options = CaptureOptions(unwrap_when_done=True)
    return lambda module, x: torchlens.trace(module, x, capture=options)


def measure(name: str, repeats: int = 10, size: int = 224) -> list[dict]:
    net = load_network(name, device="cpu")
    x = torch.randn(1, 3, size, size)
    layer_table(net, (size, size))  # described once per network, as in the app
    extractor = _fx_extractor(net.module)
    lens = _torchlens()
    sides: dict[str, Callable[[], object]] = {
        "plain": lambda: net.module(x),
        "traced": lambda: trace(net, x),
        "fx": lambda: extractor(x),
    }
    if lens is not None:
        sides["torchlens"] = lambda: lens(net.module, x)
    with torch.inference_mode():
        for run in sides.values():
            run()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(repeats):
        for key, run in sides.items():
            t0 = time.perf_counter()
            if key == "traced" or key == "torchlens":
                out = run()  # the trace manages its own modes
            else:
                with torch.inference_mode():
                    out = run()
            times[key].append(time.perf_counter() - t0)
            del out
    med = {k: statistics.median(v) for k, v in times.items()}
    p = med["plain"]
    base = {"model": name, "baseline": "plain forward", "baseline_s": p}
    rows = [{"name": f"trace overhead {name} {size}x{size} cpu", **base,
             "value_s": med["traced"], "ratio": med["traced"] / p,
             "target": f"<= {TARGET}x", "ok": med["traced"] / p <= TARGET},
            {"name": f"torchvision feature extractor {name} {size}x{size} cpu (every node)",
             **base, "value_s": med["fx"], "ratio": med["fx"] / p, "target": "-",
             "ok": None}]
    if "torchlens" in med:
        rows.append({"name": f"torchlens {name} {size}x{size} cpu (every operation)", **base,
                     "value_s": med["torchlens"], "ratio": med["torchlens"] / p,
                     "target": "-", "ok": None})
    else:
        rows.append({"name": f"torchlens {name} {size}x{size} cpu", "model": name,
                     "baseline": "plain forward", "baseline_s": None, "value_s": None,
                     "ratio": None, "ok": None,
                     "note": "skipped: torchlens is not installed (pip install -e .[bench])"})
    return rows


def run(repeats: int = 10) -> list[dict]:
    return [row for n in ("vgg16", "resnet18") for row in measure(n, repeats)]


def describe(r: dict) -> str:
    if r.get("value_s") is None:
        return f"{r['name']}: {r['note']}"
    return (f"{r['name']}: plain {r['baseline_s'] * 1e3:.1f} ms, this "
            f"{r['value_s'] * 1e3:.1f} ms")


def main() -> None:
    cli(__doc__, run, describe, repeats=10)


if __name__ == "__main__":
    main()
