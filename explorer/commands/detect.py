"""`cnn-explorer detect`: sliding windows, region proposals (R-CNN / Fast R-CNN) and MTCNN,
headless; ``--eval N`` scores the shapes detectors on held-out scenes."""

from __future__ import annotations

import argparse

from explorer.errors import UserError


def register(subparsers) -> None:
    from explorer.commands.args import add_image_arg, add_network_args

    p = subparsers.add_parser(
        "detect", help="find objects: sliding window, region proposals or MTCNN",
        description="Find objects the lecture's ways. Examples: detect --image sample:shapes "
        "--method sliding --impl shared --out boxes.png;  detect --image scene:5 --method "
        "proposals --head rcnn;  detect --image sample:astronaut --method mtcnn;  "
        "detect --eval 50")
    add_network_args(p)
    # None = "not given": each method has its own network; --model names the classifier
    # slid (sliding) or applied to each warped proposal (--head rcnn), tinyvgg-shapes by
    # default. Fast R-CNN always uses fast-rcnn-shapes and MTCNN its own cascade.
    p.set_defaults(model=None)
    add_image_arg(p, required=False)
    p.add_argument("--method", choices=("sliding", "proposals", "mtcnn", "faster-rcnn"),
                   default=None,
                   help="sliding window, selective-search proposals + a head, MTCNN, or "
                   "torchvision's Faster R-CNN on photos (COCO weights from the torch hub "
                   "cache; --model names one, default the smallest cached) (default "
                   "sliding; with --eval: every shapes method)")
    p.add_argument("--impl", choices=("auto", "naive", "shared"), default="auto",
                   help="sliding window: crop every window (naive) or run the classifier "
                   "as convolutions once (shared, OverFeat); default shared where the "
                   "network has that form (tinyvgg-shapes, mtcnn-pnet, alexnet, vgg*), else naive")
    p.add_argument("--head", choices=("rcnn", "fast-rcnn"), default=None,
                   help="proposals: warp each region and classify it (rcnn) or pool it from "
                   "one feature map (fast-rcnn, default)")
    p.add_argument("--window", type=int, help="window side in pyramid pixels, 4 to 4096 "
                   "(default: the classifier's input)")
    p.add_argument("--stride", type=int, help="pixels between windows, 1 to 4096")
    p.add_argument("--scales", help="pyramid scales between 0.05 and 8, e.g. 2,1.5,1 "
                   "(default for tinyvgg-shapes 2,1.6,1.25,1,0.8; else 1)")
    p.add_argument("--threshold", type=float, help="least class probability for a box, 0 "
                   "to 1 (default: sliding window 0.9, 0.6 for ImageNet classifiers; "
                   "proposals 0.5; MTCNN: O-Net's, 0.7)")
    p.add_argument("--iou", type=float, default=None, help="NMS overlap in (0, 1] "
                   "(default 0.3)")
    p.add_argument("--containment", type=float, default=None, metavar="F",
                   help="sliding window: drop a box lying at least this share inside a "
                   "better box of any class, 0 to 1 (default 0.5; 0 turns it off)")
    p.add_argument("--mode", choices=("fast", "quality"), default=None,
                   help="selective search mode (default fast)")
    p.add_argument("--max-proposals", type=int, default=None,
                   help="at most this many proposals, 1 to 20000 (default 2000)")
    p.add_argument("--out", metavar="OUT.png", help="write the picture with the boxes drawn")
    p.add_argument("--show-proposals", action="store_true",
                   help="with --out: draw the proposals too (thin, sky blue)")
    p.add_argument("--eval", type=int, metavar="N", help="score on held-out shapes scenes "
                   "0 .. N-1 (N up to 10000): precision, recall, AP@0.5 per class, mAP")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_detect)


