"""Start-up: how long a person waits, from launch, for `--help`, each command's `--help`,
`lab pool`, `models`, the window on screen and the default network's first mosaic, each
beside the wall time of ``python -c "import torch"`` measured in the same run.

Targets (issue 17): `--help` and every command's `--help` within 0.3 s; the window on
screen with its layout and a progress line within 1.0 s; the first mosaic within 1.3x
`import torch`. Every figure is a fresh interpreter launched from here (the median of
the repeats), so it includes Python's own start. Runs alternate with the baseline so that
a shared machine slows both alike; the ratio moves less than the seconds.

The window's times come from the program itself: with ``CNN_EXPLORER_STARTUP=1`` it
prints when its frame was shown and when the mosaic was drawn (explorer/gui/app.py);
it is rendered offscreen (``gui --screenshot``).

The package is byte-compiled first, as ``pip install`` does and as Python does on a
person's first run: with ``PYTHONDONTWRITEBYTECODE`` set (this project's CI machine sets
it) every launch would otherwise compile the explorer's own modules from source again,
about 0.2 s that no installed copy pays.

    python -m benchmarks.startup [--quick] [--json]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._report import quick_cli

HELP_TARGET_S = 0.3
WINDOW_TARGET_S = 1.0
MOSAIC_TARGET = 1.3


def _launch(argv: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(start time, wall seconds, stderr) of one fresh interpreter running `argv`."""
    start = time.time()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=600)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {out.returncode}: {out.stderr[-500:]}")
    return start, wall, out.stderr


def _commands() -> list[list[str]]:
    """Every command and subcommand, as argv prefixes (``["lab", "pool"]``)."""
    import argparse as ap

    from explorer.cli import build_parser

    found: list[list[str]] = []

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, ap._SubParsersAction):
                for name, sub in action.choices.items():
                    if sub in seen:  # an alias
                        continue
                    seen.add(sub)
                    found.append(prefix + [name])
                    walk(sub, prefix + [name])

    seen: set = set()
    walk(build_parser(), [])
    return found


def _window(repeats: int) -> tuple[list[float], list[float]]:
    shown, mosaic = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            start, _wall, err = _launch(
                ["-m", "explorer", "gui", "--screenshot", str(Path(tmp) / "shot.png")],
                {"QT_QPA_PLATFORM": "offscreen", "CNN_EXPLORER_STARTUP": "1"})
            marks = {}
            for line in err.splitlines():
                if line.startswith("startup: "):
                    _, name, when = line.split()
                    marks[name] = float(when) - start
            shown.append(marks["shown"])
            mosaic.append(marks["mosaic"])
    return shown, mosaic


def _row(name: str, value: float, torch_s: float, target: str, ok: bool) -> dict:
    return {"name": name, "baseline": "import torch", "baseline_s": torch_s,
            "value_s": value, "ratio": value / torch_s, "target": target, "ok": ok}


def run(quick: bool = False) -> list[dict]:
    import compileall

    import explorer

    compileall.compile_dir(Path(explorer.__file__).parent, quiet=1)
    repeats = 1 if quick else 3
    torch_runs: list[float] = []

    def baseline() -> None:
        torch_runs.append(_launch(["-c", "import torch"])[1])

    def timed(argv: list[str], with_baseline: bool = True) -> float:
        walls = []
        for _ in range(repeats):
            if with_baseline:
                baseline()
            walls.append(_launch(["-m", "explorer", *argv])[1])
        print(f"  {' '.join(argv)}: {statistics.median(walls):.2f} s", file=sys.stderr,
              flush=True)
        return statistics.median(walls)

    figures: list[tuple[str, float, str, str]] = []  # (name, seconds, kind, target)
    # Python's own start, for scale: on a loaded machine it alone can pass 0.3 s
    figures.append(("python -c pass (the interpreter alone)",
                    statistics.median(_launch(["-c", "pass"])[1] for _ in range(repeats)),
                    "command", ""))
    figures.append(("cnn-explorer --help", timed(["--help"]), "help", ""))
    # every command's --help once per repeat, the baseline beside the first of them
    helps = {" ".join(cmd): timed([*cmd, "--help"], with_baseline=i == 0)
             for i, cmd in enumerate(_commands())}
    worst = max(helps, key=helps.get)
    figures.append((f"slowest command --help ({worst} of {len(helps)})", helps[worst],
                    "help", ""))
    figures.append(("median command --help", statistics.median(helps.values()), "help", ""))
    figures.append(("cnn-explorer lab pool", timed(["lab", "pool"]), "command", ""))
    figures.append(("cnn-explorer models", timed(["models"]), "command", ""))
    shown, mosaic = [], []
    for _ in range(repeats):
        baseline()
        s, m = _window(1)
        shown += s
        mosaic += m
    torch_s = statistics.median(torch_runs)
    rows = []
    for name, seconds, kind, _ in figures:
        if kind == "help":
            rows.append(_row(name, seconds, torch_s, f"<= {HELP_TARGET_S} s",
                             seconds <= HELP_TARGET_S))
        else:  # no target of their own: they must not pay for torchvision
            rows.append(_row(name, seconds, torch_s, "-", None))
    rows.append(_row("window on screen (frame, layout, progress line)",
                     statistics.median(shown), torch_s, f"<= {WINDOW_TARGET_S} s",
                     statistics.median(shown) <= WINDOW_TARGET_S))
    m = statistics.median(mosaic)
    rows.append(_row("first mosaic of the default network", m, torch_s,
                     f"<= {MOSAIC_TARGET}x", m / torch_s <= MOSAIC_TARGET))
    rows[2]["every_help_s"] = helps
    return rows


def _line(r: dict) -> str:
    verdict = {True: "OK", False: "MISSED", None: "-"}[r["ok"]]
    return (f"{r['name']}: {r['value_s']:.2f} s = {r['ratio']:.2f}x import torch "
            f"(target {r['target']}) {verdict}")


def main() -> None:
    quick_cli(__doc__, run, _line, "one run of each (rougher)",
              header=lambda rows: f"import torch: {rows[0]['baseline_s']:.2f} s (median, "
                                  "fresh interpreter)")


if __name__ == "__main__":
    main()
