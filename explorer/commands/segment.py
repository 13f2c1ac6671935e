"""segment: FCN versus U-Net (and friends) on one picture, or over held-out scenes.

    cnn-explorer segment --image scene:5 --models fcn-shapes,unet-shapes --out cmp.png
    cnn-explorer segment --image photo.jpg --mask mask.png --json
    cnn-explorer segment --eval 200 --json
    cnn-explorer segment --image scene:5 --upsampling up.png

scene:N is held-out shapes scene N with its mask: the same picture as scene N of
`detect` and of `segment --eval`. Every argument is checked before any work starts;
Ctrl-C stops the work and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from explorer.errors import UserError

DEFAULT_MODELS = "fcn-shapes,fcn-dilated-shapes,unet-shapes"
#: the FCNs whose learned upsampling layer --upsampling shows
UPSAMPLING_NETS = ("fcn-shapes", "fcn-dilated-shapes")


@dataclass
class _Plan:
    """The arguments, checked."""

    models: list[str]
    device: object
    out: Path | None = None
    upsampling: Path | None = None
    upsampling_net: str | None = None
    pixel: tuple[int, int] | None = None
    pair: tuple[str, str] | None = None


def _pixel(text: str) -> tuple[int, int]:
    parts = str(text).split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        y, x = (int(v.strip()) for v in parts)
    except ValueError:
        raise UserError(f"--field {text[:40]!r}: give the pixel as ROW,COLUMN in whole "
                        "numbers (e.g. 64,40)") from None
    if y < 0 or x < 0:
        raise UserError(f"--field {y},{x}: rows and columns count from 0")
    return y, x


def _out(path: str | None, out_png, args) -> Path | None:
    # checks.output_file stats the path before it looks at the name's length, and an
    # over-long name makes that stat raise; refuse such a name first
    if path is not None and len(Path(path).name.encode()) > 255:
        raise UserError(f"{Path(path).name[:60]}…: the file name is too long")
    return out_png(path, args)


def _check(args) -> _Plan:
    """Every argument checked, in one place, before a network or picture is opened."""
    from explorer.commands.args import device_from_args, out_png
    from explorer.segment.run import TORCHVISION_SEGMENTERS, parse_models, segmenter_classes

    if args.eval is not None:
        other = [n.strip() for n in str(args.models).split(",")
                 if n.strip() in TORCHVISION_SEGMENTERS]
        if other:
            raise UserError(f"{', '.join(other)} cannot be scored on shapes scenes (its "
                            "classes are Pascal VOC's); --eval scores fcn-shapes, "
                            "fcn-dilated-shapes and unet-shapes")
    models = parse_models(args.models)
    plan = _Plan(models, device_from_args(args))
    if args.eval is not None:
        if args.image or args.out or args.mask or args.upsampling or args.field or \
                args.compare:
            raise UserError("--eval scores held-out scenes; it takes no --image, --mask, "
                            "--out, --upsampling, --field or --compare")
        from explorer.app import checks
        from explorer.segment.compare import MAX_EVAL_SCENES

        checks.count("--eval (the number of held-out scenes)", args.eval, 1,
                      MAX_EVAL_SCENES)
        checks.count("--seed", args.seed, 0, 2**63 - 1)
        from explorer.data.seeds import SEEN_SEEDS, TEST_SEED

        if args.seed in SEEN_SEEDS:  # the same scenes as training's: scored, not held out
            raise UserError(f"--seed {args.seed} draws the {SEEN_SEEDS[args.seed]} scenes "
                            "used while the networks were trained; held-out scenes need "
                            f"another seed (default {TEST_SEED})")
        return plan
    if not args.image:
        raise UserError("segment needs --image P (a file, sample:NAME or scene:N) or "
                        "--eval N")
    from explorer.data.seeds import TEST_SEED

    if args.seed != TEST_SEED:  # scene:N is one fixed held-out scene; no seed moves it
        raise UserError("--seed chooses the scenes --eval scores; a picture from --image "
                        "takes no seed")
    plan.out = _out(args.out, out_png, args)
    plan.upsampling = _out(args.upsampling, out_png, args)
    if plan.out is not None and plan.upsampling is not None and \
            plan.out.resolve() == plan.upsampling.resolve():
        raise UserError(f"--out and --upsampling both name {plan.out}; give two files")
    if plan.upsampling is not None:
        # a U-Net has no single upsampling layer to compare: the first FCN given
        plan.upsampling_net = next((m for m in models if m in UPSAMPLING_NETS), None)
        if plan.upsampling_net is None:
            raise UserError("--upsampling shows an FCN's learned upsampling layer; add "
                            "fcn-shapes or fcn-dilated-shapes to --models")
    if args.field is not None:
        plan.pixel = _pixel(args.field)
    plan.pair = _pair(args.compare, models, segmenter_classes)
    return plan


def cmd_segment(args) -> int:
    from explorer.commands.progress import cli_task

    plan = _check(args)
    if args.eval is not None:
        with cli_task(quiet=args.json) as task:
            return _evaluate(args, plan, task)
    picture = _picture(args, plan)
    with cli_task(quiet=args.json) as task:
        return _one_picture(args, plan, picture, task)


def _picture(args, plan: _Plan):
    """The picture and its mask (``--mask``: indices of the first network's classes)."""
    from explorer.commands.args import load_image_arg
    from explorer.segment.run import load_mask, seg_picture, segmenter_classes

    image = load_image_arg(args.image)
    if args.mask is None:
        return seg_picture(image)
    classes = segmenter_classes(plan.models[0])
    mask = load_mask(args.mask, image.size, classes, plan.models[0])
    return seg_picture(image, mask, classes)


def _evaluate(args, plan: _Plan, task) -> int:
    from explorer.cli import emit
    from explorer.segment.compare import evaluate

    res = evaluate(plan.models, args.eval, seed=args.seed, device=plan.device, task=task)
    lines = [f"{args.eval} held-out shapes scenes (seed {args.seed})",
             f"{'network':22s} {'mIoU':>6s} {'pixel acc':>10s} {'bound. F 1px':>13s} "
             f"{'bound. F 2px':>13s} {'ms/scene':>9s}"]
    for name, r in res.items():
        warn = "  (random weights)" if r["weights"] == "random" else ""
        lines.append(f"{name:22s} {r['mean_iou']:6.3f} {r['pixel_accuracy']:10.3f} "
                     f"{r['boundary_f_score_1px']:13.3f} {r['boundary_f_score']:13.3f} "
                     f"{r['seconds_per_scene'] * 1000:9.1f}{warn}")
    emit(args, {"scenes": args.eval, "seed": args.seed, "device": str(plan.device),
                "networks": res}, "\n".join(lines))
    return 0


def _one_picture(args, plan: _Plan, picture, task) -> int:
    from explorer.cli import emit
    from explorer.commands.args import save_png
    from explorer.core.tasks import sub_task
    from explorer.segment import render
    from explorer.segment.compare import disagreement, score_table
    from explorer.segment.run import random_warning, run_segmenters, shapes_warning

    if plan.pixel is not None:
        y, x = plan.pixel
        h, w = picture.size
        if not (y < h and x < w):
            raise UserError(f"--field {y},{x} lies outside the {w}x{h} picture (rows 0-"
                            f"{h - 1}, columns 0-{w - 1})")
    networks: dict = {}
    stages = 1 + (plan.pixel is not None) + (plan.upsampling is not None)
    preds = run_segmenters(plan.models, picture, plan.device, networks,
                           sub_task(task, 0, 1 / stages))
    scores = score_table(preds, picture) if picture.gt is not None else {}
    dis = None
    if plan.pair is not None:
        a, b = plan.pair
        gt = picture.gt if picture.gt is not None and all(
            n in scores for n in plan.pair) else None
        dis = disagreement(preds[a].classes, preds[b].classes, gt, (a, b))
    fields = {}
    done = 1
    if plan.pixel is not None:
        from explorer.segment.fields import pixel_fields

        fields = {n: f.as_dict() for n, f in pixel_fields(
            preds, picture, *plan.pixel, task=sub_task(task, done / stages,
                                                       (done + 1) / stages)).items()}
        done += 1
    demo = None
    if plan.upsampling is not None:
        from explorer.segment.upsampling import upsampling_demo

        demo = upsampling_demo(networks[plan.upsampling_net], picture,
                               task=sub_task(task, done / stages, 1.0))
    task.check()
    # everything is computed: write the figures (each atomically)
    if plan.out is not None:
        save_png(render.comparison_figure(picture, preds, dis, scores), plan.out)
    if plan.upsampling is not None:
        save_png(render.upsampling_figure(demo), plan.upsampling)

    notes = [n for n in (shapes_warning(preds, picture), random_warning(preds)) if n]
    unscored = [n for n in preds if n not in scores] if picture.gt is not None else []
    if unscored:
        notes.append(f"{', '.join(unscored)} label{'s' if len(unscored) == 1 else ''} other "
                     "classes than the ground truth, so "
                     f"{'it is' if len(unscored) == 1 else 'they are'} not scored")
    for note in notes:
        if not args.json:
            print(f"note: {note}", file=sys.stderr)
    data = {"image": picture.name, "source": picture.source, "size": list(picture.size),
            "ground_truth": picture.gt is not None, "device": str(plan.device),
            "out": str(plan.out) if plan.out else None,
            "upsampling": str(plan.upsampling) if plan.upsampling else None,
            "notes": notes, "networks": {}}
    lines = [f"{picture.name} ({picture.size[1]}x{picture.size[0]})"
             + ("  with ground truth" if picture.gt is not None else "")]
    for name, p in preds.items():
        entry = {"weights": p.weights_source, "seconds": p.seconds,
                 "input_size": list(p.net_size), "class_histogram": p.histogram()}
        hist = ", ".join(f"{c} {n / p.classes.size:.0%}"
                         for c, n in sorted(p.histogram().items(), key=lambda t: -t[1]))
        line = f"{name:20s} {p.seconds * 1000:7.1f} ms  {hist}"
        if p.weights_source == "random":
            line += "  (random weights)"
        if name in scores:
            entry["scores"] = scores[name].as_dict()
            s = scores[name]
            line += (f"\n{'':20s} mIoU {s.mean_iou:.3f}  pixel acc {s.pixel_accuracy:.3f}  "
                     f"boundary F {s.boundary_f:.3f}")
        if name in fields:
            entry["field"] = fields[name]
            f = fields[name]
            line += (f"\n{'':20s} pixel {args.field}: theoretical field "
                     f"{f['theoretical_size']}, 95% of the gradient in {f['effective_box']}")
        data["networks"][name] = entry
        lines.append(line)
    if dis is not None:
        data["disagreement"] = dis.as_dict()
        lines.append(f"{dis.a} and {dis.b} differ on {dis.fraction:.1%} of the pixels")
    if plan.out is not None:
        lines.append(f"-> {plan.out}")
    if demo is not None:
        data["upsampling_demo"] = demo.as_dict()
        lines.append(f"upsampling demo -> {plan.upsampling}")
    emit(args, data, "\n".join(lines))
    return 0


def _pair(spec: str | None, models: list[str], classes_of) -> tuple[str, str] | None:
    """The two networks of the disagreement map: the ones asked for, else the plain FCN
    and the U-Net (the lecture's contrast), else the first two that share their classes."""
    def same_classes(a: str, b: str) -> bool:
        return classes_of(a) == classes_of(b)

    if spec is not None:
        from explorer.app import checks

        pair = list(dict.fromkeys(checks.comma_items("--compare", spec,
                                                     "fcn-shapes,unet-shapes")))
        if len(pair) != 2 or any(n not in models for n in pair):
            raise UserError(f"--compare takes two different networks of --models "
                            f"({', '.join(models)}), e.g. --compare {','.join(models[:2])}"
                            if len(models) >= 2 else
                            "--compare needs two networks in --models, e.g. --models "
                            "fcn-shapes,unet-shapes --compare fcn-shapes,unet-shapes")
        if not same_classes(*pair):
            raise UserError(f"{pair[0]} and {pair[1]} label different classes, so their "
                            "answers cannot be compared pixel by pixel")
        return pair[0], pair[1]
    if "fcn-shapes" in models and "unet-shapes" in models:
        return "fcn-shapes", "unet-shapes"
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            if same_classes(a, b):
                return a, b
    return None


def register(sub) -> None:
    from explorer.data.seeds import TEST_SEED

    p = sub.add_parser("segment", help="segment a picture with several networks and "
                                       "compare them, or score them on held-out scenes",
                       description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--image", "-i", help="image file, sample:NAME, or scene:N (held-out "
                                         "shapes scene N, with its ground-truth mask)")
    p.add_argument("--mask", "--gt", dest="mask", metavar="MASK.png",
                   help="ground-truth mask: pixel values are class indices of the first "
                        "network's classes, same size as the image")
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help=f"comma-separated segmenters (default {DEFAULT_MODELS}); also "
                        "fcn_resnet50, deeplabv3_resnet50 when cached")
    p.add_argument("--out", "-o", metavar="OUT.png",
                   help="input | predictions | ground truth | disagreement, side by side")
    p.add_argument("--compare", metavar="A,B",
                   help="the two networks of the disagreement map (default: fcn-shapes "
                        "and unet-shapes, else the first two)")
    p.add_argument("--field", metavar="ROW,COL",
                   help="also report each network's receptive field for this pixel")
    p.add_argument("--upsampling", metavar="OUT.png",
                   help="transposed convolution vs upsampling on the first FCN's coarse "
                        "score map (fcn-shapes or fcn-dilated-shapes)")
    p.add_argument("--eval", type=int, metavar="N",
                   help="score the networks on held-out shapes scenes 0..N-1 (N up to "
                        "10,000)")
    p.add_argument("--seed", type=int, default=TEST_SEED,
                   help=f"seed of the held-out scenes (default {TEST_SEED}, never trained on)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_segment)
