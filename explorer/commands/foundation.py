"""models, layers, predict, features, filters and gui: the Foundation's commands."""

from __future__ import annotations

import sys

from explorer.commands.args import (  # noqa: F401 - the shared arguments live in args
    add_image_arg,
    add_network_args,
    find_layer,
    load_image_arg,
    network_from_args,
    out_png,
    save_png,
)
from explorer.errors import UserError


def _traced(args):
    """The picture and network the arguments name, traced once (app.tracing)."""
    import sys

    from explorer.app.tracing import trace_picture

    image = load_image_arg(args.image)
    net = _network(args)
    tr, _picture, note = trace_picture(net, image)
    # NaN in the output is each command's to report (predict refuses, features notes it)
    for line in (note, getattr(tr, "note", None)):
        if line:
            print(f"note: {line}", file=sys.stderr)
    return image, net, tr


def _network(args):
    """The network the arguments name, with its one-line note (e.g. timm's random
    weights) on stderr."""
    from explorer.app.networks import opening_note

    net = network_from_args(args)
    note = opening_note(net)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return net


# --- handlers ------------------------------------------------------------------------

def cmd_models(args) -> int:
    from explorer.app.networks import list_sources
    from explorer.cli import emit

    entries = [e for e in list_sources() if args.family in (None, e.family)]
    rows = [f"{e.name:28s} {e.family:12s} {e.task:13s} "
            + (e.description if e.family == "file" else
               f"{'trained (' + e.weights_source + ')' if e.available else 'random weights'}")
            for e in entries]
    emit(args, [vars(e) for e in entries],
         f"{'name':28s} {'family':12s} {'task':13s} weights\n" + "\n".join(rows))
    return 0


def cmd_layers(args) -> int:
    from explorer.app.tracing import layers_of, network_note
    from explorer.cli import emit

    net = _network(args)
    layers = layers_of(net)
    note = network_note(net)
    if note:
        print(f"note: {note}", file=sys.stderr)
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


def cmd_predict(args) -> int:
    from explorer.app import checks
    from explorer.app.tracing import nonfinite_from
    from explorer.cli import emit

    checks.count("--topk", args.topk, 1, 100_000)
    image, net, tr = _traced(args)
    bad = nonfinite_from(tr)
    if bad:
        raise UserError(f"{net.name} on {image.name}: {bad}, so it predicts nothing")
    if tr.probs is None:
        if net.task != "classify":
            raise UserError(f"{net.name} is a {net.task} network; it does not predict a class")
        shape = "x".join(map(str, tr.output.shape)) if tr.output is not None else "?"
        out = tr.output
        names = net.class_names
        if out is not None and out.dim() == 2 and names and out.shape[1] != len(names):
            # a whole network borrowing a named one's labels: the counts must agree
            raise UserError(f"{net.name} gives {out.shape[1]} scores, but the labels it "
                            f"borrows name {len(names)} classes; open the file with "
                            "--model file, or name the network it was made from")
        raise UserError(f"{net.name}'s output is a {shape} tensor; predict needs one score "
                        "per class (1xK)")
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

    out_png(args.out, args)
    image, net, tr = _traced(args)
    info = find_layer(tr.layers, args.layer)
    act = tr.activation(info.name)
    if act.dim() != 3:
        raise UserError(f"{info.name} gives a {'x'.join(map(str, act.shape))} output, not "
                        "feature maps; choose a convolution or pooling layer")
    from explorer.app.tracing import nonfinite_from

    bad = nonfinite_from(tr)
    if bad:
        print(f"note: {bad}; those values are drawn as 0", file=sys.stderr)
    stats = act.detach().float().nan_to_num().flatten(1)
    act = act.nan_to_num()  # NaN is reported above, drawn as 0
    m = mosaic(act, normalize=args.normalize)
    save_png(colormaps.enlarge(colormaps.apply(m.image, args.cmap)), args.out)
    emit(args, {"model": net.name, "layer": info.name, "shape": list(info.out_shape),
                "channels": m.channels, "rows": m.rows, "cols": m.cols, "out": args.out,
                "per_channel": [{"channel": c, "min": lo, "max": hi, "mean": mu}
                                for c, (lo, hi, mu) in enumerate(zip(
                                    stats.min(1).values.tolist(),
                                    stats.max(1).values.tolist(),
                                    stats.mean(1).tolist()))]},
         f"{info.name} {info.type} {'x'.join(map(str, info.out_shape))}: "
         f"{m.channels} maps in a {m.rows}x{m.cols} mosaic -> {args.out}")
    return 0


