"""Comparing segmenters: scores against ground truth, where two networks disagree, and
figures over held-out shapes scenes.

The scores themselves come from :mod:`explorer.segment.metrics`; this module decides what
is scored against what. A network is scored only against ground truth that uses its own
classes: Pascal VOC's classes mean nothing on a shapes scene.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from explorer.data import shapes
from explorer.errors import UserError
from explorer.segment import metrics
from explorer.segment.run import (
    SHIPPED_SEGMENTERS,
    Picture,
    Prediction,
    load_segmenter,
)


@dataclass
class Scores:
    """One network against one ground truth."""

    name: str
    mean_iou: float
    pixel_accuracy: float
    boundary_f: float
    #: class name -> IoU (NaN: the class is neither present nor predicted)
    iou: dict[str, float]

    def as_dict(self) -> dict:
        return {"mean_iou": _finite(self.mean_iou), "pixel_accuracy": _finite(
            self.pixel_accuracy), "boundary_f_score": _finite(self.boundary_f),
            "iou_per_class": {k: _finite(v) for k, v in self.iou.items()}}


def _finite(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def comparable(pred: Prediction, picture: Picture) -> bool:
    """Whether `pred` can be scored against the picture's ground truth."""
    if picture.gt is None:
        return False
    if picture.gt_classes is None:  # a user's mask: indices are taken at their word
        return True
    return tuple(pred.class_names) == tuple(picture.gt_classes)


def score(pred: np.ndarray, gt: np.ndarray, class_names: list[str] | tuple[str, ...],
          name: str = "", tolerance: float = 2) -> Scores:
    """Scores of a class map against the truth; both int [H, W] of the same shape."""
    n = max(len(class_names), int(gt.max()) + 1, int(pred.max()) + 1)
    cm = metrics.confusion_matrix(pred, gt, n)
    iou = metrics.iou_per_class(cm)
    names = list(class_names) + [f"class {i}" for i in range(len(class_names), n)]
    return Scores(name, metrics.mean_iou(cm), metrics.pixel_accuracy(cm),
                  metrics.boundary_f_score(pred, gt, tolerance),
                  {names[i]: float(iou[i]) for i in range(n)})


def score_table(preds: dict[str, Prediction], picture: Picture) -> dict[str, Scores]:
    """Scores per network, for the networks that share the ground truth's classes."""
    return {name: score(p.classes, picture.gt, p.class_names, name)
            for name, p in preds.items() if comparable(p, picture)}


@dataclass
class Disagreement:
    """Where two class maps differ.

    mask (np.bool_ [H, W]); fraction of pixels that differ; with ground truth, how many of
    those pixels each side got right (the rest both got wrong).
    """

    a: str
    b: str
    mask: np.ndarray
    fraction: float
    a_right: int | None = None
    b_right: int | None = None

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "fraction": self.fraction,
                "pixels": int(self.mask.sum()), "a_right": self.a_right,
                "b_right": self.b_right}


