"""`cnn-explorer detect`: sliding windows, region proposals (R-CNN / Fast R-CNN) and MTCNN,
headless; ``--eval N`` scores the shapes detectors on held-out scenes."""

from __future__ import annotations

import argparse

from explorer.errors import UserError


def register(subparsers) -> None:
    from explorer.commands.foundation import add_image_arg, add_network_args

    p = subparsers.add_parser(
        "detect", help="find objects: sliding window, region proposals or MTCNN",
        description="Find objects the lecture's ways. Examples: detect --image sample:shapes "
        "--method sliding --impl shared --out boxes.png;  detect --image sample:astronaut "
        "--method mtcnn;  detect --eval 50")
    add_network_args(p)
    add_image_arg(p, required=False)
    p.add_argument("--method", choices=("sliding", "proposals", "mtcnn"), default=None,
                   help="sliding window, selective-search proposals + a head, or MTCNN "
                   "(default sliding; with --eval: every shapes method)")
    p.add_argument("--impl", choices=("naive", "shared"), default="auto",
                   help="sliding window: crop every window (naive) or run the classifier "
                   "as convolutions once (shared, OverFeat); default shared where the "
                   "network has that form (tinyvgg-shapes, mtcnn-pnet, alexnet, vgg*), else naive")
    p.add_argument("--head", choices=("rcnn", "fast-rcnn"), default=None,
                   help="proposals: warp each region and classify it (rcnn) or pool it from "
                   "one feature map (fast-rcnn, default)")
    p.add_argument("--window", type=int, help="window side in pyramid pixels "
                   "(default: the classifier's input)")
    p.add_argument("--stride", type=int, help="pixels between windows")
    p.add_argument("--scales", help="pyramid scales, e.g. 2,1.5,1 (default for "
                   "tinyvgg-shapes 2,1.6,1.25,1,0.8; else 1)")
    p.add_argument("--threshold", type=float, help="least class probability for a box "
                   "(default 0.5; MTCNN: O-Net's threshold)")
    p.add_argument("--iou", type=float, default=0.3, help="NMS overlap (default 0.3)")
    p.add_argument("--mode", choices=("fast", "quality"), default="fast",
                   help="selective search mode (default fast)")
    p.add_argument("--max-proposals", type=int, default=2000)
    p.add_argument("--out", metavar="OUT.png", help="write the picture with the boxes drawn")
    p.add_argument("--show-proposals", action="store_true",
                   help="with --out: draw the proposals too (thin grey)")
    p.add_argument("--eval", type=int, metavar="N", help="score on N held-out shapes scenes "
                   "(precision, recall, AP@0.5 per class, mAP)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_detect)


def _config(args: argparse.Namespace, method: str):
    from explorer.detect.pipeline import DetectConfig
    from explorer.detect.sliding import parse_scales

    scales = tuple(parse_scales(args.scales)) if args.scales else None
    if args.window is not None and args.window < 4:
        raise UserError(f"--window must be at least 4 pixels, got {args.window}")
    if args.stride is not None and args.stride < 1:
        raise UserError(f"--stride must be at least 1 pixel, got {args.stride}")
    cfg = DetectConfig(method=method, model=args.model, impl=args.impl,
                       head=args.head or "fast-rcnn", window=args.window, stride=args.stride,
                       scales=scales, threshold=args.threshold, iou=args.iou, mode=args.mode,
                       max_proposals=args.max_proposals,
                       device=_device(args.device), weights=args.weights)
    cfg.check()
    return cfg


def _device(name: str) -> str:
    from explorer.core.device import pick_device

    return str(pick_device(name))


def cmd_detect(args: argparse.Namespace) -> int:
    if args.eval is not None:
        return _cmd_eval(args)
    if not args.image:
        raise UserError("detect needs --image (a file or sample:NAME), or --eval N")
    from explorer.cli import emit
    from explorer.commands.foundation import load_image_arg, save_png
    from explorer.detect.pipeline import Detector

    method = args.method or "sliding"
    cfg = _config(args, method)
    image = load_image_arg(args.image)
    network = None
    if method != "mtcnn" and not (method == "proposals" and cfg.head == "fast-rcnn"):
        from explorer.commands.foundation import network_from_args

        network = network_from_args(args)
    det = Detector(cfg, network)(image.array)
    data = {"image": image.name, "size": list(image.array.shape[1::-1]),
            "model": _model_name(cfg, network), **det.as_dict()}
    if args.out:
        from explorer.detect.draw import draw_detections

        save_png(draw_detections(image.array, det, proposals=args.show_proposals,
                                 ground_truth=_sample_truth(image)), args.out)
        data["out"] = args.out
    lines = [f"{det.method} on {image.name} ({data['model']}): {len(det)} box(es)"
             + (f" from {len(det.proposals)} proposals" if det.proposals is not None
                and method == "proposals" else "")
             + (f" from {det.extra['windows']} windows" if "windows" in det.extra else "")]
    if network is not None and network.random_weights:
        lines.append("  (random weights: these boxes mean nothing)")
        data["weights"] = "random"
    for b, s, name in zip(det.boxes.tolist(), det.scores.tolist(), det.names):
        lines.append(f"  {name:12s} {s:6.3f}  [{b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f}]")
    lines.append("  time: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in det.timings.items()))
    if args.out:
        lines.append(f"  -> {args.out}")
    emit(args, data, "\n".join(lines))
    return 0


def _sample_truth(image):
    """Ground truth of the "shapes" sample (drawn white), None for other pictures."""
    if image.name != "shapes" or image.path is not None:
        return None
    from explorer.data.shapes import CLASSES, make_scene

    scene = make_scene(7, size=(128, 128))  # what explorer.data.samples draws
    return scene.boxes, [CLASSES[i] for i in scene.labels]


def _model_name(cfg, network) -> str:
    if cfg.method == "mtcnn":
        return "mtcnn"
    if cfg.method == "proposals" and cfg.head == "fast-rcnn":
        return "fast-rcnn-shapes"
    return network.name if network is not None else cfg.model


def _cmd_eval(args: argparse.Namespace) -> int:
    import sys

    from explorer.cli import emit
    from explorer.detect.pipeline import evaluate, methods_for_eval

    if args.image:
        raise UserError("--eval runs on held-out shapes scenes; leave out --image")
    if args.eval < 1:
        raise UserError(f"--eval needs at least 1 scene, got {args.eval}")
    base = _config(args, args.method or "sliding")
    results = []
    for cfg in methods_for_eval(args.method, args.head, base):
        def progress(frac: float, msg: str) -> None:
            if not args.json:
                print(f"\r{msg}", end="", flush=True, file=sys.stderr)

        ev = evaluate(cfg, args.eval, progress=progress)
        if not args.json:
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)
        results.append(ev)
    best = max(results, key=lambda e: e.mAP)
    emit(args, {"scenes": args.eval, "results": [e.as_dict() for e in results],
                "best": {"method": best.method, "mAP@0.5": round(best.mAP, 4)}},
         "\n".join(e.text() for e in results))
    return 0
