"""Live feature maps: frame-to-result rate of the live loop with the synthetic source,
beside a plain batched forward of the same model measured in the same run.

Cases (targets from the issue):

* tinyvgg-shapes, 128x128 frames (resized to its 64x64 input), CPU: >= 30 fps
* resnet18, 224x224 frames, CPU: >= 10 fps (float32, and bfloat16 autocast where the CPU
  has native bfloat16)
* resnet18, 224x224 frames, CUDA, float32 and float16 autocast: >= 60 fps (skipped with
  a note when there is no CUDA GPU)

The synthetic source produces frames at 4x the target rate (a figure cannot exceed
that). The live figure is the whole path, as the Live panel gets it: the grabber thread
reads a synthetic frame, the loop uploads and preprocesses it, runs the network once with
one hook, tiles the shown layer (the first convolution's output, the biggest mosaic) and
takes the top-5 on the device, and copies those two back. Drawing is not included. The
baseline is the model's plain forward throughput on a batch of 8 (seconds per image), so
``ratio`` = live seconds per frame / batched seconds per image shows what running frames
one at a time, live, costs; ``batch1_s`` (a plain forward of one image) splits that into
the cost of batch 1 and the loop's own overhead. Weights are random (the shipped ones
time the same).

CPU cases run with 1 thread and with all cores (torch's default here), because on a
machine whose cores other jobs are using, one thread is often much faster (--quick: 1
thread only, no bfloat16 rows). The
machine running this may be shared: the figures move with its load, the ratios less.

    python -m benchmarks.live_fps [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time

import torch

#: (model, frame size, device, fps target)
CASES = [
    ("tinyvgg-shapes", 128, "cpu", 30.0),
    ("resnet18", 224, "cpu", 10.0),
    ("resnet18", 224, "cuda", 60.0),
]
BATCH = 8
#: the synthetic source runs at this multiple of the target: fast enough that the loop is
#: never waiting for frames near the target, slow enough that drawing frames nobody
#: will see does not take a core from the network (so no figure exceeds it)
PACE_OVER_TARGET = 4
#: CPU cases also run with bfloat16 autocast (TinyVGG is slower with it: not measured)
BF16_MODELS = {"resnet18"}
#: (seconds of live running, baseline repeats) per case
FULL = (4.0, 5)
QUICK = (1.0, 3)


def load(name: str, device: str):
    """The network (random weights are fine: the timing does not depend on them)."""
    from explorer.nets.registry import load_network

    return load_network(name, device=device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reduced_precision(device: torch.device, half: bool):
    from explorer.live.engine import reduced_precision

    return reduced_precision(device, half)


def batched_forward(net, repeats: int, half: bool = False, batch: int = BATCH) -> float:
    """Median seconds per image of a plain forward on a batch of `batch`."""
    h, w = net.input_size
    x = torch.randn(batch, net.in_channels, h, w, device=net.device)
    ctx = reduced_precision(net.device, half)
    times = []
    with torch.inference_mode(), ctx:
        net.module(x)  # warm-up
        _sync(net.device)
        for _ in range(repeats):
            t0 = time.perf_counter()
            net.module(x)
            _sync(net.device)
            times.append((time.perf_counter() - t0) / batch)
    return statistics.median(times)


def live_rate(net, size: int, seconds: float, half: bool = False,
              threads: int | None = None, pace: float = 120.0) -> dict:
    """Run the live loop on synthetic frames for `seconds`; results per second (from the
    first result to the last), the median per-frame time and the frames dropped."""
    from explorer.live.engine import LiveEngine, default_layer
    from explorer.live.sources import SyntheticSource

    engine = LiveEngine(net, device=net.device, half=half, copy_network=True,
                        threads=threads)
    source = SyntheticSource((size, size), seed=0, fps_hint=pace)
    # warm-up outside the timed run (layer table, first-touch allocations, cuDNN tuning)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        for i in range(3):
            engine.process(source.frame_at(i))
    finally:
        torch.set_num_threads(before)
    layer = default_layer(engine.layers)
    stamps: list[float] = []
    per_frame: list[float] = []
    stop = threading.Event()

    def on_result(result) -> None:
        stamps.append(time.perf_counter())
        per_frame.append(result.seconds)
        if stamps[-1] - stamps[0] >= seconds:
            stop.set()

    engine.run(source, on_result, stop=stop)
    n = len(stamps)
    fps = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 else 0.0
    return {"fps": fps, "frames": n, "dropped": engine.dropped, "layer": layer,
            "frame_s": statistics.median(per_frame) if per_frame else float("nan")}


def measure(model: str, size: int, device: str, target: float, *, seconds: float,
            repeats: int, half: bool = False, threads: int | None = None) -> dict:
    dev = torch.device(device)
    label = f"live {model} {size}x{size} {device}"
    label += (" fp16" if dev.type == "cuda" else " bf16") if half else ""
    label += f" {threads or torch.get_num_threads()} thread(s)" if dev.type == "cpu" else ""
    row = {"name": label, "model": model, "device": device, "frame_size": size,
           "baseline": f"plain forward, batch of {BATCH}, per image", "target_fps": target,
           "target": f">= {target:g} fps"}
    if dev.type == "cuda" and not torch.cuda.is_available():
        return {**row, "baseline_s": None, "value_s": None, "ratio": None, "fps": None,
                "ok": None, "note": "skipped: no CUDA GPU on this machine"}
    net = load(model, device)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        # baseline before and after the live run: a shared machine's load drifts
        base1 = batched_forward(net, repeats, half)
        single1 = batched_forward(net, repeats, half, batch=1)
        live = live_rate(net, size, seconds, half=half, threads=threads,
                         pace=PACE_OVER_TARGET * target)
        single2 = batched_forward(net, repeats, half, batch=1)
        base2 = batched_forward(net, repeats, half)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    base = (base1 + base2) / 2
    value = 1.0 / live["fps"] if live["fps"] > 0 else float("inf")
    return {**row, "baseline_s": base, "value_s": value, "ratio": value / base,
            "fps": live["fps"], "baseline_fps": 1.0 / base, "frame_s": live["frame_s"],
            "batch1_s": (single1 + single2) / 2, "source_fps": PACE_OVER_TARGET * target,
            "frames": live["frames"], "dropped": live["dropped"], "layer": live["layer"],
            "threads": used, "ok": live["fps"] >= target}


def bf16_cpu() -> bool:
    from explorer.live.engine import bf16_cpu

    return bf16_cpu()


def thread_counts(quick: bool = False) -> list[int]:
    """CPU thread counts to measure: 1 and torch's default (all cores); --quick: 1."""
    if quick:
        return [1]
    return sorted({1, torch.get_num_threads(), os.cpu_count() or 1})