def _config(args: argparse.Namespace, method: str):
    """The settings, validated once (:meth:`DetectConfig.check`)."""
    from explorer.commands.args import device_from_args
    from explorer.detect.pipeline import DEFAULT_CLASSIFIER, DetectConfig

    default = None if method == "faster-rcnn" else DEFAULT_CLASSIFIER
    cfg = DetectConfig(method=method, model=args.model or default, impl=args.impl,
                       head=args.head or "fast-rcnn", window=args.window, stride=args.stride,
                       scales=args.scales, threshold=args.threshold,
                       iou=0.3 if args.iou is None else args.iou,
                       containment=args.containment, mode=args.mode or "fast",
                       max_proposals=2000 if args.max_proposals is None
                       else args.max_proposals,
                       device=str(device_from_args(args)), weights=args.weights)
    cfg.check()
    _check_network_choice(args, cfg)
    return cfg


def _check_network_choice(args: argparse.Namespace, cfg) -> None:
    """--model / --weights only where the method uses them."""
    from explorer.detect.pipeline import FAST_RCNN

    if cfg.method == "mtcnn" and (args.model or args.weights):
        raise UserError("MTCNN runs its own cascade (mtcnn-pnet, mtcnn-rnet, mtcnn-onet); "
                        "leave out --model and --weights")
    if (cfg.method == "proposals" and cfg.head == "fast-rcnn" and args.model
            and args.model != FAST_RCNN):
        raise UserError(f"the Fast R-CNN head is {FAST_RCNN}; to classify proposals with "
                        f"{args.model}, use --head rcnn")
    if cfg.method == "faster-rcnn" and (args.trust_pickle or args.download):
        raise UserError("Faster R-CNN reads a plain state dict from the hub cache or "
                        "--weights; leave out --trust-pickle and --download")
    if args.model == FAST_RCNN and cfg.uses_classifier:
        raise UserError(f"{FAST_RCNN} is the Fast R-CNN head, not a window classifier; "
                        "use --method proposals --head fast-rcnn")
    # options the chosen method never reads: a person who gives one expects an effect
    if args.head is not None and cfg.method != "proposals":
        raise UserError(f"--head chooses how region proposals are classified; the "
                        f"{cfg.method} method has none (add --method proposals)")
    if args.impl != "auto" and cfg.method != "sliding":
        raise UserError(f"--impl chooses how the sliding window runs; the {cfg.method} "
                        "method has no window to slide")
    # the method named (without --method: sliding, or every shapes method for --eval)
    named = args.method or ("sliding" if args.eval is None else None)
    if named not in (None, "sliding"):
        given = [o for o, v in (("--window", args.window), ("--stride", args.stride),
                                ("--scales", args.scales), ("--containment", args.containment))
                 if v is not None]
        if given:
            raise UserError(f"{', '.join(given)} shape{'s' if len(given) == 1 else ''} the "
                            f"sliding window; the {named} method slides none (leave "
                            f"{'it' if len(given) == 1 else 'them'} out or use --method "
                            "sliding)")
    if named not in (None, "proposals"):
        given = [o for o, v in (("--mode", args.mode), ("--max-proposals", args.max_proposals))
                 if v is not None]
        if given:
            raise UserError(f"{', '.join(given)} tune{'s' if len(given) == 1 else ''} the "
                            f"selective search of --method proposals; the {named} method "
                            "runs none")
    if named == "mtcnn" and args.iou is not None:
        raise UserError("--iou sets the final NMS overlap; MTCNN uses its own per-stage "
                        "overlaps, so leave it out")
    if args.show_proposals and (cfg.method != "proposals" or args.out is None):
        raise UserError("--show-proposals draws region proposals on the --out picture: it "
                        "needs --method proposals and --out")


def _network(args: argparse.Namespace, cfg, task, only: bool = True):
    """The network the method needs, opened through the application layer (None for
    MTCNN, which loads its own stages). --weights go to the network --model names, or to
    fast-rcnn-shapes when it is the `only` network used and no --model was given."""
    from explorer.app.networks import NetSpec, open_network
    from explorer.detect.pipeline import FAST_RCNN

    if cfg.method in ("mtcnn", "faster-rcnn"):
        return None  # MTCNN loads its stages, Faster R-CNN its COCO weights (Detector)
    if cfg.uses_classifier:
        spec = NetSpec(cfg.model, args.weights, trust_pickle=args.trust_pickle,
                       download=args.download)
    else:
        mine = args.model == FAST_RCNN or (args.model is None and only)
        spec = NetSpec(FAST_RCNN, args.weights if mine else None,
                       trust_pickle=args.trust_pickle)
    return open_network(spec, cfg.device, task)


