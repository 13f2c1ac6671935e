"""The command lines the benchmark scripts share: ``--repeats`` or ``--quick``, ``--json``,
and one line per figure (written by the script's own `describe` or `line`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable


def cli(doc: str, run: Callable[[int], list[dict]], describe: Callable[[dict], str],
        repeats: int) -> None:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = run(args.repeats)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        if r.get("ratio") is None:  # a side that could not run here says why
            print(describe(r))
            continue
        verdict = {True: "OK", False: "MISSED", None: ""}[r.get("ok")]
        print(f"{describe(r)} -> {r['ratio']:.3g}x (target {r['target']}) {verdict}".rstrip())


def quick_cli(doc: str, run: Callable[[bool], list[dict]], line: Callable[[dict], str],
              quick_help: str, header: Callable[[list[dict]], str] | None = None) -> None:
    """``--quick`` (shorter runs) and ``--json``; without ``--json``, `header` (when
    given) then `line` of every row."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = run(args.quick)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    if header is not None:
        print(header(rows))
    for r in rows:
        print(line(r))