def disagreement(a: np.ndarray, b: np.ndarray, gt: np.ndarray | None = None,
                 names: tuple[str, str] = ("a", "b")) -> Disagreement:
    """Pixels where class maps `a` and `b` (int [H, W]) differ; symmetric in a and b."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"class maps differ in size: {a.shape} vs {b.shape}")
    mask = a != b
    frac = float(mask.mean()) if mask.size else 0.0
    ar = br = None
    if gt is not None:
        ar = int((mask & (a == gt)).sum())
        br = int((mask & (b == gt)).sum())
    return Disagreement(names[0], names[1], mask, frac, ar, br)


def disagreement_image(image: np.ndarray, d: Disagreement,
                       gt: np.ndarray | None = None, a: np.ndarray | None = None,
                       b: np.ndarray | None = None) -> np.ndarray:
    """The picture in grey with the differing pixels coloured -> uint8 [H, W, 3].

    Without ground truth every differing pixel is magenta; with it (and both maps given),
    cyan where only the first network is right, orange where only the second is, magenta
    where both are wrong.
    """
    grey = np.asarray(image, np.float32).mean(-1, keepdims=True) * 0.45 + 0.1
    out = np.repeat(grey, 3, -1)
    out[d.mask] = DISAGREE_COLOURS["both wrong" if gt is not None else "differ"]
    if gt is not None and a is not None and b is not None:
        out[d.mask & (a == gt)] = DISAGREE_COLOURS["first right"]
        out[d.mask & (b == gt)] = DISAGREE_COLOURS["second right"]
    return np.round(out.clip(0, 1) * 255).astype(np.uint8)


#: colours (float RGB) of the disagreement map, named for its legend
DISAGREE_COLOURS = {
    "differ": (1.0, 0.2, 0.85),
    "first right": (0.1, 0.85, 0.95),
    "second right": (1.0, 0.6, 0.1),
    "both wrong": (1.0, 0.2, 0.85),
}


# --- held-out evaluation -----------------------------------------------------------------

def evaluate(names: list[str] | tuple[str, ...] = SHIPPED_SEGMENTERS, n: int = 100,
             seed: int = shapes.TEST_SEED, device: str | torch.device = "cpu",
             batch: int = 25, tolerance: float = 2, progress=None,
             networks: dict | None = None) -> dict[str, dict]:
    """Each shapes network over `n` held-out scenes (never trained on).

    Returns name -> {"mean_iou", "pixel_accuracy", "boundary_f_score", "iou_per_class",
    "scenes", "seconds_per_scene", "weights"}. mIoU and pixel accuracy come from one
    confusion matrix over all pixels, the boundary F-score is the mean over scenes.
    `progress(fraction, message)` is called between batches, if given; `networks` caches
    loaded networks by name, as in :func:`~explorer.segment.run.run_segmenters`.
    """
    if n < 1:
        raise UserError("--eval needs at least one scene")
    bad = [m for m in names if m not in SHIPPED_SEGMENTERS]
    if bad:
        raise UserError(f"{', '.join(bad)} cannot be scored on shapes scenes (different "
                        f"classes); choose from {', '.join(SHIPPED_SEGMENTERS)}")
    scenes = shapes.scene_set(n, seed)
    X, Y = shapes.scenes_to_tensors(scenes)
    k = len(shapes.CLASSES)
    out: dict[str, dict] = {}
    for j, name in enumerate(names):
        cache = networks if networks is not None else {}
        if name not in cache:
            cache[name] = load_segmenter(name, device)
        net = cache[name]
        mean = torch.tensor(net.mean).view(1, -1, 1, 1)
        std = torch.tensor(net.std).view(1, -1, 1, 1)
        cm = np.zeros((k, k), np.int64)
        bf: list[float] = []
        seconds = 0.0
        for i in range(0, n, batch):
            xb = ((X[i:i + batch] - mean) / std).to(net.device)
            t0 = time.perf_counter()
            with torch.inference_mode():
                pred = net.module(xb).argmax(1).cpu().numpy()
            seconds += time.perf_counter() - t0
            for p, g in zip(pred, Y[i:i + batch].numpy()):
                cm += metrics.confusion_matrix(p, g, k)
                bf.append(metrics.boundary_f_score(p, g, tolerance))
            if progress:
                progress((j + min(i + batch, n) / n) / len(names),
                         f"{name}: {min(i + batch, n)}/{n} scenes")
        iou = metrics.iou_per_class(cm)
        out[name] = {
            "mean_iou": metrics.mean_iou(cm),
            "pixel_accuracy": metrics.pixel_accuracy(cm),
            "boundary_f_score": float(np.mean(bf)),
            "iou_per_class": {c: _finite(float(v)) for c, v in zip(shapes.CLASSES, iou)},
            "scenes": n,
            "seed": seed,
            "seconds_per_scene": seconds / n,
            "weights": net.weights_source,
        }
    return out
