"""Live feature maps: frame-to-result rate of the live loop with the synthetic source,
beside a plain batched forward of the same model measured in the same run.

Cases (targets from the issue):

* tinyvgg-shapes, 128x128 frames (resized to its 64x64 input), CPU: >= 30 fps
* resnet18, 224x224 frames, CPU: >= 10 fps (float32, and bfloat16 autocast where the CPU
  has native bfloat16)
* resnet18, 224x224 frames, CUDA, float32 and float16 autocast: >= 60 fps (skipped with
  a note when there is no CUDA GPU)

Two more kinds of row, where Qt is installed (offscreen): "frame to screen", the Live
panel running as in the window (tinyvgg-shapes and resnet18 on the CPU, resnet18 on
CUDA): frames through to the window per second, each prepared, run, tiled, coloured and
handed over, the window drawing the newest once per refresh of its screen; beside the
headless loop's rate of the same case, the frames drawn per second, and the plain batched
forward per image (issue 17's targets: at most 1.5x for tinyvgg-shapes, 1.2x for
resnet18); and the GUI thread's cost of drawing resnet18's largest mosaic (903 x 903) as
the finished RGBA the loop hands over, beside a float mosaic with a lookup table, against
the 16.7 ms a 60 fps screen allows.

The synthetic source produces frames at 4x the target rate, or at the rate of the plain
batched forward where that is faster (a figure cannot exceed the source's rate, and a
small network must not be capped by it). The live figure is the whole path, as the Live
panel gets it: the grabber thread reads a synthetic frame, the loop uploads and
preprocesses it, runs the network once with one hook, tiles the shown layer (the first
convolution's output, the biggest mosaic) and takes the top-5 on the device, and copies
those two back. Drawing is not included. The baseline is the model's plain forward
throughput on a batch of 8 (seconds per image), so
``ratio`` = live seconds per frame / batched seconds per image shows what running frames
one at a time, live, costs; ``batch1_s`` (a plain forward of one image) splits that into
the cost of batch 1 and the loop's own overhead. Weights are random (the shipped ones
time the same).

CPU cases run with 1 thread and with all cores (torch's default here), because on a
machine whose cores other jobs are using, one thread is often much faster (--quick: 1
thread only, no bfloat16 rows). The
machine running this may be shared: the figures move with its load, the ratios less.
One-thread CPU rows also give the loop thread's CPU time per frame (``cpu_s_per_frame``)
and ``idle_fps_estimate`` = 1 / that: roughly the rate of an unloaded core.

    python -m benchmarks.live_fps [--quick] [--json]
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from benchmarks._report import quick_cli

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


#: the synthetic source never runs faster than this: a tiny network's batched rate (tens
#: of thousands a second) would have the grabber spend a core drawing frames
MAX_SOURCE_FPS = 1000.0


def source_pace(target: float, batched_s: float | None) -> float:
    """Frames per second of the synthetic source: PACE_OVER_TARGET x the target, or the
    plain batched forward's rate where that is faster (up to MAX_SOURCE_FPS)."""
    fast = 1.0 / batched_s if batched_s else 0.0
    return max(PACE_OVER_TARGET * target, min(fast, MAX_SOURCE_FPS))


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

    def on_result(result) -> None:
        stamps.append(time.perf_counter())
        per_frame.append(result.seconds)

    cpu0 = time.thread_time()
    engine.run(source, on_result, seconds=seconds)
    cpu = time.thread_time() - cpu0
    n = len(stamps)
    fps = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 else 0.0
    # With one thread torch computes on the loop's own thread, so that thread's CPU time
    # per frame is what a frame costs when the core is ours alone: on a shared machine it
    # estimates the idle rate (waiting for the core is not counted; sharing caches is).
    cpu_s = cpu / n if n and threads == 1 and net.device.type == "cpu" else None
    return {"fps": fps, "frames": n, "dropped": engine.dropped, "layer": layer,
            "frame_s": statistics.median(per_frame) if per_frame else float("nan"),
            "cpu_s": cpu_s}


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
        # the source as fast as the target asks, and never slower than the network could
        # take frames (else the source, not the loop, would set a small network's rate)
        pace = source_pace(target, base1)
        live = live_rate(net, size, seconds, half=half, threads=threads, pace=pace)
        single2 = batched_forward(net, repeats, half, batch=1)
        base2 = batched_forward(net, repeats, half)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    base = (base1 + base2) / 2
    value = 1.0 / live["fps"] if live["fps"] > 0 else float("inf")
    return {**row, "baseline_s": base, "value_s": value, "ratio": value / base,
            "fps": live["fps"], "baseline_fps": 1.0 / base, "frame_s": live["frame_s"],
            "batch1_s": (single1 + single2) / 2, "source_fps": pace,
            "frames": live["frames"], "dropped": live["dropped"], "layer": live["layer"],
            "cpu_s_per_frame": live["cpu_s"],
            "idle_fps_estimate": 1 / live["cpu_s"] if live["cpu_s"] else None,
            "threads": used, "half": half, "ok": live["fps"] >= target}


