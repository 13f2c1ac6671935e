"""`cnn-explorer lab ...`: the Lab pages' numbers, headless.

Each subcommand prints what the matching GUI page shows (``--json`` for the raw numbers):
conv, pool, sizes, params, vgg, rf. Defaults reproduce the lecture's examples.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from explorer.errors import ImageError, UserError


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
    p.add_argument("--transposed", action="store_true", help="transposed convolution")
    p.add_argument("--image", type=Path, help="a picture instead of the lecture's table "
                   "(converted to grey values 0-255)")
    common(p)
    p.set_defaults(func=cmd_conv)

    p = sub.add_parser("pool", help="pool the lecture's table (or an image)")
    p.add_argument("--mode", choices=("max", "min", "avg"), default="max")
    p.add_argument("--size", type=int, default=5, help="window size (default 5)")
    p.add_argument("--stride", type=int, default=None, help="default: the window size")
    p.add_argument("--image", type=Path, help="a picture instead of the lecture's table")
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
    p.add_argument("--image", type=Path, help="a picture instead of the lecture's table")
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
    p.add_argument("--image", type=Path, help="a picture instead of the lecture's table")
    common(p)
    p.set_defaults(func=cmd_hierarchy)

    p = sub.add_parser("equivariance", help="shift the input: how each layer's output "
                       "follows (random-weight model, nothing downloaded)")
    p.add_argument("--model", default="resnet18", help="lenet5, alexnet, vgg16 or resnet18")
    p.add_argument("--dy", type=int, default=8, help="rows to shift (default 8)")
    p.add_argument("--dx", type=int, default=8, help="columns to shift (default 8)")
    p.add_argument("--shift-mode", choices=("roll", "zeros"), default="roll")
    p.add_argument("--size", type=int, default=128, help="input size (default 128; 32 for "
                   "lenet5)")
    p.add_argument("--image", type=Path, help="a picture (default: seeded random noise)")
    p.add_argument("--no-crop", action="store_true", help="compare border cells too")
    common(p)
    p.set_defaults(func=cmd_equivariance)

    p = sub.add_parser("rf", help="receptive field and jump per layer")
    p.add_argument("--model", default="vgg16", help="lenet5, alexnet, vgg16 or resnet18")
    p.add_argument("--input-size", type=int, default=None, help="for the output-size column")
    common(p)
    p.set_defaults(func=cmd_rf)


# ----------------------------------------------------------------------------- helpers

def load_grey(path: Path) -> np.ndarray:
    """A picture as grey values 0..255, ndarray[H, W] float64.

    Uses ``explorer.core.images.load_image`` when it exists (same decoding as the GUI),
    else Pillow.
    """
    try:
        from explorer.core.images import load_image
    except ImportError:
        load_image = None
    if load_image is not None:
        image = load_image(path)
        arr = np.asarray(getattr(image, "array", image), dtype=np.float64)
        if arr.ndim == 3:  # [H, W, 3] RGB in [0, 1] -> ITU-R 601 luma, as Pillow's "L"
            arr = arr[..., :3] @ np.array([0.299, 0.587, 0.114])
        return arr * 255.0 if arr.max(initial=0) <= 1.0 else arr
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), dtype=np.float64)
    except FileNotFoundError as exc:
        raise ImageError(f"No such image file: {path}.") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"Cannot read {path} as an image.") from exc


def _input(args) -> tuple[np.ndarray, str]:
    if args.image is not None:
        return load_grey(args.image), str(args.image)
    from explorer.lab.table import lecture_table

    return lecture_table(), "lecture table"


def _matrix(a: np.ndarray) -> str:
    a = np.asarray(a, dtype=np.float64)
    integral = np.all(np.abs(a - np.round(a)) < 1e-9)
    return np.array2string(
        np.round(a).astype(np.int64) if integral else a,
        max_line_width=160, precision=3, suppress_small=True, threshold=400, edgeitems=4,
    )


def _num(v: float) -> float | int:
    return int(round(v)) if abs(v - round(v)) < 1e-9 else float(v)


# ---------------------------------------------------------------------------- commands

def cmd_conv(args) -> int:
    from explorer.cli import emit
    from explorer.lab import conv

    x, source = _input(args)
    w = conv.kernel(args.kernel, args.size)
    name = args.kernel
    if args.transposed:
        try:
            p = int(args.padding or 0)
        except ValueError as exc:
            raise UserError("With --transposed, --padding is a number of cells.") from exc
        out = conv.transposed(x, w, args.stride, p, args.dilation)
        sizes = [
            f"({m}-1)*{args.stride} - 2*{p} + {args.dilation}*({k}-1) + 1 = "
            f"{conv.transposed_output_size(m, k, args.stride, p, args.dilation)}"
            for m, k in zip(x.shape, w.shape, strict=True)
        ]
        pads = [[p, p], [p, p]]
        padding = p
    else:
        padding = args.padding or "valid"
        if padding not in conv.PADDINGS:
            raise UserError(f"Unknown padding '{padding}'; choose one of "
                            f"{', '.join(conv.PADDINGS)}.")
        out = conv.convolve(x, w, padding, args.stride, args.dilation, args.mode)
        pads = [list(conv.pad_amounts(k, args.dilation, padding)) for k in w.shape]
        sizes = [
            conv.formula(m, k, args.stride, tuple(pd), args.dilation)
            for m, k, pd in zip(x.shape, w.shape, pads, strict=True)
        ]
    data = {
        "input": source,
        "input_shape": list(x.shape),
        "kernel_name": name,
        "kernel": w,
        "applied_kernel": conv.applied_kernel(w, args.mode) if not args.transposed else w,
        "mode": "transposed" if args.transposed else args.mode,
        "padding": padding,
        "pad": pads,
        "stride": args.stride,
        "dilation": args.dilation,
        "output_shape": list(out.shape),
        "size_formula": {"rows": sizes[0], "cols": sizes[1]},
        "output": out,
    }
    what = "transposed convolution" if args.transposed else args.mode
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


def cmd_pool(args) -> int:
    from explorer.cli import emit
    from explorer.lab import pool
    from explorer.lab.conv import formula

    x, source = _input(args)
    stride = args.stride if args.stride is not None else args.size
    out = pool.pool(x, args.mode, args.size, stride)
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

    for value, what in ((args.stride, "stride"), (args.dilation, "dilation"),
                        (args.kernel, "kernel size"), (args.input, "input size")):
        if value < 1:
            raise UserError(f"The {what} must be at least 1, not {value}.")
    if args.padding < 0:
        raise UserError(f"The padding must be 0 or more, not {args.padding}.")
    if conv.output_size(args.input, args.kernel, args.stride, args.padding, args.dilation) < 1:
        raise UserError(f"A {args.kernel}x{args.kernel} kernel does not fit in a "
                        f"{args.input}x{args.input} input.")
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

    if args.config:
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

    key = args.model.strip().lower().replace("-", "")
    if key not in rf.MODEL_NAMES:
        raise UserError(f"Unknown model '{args.model}'; choose one of "
                        f"{', '.join(rf.MODEL_NAMES)}.")
    if args.input_size is not None and args.input_size < 1:
        raise UserError(f"The input size must be at least 1, not {args.input_size}.")
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


def cmd_invariance(args) -> int:
    from explorer.cli import emit
    from explorer.lab import pool

    x, source = _input(args)
    size = args.size
    stride = args.stride if args.stride is not None else size
    window = tuple(args.window)
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

    from explorer.cli import emit
    from explorer.lab import rf
    from explorer.lab.equivariance import equivariance

    key = args.model.strip().lower().replace("-", "")
    if key not in rf.MODEL_NAMES:
        raise UserError(f"Unknown model '{args.model}'; choose one of "
                        f"{', '.join(rf.MODEL_NAMES)}.")
    size = 32 if key == "lenet5" else args.size
    if size < 32:
        raise UserError(f"The input size must be at least 32, not {size}.")
    channels = rf.MODEL_CHANNELS[key]
    if args.image is not None:
        grey = load_grey(args.image)
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
    res = equivariance(model, x, args.dy, args.dx, layers + [last], args.shift_mode,
                       crop=not args.no_crop)
    data = dict(res.as_dict(), model=key, input=source, input_size=size)
    for row in data["layers"]:
        row["label"] = friendly.get(row["name"], row["name"])
    lines = [f"{key} (random weights) on {source} at {size}x{size}, shift "
             f"({args.dy}, {args.dx}) by {args.shift_mode}",
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
