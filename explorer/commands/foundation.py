"""models, layers, predict, features, filters and gui: the Foundation's commands."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from explorer.errors import UserError


def add_network_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    from explorer.nets.registry import DEFAULT_MODEL

    p.add_argument("--model", "-m", required=required, default=None if required else
                   DEFAULT_MODEL, help="network name (see `cnn-explorer models`), or 'file'")
    p.add_argument("--weights", "-w", help="state dict (or TorchScript file) to load")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow --weights to be a whole pickled module (runs its code)")
    p.add_argument("--download", action="store_true",
                   help="download torchvision's ImageNet weights if they are not cached")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")


def add_image_arg(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--image", "-i", required=required,
                   help="image file, or sample:NAME (e.g. sample:astronaut)")


def load_image_arg(spec: str):
    from explorer.core.images import load_image
    from explorer.data.samples import load_sample

    if spec.startswith("sample:"):
        return load_sample(spec.split(":", 1)[1])
    return load_image(spec)


def network_from_args(args):
    from explorer.nets.registry import load_network

    def progress(frac: float, msg: str) -> None:
        print(f"\r{msg} ({frac:.0%})", end="", flush=True,
              file=__import__("sys").stderr)

    return load_network(args.model, args.weights, download=args.download,
                        trust_pickle=args.trust_pickle, device=args.device,
                        progress=progress)


def save_png(rgb: np.ndarray, out: str) -> None:
    from PIL import Image as PILImage

    path = Path(out)
    if not path.parent.exists():
        raise UserError(f"{out}: the folder {path.parent} does not exist")
    try:
        PILImage.fromarray(rgb).save(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"{out}: could not write the image ({exc})") from None


def _layer(layers, name: str):
    for layer in layers:
        if layer.name == name:
            return layer
    names = [lay.name for lay in layers]
    close = [n for n in names if name in n][:5] or names[:5]
    raise UserError(f"no layer {name!r}; layers include {', '.join(close)} "
                    "(see `cnn-explorer layers`)")


# --- handlers ------------------------------------------------------------------------

def cmd_models(args) -> int:
    from explorer.cli import emit
    from explorer.nets.registry import list_models

    entries = list_models()
    rows = [f"{e.name:28s} {e.family:12s} {e.task:13s} "
            f"{'trained (' + e.weights_source + ')' if e.available else 'random weights'}"
            for e in entries]
    emit(args, [vars(e) for e in entries],
         f"{'name':28s} {'family':12s} {'task':13s} weights\n" + "\n".join(rows))
    return 0


def cmd_layers(args) -> int:
    from explorer.cli import emit
    from explorer.core.trace import layer_table

    net = network_from_args(args)
    layers = layer_table(net)
    total = sum(p.numel() for p in net.module.parameters())
    lines = [f"{'layer':40s} {'type':22s} {'output':18s} {'params':>12s} {'RF':>7s} "
             f"{'jump':>5s}"]
    for lay in layers:
        if args.leaves and not lay.is_leaf:
            continue
        rf = "global" if lay.rf_global else (str(lay.rf) if lay.rf else "-")
        jump = f"{lay.jump:g}" if lay.jump and not lay.rf_global else "-"
        lines.append(f"{'  ' * lay.depth + lay.name:40s} {lay.type:22s} "
                     f"{'x'.join(map(str, lay.out_shape)):18s} {lay.params:>12,} {rf:>7s} "
                     f"{jump:>5s}")
    lines.append(f"total parameters: {total:,}  (weights: {net.weights_source})")
    emit(args, {"model": net.name, "input_size": list(net.input_size),
                "weights": net.weights_source, "total_params": total,
                "layers": [lay.as_dict() for lay in layers]}, "\n".join(lines))
    return 0


def _traced(args):
    import sys

    from explorer.core.device import run_with_oom_fallback
    from explorer.core.network import preprocess
    from explorer.core.trace import trace

    image = load_image_arg(args.image)
    net = network_from_args(args)

    def forward(device):
        net.to(device)
        return trace(net, preprocess(net, image))

    # a GPU that runs out of memory is not the person's fault: finish on the CPU, say so
    tr, _device, note = run_with_oom_fallback(forward, net.device)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return image, net, tr


def cmd_predict(args) -> int:
    from explorer.cli import emit

    image, net, tr = _traced(args)
    if tr.probs is None:
        raise UserError(f"{net.name} is a {net.task} network; it does not predict a class")
    top = tr.topk(args.topk)
    warn = "  (random weights: these predictions mean nothing)" if net.random_weights else ""
    text = "\n".join(f"{p:7.2%}  {'#' * round(p * 30):30s} {label}" for label, p in top)
    emit(args, {"model": net.name, "image": image.name, "weights": net.weights_source,
                "seconds": tr.seconds,
                "top": [{"label": lab, "probability": p} for lab, p in top]},
         f"{net.name} on {image.name}{warn}\n{text}")
    return 0


def cmd_features(args) -> int:
    from explorer.cli import emit
    from explorer.core import colormaps
    from explorer.core.mosaic import mosaic

    image, net, tr = _traced(args)
    info = _layer(tr.layers, args.layer)
    m = mosaic(tr.activation(info.name), normalize=args.normalize)
    save_png(colormaps.enlarge(colormaps.apply(m.image, args.cmap)), args.out)
    emit(args, {"model": net.name, "layer": info.name, "shape": list(info.out_shape),
                "channels": m.channels, "rows": m.rows, "cols": m.cols, "out": args.out},
         f"{info.name} {info.type} {'x'.join(map(str, info.out_shape))}: "
         f"{m.channels} maps in a {m.rows}x{m.cols} mosaic -> {args.out}")
    return 0


def cmd_filters(args) -> int:
    from explorer.cli import emit
    from explorer.core import colormaps
    from explorer.core.filters import filter_image
    from explorer.core.trace import layer_table

    net = network_from_args(args)
    info = _layer(layer_table(net), args.layer)
    module = net.module.get_submodule(info.name)
    try:
        f = filter_image(module)
    except ValueError as exc:
        raise UserError(f"{info.name}: {exc}") from None
    rgb = colormaps.to_uint8_rgb(f.image) if f.rgb else colormaps.apply(f.image, "coolwarm")
    save_png(colormaps.enlarge(rgb), args.out)
    emit(args, {"model": net.name, "layer": info.name, "kernel": list(f.k), "rgb": f.rgb,
                "out_channels": f.total_out, "in_channels": f.total_in, "out": args.out},
         f"{info.name}: {f.total_out}x{f.total_in} kernels of {f.k[0]}x{f.k[1]} "
         f"({'colour patches' if f.rgb else 'one patch per input channel'}) -> {args.out}")
    return 0


def cmd_gui(args) -> int:
    try:
        from explorer.gui.app import run_gui
    except ImportError as exc:
        raise UserError(f"the window cannot start: {exc}") from None
    return run_gui(model=args.model, image=args.image, screenshot=args.screenshot,
                   device=args.device, section=args.section)


def register(sub) -> None:
    p = sub.add_parser("gui", help="open the window")
    p.add_argument("--model", "-m", default=None)
    p.add_argument("--image", "-i", default=None, help="image file or sample:NAME")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="render the window offscreen after loading, save it and exit")
    p.add_argument("--device", default="auto")
    p.add_argument("--section", help="open on Detection, Segmentation, Lab, Live or Why")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("models", help="list every network and its weights")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("layers", help="layer table with shapes, parameters, receptive fields")
    add_network_args(p)
    p.add_argument("--leaves", action="store_true", help="only leaf layers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("predict", help="top-k classes for an image")
    add_network_args(p)
    add_image_arg(p)
    p.add_argument("--topk", "-k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("features", help="feature-map mosaic of one layer as PNG")
    add_network_args(p)
    add_image_arg(p)
    p.add_argument("--layer", "-l", required=True)
    p.add_argument("--out", "-o", required=True)
    p.add_argument("--normalize", choices=["channel", "layer"], default="channel")
    p.add_argument("--cmap", default="viridis", choices=["viridis", "inferno", "grey"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("filters", help="a layer's kernels as PNG")
    add_network_args(p)
    p.add_argument("--layer", "-l", required=True)
    p.add_argument("--out", "-o", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_filters)