def cmd_filters(args) -> int:
    from explorer.app.tracing import layers_of
    from explorer.cli import emit
    from explorer.core import colormaps
    from explorer.core.filters import layer_filter_image

    out_png(args.out, args)
    net = _network(args)
    info = find_layer(layers_of(net), args.layer)
    try:
        f = layer_filter_image(net, info.name)  # eager or a TorchScript file's layer
    except ValueError as exc:
        raise UserError(f"{info.name}: {exc}") from None
    rgb = colormaps.to_uint8_rgb(f.image) if f.rgb else colormaps.apply(f.image, "coolwarm")
    save_png(colormaps.enlarge(rgb), args.out)
    emit(args, {"model": net.name, "layer": info.name, "kernel": list(f.k), "rgb": f.rgb,
                "out_channels": f.total_out, "in_channels": f.total_in, "out": args.out},
         f"{info.name}: {f.total_out}x{f.total_in} kernels of {f.k[0]}x{f.k[1]} "
         f"({'colour patches' if f.rgb else 'one patch per input channel'}) -> {args.out}")
    return 0


#: `gui --section` names, in tab order
SECTION_KEYS = ("explore", "detection", "segmentation", "lab", "live", "why")
#: `gui --page` names: the Lab's pages by their `lab` command
LAB_PAGES = ("conv", "pool", "params", "equivariance", "rf", "hierarchy", "digit", "gallery")


#: the smallest and largest window `--size` accepts; every section and tour step is laid
#: out to fit the smallest (tests/gui/test_session7_screenshot.py checks each)
MIN_SIZE = (640, 480)
MAX_SIZE = (7680, 4320)


def _window_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdecimal() for p in parts):
        raise UserError(f"--size {text!r}: give WIDTHxHEIGHT in pixels, e.g. 1366x768")
    w, h = (int(p) for p in parts)
    (w0, h0), (w1, h1) = MIN_SIZE, MAX_SIZE
    if not (w0 <= w <= w1 and h0 <= h <= h1):
        raise UserError(f"--size {text}: choose between {w0}x{h0} and {w1}x{h1}")
    return w, h


def _gui_device(text: str | None) -> None:
    """Refuse a device the window could not use (mps, cuda without a GPU, a typo) before
    Qt starts, as every other command does."""
    if (text or "auto").strip().lower() in ("auto", "cpu"):
        return  # always there: not worth importing torch (the first frame waits for it)
    from explorer.core.device import pick_device

    pick_device(text)  # the one sentence every command gives for this device


#: explorer.nets.registry.TIMM_PREFIX, which cannot be imported without torch
TIMM_PREFIX = "timm:"


def _known_without_imports(name: str) -> bool:
    """Whether `name` certainly opens, read from files alone (the shipped networks' model
    cards, the stored torchvision and timm catalogues): the window's first frame must
    not wait for torch or torchvision (issue 17, tests/core/test_startup_imports.py)."""
    from explorer import PRETRAINED
    from explorer.nets import timm_catalogue, tv_catalogue

    if name in {card.stem for card in PRETRAINED.glob("*.json")} or \
            name in tv_catalogue.catalogue():
        return True
    timm = timm_catalogue.catalogue() or {}
    # a weights tag (resnet50.a1_in1k) is timm's to judge: the precise check asks it
    return name.removeprefix(TIMM_PREFIX) in timm


