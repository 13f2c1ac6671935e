"""cam, neighbours, augment, finetune and compare: the headless twins of the Why & training
section. Pictures, networks and every setting are read through the application layer
(``explorer.app``, ``explorer.insight.settings``) before any work starts; long jobs run
under :func:`~explorer.commands.progress.cli_task` (a progress bar, Ctrl-C cancels) and
their files are written atomically at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.commands.args import (
    add_image_arg,
    add_network_args,
    inputs_of,
    load_image_arg,
    net_spec,
    network_from_args,
    out_png,
    save_png,
)
from explorer.errors import UserError

if TYPE_CHECKING:  # numpy stays off the --help path
    import numpy as np


def _tile_strip(tiles: list[np.ndarray], captions: list[str], size: int = 128,
                cols: int | None = None) -> np.ndarray:
    """Pictures (float [h, w, 3] in [0, 1] or uint8) in a grid, a caption under each:
    uint8 [H, W, 3]."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageDraw

    cols = cols or len(tiles)
    rows = -(-len(tiles) // cols)
    cap = 14
    sheet = PILImage.new("RGB", (cols * (size + 4), rows * (size + cap + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (tile, text) in enumerate(zip(tiles, captions)):
        arr = tile if tile.dtype == np.uint8 else np.round(
            np.clip(tile, 0, 1) * 255).astype(np.uint8)
        im = PILImage.fromarray(arr).resize((size, size), PILImage.Resampling.NEAREST)
        x, y = (k % cols) * (size + 4) + 2, (k // cols) * (size + cap + 4) + 2
        sheet.paste(im, (x, y))
        draw.text((x, y + size + 1), text[: size // 6], fill="black")
    return np.asarray(sheet)


def _caveat_lines(net, image) -> tuple[list[str], str]:
    """(the caveats, the same as lines to print after the answer)."""
    from explorer.insight.caveats import caveats

    found = caveats(net, image)
    return found, "".join(f"\nnote: {c}" for c in found)


# --- handlers ------------------------------------------------------------------------

def cmd_cam(args) -> int:
    from explorer.cli import emit
    from explorer.commands.progress import cli_task
    from explorer.core import colormaps
    from explorer.insight.cam import class_activation_map

    out_png(args.out, args)
    image = load_image_arg(args.image)
    with cli_task(quiet=args.json) as task:
        net = network_from_args(args, task)
        task.progress(-1, f"{args.method}…")
        r = class_activation_map(net, image, method=args.method, class_index=args.cls,
                                 layer=args.layer)
        task.check()
    if args.out:
        save_png(colormaps.enlarge(r.overlay), args.out)
    found, notes = _caveat_lines(net, image)
    data = {"model": net.name, "image": image.name, "weights": net.weights_source,
            **r.as_dict(), "out": args.out, "caveats": found}
    top = ", ".join(f"{lab} {p:.1%}" for _, lab, p in r.top)
    emit(args, data,
         f"{r.method} of {net.name} on {image.name} at {r.layer} "
         f"({'x'.join(map(str, r.layer_shape))})\n"
         f"class {r.class_index} {r.class_name!r} ({r.probability:.1%}); top-5: {top}\n"
         f"hottest input pixel (y, x) = {r.peak}"
         + (f"\n-> {args.out}" if args.out else "") + notes)
    return 0


def cmd_neighbours(args) -> int:
    from explorer.cli import emit
    from explorer.commands.progress import cli_task
    from explorer.insight import settings
    from explorer.insight.gallery import get_gallery
    from explorer.insight.inputs import seen_picture
    from explorer.insight.neighbours import nearest_neighbours

    k = settings.k(args.k)
    out_png(args.out, args)
    gallery = get_gallery(args.gallery)
    image = load_image_arg(args.image)
    with cli_task(quiet=args.json) as task:
        net = network_from_args(args, task)
        r = nearest_neighbours(net, image, gallery, k=k, use_disk=not args.no_cache,
                               task=task)
    if args.out:
        save_png(_tile_strip([seen_picture(net, image)] + [n.picture for n in r.neighbours],
                             ["query"] + [f"{n.label} {n.distance:.3g}"
                                          for n in r.neighbours]), args.out)
    found, notes = _caveat_lines(net, image)
    rows = [f"{i + 1}. {n.distance:10.4f}  {n.label:14s} {n.name}"
            for i, n in enumerate(r.neighbours)]
    emit(args, {"model": net.name, "image": image.name, "weights": net.weights_source,
                **r.as_dict(), "out": args.out, "caveats": found},
         f"{net.name} on {image.name}: predicted {r.prediction!r}; nearest in {r.layer}'s "
         f"input ({r.query.numel()} values) among {r.gallery_size} {r.gallery} pictures:\n"
         + "\n".join(rows) + notes)
    return 0


def cmd_augment(args) -> int:
    from explorer.cli import emit
    from explorer.commands.progress import cli_task
    from explorer.insight.augment import VARIANT_NAMES, augment_preview
    from explorer.insight.settings import variant_names

    names = variant_names(args.variants, VARIANT_NAMES)
    out_png(args.out, args)
    image = load_image_arg(args.image)
    with cli_task(quiet=args.json) as task:
        net = network_from_args(args, task)
        r = augment_preview(net, image, layer=args.layer, variants=names, task=task)
    if args.out:
        save_png(_tile_strip([v.picture for v in r.variants],
                             [f"{v.label} d={v.distance:.2f}" for v in r.variants],
                             cols=6), args.out)
    found, notes = _caveat_lines(net, image)
    rows = [f"{v.name:18s} {v.label:16s} {v.probability:6.1%}  distance {v.distance:.3f}"
            for v in r.variants]
    emit(args, {"model": net.name, "image": image.name, **r.as_dict(), "out": args.out,
                "caveats": found},
         f"{net.name} on {image.name}; distance = how far {r.layer} "
         f"({'x'.join(map(str, r.layer_shape))}) moves, relative:\n" + "\n".join(rows)
         + notes)
    return 0


def cmd_finetune(args) -> int:
    import torch

    from explorer.app import checks
    from explorer.cli import emit
    from explorer.commands.progress import cli_task
    from explorer.core.tasks import sub_task
    from explorer.insight import settings
    from explorer.insight.finetune import finetune, load_task

    modes = ["head", "full"] if args.mode == "both" else [settings.finetune_mode(args.mode)]
    epochs = settings.epochs(args.epochs)
    batch = settings.batch_size(args.batch_size)
    lr = settings.lr(args.lr)
    seed = settings.seed(args.seed)
    from explorer.insight.names import TASKS

    if args.data not in TASKS:  # a folder: every picture in it is used, split 80/20
        given = [o for o, v in (("--n-train", args.n_train), ("--n-test", args.n_test))
                 if v is not None]
        if given:
            raise UserError(f"{' and '.join(given)}: only a built-in task ({', '.join(TASKS)}) "
                            "is sampled per class; a folder's pictures are all used")
    n_train = settings.per_class("--n-train", 60 if args.n_train is None else args.n_train)
    n_test = settings.per_class("--n-test", 40 if args.n_test is None else args.n_test)
    save = None
    if args.save:
        if len(modes) != 1:
            raise UserError("--save needs one --mode (head or full), not both")
        save = checks.output_file(args.save, (".pt", ".pth"), "fine-tuned weights",
                                  inputs=inputs_of(args))
    probe = load_image_arg(args.image) if args.image else None
    results = []
    with cli_task(quiet=args.json) as task:
        net = network_from_args(args, task)
        data = load_task(args.data, n_train=n_train, n_test=n_test, task=task)
        for i, mode in enumerate(modes):
            results.append(finetune(net, data, mode=mode, epochs=epochs, batch_size=batch,
                                    lr=lr, seed=seed, probe=probe,
                                    task=sub_task(task, i / len(modes),
                                                  (i + 1) / len(modes))))
    if save is not None:
        state = results[0].network.module.state_dict()
        checks.write_atomic(save, lambda tmp: torch.save(state, tmp))
    lines = [f"{net.name} -> {data.name} ({', '.join(data.class_names)}): "
             f"{len(data.y_train)} training, {len(data.y_test)} held-out pictures"]
    for r in results:
        change = (f"; {r.first_conv} weights moved {r.first_conv_change:.2%}"
                  if r.first_conv_change is not None else "")
        lines.append(f"{r.mode:4s}: loss {r.losses[0]:.3f} -> {r.losses[-1]:.3f} in "
                     f"{len(r.losses)} steps ({r.seconds:.1f} s); held-out accuracy "
                     f"{r.accuracy_before:.1%} -> {r.accuracy_after:.1%}{change}")
        if r.layer_changes:
            lines.append("      weight change per layer: " + ", ".join(
                f"{c.name} {c.weight_change:.1%}" for c in r.layer_changes))
    if save is not None:
        lines.append(f"-> {save}")
    found, notes = _caveat_lines(net, None)
    emit(args, {"model": net.name, "weights": net.weights_source, "task": data.name,
                "classes": data.class_names, "train_size": len(data.y_train),
                "test_size": len(data.y_test), "saved": str(save) if save else None,
                "runs": [r.as_dict() for r in results], "caveats": found},
         "\n".join(lines) + notes)
    return 0


def cmd_compare(args) -> int:
    from dataclasses import replace

    from explorer.app.networks import open_network
    from explorer.cli import emit
    from explorer.commands.progress import cli_task
    from explorer.insight.compare import compare_networks

    image = load_image_arg(args.image)
    if args.model_b == "file" and not args.weights_b:  # the shared message names --weights
        raise UserError("--model-b file needs a network file: --weights-b FILE.onnx, "
                        "FILE.pt2, a TorchScript file or (trusted) a pickled module")
    spec_b = replace(net_spec(args), name=args.model_b or args.model, weights=args.weights_b)
    with cli_task(quiet=args.json) as task:
        a = network_from_args(args, task)
        b = open_network(spec_b, args.device, task)
        c = compare_networks(a, b, image, leaves_only=not args.all, task=task)

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:6.3f}"

    rows = [f"{p.name_a:28s} {p.name_b:28s} {'x'.join(map(str, p.shape_a)):14s} "
            f"{'x'.join(map(str, p.shape_b)):14s} {num(p.cosine):>7s} {num(p.cka):>7s}"
            for p in c.pairs]
    emit(args, {"image": image.name, **c.as_dict()},
         f"{c.name_a} vs {c.name_b} on {image.name} (layers matched by {c.matched_by})\n"
         f"{'layer A':28s} {'layer B':28s} {'shape A':14s} {'shape B':14s} {'cosine':>7s} "
         f"{'CKA':>7s}\n" + "\n".join(rows) + "".join(f"\nnote: {x}" for x in c.caveats))
    return 0


def register(sub) -> None:
    from explorer.insight.names import METHOD_NAMES, TASKS, VARIANT_NAMES

    p = sub.add_parser("cam", help="class activation map (Grad-CAM and friends) as PNG")
    add_network_args(p)
    add_image_arg(p)
    p.add_argument("--method", default="gradcam", choices=METHOD_NAMES)
    p.add_argument("--class", dest="cls", default=None,
                   help="class index or label to explain (default: the top-1 class)")
    p.add_argument("--layer", "-l", default=None,
                   help="layer name (default: the last one with spatial maps)")
    p.add_argument("--out", "-o", help="write the heat map over the picture here (PNG)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cam)

    p = sub.add_parser("neighbours", aliases=["neighbors"],
                       help="gallery pictures nearest in the last hidden layer")
    add_network_args(p)
    add_image_arg(p)
    p.add_argument("--gallery", "-g", default="shapes",
                   help="shapes, digits, or a folder of images (subfolders = classes)")
    p.add_argument("-k", type=int, default=6, help="how many neighbours (default 6)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor write the gallery features on disk")
    p.add_argument("--out", "-o", help="write the query and its neighbours here (PNG)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_neighbours)

    p = sub.add_parser("augment", help="augmented variants: predictions, feature drift")
    add_network_args(p)
    add_image_arg(p)
    p.add_argument("--layer", "-l", default=None,
                   help="layer whose maps are compared (default: the last spatial one)")
    # argparse %-formats help texts: "70%" must be written "70%%"
    p.add_argument("--variants", help="comma-separated subset of: "
                   + ", ".join(VARIANT_NAMES).replace("%", "%%"))
    p.add_argument("--out", "-o", help="write the grid of variants here (PNG)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_augment)

    p = sub.add_parser("finetune", help="transfer learning: new head or whole network")
    add_network_args(p)
    p.add_argument("--data", "-d", default="shapes-round-pointed",
                   help=f"{', '.join(TASKS)}, or a folder with one subfolder per class")
    p.add_argument("--mode", choices=["head", "full", "both"], default="head")
    p.add_argument("--epochs", "-e", type=int, default=3)
    p.add_argument("--n-train", type=int, help="training pictures per class of a built-in "
                                               "task (default 60)")
    p.add_argument("--n-test", type=int, help="held-out pictures per class of a built-in "
                                              "task (default 40)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    add_image_arg(p, required=False)
    p.add_argument("--save", metavar="OUT.pt", help="save the fine-tuned state dict "
                   "(checked before training; written when it is done)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("compare", help="two networks side by side, layer by layer")
    add_network_args(p)
    add_image_arg(p)
    p.add_argument("--model-b", help="the second network (default: --model again)")
    p.add_argument("--weights-b", help="weights for the second network")
    p.add_argument("--all", action="store_true", help="blocks too, not only leaf layers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)