def cmd_detect(args: argparse.Namespace) -> int:
    if args.eval is not None:
        return _cmd_eval(args)
    if not args.image:
        raise UserError("detect needs --image (a file, sample:NAME or scene:N), or --eval N")
    from explorer.cli import emit
    from explorer.commands.args import load_image_arg, out_png, save_png
    from explorer.commands.progress import cli_task
    from explorer.core.tasks import sub_task
    from explorer.detect import advice
    from explorer.detect.pipeline import Detector

    method = args.method or "sliding"
    cfg = _config(args, method)
    out = out_png(args.out, args)  # before any work
    image = load_image_arg(args.image)
    with cli_task(quiet=args.json) as task:
        network = _network(args, cfg, task)
        detector = Detector(cfg, network)
        detector.plan(image.size)  # a window larger than the picture: before the work
        det = detector(image.array, sub_task(task, 0.05, 1.0))
    model = det.extra.get("model", cfg.model)
    random = network is not None and network.random_weights
    notes = advice.before_run(model, image, random_weights=random, method="none")
    why = advice.why_no_boxes(det)
    data = {"image": image.name, "source": image.source, "size": list(image.array.shape[1::-1]),
            "model": model, **det.as_dict()}
    if random:
        data["weights"] = "random"
    if notes or why:
        data["notes"] = [*notes, *([why] if why else [])]
    if out is not None:
        from explorer.detect.draw import draw_detections

        truth = image.truth
        save_png(draw_detections(image.array, det, proposals=args.show_proposals,
                                 ground_truth=(truth.boxes, truth.names) if truth else None),
                 out)
        data["out"] = str(out)
    looked = (f" from {len(det.proposals)} proposals" if det.proposals is not None
              and method == "proposals" else "")
    looked += (f" from {len(det.proposals)} RPN proposals" if method == "faster-rcnn"
               else "")
    looked += f" from {det.extra['windows']} windows" if "windows" in det.extra else ""
    lines = [f"{det.method} on {image.name} ({model}, {cfg.device}): {len(det)} box(es)"
             + looked]
    lines += [f"  note: {n}" for n in notes]
    for b, s, name in zip(det.boxes.tolist(), det.scores.tolist(), det.names):
        lines.append(f"  {name:12s} {s:6.3f}  [{b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f}]")
    if why:
        lines.append(f"  {why}")
    lines.append("  time: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in det.timings.items()))
    if out is not None:
        lines.append(f"  -> {out}")
    emit(args, data, "\n".join(lines))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from explorer.cli import emit
    from explorer.commands.progress import cli_task
    from explorer.core.tasks import sub_task
    from explorer.detect import settings
    from explorer.detect.pipeline import evaluate, methods_for_eval

    if args.image:
        raise UserError("--eval runs on held-out shapes scenes; leave out --image")
    if args.out:
        raise UserError("--eval writes no picture; leave out --out")
    n = settings.eval_scenes(args.eval)
    if args.method == "mtcnn":
        raise UserError("MTCNN finds faces; --eval scores detectors on shapes scenes")
    if args.method == "faster-rcnn":
        from explorer.detect.pipeline import FASTER_RCNN_EVAL

        raise UserError(FASTER_RCNN_EVAL)
    base = _config(args, args.method or "sliding")
    configs = methods_for_eval(args.method, args.head, base)
    results = []
    with cli_task(quiet=args.json) as task:
        for k, cfg in enumerate(configs):
            part = sub_task(task, k / len(configs), (k + 1) / len(configs))
            network = _network(args, cfg, part, only=len(configs) == 1)
            results.append(evaluate(cfg, n, part, network=network))
    best = max(results, key=lambda e: e.mAP)
    emit(args, {"scenes": n, "results": [e.as_dict() for e in results],
                "best": {"method": best.method, "mAP@0.5": round(best.mAP, 4)}},
         "\n".join(e.text() for e in results))
    return 0
