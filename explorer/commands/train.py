"""`cnn-explorer train NAME`: train a shipped network and write its weights and model card."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer import PRETRAINED
from explorer.cli import emit
from explorer.errors import UserError

#: trained last: its head starts from tinyvgg-shapes' trunk
FAST_RCNN = "fast-rcnn-shapes"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a shipped network (writes pretrained/NAME.pt and NAME.json)",
        description="Train one of the networks that ship with the explorer, on the CPU, "
        "reproducibly (fixed seeds), and write NAME.pt (weights) and NAME.json (model card). "
        "Ctrl-C stops it and writes nothing.",
    )
    p.add_argument("name", help="network to train, or 'all' (see the list in the error for names)")
    p.add_argument("--epochs", default=None, help="override the recipe's epochs")
    p.add_argument("--out", default=str(PRETRAINED), help="folder for NAME.pt and NAME.json")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="segmenters: stop after this many minutes (wall clock) and keep the "
                        "best weights so far (default: train until the validation score "
                        "stops improving)")
    p.add_argument("--json", action="store_true", help="print the model card(s) as JSON")
    p.set_defaults(func=handle)


def _summary(card: dict) -> str:
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in card["metrics"].items())
    return (
        f"{card['name']}: {card['parameters']:,} parameters, {card['epochs']} epochs in "
        f"{card['train_seconds']:.0f} s; held-out {metrics}\n  wrote {' and '.join(card['files'])}"
    )


def names_to_train(name: str) -> list[str]:
    """The networks `name` asks for ('all': every one, Fast R-CNN's head last)."""
    from explorer.train import trainable

    names = [*trainable(), FAST_RCNN]
    if name == "all":
        return names
    if name in names:
        return [name]
    raise UserError(f"no network called {name!r} to train; choose one of: "
                    f"{', '.join(names)}, or 'all'")


def train_fast_rcnn(out_dir: Path, epochs: int | None, task) -> dict:
    """fast-rcnn-shapes' own trainer (its head starts from tinyvgg-shapes in `out_dir`
    when that has been trained there, else from the shipped one)."""
    from explorer.detect.fast_rcnn_train import train_fast_rcnn as train_head

    tiny = out_dir / "tinyvgg-shapes.pt"
    return train_head(out_dir, epochs, task=task,
                      tinyvgg_weights=tiny if tiny.exists() else None)


class _Named:
    """`task`, with every message headed by the network's name (for 'all')."""

    def __init__(self, task, name: str) -> None:
        self._task, self._name = task, name

    def progress(self, fraction: float, message: str = "") -> None:
        self._task.progress(fraction, f"{self._name}: {message}" if message else self._name)

    def check(self) -> None:
        self._task.check()


def handle(args: argparse.Namespace) -> int:
    from explorer.app import checks
    from explorer.commands.progress import cli_task
    from explorer.core.tasks import sub_task
    from explorer.train import train
    from explorer.train.loop import MAX_EPOCHS, output_paths

    todo = names_to_train(args.name)
    epochs = None if args.epochs is None else checks.count("--epochs", args.epochs, 1,
                                                           MAX_EPOCHS)
    minutes = None if args.max_minutes is None else checks.number(
        "--max-minutes", args.max_minutes, 0.0, 24 * 60.0, lo_open=True)
    if minutes is not None:
        from explorer.train.loop import recipe_for

        fixed = [n for n in todo if n == FAST_RCNN or not recipe_for(n).converge]
        if fixed:
            raise UserError(f"--max-minutes applies to the segmenters, which train until "
                            f"their validation score stops improving; {', '.join(fixed)} "
                            "train for a fixed number of epochs")
    # every output is checked before minutes of training, not found unwritable after
    out_dir = output_paths(args.out, todo)
    cards = []
    with cli_task(quiet=args.json) as task:
        for i, name in enumerate(todo):
            part = _Named(sub_task(task, i / len(todo), (i + 1) / len(todo)), name)
            if name == FAST_RCNN:
                cards.append(train_fast_rcnn(out_dir, epochs, part))
            else:
                cards.append(train(name, out_dir=out_dir, epochs=epochs, task=part,
                                   max_minutes=minutes))
    data = cards[0] if len(cards) == 1 else cards
    emit(args, data, "\n".join(_summary(c) for c in cards))
    return 0
