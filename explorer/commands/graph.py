"""graph and unit-math: the architecture as a graph, and the arithmetic of one unit."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from explorer.errors import UserError

GRAPH_SUFFIXES = (".svg", ".png")


# --- where networks, pictures and traces come from -----------------------------------
# (the one place to change when they move into the application layer)

def _add_network_args(p: argparse.ArgumentParser) -> None:
    from explorer.commands.foundation import add_network_args

    add_network_args(p)


def _add_image_arg(p: argparse.ArgumentParser) -> None:
    from explorer.commands.foundation import add_image_arg

    add_image_arg(p)


def _open_network(args):
    from explorer.commands.foundation import _network

    return _network(args)  # with its note (timm's random weights) on stderr


def _open_picture(spec: str):
    from explorer.commands.foundation import load_image_arg

    return load_image_arg(spec)


def _trace(net, image):
    from explorer.app.tracing import trace_tensor as trace
    from explorer.core.network import preprocess

    return trace(net, preprocess(net, image))


# --- checks, before any work ---------------------------------------------------------

def check_output(out: str | None, suffixes: tuple[str, ...] = GRAPH_SUFFIXES) -> Path | None:
    """`out` as a file we can write (the boundary's one output check: the right suffix,
    a regular file or none yet, a folder that takes files). One-line UserError otherwise."""
    from explorer.app import checks

    return None if out is None else checks.output_file(out, suffixes, "output")


def parse_unit(text: str) -> tuple[int, int, int]:
    """``C,Y,X`` (channel, row, column of a layer's output) as three numbers >= 0."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: give the unit as CHANNEL,Y,X, e.g. 3,10,12")
    try:
        c, y, x = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: CHANNEL,Y,X must be whole numbers"
                                         ) from None
    if min(c, y, x) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: channel, y and x start at 0; "
                                         "negative numbers are not units")
    return c, y, x


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: the depth starts at 0")
    return value


# --- graph ---------------------------------------------------------------------------

def cmd_graph(args) -> int:
    from explorer.cli import emit
    from explorer.graph import blocks_at_depth, build_graph, collapse
    from explorer.graph.render import shape_text, write

    out = check_output(args.out)
    net = _open_network(args)
    graph = build_graph(net, layout=out is not None)
    chosen = list(args.collapse or [])
    if args.depth is not None:
        chosen += blocks_at_depth(graph, args.depth)
    if chosen:
        graph = collapse(graph, chosen, layout=out is not None)
    drawn = write(graph, out) if out else None
    data = graph.as_dict()
    data.update(model=net.name, weights=net.weights_source,
                out=str(out) if out else None, drawn_with=drawn)
    lines = [f"{'node':34s} {'op':22s} {'output':16s} {'params':>11s}  block"]
    for n in graph.nodes:
        lines.append(f"{n.name[:34]:34s} {n.op[:22]:22s} {shape_text(n.shape):16s} "
                     f"{n.params:>11,}  {n.block}")
    lines.append(f"{net.name}: {len(graph.nodes)} nodes, {len(graph.edges)} edges, "
                 f"{len(graph.blocks)} blocks (traced by "
                 f"{'torch.fx' if graph.method == 'fx' else 'named_modules order'})"
                 + (f" -> {out}" if out else ""))
    if graph.note:
        lines.append(f"note: {graph.note}")
    emit(args, data, "\n".join(lines))
    return 0


# --- unit-math -----------------------------------------------------------------------

def cmd_unit_math(args) -> int:
    from explorer.app.tracing import layers_of as layer_table
    from explorer.cli import emit
    from explorer.graph.unit_math import FORMULA, check_unit, conv_layer, unit_math

    channel, y, x = args.unit
    image = _open_picture(args.image)
    net = _open_network(args)
    conv_layer(net, args.layer)
    info = next((lay for lay in layer_table(net) if lay.name == args.layer), None)
    if info is None or len(info.out_shape) != 3:
        raise UserError(f"{args.layer} does not run in {net.name}'s forward pass")
    check_unit(info.out_shape, args.layer, channel, y, x)
    tr = _trace(net, image)
    r = unit_math(net, tr, args.layer, channel, y, x)
    r.update(model=net.name, image=image.name, weights=net.weights_source)
    pad = r["padding"]
    lines = [
        f"{net.name} {args.layer} unit (channel {channel}, y {y}, x {x}) on {image.name}: "
        f"{FORMULA}",
        f"  kernel {'x'.join(map(str, r['kernel_size']))}, stride "
        f"{'x'.join(map(str, r['stride']))}, padding top {pad['top']} left {pad['left']} "
        f"({pad['mode']}), dilation {'x'.join(map(str, r['dilation']))}, groups "
        f"{r['groups']} (this unit is in group {r['group']}); input rows "
        f"{r['rows'][0]}..{r['rows'][-1]}, columns {r['cols'][0]}..{r['cols'][-1]}",
        f"  {'j':>5s}  {'Σ w·h':>14s}",
    ]
    for t in r["terms"]:
        lines.append(f"  {t['input_channel']:>5d}  {t['sum']:>+14.6f}")
        if args.patches:
            for prow, krow in zip(t["patch"], t["kernel"]):
                lines.append("         h " + " ".join(f"{v:+9.4f}" for v in prow)
                             + "   w " + " ".join(f"{v:+9.4f}" for v in krow))
    lines += [
        f"  Σ over {len(r['terms'])} input channels = {r['sum']:+.6f}",
        f"  + bias b                   = {r['bias']:+.6f}",
        f"  = total                    = {r['total']:+.6f}",
        f"  the network's output       = {r['output']:+.6f}  "
        f"(difference {r['difference']:.2g})",
    ]
    if net.random_weights:
        lines.append("  (random weights: the arithmetic holds, the numbers mean nothing)")
    emit(args, r, "\n".join(lines))
    return 0


def register(sub) -> None:
    p = sub.add_parser("graph", help="the architecture as a graph (SVG, PNG or JSON)")
    _add_network_args(p)
    p.add_argument("--out", "-o", metavar="G.svg|G.png",
                   help="draw the graph to this file (.svg or .png)")
    p.add_argument("--collapse", nargs="+", metavar="BLOCK",
                   help="draw these blocks (module paths such as layer1.0) as one node")
    p.add_argument("--depth", type=_depth, metavar="N",
                   help="collapse every block N dots deep (0: layer1, 1: layer1.0)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("unit-math", help="a convolution unit's sum of products, term by term")
    _add_network_args(p)
    _add_image_arg(p)
    p.add_argument("--layer", "-l", required=True, help="a Conv2d layer")
    p.add_argument("--unit", "-u", required=True, type=parse_unit, metavar="C,Y,X",
                   help="channel, row and column of the layer's output (from 0)")
    # argparse takes "-1,0,0" for an option (it only knows "-1" as a number) and says
    # "expected one argument"; read a dash followed by digits and commas as --unit's value,
    # so that parse_unit says what is wrong with it
    p._negative_number_matcher = re.compile(r"^-\d[\d,\s]*$|^-\d*\.\d+$")
    p.add_argument("--patches", action="store_true",
                   help="also print each input patch and kernel slice")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_unit_math)
