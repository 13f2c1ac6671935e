"""The arguments every command shares, each read through the application layer.

Adding the arguments imports nothing heavy (no torch, torchvision, numpy or Pillow): every
parser is built for ``--help`` in a blink, and what a command needs is imported when it
runs (issue 17; tests/core/test_startup_imports.py keeps it so).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.app import checks
from explorer.app.names import DEFAULT_MODEL, SPEC_HELP
from explorer.errors import UserError

if TYPE_CHECKING:
    import numpy as np

    from explorer.app.networks import NetSpec


def add_network_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--model", "-m", required=required,
                   default=None if required else DEFAULT_MODEL,
                   help="network name (see `cnn-explorer models`), timm:NAME for a timm "
                   "CNN, or 'file' (with --weights)")
    p.add_argument("--weights", "-w", help="state dict, checkpoint or TorchScript file")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow --weights to be a whole pickled module (runs its code)")
    p.add_argument("--download", action="store_true",
                   help="download torchvision's ImageNet weights if they are not cached")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")


def add_image_arg(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--image", "-i", required=required, help=SPEC_HELP)


def load_image_arg(spec: str):
    """The picture `spec` names (explorer.app.pictures' grammar)."""
    from explorer.app.pictures import open_picture

    return open_picture(spec)


def net_spec(args: argparse.Namespace) -> NetSpec:
    from explorer.app.networks import NetSpec

    return NetSpec(args.model, args.weights, trust_pickle=args.trust_pickle,
                   download=args.download)


def network_from_args(args: argparse.Namespace, task=None):
    """The network ``--model/--weights/--trust-pickle/--download/--device`` name."""
    from explorer.app.networks import open_network

    return open_network(net_spec(args), args.device, task)


def device_from_args(args: argparse.Namespace):
    from explorer.core.device import pick_device

    return pick_device(getattr(args, "device", "auto"))


#: the options through which a command reads files; no output may overwrite one of them
INPUT_OPTIONS = ("image", "mask", "weights", "source", "data", "weights_b")


def inputs_of(args: argparse.Namespace) -> list[str]:
    """The file names `args` reads (``--image``, ``--mask``, ``--weights``, ...)."""
    return [v for name in INPUT_OPTIONS if isinstance(v := getattr(args, name, None), str)]


def out_png(path: str | None, args: argparse.Namespace | None = None) -> Path | None:
    """``--out`` checked before any work: a writable .png in an existing folder, none of
    the files `args` reads."""
    if path is None:
        return None
    return checks.output_file(path, (".png",), inputs=inputs_of(args) if args else ())


def save_png(rgb: np.ndarray, out: str | Path) -> Path:
    """Write uint8 [H, W, 3] `rgb` to `out` atomically (nothing half-written on Ctrl-C)."""
    from PIL import Image as PILImage

    path = checks.output_file(out, (".png",))
    try:
        return checks.write_atomic(path, lambda tmp: PILImage.fromarray(rgb).save(tmp, "PNG"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{out}: could not write the image ({exc})") from None


def find_layer(layers, name: str):
    """The layer called `name`, or one line naming a few that exist."""
    for layer in layers:
        if layer.name == name:
            return layer
    names = [lay.name for lay in layers]
    close = [n for n in names if name and name in n][:5] or names[:5]
    raise UserError(f"no layer {name!r}; layers include {', '.join(close)} "
                    "(see `cnn-explorer layers`)")
