"""`cnn-explorer tour`: the lecture tour's steps, listed or rendered to a slide deck.

``tour --list [--json]`` lists the steps (id, title, section, page, caption) in the
lecture's order; ``tour --export DIR`` opens the window offscreen, plays every step (or
those ``--steps`` names) as the tour does in presentation mode, and saves each to
``DIR/NN_id.png`` with the rendering ``gui --screenshot`` uses. The window itself plays the
tour with ``gui --tour [--step ID]``.
"""

from __future__ import annotations

import argparse
import sys

from explorer.errors import UserError
from explorer.tour import steps as tour


def register(sub) -> None:
    p = sub.add_parser("tour", help="the lecture tour: list its steps or render them as "
                       "slides (the window plays it: gui --tour)")
    p.add_argument("--list", action="store_true", help="list the steps (the default)")
    p.add_argument("--export", metavar="DIR", help="render every step to DIR/NN_id.png "
                   "(DIR is created if missing)")
    p.add_argument("--steps", metavar="ID,ID", help="only these steps (ids or numbers "
                   f"1-{len(tour.STEPS)}), in tour order")
    p.add_argument("--size", metavar="WxH", default="1920x1080",
                   help="window size of the rendered slides (default 1920x1080)")
    p.add_argument("--presentation", action=argparse.BooleanOptionalAction, default=True,
                   help="presentation mode: high contrast, large text (default on)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tour)


def chosen_steps(text: str | None) -> list[int]:
    """The indexes `--steps` names (every step without it), in tour order, each once."""
    if text is None:
        return list(range(len(tour.STEPS)))
    from explorer.app import checks

    names = checks.comma_items("--steps", text, "1,5,fcn")
    if not names:
        raise UserError("--steps: give step ids or numbers separated by commas")
    return sorted({tour.step_index(n) for n in names})


def cmd_tour(args) -> int:
    from explorer.cli import emit
    from explorer.commands.foundation import _window_size
    from explorer.core.device import pick_device

    indexes = chosen_steps(args.steps)
    # every option is checked whichever way the tour is used: a bad --size or an absent
    # GPU is a slip that --list must not hide and --export would only find later
    _window_size(args.size)
    pick_device(args.device)
    if args.list and args.export is not None:
        raise UserError("--list prints the steps, --export renders them to pictures; "
                        "give one")
    if args.export is None:
        rows = [dict(tour.STEPS[i].as_dict(), number=i + 1) for i in indexes]
        text = "\n".join(f"{r['number']:2d}  {r['id']:<17}{r['section']:<13}"
                         f"{r['page'] or '':<13}{r['title']}\n    {r['caption']}"
                         for r in rows)
        emit(args, rows, text)
        return 0
    return export(args, indexes)


def export(args, indexes: list[int]) -> int:
    """Render the steps to PNGs; everything a person typed is checked before Qt starts."""
    import os

    from explorer.app import checks, desktop
    from explorer.cli import emit
    from explorer.commands.foundation import _window_size
    from explorer.core.device import pick_device

    size = _window_size(args.size)
    device = pick_device(args.device)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    why = desktop.problem(offscreen=True)
    if why:  # before the folder is made: a refusal leaves nothing behind
        raise UserError(f"the window cannot start: {why}")
    folder = checks.output_folder(args.export, "slide folder")
    from explorer.gui.tour.export import export_steps

    written: list[str] = []

    def done(index: int, path) -> None:
        written.append(str(path))
        step = tour.STEPS[index]
        print(f"[{len(written)}/{len(indexes)}] {step.id}: {path}", file=sys.stderr)

    try:
        problems = export_steps(folder, indexes, size, args.presentation, device, done)
    except KeyboardInterrupt:
        print(f"cancelled: {len(written)} of {len(indexes)} slides written, none "
              "half-written", file=sys.stderr)
        return 130
    data = {"folder": str(folder), "size": list(size), "presentation": args.presentation,
            "slides": written, "problems": problems}
    emit(args, data, f"{len(written)} slides in {folder}")
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    return 0
