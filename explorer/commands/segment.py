"""segment: FCN versus U-Net (and friends) on one picture, or over held-out scenes.

    cnn-explorer segment --image scene:5 --models fcn-shapes,unet-shapes --out cmp.png
    cnn-explorer segment --image photo.jpg --gt mask.png --json
    cnn-explorer segment --eval 200 --json
    cnn-explorer segment --image scene:5 --upsampling up.png
"""

from __future__ import annotations

import argparse

from explorer.errors import UserError

DEFAULT_MODELS = "fcn-shapes,fcn-dilated-shapes,unet-shapes"


def _pixel(text: str) -> tuple[int, int]:
    try:
        y, x = (int(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--field {text!r}: give the pixel as ROW,COLUMN (e.g. 64,40)"
                        ) from None
    return y, x


def cmd_segment(args) -> int:
    from explorer.segment.run import parse_models

    models = parse_models(args.models)
    if args.eval is not None:
        if args.image or args.out or args.gt or args.upsampling:
            raise UserError("--eval scores held-out scenes; it takes no --image, --gt, "
                            "--out or --upsampling")
        return _evaluate(args, models)
    if not args.image:
        raise UserError("segment needs --image P (a file, sample:NAME or scene:SEED) "
                        "or --eval N")
    return _one_picture(args, models)


def _evaluate(args, models: list[str]) -> int:
    import sys

    from explorer.cli import emit
    from explorer.segment.compare import evaluate

    def progress(frac: float, msg: str) -> None:
        if not args.json:
            print(f"\r{msg:40s} ({frac:.0%})", end="", flush=True, file=sys.stderr)

    res = evaluate(models, args.eval, seed=args.seed, device=args.device, progress=progress)
    if not args.json:
        print(file=sys.stderr)
    lines = [f"{args.eval} held-out shapes scenes (seed {args.seed})",
             f"{'network':22s} {'mIoU':>6s} {'pixel acc':>10s} {'boundary F':>11s} "
             f"{'ms/scene':>9s}"]
    for name, r in res.items():
        warn = "  (random weights)" if r["weights"] == "random" else ""
        lines.append(f"{name:22s} {r['mean_iou']:6.3f} {r['pixel_accuracy']:10.3f} "
                     f"{r['boundary_f_score']:11.3f} {r['seconds_per_scene'] * 1000:9.1f}"
                     f"{warn}")
    emit(args, {"scenes": args.eval, "seed": args.seed, "networks": res}, "\n".join(lines))
    return 0


def _one_picture(args, models: list[str]) -> int:
    from explorer.cli import emit
    from explorer.commands.foundation import save_png
    from explorer.segment import render
    from explorer.segment.compare import disagreement, score_table
    from explorer.segment.run import load_segmenter, picture_from_spec, run_segmenters

    picture = picture_from_spec(args.image, args.gt)
    if args.upsampling:
        from explorer.segment.upsampling import upsampling_demo

        # the first FCN given (a U-Net has no single upsampling layer to compare)
        name = next((m for m in models if m in ("fcn-shapes", "fcn-dilated-shapes")),
                    models[0])
        demo = upsampling_demo(load_segmenter(name, args.device), picture)
        save_png(render.upsampling_figure(demo), args.upsampling)
    preds = run_segmenters(models, picture, args.device)
    scores = score_table(preds, picture) if picture.gt is not None else {}
    pair = _pair(args.compare, models, preds)
    dis = None
    if pair is not None:
        a, b = pair
        gt = picture.gt if picture.gt is not None and all(
            n in scores for n in pair) else None
        dis = disagreement(preds[a].classes, preds[b].classes, gt, (a, b))
    if args.out:
        save_png(render.comparison_figure(picture, preds, dis, scores), args.out)
    fields = {}
    if args.field:
        from explorer.segment.fields import pixel_fields

        y, x = _pixel(args.field)
        h, w = picture.size
        if not (0 <= y < h and 0 <= x < w):
            raise UserError(f"--field {y},{x} lies outside the {w}x{h} picture")
        fields = {n: f.as_dict() for n, f in pixel_fields(preds, picture, y, x).items()}

    data = {"image": picture.name, "size": list(picture.size),
            "ground_truth": picture.gt is not None, "out": args.out,
            "upsampling": args.upsampling, "networks": {}}
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
    if args.out:
        lines.append(f"-> {args.out}")
    if args.upsampling:
        data["upsampling_demo"] = demo.as_dict()
        lines.append(f"upsampling demo -> {args.upsampling}")
    emit(args, data, "\n".join(lines))
    return 0


def _pair(spec: str | None, models: list[str], preds: dict) -> tuple[str, str] | None:
    """The two networks of the disagreement map: the ones asked for, else the plain FCN
    and the U-Net (the lecture's contrast), else the first two that share their classes."""
    def same_classes(a: str, b: str) -> bool:
        return preds[a].class_names == preds[b].class_names

    if spec:
        pair = [n.strip() for n in spec.split(",") if n.strip()]
        if len(pair) != 2 or any(n not in models for n in pair):
            raise UserError(f"--compare takes two of the networks given to --models "
                            f"({', '.join(models)}), e.g. --compare {','.join(models[:2])}")
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
    from explorer.data.shapes import TEST_SEED

    p = sub.add_parser("segment", help="segment a picture with several networks and "
                                       "compare them, or score them on held-out scenes",
                       description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--image", "-i", help="image file, sample:NAME, or scene:SEED (a shapes "
                                         "scene with its ground truth)")
    p.add_argument("--gt", metavar="MASK.png",
                   help="ground-truth mask: pixel values are class indices, same size as "
                        "the image")
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
                   help="score the networks on N held-out shapes scenes")
    p.add_argument("--seed", type=int, default=TEST_SEED,
                   help=f"seed of the held-out scenes (default {TEST_SEED}, never trained on)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_segment)
