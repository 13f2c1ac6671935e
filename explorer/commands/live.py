"""`cnn-explorer live` (feature maps of a camera, video file or moving shapes, headless)
and `cnn-explorer bench` (every benchmark in benchmarks/, each beside its baseline)."""

from __future__ import annotations

import importlib
import inspect
import sys
import time
import traceback
from pathlib import Path

from explorer.errors import UserError

#: where the benchmark modules live (the repository's benchmarks/ folder)
BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


# --- live ------------------------------------------------------------------------------

#: the longest run `live --seconds` takes (a day: longer is a typo)
MAX_SECONDS = 24 * 3600.0
#: the most frames `live --frames` takes
MAX_FRAMES = 10_000_000
#: the fastest a source may be read with --fps (no camera or file is faster)
MAX_FPS = 1000.0
#: --threads above this is a typo (torch would start them all)
MAX_THREADS = 1024


def _seconds(s: float) -> str:
    """A duration for a sentence: "0.25 s", "9 s", "10,000 s"."""
    if s >= 1e9:  # a pace of 1e-300 fps: a 300-digit number helps nobody
        return f"{s:.2g} s"
    return f"{s:.2g} s" if s < 10 else f"{s:,.0f} s"


def live_settings(args) -> dict:
    """Every number ``live`` takes, checked before any work (one sentence each)."""
    from explorer.app import checks
    from explorer.core import colormaps
    from explorer.live.sources import MAX_SYNTHETIC

    threads = str(args.threads).strip()
    if threads != "auto":
        threads = checks.count("--threads", threads, 1, MAX_THREADS)
    if args.cmap not in colormaps.NAMES:
        raise UserError(f"--cmap must be one of {', '.join(colormaps.NAMES)}, not {args.cmap!r}")
    # a blank (an unset shell variable) is a slip, never a choice: left out, these options
    # mean the synthetic source and the first feature map, but an empty one is not left out
    if not str(args.source).strip():
        raise UserError("no --source was given: synthetic, a camera number (0, camera:1) "
                        "or a video file")
    if args.layer is not None and not str(args.layer).strip():
        raise UserError("no --layer was given (leave it out for the first feature map)")
    seconds = checks.number("--seconds", args.seconds, 0, MAX_SECONDS, lo_open=True)
    frames = None if args.frames is None else checks.count("--frames", args.frames, 1,
                                                           MAX_FRAMES)
    pace = None
    if args.fps is not None:
        if args.unpaced:
            raise UserError("--fps and --unpaced contradict each other: --fps reads the "
                            "source at that rate, --unpaced as fast as it can; give one")
        pace = checks.number("--fps", args.fps, 0, MAX_FPS, lo_open=True)
        # the run ends at --frames or --seconds after the first frame, whichever comes
        # first: a pace that cannot give the frames asked for in that time would show
        # fewer (or one, then only wait), and say nothing
        gap = 1.0 / pace
        if frames is None and gap > seconds:
            raise UserError(f"--fps {pace:g} reads a frame every {_seconds(gap)}, longer than "
                            f"the whole run (--seconds {seconds:g}): raise --fps or --seconds")
        if frames is not None and frames > 1 and (frames - 1) * gap > seconds:
            raise UserError(f"{frames:,} frames at --fps {pace:g} take "
                            f"{_seconds((frames - 1) * gap)}, longer than the whole run "
                            f"(--seconds {seconds:g}): raise "
                            "--fps or --seconds, or lower --frames")
    return {
        "seconds": seconds,
        "frames": frames,
        "size": checks.count("--size", args.size, 8, MAX_SYNTHETIC),
        "seed": checks.count("--seed", args.seed, 0, 2**32 - 1),
        "pace": 0.0 if args.unpaced else pace,
        "threads": threads,
    }


