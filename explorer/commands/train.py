"""`cnn-explorer train NAME`: train a shipped network and write its weights and model card."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from explorer import PRETRAINED
from explorer.cli import emit
from explorer.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a shipped network (writes pretrained/NAME.pt and NAME.json)",
        description="Train one of the networks that ship with the explorer, on the CPU, "
        "reproducibly (fixed seeds), and write NAME.pt (weights) and NAME.json (model card).",
    )
    p.add_argument("name", help="network to train, or 'all' (see the list in the error for names)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    p.add_argument("--out", default=str(PRETRAINED), help="folder for NAME.pt and NAME.json")
    p.add_argument("--json", action="store_true", help="print the model card(s) as JSON")
    p.set_defaults(func=handle)


class ProgressBar:
    """A one-line text bar redrawn in place on stderr."""

    def __init__(self, label: str, width: int = 30, stream=sys.stderr):
        self.label, self.width, self.stream = label, width, stream
        self.start = time.perf_counter()
        self.last = ""

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(self.width * fraction))
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.perf_counter() - self.start
        line = f"\r{self.label} [{bar}] {fraction * 100:5.1f}% {elapsed:6.0f}s  {message}"
        pad = max(len(self.last) - len(line), 0)
        self.stream.write(line + " " * pad)
        self.stream.flush()
        self.last = line

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _summary(card: dict) -> str:
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in card["metrics"].items())
    return (
        f"{card['name']}: {card['parameters']:,} parameters, {card['epochs']} epochs in "
        f"{card['train_seconds']:.0f} s; held-out {metrics}\n  wrote {' and '.join(card['files'])}"
    )


def handle(args: argparse.Namespace) -> int:
    from explorer.train import train, trainable

    # fast-rcnn-shapes trains a head over tinyvgg-shapes' trunk, so it comes last
    names = [*trainable(), "fast-rcnn-shapes"]
    if args.name == "all":
        todo = names
    elif args.name in names:
        todo = [args.name]
    else:
        raise UserError(f"no network called {args.name!r} to train; choose one of: "
                        f"{', '.join(names)}, or 'all'")
    if args.epochs is not None and args.epochs < 1:
        raise UserError("--epochs must be at least 1")
    cards = []
    for name in todo:
        bar = ProgressBar(name)
        try:
            if name == "fast-rcnn-shapes":
                from explorer.detect.fast_rcnn_train import train_fast_rcnn

                tiny = Path(args.out or PRETRAINED) / "tinyvgg-shapes.pt"
                cards.append(train_fast_rcnn(args.out, args.epochs, progress=bar,
                                             tinyvgg_weights=tiny if tiny.exists() else None))
            else:
                cards.append(train(name, out_dir=args.out, epochs=args.epochs,
                                   progress=bar))
        finally:
            bar.close()
    data = cards[0] if len(cards) == 1 else cards
    emit(args, data, "\n".join(_summary(c) for c in cards))
    return 0