def _qt_app():
    """The offscreen QApplication, or None where Qt is not installed."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from explorer.gui.app import make_app
    except ImportError:
        return None
    return make_app()


def _draw_times(canvas, draw, repeats: int) -> float:
    from PySide6.QtCore import QCoreApplication

    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        draw()
        canvas.item.render()  # the QImage a paint blits; offscreen may not paint at all
        QCoreApplication.processEvents()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def draw_cost(model: str, size: int, repeats: int) -> dict:
    """GUI-thread time to draw one live mosaic (the model's first layer, the largest):
    the finished RGBA the loop now hands over, against the float mosaic with a lookup
    table the GUI would otherwise scale and colour itself."""
    row = {"name": f"live draw {model} first-layer mosaic (GUI thread)", "model": model,
           "device": "gui", "baseline": "float mosaic + lookup table in pyqtgraph",
           "target": f"<= {1e3 / 60:.1f} ms (60 fps)"}
    app = _qt_app()
    if app is None:
        return {**row, "baseline_s": None, "value_s": None, "ratio": None, "ok": None,
                "note": "skipped: no Qt"}
    from explorer.gui.common.canvas import ImageCanvas, lookup_table
    from explorer.gui.live.section import _blit
    from explorer.live.engine import LiveEngine
    from explorer.live.sources import SyntheticSource

    engine = LiveEngine(load(model, "cpu"), device="cpu", colormap="viridis")
    result = engine.process(SyntheticSource((size, size)).read())
    canvas = ImageCanvas()
    canvas.resize(700, 700)
    canvas.show()
    lut = lookup_table("viridis")
    try:
        base = _draw_times(canvas, lambda: canvas.set_image(
            result.mosaic.image, lut=lut, autorange=False), repeats)
        value = _draw_times(canvas, lambda: _blit(canvas, result.rgba), repeats)
    finally:
        canvas.close()
        canvas.deleteLater()
    return {**row, "baseline_s": base, "value_s": value, "ratio": value / base,
            "mosaic_px": list(result.mosaic.image.shape), "colour_s": result.timings["colour"],
            "ok": value <= 1 / 60}


def screen_rate(model: str, size: int, device: str, target: float, seconds: float,
                live: dict | list[dict] | None) -> dict:
    """The Live panel running as in the window (offscreen): frames through to the window
    per second (each one prepared, run, tiled, coloured and handed to the GUI thread,
    which draws the newest at its screen's refresh), beside the headless loop's rate from
    the same run, and the frames drawn per second.

    The GUI thread runs a real event loop (it wakes for results and for its draw timer,
    as in the window), and the synthetic source runs at the rate of the plain batched
    forward (the fastest the network could take frames), so a new frame is waiting
    whenever the loop is ready for one: a camera is never what limits the figure (at
    PACE_OVER_TARGET x 30 fps it would cap tinyvgg-shapes at 120 fps).

    `live`: the headless rows of the same case; the panel is compared with the one measured
    with the torch thread count the panel settled on (its "auto" tuning), so both sides
    had the same cores: else the fastest."""
    rows = [r for r in (live if isinstance(live, list) else [live]) if r and r.get("value_s")]
    row = {"name": f"live view {model} {size}x{size} {device}, frame to screen",
           "model": model, "device": device, "baseline": "headless live loop (row above)",
           "target": f">= {target:g} fps"}
    app = _qt_app()
    if device == "cuda" and not torch.cuda.is_available():
        return {**row, "baseline_s": None, "value_s": None, "ratio": None, "ok": None,
                "fps": None, "note": "skipped: no CUDA GPU on this machine"}
    if app is None or not rows:
        return {**row, "baseline_s": None, "value_s": None, "ratio": None, "ok": None,
                "fps": None, "note": "skipped: no Qt, or no headless figure to compare"}
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from explorer.gui.live.section import LiveView

    fastest = min(rows, key=lambda r: r["value_s"])
    pace = source_pace(target, fastest.get("baseline_s"))
    view = LiveView(device=device)
    view.synthetic_size = (size, size)
    view.synthetic_fps = pace
    view.set_network(load(model, device))
    view.resize(1200, 700)
    view.show()
    drawn: list[float] = []
    handed: list[tuple[float, int]] = []  # (when, engine's frame count) at each drawing

    def rendered(result) -> None:
        view.mosaic_canvas.item.render()  # the QImage a paint blits; offscreen may not paint
        view.frame_canvas.item.render()
        drawn.append(time.perf_counter())
        handed.append((drawn[-1], view.engine.frames))

    view.resultShown.connect(rendered)
    loop = QEventLoop()
    watch = QTimer()
    watch.setInterval(50)
    deadline = time.perf_counter() + seconds + 60  # warm-up and thread tuning included

    def check() -> None:
        if (len(drawn) > 3 and drawn[-1] - drawn[3] >= seconds) or \
                time.perf_counter() > deadline:
            loop.quit()

    watch.timeout.connect(check)
    view.start()
    watch.start()
    try:
        loop.exec()
    finally:
        watch.stop()
        used = (view.engine.tuned_threads.get(view.network.name)
                if device == "cpu" and view.network is not None else None)
        view.stop()
        view.close()
        view.deleteLater()
        QCoreApplication.processEvents()
    same = [r for r in rows if used is not None and r.get("threads") == used]
    live = same[0] if same else fastest
    batched = live.get("baseline_s")  # the plain batched forward per image, same run
    timed, counts = drawn[3:], handed[3:]
    draw_fps = (len(timed) - 1) / (timed[-1] - timed[0]) if len(timed) > 1 else 0.0
    fps = ((counts[-1][1] - counts[0][1]) / (counts[-1][0] - counts[0][0])
           if len(counts) > 1 and counts[-1][0] > counts[0][0] else 0.0)
    value = 1 / fps if fps else float("inf")
    row = {**row, "baseline_s": live["value_s"], "value_s": value,
           "ratio": value / live["value_s"], "fps": fps, "drawn_fps": draw_fps,
           "frames": len(timed), "source_fps": pace, "refresh_hz": 1 / view.refresh_interval(),
           "threads": used, "baseline_threads": live.get("threads"),
           "ok": fps >= target}
    limit = SCREEN_VS_BATCHED.get(model)
    if batched:
        row.update(batched_s=batched, ratio_to_batched=value / batched,
                   target_to_batched=f"<= {limit}x" if limit else "-")
        row["ok"] = row["ok"] and (limit is None or value / batched <= limit)
    return row


#: models whose largest mosaic's drawing cost is measured: (model, frame size)
DRAW_MODELS = [("resnet18", 224)]
#: (model, frame size, device, fps target) run through the Live panel as well
SCREEN_CASES = [("tinyvgg-shapes", 128, "cpu", 30.0), ("resnet18", 224, "cpu", 10.0),
                ("resnet18", 224, "cuda", 60.0)]
#: frame to screen against the plain batched forward per image (issue 17): the pipeline
#: (prepare n+1 | network on n | colour and draw n-1) keeps the network busy
SCREEN_VS_BATCHED = {"tinyvgg-shapes": 1.5, "resnet18": 1.2}


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
        first = len(rows)
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
        if (model, size, device, target) in SCREEN_CASES:
            # beside the headless figure with the panel's thread count (else the fastest)
            done = [r for r in rows[first:] if r.get("value_s") and not r.get("half")]
            rows.append(screen_rate(model, size, device, target, seconds, done))
    if DRAW_MODELS:
        for model, size in DRAW_MODELS:
            rows.append(draw_cost(model, size, repeats=3 if quick else 10))
    return rows


def format_row(r: dict) -> str:
    if r.get("value_s") is None:
        return f"{r['name']}: {r.get('note', 'skipped')}"
    if "dropped" not in r:  # drawing and frame-to-screen rows
        fps = f" ({r['fps']:.1f} fps)" if r.get("fps") else ""
        if r.get("drawn_fps") is not None:
            fps += (f", drawn {r['drawn_fps']:.1f} fps (screen {r['refresh_hz']:.0f} Hz), "
                    f"source {r['source_fps']:.0f} fps")
        batched = (f"; vs plain batched forward {r['batched_s'] * 1e3:.1f} ms/image -> "
                   f"{r['ratio_to_batched']:.2f}x (target {r['target_to_batched']})"
                   if r.get("batched_s") else "")
        return (f"{r['name']}: {r['value_s'] * 1e3:.1f} ms{fps} vs {r['baseline']} "
                f"{r['baseline_s'] * 1e3:.1f} ms -> {r['ratio']:.2f}x (target {r['target']})"
                f"{batched} {'OK' if r['ok'] else 'MISSED'}")
    return (f"{r['name']}: live {r['fps']:.1f} fps ({r['value_s'] * 1e3:.1f} ms/frame, "
            f"{r['dropped']} frames dropped, plain batch-1 forward "
            f"{r['batch1_s'] * 1e3:.1f} ms{_idle(r)}) vs plain batched forward "
            f"{r['baseline_s'] * 1e3:.1f} ms/image -> {r['ratio']:.2f}x "
            f"(target {r['target']}) {'OK' if r['ok'] else 'MISSED'}")


def _idle(r: dict) -> str:
    est = r.get("idle_fps_estimate")
    return f", {r['cpu_s_per_frame'] * 1e3:.1f} ms CPU/frame ~ {est:.0f} fps idle" if est else ""


def main() -> None:
    quick_cli(__doc__, run, format_row, "shorter runs, fewer thread counts")


if __name__ == "__main__":
    main()
