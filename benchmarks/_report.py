"""The command lines the benchmark scripts share: ``--repeats`` or ``--quick``, ``--json``,
and one line per figure (written by the script's own `describe` or `line`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable


def _parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    return ap


def _print(rows: list[dict], as_json: bool, line: Callable[[dict], str],
           header: Callable[[list[dict]], str] | None = None) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if header is not None:
        print(header(rows))
    for r in rows:
        print(line(r))


def cli(doc: str, run: Callable[[int], list[dict]], describe: Callable[[dict], str],
        repeats: int) -> None:
    """``--repeats N`` and ``--json``; each figure's line ends with its ratio, its target
    and OK or MISSED."""
    ap = _parser(doc)
    ap.add_argument("--repeats", type=int, default=repeats)
    args = ap.parse_args()

    def line(r: dict) -> str:
        if r.get("ratio") is None:  # a side that could not run here says why
            return describe(r)
        verdict = {True: "OK", False: "MISSED", None: ""}[r.get("ok")]
        return f"{describe(r)} -> {r['ratio']:.3g}x (target {r['target']}) {verdict}".rstrip()

    _print(run(args.repeats), args.json, line)


def quick_cli(doc: str, run: Callable[[bool], list[dict]], line: Callable[[dict], str],
              quick_help: str, header: Callable[[list[dict]], str] | None = None) -> None:
    """``--quick`` (shorter runs) and ``--json``; without ``--json``, `header` (when
    given) then `line` of every row."""
    ap = _parser(doc)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    args = ap.parse_args()
    _print(run(args.quick), args.json, line, header)
