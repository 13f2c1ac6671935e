"""What a student should be told about a detection, in words: before it runs (a choice
that cannot give a meaningful answer) and after (why there is no box).

The window shows these on the view and the command line prints them under its result, so
both say the same thing.
"""

from __future__ import annotations

import math

from explorer.detect.boxes import Detections

#: what each shipped network learned from; torchvision's classifiers learned ImageNet photos
DOMAINS = {"tinyvgg-shapes": "shapes", "fast-rcnn-shapes": "shapes", "lenet5-digits": "digits",
           "mtcnn": "faces", "mtcnn-pnet": "faces", "mtcnn-rnet": "faces",
           "mtcnn-onet": "faces"}


def network_domain(name: str) -> str:
    """"shapes", "digits", "faces", "coco" (torchvision's Faster R-CNNs) or "photos" (an
    ImageNet classifier)."""
    if name.startswith("fasterrcnn_"):
        return "coco"
    return DOMAINS.get(name, "photos")


def picture_domain(picture) -> str:
    """"shapes" (a shapes scene or crop), "digits" or "photo", from an
    :class:`explorer.core.images.Image`'s truth and source."""
    truth = getattr(picture, "truth", None)
    if truth is not None and "circle" in tuple(truth.class_names):
        return "shapes"
    source = str(getattr(picture, "source", "") or "")
    name = source.split(":", 1)[1] if source.startswith("sample:") else source
    if source.startswith("scene:") or name in ("shapes", "shape-crop"):
        return "shapes"
    if name == "digit":
        return "digits"
    return "photo"


def input_side(name: str) -> int:
    """The side of the window a network classifies (its input), without loading it."""
    from explorer.nets import shipped

    spec = shipped.load_all().get(name)
    if spec is not None:
        return max(spec.input_size)
    return 299 if name.startswith("inception") else 224


def before_run(network: str, picture, *, random_weights: bool = False,
               window: int | None = None, scales=None, method: str = "sliding") -> list[str]:
    """Sentences that warn about a choice before it runs (empty when all is well).

    network: the network's name ("mtcnn" for the cascade); picture: an
    :class:`~explorer.core.images.Image`; window/scales: the sliding window's settings
    (None for the defaults)."""
    out = []
    if random_weights:
        out.append(f"{network} has random weights (no trained weights on this computer): "
                   "its boxes mean nothing.")
    net, pic = network_domain(network), picture_domain(picture)
    if net == "shapes" and pic != "shapes":
        out.append(f"{network} has only ever seen coloured shapes on plain backgrounds; "
                   "on this picture its boxes are guesses.")
    elif net == "digits" and pic != "digits":
        out.append(f"{network} reads handwritten digits; here every box is a guess at a "
                   "digit, whatever the picture shows.")
    elif net == "faces" and pic == "shapes":
        out.append(f"{network} looks for faces; a shapes scene has none, so no box is "
                   "the right answer.")
    elif net == "coco" and pic in ("shapes", "digits"):
        out.append(f"{network} finds COCO's 80 kinds of everyday things (people, cars, "
                   "animals, cups...); this picture has none, so no box is the right "
                   "answer.")
    elif net == "photos" and pic == "shapes":
        out.append(f"{network} knows 1,000 kinds of photographed things and has no "
                   "'background' class: on a shapes scene each box is only the ImageNet "
                   "class a window looks most like.")
    if method == "sliding" and picture is not None:
        side = window or input_side(network)
        h, w = picture.array.shape[:2]
        levels = scales or (1.0,)
        if all(side > max(h, w) * s for s in levels):
            need = math.ceil(side / max(h, w) * 100) / 100
            out.append(f"The {side}-pixel window is larger than the {w}x{h} picture at every "
                       f"scale: choose a smaller window or a scale of at least {need:g}.")
    return out


def why_no_boxes(det: Detections) -> str:
    """One or two sentences on why `det` holds no box (empty string when it has boxes)."""
    if len(det):
        return ""
    thr = det.extra.get("threshold")
    thr_text = f"{thr:.2f}" if isinstance(thr, (int, float)) else "the threshold"
    if det.method == "mtcnn":
        counts = det.extra.get("stage_counts", {})
        if not det.extra.get("scales"):
            return ("No face: the picture is smaller than the smallest face MTCNN "
                    "looks for (20 pixels).")
        return (f"No face: P-Net kept {counts.get('pnet', 0)} candidate window(s), R-Net "
                f"{counts.get('rnet', 0)}, and none scored above O-Net's threshold "
                f"{thr_text}.")
    if det.method == "faster-rcnn":
        n = len(det.proposals) if det.proposals is not None else 0
        return (f"No box: of the {n:,} regions its RPN proposed, none scored {thr_text} "
                "or more for a COCO object. Lower the threshold to see weaker guesses.")
    best = _best(det)
    if det.proposals is not None and len(det.proposals) == 0:
        return ("No box: selective search found no region of at least 8 pixels, so there "
                "was nothing to classify.")
    looked = (f"{det.extra['windows']:,} windows" if "windows" in det.extra else
              f"{len(det.proposals):,} proposals" if det.proposals is not None else
              "the picture")
    if best is None:
        return f"No box: none of the {looked} was scored."
    name, p = best
    return (f"No box: of the {looked}, none scored {thr_text} or more for an object "
            f"class; the best was {name} at {p:.2f}. Lower the threshold to see weaker "
            "guesses.")


def _best(det: Detections) -> tuple[str, float] | None:
    """The most probable object class over every window / region looked at."""
    import torch

    names = det.class_names
    background = 0 if names and names[0] in ("background", "not face") else None
    maps = det.extra.get("maps") or []
    if maps:
        probs = torch.cat([m.probs.flatten(1).T for m in maps])
    elif det.extra.get("region_probs") is not None:
        probs = det.extra["region_probs"]
    else:
        return None
    if probs.numel() == 0:
        return None
    probs = probs.clone().float()
    if background is not None:
        probs[:, background] = -1
    flat = int(probs.argmax())
    k = flat % probs.shape[1]
    return names[k], float(probs.flatten()[flat])
