"""unit: what does this unit look for? A unit card for channels of any network's layer:
feature visualisation, top dataset patches, backward views on a picture."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.errors import UserError

if TYPE_CHECKING:  # numpy stays off the --help path
    import numpy as np


def _check_out(out: str, args) -> Path:
    from explorer.commands.args import out_png

    return out_png(out, args)


def _side_files(out: Path, channels: list[int], views: list[str], args) -> dict:
    """Every picture written beside the card, ``{(channel, view): path}``, each checked
    now (a FIFO, a folder or a too-long name there is found before the work)."""
    from explorer.commands.args import out_png

    stem = out.with_suffix("")
    return {(c, v): out_png(f"{stem}_ch{c}_{v}.png", args)
            for c in channels for v in ["visualisation", *views]}


def _open(args):
    """The network, the picture and the gallery from the arguments, gallery first (its
    checks are cheap). The one place that knows where pictures and networks come from."""
    from explorer.app.units import open_gallery
    from explorer.commands.args import load_image_arg, network_from_args
    from explorer.nets import shipped

    gallery = open_gallery(args.gallery) if args.gallery else None
    net = network_from_args(args)
    if gallery is None:
        gallery = open_gallery(None, net)
    spec = shipped.load_all().get(net.name)
    image = load_image_arg(args.image or f"sample:{(spec and spec.default_image) or 'chelsea'}")
    return net, image, gallery


class _Progress:
    """A task that writes one updating line on stderr, only to a terminal (with --json,
    or into a file or pipe, stderr stays empty on success)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet or not sys.stderr.isatty()
        self.stage, self._last, self._shown = "", 0.0, False

    def progress(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if self.quiet or (now - self._last < 0.2 and fraction < 1):
            return
        self._last, self._shown = now, True
        print(f"\r{message} ({max(0.0, fraction):.0%})\033[K", end="",
              file=sys.stderr, flush=True)

    def check(self) -> None:
        pass

    def done(self) -> None:
        """End the progress line, so what follows (an error too) starts a line of its own."""
        if self._shown:
            print(file=sys.stderr, flush=True)
            self._shown = False


def _save(rgb: np.ndarray, path: Path) -> None:
    import numpy as np

    from explorer.commands.args import save_png

    save_png(np.ascontiguousarray(rgb), path)


def cmd_unit(args) -> int:
    from explorer.app import checks
    from explorer.app.units import (
        VIEW_NAMES,
        check_steps,
    )
    from explorer.units.common import check_channels, unit_layer

    # everything a person can get wrong is checked before the work starts
    check_steps(args.steps)
    out = _check_out(args.out, args)
    views = list(VIEW_NAMES) if args.views is None else \
        checks.comma_items("--views", args.views, "gradient,guided")
    if not views:
        raise UserError(f"--views names no view; choose from {', '.join(VIEW_NAMES)}")
    unknown = [v for v in views if v not in VIEW_NAMES]
    if unknown:
        raise UserError(f"--views: unknown {', '.join(unknown)}; choose from "
                        f"{', '.join(VIEW_NAMES)}")
    if args.engine == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise UserError("--engine ray needs Ray: pip install 'cnn-explorer[ray]'")
    net, image, gallery = _open(args)
    info = unit_layer(net, args.layer)
    if args.channel is not None and args.channel < 0:
        raise UserError(f"--channel {args.channel}: channels count from 0")
    channels = check_channels(info, None if args.channel is None else [args.channel])
    side = _side_files(out, channels, views, args)

    task = _Progress(quiet=args.json)
    try:
        return _make_card(args, net, image, gallery, info, channels, views, out, side, task)
    finally:
        task.done()


def _make_card(args, net, image, gallery, info, channels: list[int], views: list[str],
               out: Path, side: dict, task: _Progress) -> int:
    """The work of `unit` once every argument is checked; the pictures are written only
    when all of them are made, so a failure leaves none."""
    from explorer.app.units import (
        network_input,
        strongest_units,
        unit_activations,
        unit_patches,
        unit_views,
        visualise_layer,
    )
    from explorer.cli import emit
    from explorer.core import colormaps
    from explorer.units.card import CardRow, compose_card, view_rgb

    task.stage = "feature visualisation: "
    fv = visualise_layer(net, info.name, channels, steps=args.steps, task=task)
    task.stage = "top patches: "
    tp = unit_patches(net, info.name, gallery, k=9, engine=args.engine, task=task)
    x = network_input(net, image)
    on_picture = unit_activations(net, x, info.name)
    # the backward views follow a unit, the channel's strongest on the picture (as the
    # window's card does; a channel's mean gives deconvnet a flat map)
    strongest = strongest_units(net, x, info.name)
    picture = colormaps.to_uint8_rgb(_network_view(net, x))
    task.stage = "backward views: "
    rows, entries, pictures = [], [], []
    for c in channels:
        at = None if strongest is None else tuple(int(v) for v in strongest[c])
        bv = unit_views(net, x, info.name, c, at, views=views, task=task)
        vis_path = side[(c, "visualisation")]
        pictures.append((colormaps.to_uint8_rgb(fv.image(c)), vis_path))
        view_paths = {}
        for name, view in bv.items():
            view_paths[name] = str(side[(c, name)])
            pictures.append((view_rgb(view), side[(c, name)]))
        mean = float(fv.activations[fv.channels.index(c)])
        rows.append(CardRow(c, fv.image(c), mean, tp.crops(net, c), bv, picture,
                            peak=fv.peak(c)))
        entries.append({
            "channel": c, "visualisation": str(vis_path),
            "activation": mean, "activation_peak": fv.peak(c),
            "activation_on_picture": float(on_picture[c]),
            "top_patches": [p.as_dict() for p in tp.patches(c)],
            "backward_views": view_paths,
            "backward_unit": list(at) if at is not None else None,
            "notes": sorted({v.note for v in bv.values() if v.note}),
        })
    task.done()
    title = (f"{net.name} ({net.weights_source} weights)  {info.name}  "
             f"{'x'.join(map(str, info.out_shape))}  picture: {image.name}  "
             f"gallery: {gallery.key.split(':')[0]} ({len(gallery)})")
    pictures.append((compose_card(rows, title), out))
    for rgb, path in pictures:
        _save(rgb, path)
    data = {"model": net.name, "weights": net.weights_source, "layer": info.name,
            "layer_shape": list(info.out_shape), "picture": image.name,
            "gallery": gallery.key, "gallery_size": len(gallery), "steps": args.steps,
            "engine": args.engine, "views": views, "out": str(out),
            "seconds": {"visualisation": fv.seconds, "top_patches": tp.seconds},
            "cached": {"visualisation": fv.cached, "top_patches": tp.cached},
            "channels": entries}
    warn = "  (random weights: the units mean nothing)" if net.random_weights else ""
    lines = [f"{net.name} {info.name}: {len(channels)} channel(s){warn} -> {out}"]
    # like for like: a top patch is ranked by its strongest unit, so the visualisation's
    # strongest unit stands beside it; the means (what the visualisation maximised) apart
    lines.append("  strongest unit on its visualisation / on its best patch;  mean over "
                 f"the map on its visualisation / on {image.name}")
    for e in entries[:16]:
        best = e["top_patches"][0] if e["top_patches"] else None
        patch = f"{best['activation']:8.3g} ({best['source']})" if best else "     none"
        lines.append(f"  channel {e['channel']:4d}: peak {e['activation_peak']:8.3g} / "
                     f"{patch};  mean {e['activation']:8.3g} / "
                     f"{e['activation_on_picture']:.3g}")
    if len(entries) > 16:
        lines.append(f"  ... {len(entries) - 16} more (--json lists all)")
    lines += [f"note: {n}" for n in sorted({n for e in entries for n in e["notes"]})]
    emit(args, data, "\n".join(lines))
    return 0


def _network_view(net, x) -> np.ndarray:
    from explorer.core.network import to_display

    return to_display(net, x.detach())


def register(sub) -> None:
    from explorer.commands.args import add_network_args

    p = sub.add_parser("unit", help="what does a unit look for: feature visualisation, "
                       "top dataset patches and backward views as one card")
    add_network_args(p)
    p.add_argument("--layer", "-l", required=True, help="layer name (see `layers`)")
    p.add_argument("--channel", "-c", type=int,
                   help="one channel (default: every channel of the layer)")
    p.add_argument("--image", "-i", help="picture for the backward views (default: the "
                   "network's sample picture)")
    p.add_argument("--gallery", "-g", help="where top patches come from: shapes, shapes:N, "
                   "digits, samples or a folder of images (default: what suits the network)")
    p.add_argument("--steps", type=int, default=256,
                   help="optimisation steps of the feature visualisation (default 256)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="where the top-patch sweep runs (ray: pip install "
                   "'cnn-explorer[ray]')")
    p.add_argument("--views", help="backward views, comma separated (default: "
                   "gradient,guided,deconvnet,occlusion,integrated)")
    p.add_argument("--out", "-o", required=True, metavar="CARD.png",
                   help="the card; one PNG per visualisation and view goes beside it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_unit)