def cmd_live(args) -> int:
    from explorer.app.tracing import layers_of
    from explorer.cli import emit
    from explorer.commands.args import (
        device_from_args,
        find_layer,
        network_from_args,
        out_png,
        save_png,
    )
    from explorer.commands.progress import cli_task
    from explorer.core import colormaps
    from explorer.live.engine import LiveEngine
    from explorer.live.notes import live_note
    from explorer.live.sources import CameraSource, VideoFileSource, open_source

    settings = live_settings(args)
    out = out_png(args.out, args)  # a bad --out is found now, not after the run
    device_from_args(args)  # --device mps / meta / a missing GPU: refused before work
    source = open_source(args.source, (settings["size"], settings["size"]),
                         seed=settings["seed"])
    results, stamps = [], []

    def on_result(result) -> None:
        results.append(result)
        stamps.append(time.perf_counter())

    # Ctrl-C cancels: exit 130, --out not written
    with cli_task(quiet=True) as task:
        source.open()  # a missing camera or a bad file fails here, before the network loads
        try:
            net = network_from_args(args, task)
            if args.layer:
                find_layer(layers_of(net), args.layer)  # one line naming close layers
            engine = LiveEngine(net, args.layer, device=net.device, half=args.half,
                                copy_network=False, threads=settings["threads"])
            engine.run(source, on_result, max_frames=settings["frames"],
                       seconds=settings["seconds"], pace=settings["pace"], task=task)
        finally:
            source.close()
    if not results:
        raise UserError(f"{source.name} gave no frames")
    last = results[-1]
    # first result to last: the rate frames come out at once the loop is running
    span = stamps[-1] - stamps[0]
    fps = (len(results) - 1) / span if span > 0 else 0.0
    if out is not None:
        save_png(colormaps.enlarge(colormaps.apply(last.mosaic.image, args.cmap)), out)
    threads = engine.tuned_threads.get(net.name, settings["threads"])
    kind = ("camera" if isinstance(source, CameraSource) else
            "video" if isinstance(source, VideoFileSource) else "synthetic")
    note = live_note(net, kind)
    data = {"model": net.name, "weights": net.weights_source, "source": source.name,
            "device": last.device, "threads": threads,
            "layer": last.layer, "shape": list(last.shape),
            "frames": len(results), "dropped": engine.dropped, "fps": fps,
            "frame_ms": 1e3 * sorted(r.seconds for r in results)[len(results) // 2],
            "top5": [{"label": n, "prob": p} for n, p in last.topk],
            "out": None if out is None else str(out), "note": note}
    on = last.device + (f", {threads} thread(s)" if last.device == "cpu" else "")
    lines = [f"{net.name} ({net.weights_source} weights) on {source.name}, {on}: "
             f"{len(results)} frames, {fps:.1f} fps, {engine.dropped} dropped, median "
             f"{data['frame_ms']:.1f} ms/frame",
             f"layer {last.layer}: {' x '.join(map(str, last.shape))}"]
    lines += [f"  {p:6.1%}  {n}" for n, p in last.topk]
    if note:
        lines.append(f"note: {note}")
    if out is not None:
        lines.append(f"mosaic of the last frame written to {out}")
    emit(args, data, "\n".join(lines))
    return 0


# --- bench -----------------------------------------------------------------------------

def benchmark_modules(folder: Path = BENCH_DIR) -> list[str]:
    """Names of the modules in benchmarks/ (not the package's own files)."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.py")
                  if not p.stem.startswith("_") and p.stem != "run_all")


def _import(name: str):
    root = str(BENCH_DIR.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f"benchmarks.{name}")


def run_benchmarks(names: list[str], quick: bool = False, log=None) -> list[dict]:
    """Run each benchmark module's ``run()``; one dict per figure, each tagged with its
    ``module``. A module without ``run()`` or one that fails gives a row saying so
    (``ok`` None), and the others still run."""
    rows = []
    for name in names:
        if log:
            log(f"running benchmarks.{name} ...")
        try:
            module = _import(name)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop all
            rows.append({"module": name, "name": name, "ok": None,
                         "note": f"import failed: {type(exc).__name__}: {exc}"})
            continue
        run = getattr(module, "run", None)
        if not callable(run):
            rows.append({"module": name, "name": name, "ok": None,
                         "note": "no run() to call; run it as a script: "
                                 f"python -m benchmarks.{name}"})
            continue
        params = inspect.signature(run).parameters
        kwargs = {}
        if "quick" in params:
            kwargs["quick"] = quick
        elif quick and "repeats" in params:
            kwargs["repeats"] = 3
        t0 = time.perf_counter()
        try:
            figures = run(**kwargs)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
            rows.append({"module": name, "name": name, "ok": None,
                         "note": f"failed: {type(exc).__name__}: {exc}"})
            continue
        for figure in figures:
            rows.append({"module": name, **figure})
        if log:
            log(f"  {len(figures)} figure(s) in {time.perf_counter() - t0:.0f} s")
    return rows


def _ms(s) -> str:
    return "-" if s is None else f"{s * 1e3:.2f} ms"


def format_row(r: dict) -> str:
    if r.get("value_s") is None:
        return f"[{r['module']}] {r['name']}: {r.get('note', 'no figure')}"
    verdict = {True: "OK", False: "MISSED", None: "-"}[r.get("ok")]
    extra = f" ({r['fps']:.1f} fps)" if r.get("fps") is not None else ""
    ratio = r.get("ratio")
    return (f"[{r['module']}] {r['name']}: {_ms(r['value_s'])}{extra}  vs  "
            f"{r.get('baseline', 'baseline')} {_ms(r.get('baseline_s'))}  -> "
            f"{'-' if ratio is None else f'{ratio:.2f}x'}  target {r.get('target', '-')}  "
            f"{verdict}")


def cmd_bench(args) -> int:
    from explorer.cli import emit

    available = benchmark_modules()
    names = args.only or available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise UserError(f"no benchmark {', '.join(unknown)}; there are: "
                        f"{', '.join(available) or 'none'}")
    import torch

    log = None if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    rows = run_benchmarks(names, quick=args.quick, log=log)
    import os

    data = {"quick": args.quick, "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "results": rows}
    load = data["load_average"]
    head = (f"{data['cpu_count']} CPU cores, torch threads {data['torch_threads']}, "
            f"GPU: {data['cuda'] or 'none'}"
            + (f", load average {load[0]:.1f} (figures move with the machine's load)"
               if load else ""))
    emit(args, data, "\n".join([head] + [format_row(r) for r in rows]))
    return 0


def register(sub) -> None:
    from explorer.commands.args import add_network_args
    from explorer.core import colormaps

    p = sub.add_parser("live", help="feature maps of a camera, a video file or moving "
                       "shapes, frame after frame (headless: prints the rate and top-5)")
    add_network_args(p)
    p.add_argument("--source", "-s", default="synthetic",
                   help="synthetic (moving shapes), a camera number (0, camera:1) or a "
                   "video file (default synthetic)")
    p.add_argument("--layer", "-l", help="layer to show (default: the first feature map)")
    p.add_argument("--seconds", default=5.0,
                   help="how long to run, from the first frame shown (default 5)")
    p.add_argument("--frames", help="stop after this many processed frames (or at --seconds, "
                                    "whichever comes first)")
    p.add_argument("--size", default=128,
                   help="synthetic frame size in pixels, 8 to 4096 (default 128)")
    p.add_argument("--seed", default=0, help="synthetic source seed")
    p.add_argument("--fps", help="read the source at this many frames per second "
                   "(default: its own rate)")
    p.add_argument("--half", action="store_true", help="float16 autocast on CUDA, "
                   "bfloat16 on a CPU that has it built in")
    p.add_argument("--threads", default="auto", help="torch CPU threads: a number, or auto "
                   "(time 1 and torch's default at the start, keep the faster; default)")
    p.add_argument("--unpaced", action="store_true",
                   help="read the source as fast as possible instead of at its frame rate")
    p.add_argument("--out", "-o", help="write the last frame's mosaic to this PNG")
    p.add_argument("--cmap", default="viridis",
                   help=f"colour map for --out ({', '.join(colormaps.NAMES)})")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_live)

    p = sub.add_parser("bench", help="run every benchmark in benchmarks/ and print each "
                       "figure beside its baseline")
    p.add_argument("--quick", action="store_true", help="shorter runs (rougher figures)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="only these benchmark modules (e.g. live_fps trace_overhead)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)


if __name__ == "__main__":  # pragma: no cover
    from explorer.cli import main

    raise SystemExit(main(["bench", *sys.argv[1:]]))
