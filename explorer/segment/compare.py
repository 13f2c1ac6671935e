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

from explorer.core.tasks import NullTask, Task
from explorer.data import shapes
from explorer.errors import UserError
from explorer.segment import metrics
from explorer.segment.colors import DISAGREE
from explorer.segment.run import (
    SHIPPED_SEGMENTERS,
    Prediction,
    SegPicture,
    load_segmenter,
)

#: `segment --eval N` takes at most this many scenes (about an hour on two CPU cores for
#: the three shapes networks); a larger N is a typo
MAX_EVAL_SCENES = 10_000


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


def comparable(pred: Prediction, picture: SegPicture) -> bool:
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


def score_table(preds: dict[str, Prediction], picture: SegPicture) -> dict[str, Scores]:
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
    """The picture in light grey with the differing pixels coloured -> uint8 [H, W, 3].

    Without ground truth every differing pixel is black ("differ"); with it (and both maps
    given), blue where only the first network is right, vermillion where only the second
    is, black where both are wrong (:data:`DISAGREE_COLOURS`). The picture is faded
    towards white so that every mark stands out on it.
    """
    grey = np.asarray(image, np.float32).mean(-1, keepdims=True) * 0.35 + 0.6
    out = np.repeat(grey, 3, -1)
    out[d.mask] = DISAGREE_COLOURS["both wrong" if gt is not None else "differ"]
    if gt is not None and a is not None and b is not None:
        out[d.mask & (a == gt)] = DISAGREE_COLOURS["first right"]
        out[d.mask & (b == gt)] = DISAGREE_COLOURS["second right"]
    return np.round(out.clip(0, 1) * 255).astype(np.uint8)


#: colours (float RGB) of the disagreement map, named for its legend
DISAGREE_COLOURS = {k: tuple(v / 255 for v in c) for k, c in DISAGREE.items()}


# --- held-out evaluation -----------------------------------------------------------------

def held_out_batch(start: int, stop: int, seed: int = shapes.TEST_SEED,
                   size: int = 128) -> list[shapes.Scene]:
    """Scenes start..stop-1 of ``shapes.scene_set(n, seed)`` (with the default seed, scene
    i is :func:`explorer.data.shapes.held_out_scene` i, which ``scene:i`` opens), drawn
    only when needed so a long evaluation holds one batch in memory."""
    return [shapes.make_scene(np.random.default_rng((seed, i)), (size, size))
            for i in range(start, stop)]


def evaluate(names: list[str] | tuple[str, ...] = SHIPPED_SEGMENTERS, n: int = 100,
             seed: int = shapes.TEST_SEED, device: str | torch.device = "cpu",
             batch: int = 25, tolerance: float = 2, task: Task | None = None,
             networks: dict | None = None) -> dict[str, dict]:
    """Each shapes network over `n` held-out scenes (never trained on).

    Returns name -> {"mean_iou", "pixel_accuracy", "boundary_f_score" (at `tolerance`
    pixels), "boundary_f_score_1px", "iou_per_class", "scenes", "seconds_per_scene",
    "weights"}. mIoU and pixel accuracy come from one
    confusion matrix over all pixels, the boundary F-score is the mean over scenes.
    `networks` caches loaded networks by name, as in
    :func:`~explorer.segment.run.run_segmenters`.

    The work comes in units: drawing a batch of `batch` scenes, and one network on that
    batch. `task` is checked before each unit, so after a cancel at most one more runs.

    Raises:
        UserError: `n` not in 1..:data:`MAX_EVAL_SCENES`, a bad seed or batch, or a
            network that does not label shapes.
    """
    from explorer.app import checks

    n = checks.count("the number of held-out scenes", n, 1, MAX_EVAL_SCENES)
    seed = checks.count("the seed", seed, 0, 2**63 - 1)
    batch = checks.count("the batch size", batch, 1, 1024)
    bad = [m for m in names if m not in SHIPPED_SEGMENTERS]
    if bad:
        raise UserError(f"{', '.join(bad)} cannot be scored on shapes scenes (different "
                        f"classes); choose from {', '.join(SHIPPED_SEGMENTERS)}")
    if not names:
        raise UserError("choose at least one shapes network to score")
    task = task or NullTask()
    cache = networks if networks is not None else {}
    for name in names:
        task.check()
        if name not in cache:
            cache[name] = load_segmenter(name, device, task)
    k = len(shapes.CLASSES)
    cms = {name: np.zeros((k, k), np.int64) for name in names}
    bfs: dict[str, list[float]] = {name: [] for name in names}
    # the boundary F-score at one pixel too: a boundary one pixel off passes at two
    bf1: dict[str, list[float]] = {name: [] for name in names}
    seconds = dict.fromkeys(names, 0.0)
    units = -(-n // batch) * (1 + len(names))
    done = 0
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        task.check()
        task.progress(done / units, f"scenes {start + 1}-{stop} of {n}: drawing them")
        X, Y = shapes.scenes_to_tensors(held_out_batch(start, stop, seed))
        Y = Y.numpy()
        done += 1
        for name in names:
            task.check()
            task.progress(done / units, f"scenes {start + 1}-{stop} of {n}: {name}")
            net = cache[name]
            mean = torch.tensor(net.mean).view(1, -1, 1, 1)
            std = torch.tensor(net.std).view(1, -1, 1, 1)
            xb = ((X - mean) / std).to(net.device)
            t0 = time.perf_counter()
            with torch.inference_mode():
                pred = net.module(xb).argmax(1).cpu().numpy()  # .cpu() waits for the GPU
            seconds[name] += time.perf_counter() - t0
            for p, g in zip(pred, Y):
                cms[name] += metrics.confusion_matrix(p, g, k)
                bfs[name].append(metrics.boundary_f_score(p, g, tolerance))
                bf1[name].append(metrics.boundary_f_score(p, g, 1))
            done += 1
    task.progress(1.0, f"{n} scenes scored")
    out: dict[str, dict] = {}
    for name in names:
        cm = cms[name]
        iou = metrics.iou_per_class(cm)
        out[name] = {
            "mean_iou": metrics.mean_iou(cm),
            "pixel_accuracy": metrics.pixel_accuracy(cm),
            "boundary_f_score": float(np.mean(bfs[name])),
            "boundary_f_score_1px": float(np.mean(bf1[name])),
            "iou_per_class": {c: _finite(float(v)) for c, v in zip(shapes.CLASSES, iou)},
            "scenes": n,
            "seed": seed,
            "seconds_per_scene": seconds[name] / n,
            "weights": cache[name].weights_source,
        }
    return out
