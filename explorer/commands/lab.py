"""`cnn-explorer lab ...`: the Lab pages' numbers, headless.

Each subcommand prints what the matching GUI page shows (``--json`` for the raw numbers):
conv, pool, sizes, params, vgg, rf. Defaults reproduce the lecture's examples.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from explorer.app.names import SPEC_HELP
from explorer.errors import UserError
from explorer.lab import settings

PICTURE_HELP = (SPEC_HELP + f"; shrunk to at most {settings.MAX_PICTURE_SIDE} pixels a "
                "side").replace("%", "%%")


if TYPE_CHECKING:  # numpy stays off the --help path
    import numpy as np


def register(subparsers) -> None:
    lab = subparsers.add_parser("lab", help="the lecture's worked examples (convolution, "
                                "pooling, parameters, receptive fields)")
    sub = lab.add_subparsers(dest="lab_command", parser_class=type(lab))
    lab.set_defaults(func=lambda args: (lab.print_help(), 2)[1])

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print the numbers as JSON")

    p = sub.add_parser("conv", help="convolve the lecture's table (or an image) with a kernel")
    p.add_argument("--kernel", default="box", help="identity, box, gaussian, x-derivative, "
                   "y-derivative or laplacian (default box)")
    p.add_argument("--size", type=int, default=3, help="kernel size, 3 or 5")
    p.add_argument("--padding", default=None, help="valid, same-zeros, same-reflect or "
                   "same-symmetric (default valid); with --transposed the cells cropped "
                   "from each border (default 0)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--dilation", type=int, default=1)
    p.add_argument("--mode", choices=("convolution", "correlation"), default="convolution",
                   help="convolution flips the kernel (the lecture's formula, default); "
                   "correlation is what CNN layers compute")
    p.add_argument("--transposed", action="store_true", help="transposed convolution: each "
                   "input cell scatters the kernel, scaled by its value, --stride cells apart")
    p.add_argument("--upsample", type=int, default=None, metavar="FACTOR",
                   help="up-sampling followed by convolution: make the input FACTOR times "
                   "larger (--interpolation), then convolve (--padding defaults to "
                   "same-zeros)")
    p.add_argument("--interpolation", choices=("bilinear", "nearest"), default=None,
                   help="how --upsample fills the new cells (default bilinear)")
    p.add_argument("--image", help="a picture instead of the lecture's table (converted to "
                   "grey values 0-255): " + PICTURE_HELP)
    common(p)
    p.set_defaults(func=cmd_conv)

    p = sub.add_parser("pool", help="pool the lecture's table (or an image)")
    p.add_argument("--mode", choices=("max", "min", "avg"), default="max")
    p.add_argument("--size", type=int, default=5, help="window size (default 5)")
    p.add_argument("--stride", type=int, default=None, help="default: the window size")
    p.add_argument("--image", help="a picture instead of the lecture's table: "
                   + PICTURE_HELP)
    common(p)
    p.set_defaults(func=cmd_pool)

    p = sub.add_parser("invariance", help="move a pooling window's maximum: inside the "
                       "window the output stays, across a boundary it changes")
    p.add_argument("--size", type=int, default=5, help="pooling window (default 5)")
    p.add_argument("--stride", type=int, default=None, help="default: the window size")
    p.add_argument("--window", type=int, nargs=2, default=(0, 0), metavar=("ROW", "COL"),
                   help="which pooling window's maximum to move (default 0 0)")
    p.add_argument("--to", type=int, nargs=2, default=None, metavar=("ROW", "COL"),
                   help="move it to this cell (default: just right of the window)")
    p.add_argument("--image", help="a picture instead of the lecture's table: "
                   + PICTURE_HELP)
    common(p)
    p.set_defaults(func=cmd_invariance)

    p = sub.add_parser("sizes", help="channel sizes through repeated conv layers")
    p.add_argument("--input", type=int, default=128, help="input size (default 128)")
    p.add_argument("--kernel", type=int, default=5)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=int, default=0, help="cells per side")
    p.add_argument("--dilation", type=int, default=1)
    p.add_argument("--layers", type=int, default=None, help="default: until 1x1 or too small")
    common(p)
    p.set_defaults(func=cmd_sizes)

    p = sub.add_parser("params", help="fully connected vs convolutional parameter counts")
    common(p)
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("vgg", help="VGG A..E parameter totals, or one configuration's layers")
    p.add_argument("--config", help="A, A-LRN, B, C, D or E: show its layer table")
    common(p)
    p.set_defaults(func=cmd_vgg)

    p = sub.add_parser("hierarchy", help="the hand-built two-layer derivative network")
    p.add_argument("--image", help="a picture instead of the lecture's table: "
                   + PICTURE_HELP)
    common(p)
    p.set_defaults(func=cmd_hierarchy)

    p = sub.add_parser("equivariance", help="shift the input: how each layer's output "
                       "follows (random-weight model, nothing downloaded)")
    p.add_argument("--model", default="resnet18", help="lenet5, alexnet, vgg16 or resnet18")
    p.add_argument("--dy", type=int, default=8, help="rows to shift (default 8)")
    p.add_argument("--dx", type=int, default=8, help="columns to shift (default 8)")
    p.add_argument("--shift-mode", choices=("roll", "zeros"), default="roll")
    p.add_argument("--size", type=int, default=None, help="input size (default 128; lenet5 "
                   "takes 32 only)")
    p.add_argument("--image", help="a picture (default: seeded random noise): "
                   + PICTURE_HELP)
    p.add_argument("--no-crop", action="store_true", help="compare border cells too")
    common(p)
    p.set_defaults(func=cmd_equivariance)

    p = sub.add_parser("rf", help="receptive field and jump per layer")
    p.add_argument("--model", default="vgg16", help="lenet5, alexnet, vgg16 or resnet18")
    p.add_argument("--input-size", type=int, default=None, help="for the output-size column")
    common(p)
    p.set_defaults(func=cmd_rf)


# ----------------------------------------------------------------------------- helpers

def load_grey(spec: str, max_side: int = settings.MAX_PICTURE_SIDE
              ) -> tuple[np.ndarray, str | None]:
    """The picture `spec` names (explorer.app.pictures' grammar) as grey values 0..255,
    ndarray[H, W] float64 (ITU-R 601 luma, as Pillow's "L"), shrunk so that its longer
    side is at most `max_side`; with a note saying so (rows x columns, as the lab writes
    every size) when it was, else None."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from explorer.app.pictures import open_picture

    image = open_picture(spec)
    arr = np.asarray(image.array[..., :3], dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
    h, w = arr.shape
    note = None
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        t = torch.from_numpy(arr)[None, None]
        arr = F.interpolate(t, size=size, mode="bilinear", antialias=True,
                            align_corners=False)[0, 0].numpy()
        note = f"{image.name} shrunk from {h}x{w} to {size[0]}x{size[1]} pixels for the lab"
    return arr * 255.0, note


def _input(args) -> tuple[np.ndarray, str]:
    """The picture --image names, else the lecture's table; a shrink note goes to
    ``args.note`` for :func:`_noted` to place."""
    if args.image is not None:
        x, args.note = load_grey(args.image)
        return x, str(args.image)
    from explorer.lab.table import lecture_table

    return lecture_table(), "lecture table"


def _noted(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`cmd`, saying that its picture was shrunk once: after the answer, or inside the
    error when it fails (a refusal stays one line, and explains a size nobody typed)."""
    @functools.wraps(cmd)
    def run(args: argparse.Namespace) -> int:
        args.note = None
        try:
            code = cmd(args)
        except UserError as exc:
            if args.note:
                raise UserError(f"{exc} ({args.note})") from exc
            raise
        if args.note:
            print(f"note: {args.note}", file=sys.stderr)
        return code
    return run


def _matrix(a: np.ndarray) -> str:
    import numpy as np
    a = np.asarray(a, dtype=np.float64)
    integral = np.all(np.abs(a - np.round(a)) < 1e-9)
    return np.array2string(
        np.round(a).astype(np.int64) if integral else a,
        max_line_width=160, precision=3, suppress_small=True, threshold=400, edgeitems=4,
    )


def _num(v: float) -> float | int:
    return int(round(v)) if abs(v - round(v)) < 1e-9 else float(v)


#: numbers ``lab conv --json`` may print (about 200 MB of JSON): a 1024 x 1024 output
#: beside its 1024 x 1024 up-sampled input
MAX_JSON_CELLS = 1 << 22


def _check_json_cells(shape, kshape, args, factor, p, stride, dilation) -> None:
    """Refuse ``--json`` whose arrays would hold more than :data:`MAX_JSON_CELLS` numbers."""
    from explorer.lab import conv

    if args.transposed:
        out = [conv.transposed_output_size(m, k, stride, p, dilation)
               for m, k in zip(shape, kshape, strict=True)]
        cells = out[0] * out[1]
    else:
        shown = shape if factor is None else (shape[0] * factor, shape[1] * factor)
        out = conv.conv_output_shape(shown, kshape, args.padding or "valid", stride, dilation)
        cells = max(out[0], 0) * max(out[1], 0) + (0 if factor is None
                                                    else shown[0] * shown[1])
    if cells > MAX_JSON_CELLS:
        raise UserError(f"--json would print {cells:,} numbers (at most {MAX_JSON_CELLS:,}); "
                        "leave out --json for a summary, or choose smaller sizes")


# ---------------------------------------------------------------------------- commands

@_noted
def cmd_conv(args) -> int:
    from explorer.cli import emit
    from explorer.lab import conv

    w = conv.kernel(args.kernel, args.size)
    if args.transposed and args.mode == "correlation":  # it would be ignored silently
        raise UserError("--transposed scatters the kernel as it is, which already is a "
                        "convolution; --mode correlation does not apply to it.")
    stride = settings.geometry("the stride", args.stride)
    dilation = settings.geometry("the dilation", args.dilation)
    p = None
    factor = None
    if args.upsample is not None:
        if args.transposed:
            raise UserError("--transposed and --upsample are the two ways to up-sample; "
                            "choose one.")
        factor = settings.upsample_factor(args.upsample)
        args.padding = args.padding or "same-zeros"
    elif args.interpolation is not None:
        raise UserError("--interpolation goes with --upsample FACTOR.")
    interpolation = args.interpolation or "bilinear"
    if args.transposed:
        try:
            p = int(args.padding or 0)
        except ValueError as exc:
            raise UserError("With --transposed, --padding is a number of cells.") from exc
        p = settings.padding(p)
    elif (args.padding or "valid") not in conv.PADDINGS:
        raise UserError(f"Unknown padding '{args.padding}'; choose one of "
                        f"{', '.join(conv.PADDINGS)}.")
    x, source = _input(args)
    name = args.kernel
    if args.json:  # every number is printed: a bounded JSON, checked before the work
        _check_json_cells(x.shape, w.shape, args, factor, p, stride, dilation)
    upsampled = None
    if factor is not None:  # the up-sampled image is checked for size before it is made
        settings.cells("the up-sampled image", x.shape[0] * factor, x.shape[1] * factor)
        upsampled = conv.upsample(x, factor, interpolation)
        conv.conv_output_shape(upsampled.shape, w.shape, args.padding, stride, dilation)
    if args.transposed:
        out = conv.transposed(x, w, stride, p, dilation)
        sizes = [
            f"({m}-1)*{args.stride} - 2*{p} + {args.dilation}*({k}-1) + 1 = "
            f"{conv.transposed_output_size(m, k, args.stride, p, args.dilation)}"
            for m, k in zip(x.shape, w.shape, strict=True)
        ]
        pads = [[p, p], [p, p]]
        padding = p
    else:
        padding = args.padding or "valid"
        shown = x if upsampled is None else upsampled
        out = conv.convolve(shown, w, padding, stride, dilation, args.mode)
        pads = [list(conv.pad_amounts(k, args.dilation, padding)) for k in w.shape]
        sizes = [
            conv.formula(m, k, args.stride, tuple(pd), args.dilation)
            for m, k, pd in zip(shown.shape, w.shape, pads, strict=True)
        ]
        if upsampled is not None:
            sizes = [f"{m}*{factor} = {m * factor}, then {text}"
                     for m, text in zip(x.shape, sizes, strict=True)]
    data = {
        "input": source,
        "input_shape": list(x.shape),
        "kernel_name": name,
        "kernel": w,
        "applied_kernel": conv.applied_kernel(w, args.mode) if not args.transposed else w,
        "mode": "transposed" if args.transposed else args.mode,
        "upsample": None if factor is None else {
            "factor": factor, "interpolation": interpolation,
            "shape": list(upsampled.shape), "output": upsampled},
        "padding": padding,
        "pad": pads,
        "stride": args.stride,
        "dilation": args.dilation,
        "output_shape": list(out.shape),
        "size_formula": {"rows": sizes[0], "cols": sizes[1]},
        "output": out,
    }
    what = "transposed convolution" if args.transposed else args.mode
    if factor is not None:
        what = f"{interpolation} up-sampling by {factor}, then {args.mode}"
    text = "\n".join([
        f"{what} of the {source} ({x.shape[0]}x{x.shape[1]}) with the {args.size}x{args.size} "
        f"{name} kernel, padding {padding}, stride {args.stride}, dilation {args.dilation}",
        "kernel:", _matrix(w),
        f"output {out.shape[0]}x{out.shape[1]}:",
        f"  rows: {sizes[0]}",
        f"  cols: {sizes[1]}",
        _matrix(out),
    ])
    emit(args, data, text)
    return 0


@_noted
def cmd_pool(args) -> int:
    from explorer.cli import emit
    from explorer.lab import pool
    from explorer.lab.conv import formula

    size = settings.geometry("the pooling size", args.size)
    stride = size if args.stride is None else settings.geometry("the stride", args.stride)
    x, source = _input(args)
    out = pool.pool(x, args.mode, size, stride)
    data = {
        "input": source,
        "input_shape": list(x.shape),
        "mode": args.mode,
        "size": args.size,
        "stride": stride,
        "output_shape": list(out.shape),
        "size_formula": {
            "rows": formula(x.shape[0], args.size, stride),
            "cols": formula(x.shape[1], args.size, stride),
        },
        "output": out,
        "sources": pool.pool_sources(x, args.mode, args.size, stride),
    }
    text = "\n".join([
        f"{args.size}x{args.size} {args.mode} pooling with stride {stride} of the {source} "
        f"({x.shape[0]}x{x.shape[1]}) -> {out.shape[0]}x{out.shape[1]}",
        _matrix(out),
    ])
    emit(args, data, text)
    return 0


def cmd_sizes(args) -> int:
    from explorer.cli import emit
    from explorer.lab import conv

    settings.input_size(args.input)
    for value, what in ((args.kernel, "the kernel size"), (args.stride, "the stride"),
                        (args.dilation, "the dilation")):
        settings.geometry(what, value)
    settings.padding(args.padding)
    settings.layers(args.layers)
    nxt = conv.output_size(args.input, args.kernel, args.stride, args.padding, args.dilation)
    if nxt < 1:
        raise UserError(f"A {args.kernel}x{args.kernel} kernel does not fit in a "
                        f"{args.input}x{args.input} input.")
    if args.layers is None and 1 < args.input <= nxt:  # the chain would be the input alone
        raise UserError(f"The size does not shrink ({args.input} -> {nxt}), so it never "
                        "reaches 1x1; give --layers N to see the first N layers.")
    chain = conv.size_chain(args.input, args.kernel, args.stride, args.padding, args.dilation,
                            args.layers)
    data = {"input": args.input, "kernel": args.kernel, "stride": args.stride,
            "padding": args.padding, "dilation": args.dilation, "sizes": chain,
            "formulas": [conv.formula(m, args.kernel, args.stride, args.padding, args.dilation)
                         for m in chain[:-1]]}
    text = " -> ".join(f"{m}x{m}" for m in chain)
    emit(args, data, text)
    return 0


def cmd_params(args) -> int:
    from explorer.cli import emit
    from explorer.lab import params

    fc, cv = params.fc_vs_conv()
    first = params.first_layer_weights()
    data = {
        "first_layer_weights": first,
        "fully_connected": fc.as_dict(),
        "convolutional": cv.as_dict(),
        "hidden_neurons_conv": [layer.neurons for layer in cv.layers[:-1]],
    }
    lines = [f"naive first layer 64x64 -> 128: {first:,} weights", ""]
    for net in (fc, cv):
        lines.append(net.name)
        lines.append(f"  {'layer':<8}{'type':<10}{'output':>14}{'neurons':>10}{'weights':>12}"
                     f"{'biases':>8}{'params':>12}")
        for r in net.layers:
            shape = "x".join(map(str, r.output_shape))
            lines.append(f"  {r.name:<8}{r.description:<10}{shape:>14}{r.neurons:>10,}"
                         f"{r.weights:>12,}{r.biases:>8,}{r.params:>12,}")
        lines.append(f"  total parameters: {net.total:,}")
        lines.append("")
    emit(args, data, "\n".join(lines).rstrip())
    return 0


def cmd_vgg(args) -> int:
    from explorer.cli import emit
    from explorer.lab import params

    if args.config is not None:
        net = params.vgg_count(args.config)
        data = net.as_dict()
        lines = [f"{net.name} at 224x224"]
        for r in net.layers:
            shape = "x".join(map(str, r.output_shape))
            lines.append(f"  {r.name:<9}{r.description:<11}{shape:>14}{r.params:>14,}")
        lines.append(f"  total: {net.total:,}")
        emit(args, data, "\n".join(lines))
        return 0
    totals = params.vgg_totals()
    data = {
        key: {
            "weight_layers": params.VGG_WEIGHT_LAYERS[key],
            "params": total,
            "millions": round(total / 1e6),
            "paper_millions": params.VGG_PAPER_MILLIONS[key],
        }
        for key, total in totals.items()
    }
    lines = [f"{'config':<8}{'weight layers':>14}{'parameters':>15}{'millions':>10}{'paper':>7}"]
    for key, row in data.items():
        lines.append(f"{key:<8}{row['weight_layers']:>14}{row['params']:>15,}"
                     f"{row['millions']:>10}{row['paper_millions']:>7}")
    emit(args, data, "\n".join(lines))
    return 0


def cmd_rf(args) -> int:
    from explorer.cli import emit
    from explorer.lab import rf

    key = settings.model_key(args.model, rf.MODEL_NAMES)
    if args.input_size is not None:
        rf.check_input_size(key, settings.input_size(args.input_size))
    table = rf.rf_table(key, args.input_size)
    friendly = rf.FRIENDLY.get(key, {})
    rows = [dict(layer.as_dict(), label=friendly.get(layer.name, layer.name)) for layer in table]
    size = args.input_size or rf.MODEL_INPUT[key][0]
    data = {"model": key, "input_size": size, "layers": rows}
    lines = [f"{key} (input {size}x{size}): receptive field and jump along the main path",
             f"  {'layer':<16}{'type':<9}{'k':>3}{'s':>3}{'p':>3}{'d':>3}{'out':>6}"
             f"{'rf':>6}{'jump':>6}"]
    for r in rows:
        lines.append(f"  {r['label']:<16}{r['kind']:<9}{r['kernel']:>3}{r['stride']:>3}"
                     f"{r['padding']:>3}{r['dilation']:>3}{r['out_size']:>6}{r['rf']:>6}"
                     f"{r['jump']:>6}")
    emit(args, data, "\n".join(lines))
    return 0


@_noted
def cmd_invariance(args) -> int:
    from explorer.cli import emit
    from explorer.lab import pool

    size = settings.geometry("the pooling size", args.size)
    stride = size if args.stride is None else settings.geometry("the stride", args.stride)
    x, source = _input(args)
    pool.check_fits(x.shape, size)  # else --window would be refused with no window at all
    if x.size > settings.MAX_INVARIANCE_CELLS:
        raise UserError(f"The invariance map moves the maximum to each of the picture's "
                        f"{x.size:,} cells; use a picture of at most "
                        f"{settings.MAX_INVARIANCE_CELLS:,} cells (100x100).")
    window = settings.cell("--window", args.window, pool.pool_output_shape(x.shape, size,
                                                                          stride))
    if args.to is not None:
        settings.cell("--to", args.to, x.shape)
    src = pool.window_maximum(x, window, size, stride)
    inside = pool.move_max_within_window(x, window, size, stride)
    target = tuple(args.to) if args.to else (src[0], min(window[1] * stride + size,
                                                         x.shape[1] - 1))
    moved = pool.move_value(x, src, target, "max", size, stride)
    changed = pool.invariance_map(x, window, "max", size, stride)
    data = {
        "input": source, "size": size, "stride": stride, "window": list(window),
        "source": list(src), "value": float(x[src]),
        "pooled": pool.pool(x, "max", size, stride),
        "within_window_unchanged": not any(m.changed for m in inside),
        "moves_within_window": len(inside),
        "move": {"target": list(target), "same_window": moved.same_window,
                 "after": moved.after, "changed_cells": moved.changed_cells},
        "changes_output": changed,
    }
    text = "\n".join([
        f"{size}x{size} max pooling, stride {stride}: the maximum {_num(x[src])} of window "
        f"{window} sits at {src}",
        f"moved to each of the other {len(inside)} cells of its window: output "
        + ("unchanged" if data["within_window_unchanged"] else "CHANGED"),
        f"moved to {target} ({'same' if moved.same_window else 'another'} window): output",
        _matrix(moved.after),
        f"changed cells: {moved.changed_cells or 'none'}",
        "cells where moving it changes the pooled output (1) or not (0):",
        _matrix(changed.astype(int)),
    ])
    emit(args, data, text)
    return 0


@_noted
def cmd_hierarchy(args) -> int:
    from explorer.cli import emit
    from explorer.lab.hierarchy import hierarchy

    x, source = _input(args)
    h = hierarchy(x)

    def stats(maps):
        return {k: {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean())}
                for k, v in maps.items()}

    data = {"input": source, "input_shape": list(x.shape), "layer1": h.layer1,
            "layer2": h.layer2, "layer1_stats": stats(h.layer1), "layer2_stats": stats(h.layer2)}
    lines = [f"hand-built network on the {source} ({x.shape[0]}x{x.shape[1]})",
             "layer 1 = ReLU(x/y derivative, both signs); layer 2 = weighted sums of "
             "derivatives of layer 1"]
    for layer, maps in (("layer 1", h.layer1), ("layer 2", h.layer2)):
        lines.append(f"{layer}:")
        for name, v in maps.items():
            lines.append(f"  {name:<10} min {v.min():10.2f}  max {v.max():10.2f}  "
                         f"mean {v.mean():10.2f}")
    emit(args, data, "\n".join(lines))
    return 0


def cmd_equivariance(args) -> int:
    import torch

    from explorer.app import checks
    from explorer.cli import emit
    from explorer.lab import rf
    from explorer.lab.equivariance import equivariance, estimate_floats

    key = settings.model_key(args.model, rf.MODEL_NAMES)
    if key == "lenet5":  # its F6 layer takes C5's 1x1 maps: 32x32 pictures, nothing else
        if args.size not in (None, 32):
            raise UserError("--size: lenet5 takes 32x32 pictures only")
        size = 32
    else:
        size = settings.equivariance_size(128 if args.size is None else args.size)
        rf.check_input_size(key, size)
    dy = settings.shift("--dy", args.dy, size)
    dx = settings.shift("--dx", args.dx, size)
    # two passes (shifted and not), every layer's output kept
    checks.allocation(f"{key} at {size}x{size}", 2.0 * estimate_floats(key, size))
    channels = rf.MODEL_CHANNELS[key]
    if args.image is not None:
        grey, _ = load_grey(args.image, size)  # resized to size x size below, as it says
        t = torch.from_numpy(grey / 255.0).float()[None, None]
        t = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear",
                                            antialias=True, align_corners=False)
        x = t.expand(1, channels, size, size).contiguous()
        source = str(args.image)
    else:
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(1, channels, size, size, generator=gen)
        source = "random noise (seed 0)"
    torch.manual_seed(0)  # the same random weights every run
    model = rf.build_model(key)
    friendly = rf.FRIENDLY.get(key, {})
    layers = [name for name, *_ in rf.main_path(model)]
    last = [name for name, _ in model.named_children()][-1]
    res = equivariance(model, x, dy, dx, layers + [last], args.shift_mode,
                       crop=not args.no_crop)
    data = dict(res.as_dict(), model=key, input=source, input_size=size)
    for row in data["layers"]:
        row["label"] = friendly.get(row["name"], row["name"])
    lines = [f"{key} (random weights) on {source} at {size}x{size}, shift "
             f"({dy}, {dx}) by {args.shift_mode}",
             f"  {'layer':<16}{'stride':>7}{'ideal shift':>14}{'compared':>10}{'exact':>7}"
             f"{'rel. diff':>11}{'cells':>8}  borders"]
    for row in data["layers"]:
        ideal = "{:g},{:g}".format(*row["ideal_shift"])
        comp = "{},{}".format(*row["compared_shift"])
        lines.append(f"  {row['label']:<16}{row['stride'][0]:>7}{ideal:>14}{comp:>10}"
                     f"{'yes' if row['exact'] else 'no':>7}{row['rel_diff']:>11.2e}"
                     f"{row['compared_cells']:>8}  "
                     + ("excluded" if row["cropped"] else "included" if row["spatial"] else ""))
    lines.append(f"top class {res.top_before} -> {res.top_after}: "
                 + ("holds" if res.prediction_holds else "changes"))
    if any(row["spatial"] and not row["cropped"] for row in data["layers"]) and not args.no_crop:
        lines.append("borders included: no unit of that layer has its whole receptive field "
                     "inside the image (use a larger --size)")
    emit(args, data, "\n".join(lines))
    return 0