def run(quick: bool = False) -> list[dict]:
    seconds, repeats = QUICK if quick else FULL
    rows = []
    for model, size, device, target in CASES:
        if device == "cpu":
            # bfloat16 only where it can pay: a CPU with it built in, a network big enough
            halves = ([False, True] if bf16_cpu() and model in BF16_MODELS and not quick
                      else [False])
            for half in halves:
                for threads in thread_counts(quick):
                    rows.append(measure(model, size, device, target, seconds=seconds,
                                        repeats=repeats, threads=threads, half=half))
        else:
            rows.append(measure(model, size, device, target, seconds=seconds,
                                repeats=repeats))
            if torch.cuda.is_available():
                rows.append(measure(model, size, device, target, seconds=seconds,
                                    repeats=repeats, half=True))
    return rows


def format_row(r: dict) -> str:
    if r.get("value_s") is None:
        return f"{r['name']}: {r.get('note', 'skipped')}"
    return (f"{r['name']}: live {r['fps']:.1f} fps ({r['value_s'] * 1e3:.1f} ms/frame, "
            f"{r['dropped']} frames dropped, plain batch-1 forward "
            f"{r['batch1_s'] * 1e3:.1f} ms) vs plain batched forward "
            f"{r['baseline_s'] * 1e3:.1f} ms/image -> {r['ratio']:.2f}x "
            f"(target {r['target']}) {'OK' if r['ok'] else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs, fewer thread counts")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = run(args.quick)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(format_row(r))


if __name__ == "__main__":
    main()
