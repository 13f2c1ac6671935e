"""The command line every benchmark script shares: ``--repeats``, ``--json``, and one
line per figure (written by the script's own `describe`)."""

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