def _gui_network(model: str | None) -> str | None:
    """The network `gui --model` names, stripped, or one sentence on why it opens nothing,
    before the window exists (it used to open, show the error and be saved anyway)."""
    if model is None:
        return None
    name = model.strip()
    if not name:
        raise UserError("no network given (--model is empty)")
    if name == "file":  # the window has no --weights: it opens a network file itself
        raise UserError("--model file needs a network file, which gui does not take; open "
                        "it in the window (File → Open whole model…) or drop it there")
    if _known_without_imports(name):
        return name
    # the precise answer, only for what the stored lists do not hold: it imports torch
    # (the shipped networks) and, for a timm name or no close match, timm
    import difflib

    from explorer.errors import ModelError
    from explorer.nets import registry, shipped, timm_catalogue, tv_catalogue

    if name in shipped.load_all():
        return name
    arch = name.removeprefix(TIMM_PREFIX)
    timm = timm_catalogue.catalogue() or {}
    if name.startswith(TIMM_PREFIX) or arch.split(".")[0] in timm:
        if not arch:
            raise ModelError("timm: needs a network name, e.g. timm:resnet18")
        try:
            from explorer.nets import formats

            formats._timm_cfg(arch)  # timm's own sentence for a name or weights tag
        except ImportError:
            raise ModelError(f"{name} needs timm, which is not installed "
                             "(pip install timm)") from None
        return name
    # a typo: the registry's sentence, with its suggestions from the stored lists (the
    # registry itself imports timm for them, seconds); a name with nothing close may be
    # one of timm's other networks, which only the registry can say
    candidates = list(dict.fromkeys([*shipped.load_all(), *tv_catalogue.catalogue(),
                                     *timm]))
    close = difflib.get_close_matches(name.lower(), candidates, n=5, cutoff=0.5)
    if close:
        raise ModelError(f"unknown network {name!r}. Did you mean {', '.join(close)}?")
    raise ModelError(registry._unknown(name))


def cmd_gui(args) -> int:
    import os

    from explorer.app import checks, desktop

    # everything a person typed is checked before Qt starts
    if args.section is not None and not args.section.strip():
        raise UserError("no section given (--section is empty)")  # not silently Explore
    section = args.section.strip().lower() if args.section is not None else None
    if section is not None:
        match = [k for k in SECTION_KEYS if k.startswith(section)]
        if not match:
            raise UserError(f"no section {args.section!r}; choose from "
                            "Explore, Detection, Segmentation, Lab, Live or Why")
        section = match[0]
    if args.page is not None:
        if args.page not in LAB_PAGES:
            raise UserError(f"no Lab page {args.page!r}; choose from {', '.join(LAB_PAGES)}")
        if section not in (None, "lab"):
            raise UserError("--page names a Lab page; use it with --section Lab")
        section = "lab"
    tour = None
    if args.step is not None and not args.tour:
        raise UserError("--step goes with --tour")
    if args.tour:
        from explorer.tour.steps import step_index

        if args.section is not None or args.page is not None:  # the tour would overrule them
            raise UserError("--tour chooses each step's section and page; "
                            "use --step ID instead of --section/--page")

        tour = step_index(args.step) if args.step is not None else 0
    size = _window_size(args.size)
    _gui_device(args.device)
    if args.screenshot is not None:
        checks.output_file(args.screenshot, (".png",), "screenshot", inputs=[args.image])
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.image is not None:
        load_image_arg(args.image)  # a bad picture is one line now, not a banner later
    model = _gui_network(args.model)  # last: a name the stored lists lack costs seconds
    why = desktop.problem(offscreen=args.screenshot is not None)
    if why:
        raise UserError(f"the window cannot start: {why}")
    from explorer.gui.app import run_gui

    return run_gui(model=model, image=args.image, screenshot=args.screenshot,
                   device=args.device, section=section, page=args.page,
                   presentation=args.presentation, size=size, tour=tour,
                   whole_process=True)


def register(sub) -> None:
    from explorer.app.names import SPEC_HELP

    p = sub.add_parser("gui", help="open the window")
    p.add_argument("--model", "-m", default=None)
    p.add_argument("--image", "-i", default=None, help=SPEC_HELP)
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="render the window offscreen after loading, save it and exit")
    p.add_argument("--device", default="auto")
    p.add_argument("--section", help="open on Explore, Detection, Segmentation, Lab, Live "
                                     "or Why")
    p.add_argument("--page", help=f"a Lab page: {', '.join(LAB_PAGES)}")
    p.add_argument("--presentation", action="store_true",
                   help="presentation mode: high contrast, large text")
    p.add_argument("--size", metavar="WxH", help="window size, e.g. 1366x768")
    p.add_argument("--tour", action="store_true", help="play the lecture tour in "
                   "presentation mode (Space / arrows: steps, Esc: explore, F5: back)")
    p.add_argument("--step", metavar="ID", help="with --tour: start at this step (an id "
                   "of `cnn-explorer tour --list`, or its number)")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("models", help="list every network and its weights")
    p.add_argument("--family", choices=["shipped", "torchvision", "timm", "file"],
                   help="only the networks from there")
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
