"""Command-line front: every capability is also a headless command.

`cnn-explorer` alone opens the window. Each subcommand lives in a module of
`explorer.commands` that exposes ``register(subparsers)``; its handler takes the parsed
arguments and returns an exit code. A :class:`~explorer.errors.UserError` becomes one line
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

from explorer.errors import Cancelled, UserError

#: Modules that add subcommands, in the order `--help` lists them.
COMMAND_MODULES = [
    "explorer.commands.foundation",
    "explorer.commands.train",
    "explorer.commands.lab",
    "explorer.commands.detect",
    "explorer.commands.segment",
    "explorer.commands.live",
    "explorer.commands.insight",
    "explorer.commands.graph",
    "explorer.commands.unit",
    "explorer.commands.tour",
]


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cnn-explorer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that capability is not built yet
                continue
            raise
        module.register(sub)
    return parser


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print `data` as JSON when ``--json`` was given, else the human-readable `text`."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=_jsonable))
    else:
        print(text)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


#: what an empty option leaves out, where its name alone does not say it
_BLANK_NAMES = {"--model": "network", "--out": "output", "--export": "slide folder",
                "--save": "output file", "--data": "data", "--weights": "weights file"}


def _chosen(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub-)parser the command line names: ``lab conv`` -> lab's conv parser."""
    chosen = parser
    for tok in argv:
        sub = next((a for a in chosen._actions
                    if isinstance(a, argparse._SubParsersAction)), None)
        if sub is not None and tok in sub.choices:
            chosen = sub.choices[tok]
    return chosen


#: options that name a file or folder: given twice, a person expects both to be used
_FILE_OPTIONS = {"--image", "--out", "--weights", "--weights-b", "--save", "--export",
                 "--source", "--mask", "--data", "--gallery", "--upsampling"}


def _refuse_repeated_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A file option given twice (``-i a.png -i b.png``: only b.png would be read, and
    ``-o a.png -o b.png`` writes only b.png) or both halves of a yes/no pair
    (``--presentation --no-presentation``) would silently keep only the last one: refused
    with one line, whichever spellings were used (``-o``/``--out``, ``--out=X``, an
    abbreviation). Other options keep argparse's rule, the last one counts, so that a
    later ``--device cpu`` can override an earlier one."""
    chosen = _chosen(parser, argv)
    options = {o: a for a in chosen._actions for o in a.option_strings}
    seen: dict[int, str] = {}
    for tok in argv:
        if tok == "--":
            break
        name = tok.partition("=")[0] if tok.startswith("--") else tok
        action = options.get(name)
        if action is None and name.startswith("--") and len(name) > 2:
            hits = {id(a): a for o, a in options.items() if o.startswith(name)}
            action = next(iter(hits.values())) if len(hits) == 1 else None
        if action is None or isinstance(action, (argparse._HelpAction,
                                                 argparse._AppendAction)):
            continue
        long = max(action.option_strings, key=len)
        if long not in _FILE_OPTIONS and not isinstance(action,
                                                        argparse.BooleanOptionalAction):
            continue
        if id(action) in seen:
            first = seen[id(action)]
            if isinstance(action, argparse.BooleanOptionalAction):
                if first == name:
                    continue  # the same flag said twice means the same thing
                raise UserError(f"{first} and {name} contradict each other; give one")
            again = f"{first} and {name}" if first != name else f"{name} twice"
            raise UserError(f"{long} is given more than once ({again}); give it once, "
                            "since only the last would count")
        seen[id(action)] = name


def _refuse_blank_values(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """An option given an empty value (``--image ""``, ``--device=" "``) is a slip, never
    a choice: refused with one line instead of silently meaning the default."""
    chosen = _chosen(parser, argv)
    options = {o: a for a in chosen._actions for o in a.option_strings}
    for i, tok in enumerate(argv):
        name, eq, value = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        value = value if eq else None
        action = options.get(name)
        if action is None or action.nargs == 0:
            continue
        if value is None and i + 1 < len(argv):
            value = argv[i + 1]
        if value is not None and value.strip() == "":
            long = max(action.option_strings, key=len)
            what = _BLANK_NAMES.get(long, long.lstrip("-").replace("-", " "))
            raise UserError(f"no {what} given ({long} is empty)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not sys.stderr.isatty():
        # libraries' own bars (grad-cam's Score-CAM) would fill a log or a pipe; tqdm reads
        # this when it is first imported, so it is set before any command runs
        os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        parser = build_parser()
        args = parser.parse_args(argv or ["gui"])
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        _refuse_blank_values(parser, argv)
        _refuse_repeated_options(parser, argv)
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except (KeyboardInterrupt, Cancelled):
        print("cancelled: nothing was written", file=sys.stderr)
        return 130
