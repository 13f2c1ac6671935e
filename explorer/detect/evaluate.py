"""Precision, recall and average precision of a detector on held-out shapes scenes.

AP follows PASCAL VOC 2010+ ("all-point interpolation"): detections of one class from all
images are ranked by score; each is a true positive if its IoU with a not-yet-matched ground
truth box of that class is >= 0.5 (the best-overlapping one), else a false positive; the
precision envelope (precision made non-increasing from the right) is integrated over recall
at every point where recall changes. mAP is the mean over the classes that have ground truth.

A box that matches no object of its class is a *false box*; the evaluation also counts them
per scene, since a class sees the boxes at the detector's threshold, not the ranking AP
integrates over.
"""

# ruff: noqa: E402 - torchvision comes after ensure_torchvision() (explorer.core.tvimport)

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from explorer.core.tvimport import ensure_torchvision

ensure_torchvision()  # one first import: explorer.core.tvimport
from torchvision.ops import box_iou

from explorer.core.tasks import NullTask, Task


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC all-point AP from a ranked list's cumulative recall and precision (np [M])."""
    r = np.concatenate([[0.0], np.asarray(recall, float), [1.0]])
    p = np.concatenate([[0.0], np.asarray(precision, float), [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # the envelope: best precision at >= recall
    i = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[i + 1] - r[i]) * p[i + 1]))


def match(det_boxes: Tensor, det_scores: Tensor, gt_boxes: Tensor,
          iou_threshold: float = 0.5) -> np.ndarray:
    """Mark each detection (one class, one image) true (1) or false (0) positive.

    Detections are visited best score first; each takes the unmatched ground-truth box it
    overlaps most if that IoU >= `iou_threshold`. Returns np.int [N] in the input order.
    """
    tp = np.zeros(len(det_scores), np.int64)
    if len(det_scores) == 0 or len(gt_boxes) == 0:
        return tp
    iou = box_iou(det_boxes.float(), gt_boxes.float())
    taken = torch.zeros(len(gt_boxes), dtype=torch.bool)
    for d in torch.argsort(det_scores, descending=True, stable=True).tolist():
        overlaps = iou[d].clone()
        overlaps[taken] = -1.0
        best = int(overlaps.argmax())
        if overlaps[best] >= iou_threshold:
            taken[best] = True
            tp[d] = 1
    return tp


@dataclass
class ClassScore:
    name: str
    ap: float
    precision: float  # at the detector's own threshold (all its boxes)
    recall: float
    n_gt: int
    n_det: int


@dataclass
class Evaluation:
    method: str
    classes: list[ClassScore]
    mAP: float
    images: int
    seconds: float
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"method": self.method, "mAP@0.5": round(self.mAP, 4), "images": self.images,
                "seconds_per_image": round(self.seconds / max(self.images, 1), 4),
                "per_class": {c.name: {"AP": round(c.ap, 4), "precision": round(c.precision, 4),
                                       "recall": round(c.recall, 4), "gt": c.n_gt,
                                       "detections": c.n_det} for c in self.classes},
                **self.extra}

    def text(self) -> str:
        lines = [f"{self.method}: mAP@0.5 = {self.mAP:.3f} on {self.images} scenes "
                 f"({self.seconds / max(self.images, 1) * 1e3:.0f} ms per scene)"]
        if "false_boxes_per_scene" in self.extra:
            lines.append(f"  false boxes per scene {self.extra['false_boxes_per_scene']:.2f}"
                         f" (IoU < 0.5 with every object of their class); scenes without "
                         f"one {self.extra['scenes_without_false_boxes']:.0%}")
        if "proposals_per_image" in self.extra:
            lines.append(f"  {self.extra['proposals_per_image']:g} proposals per scene, "
                         f"recall {self.extra['proposal_recall@0.5']:.3f} (IoU >= 0.5)")
        for c in self.classes:
            lines.append(f"  {c.name:10s} AP {c.ap:.3f}  precision {c.precision:.3f}  "
                         f"recall {c.recall:.3f}  ({c.n_det} boxes, {c.n_gt} objects)")
        return "\n".join(lines)


def evaluate_detections(
    predictions: Sequence[tuple[Tensor, Tensor, Tensor]],
    ground_truth: Sequence[tuple[Tensor, Tensor]],
    class_names: Sequence[str],
    *,
    iou_threshold: float = 0.5,
    background: int | None = 0,
    method: str = "",
    seconds: float = 0.0,
) -> Evaluation:
    """Score detections against ground truth, image by image.

    predictions: per image (boxes Tensor[N, 4], scores Tensor[N], labels Tensor[N]).
    ground_truth: per image (boxes Tensor[G, 4], labels Tensor[G]).
    """
    scores: list[ClassScore] = []
    false_boxes = np.zeros(len(predictions), np.int64)
    for c, name in enumerate(class_names):
        if c == background:
            continue
        all_scores, all_tp, n_gt = [], [], 0
        for i, ((pb, ps, pl), (gb, gl)) in enumerate(zip(predictions, ground_truth,
                                                         strict=True)):
            pm, gm = pl == c, gl == c
            n_gt += int(gm.sum())
            all_scores.append(ps[pm].float().numpy())
            all_tp.append(match(pb[pm], ps[pm], gb[gm], iou_threshold))
            false_boxes[i] += len(all_tp[-1]) - int(all_tp[-1].sum())
        s = np.concatenate(all_scores) if all_scores else np.zeros(0)
        tp = np.concatenate(all_tp) if all_tp else np.zeros(0, np.int64)
        if n_gt == 0:
            continue
        order = np.argsort(-s, kind="stable")
        ctp = np.cumsum(tp[order])
        cfp = np.cumsum(1 - tp[order])
        rec = ctp / n_gt
        prec = ctp / np.maximum(ctp + cfp, 1)
        ap = average_precision(rec, prec) if len(s) else 0.0
        scores.append(ClassScore(name, ap, float(prec[-1]) if len(s) else 0.0,
                                 float(rec[-1]) if len(s) else 0.0, n_gt, len(s)))
    m = float(np.mean([c.ap for c in scores])) if scores else 0.0
    ev = Evaluation(method, scores, m, len(predictions), seconds)
    ev.extra.update(false_box_stats(false_boxes))
    return ev


def false_box_stats(false_boxes: np.ndarray) -> dict:
    """What a person sees of a detector's mistakes: the boxes that match no object (a
    wrong class, a bad fit or nothing there), per scene (np.int [N] -> plain numbers)."""
    fb = np.asarray(false_boxes)
    n = max(len(fb), 1)
    return {"false_boxes_per_scene": round(float(fb.sum()) / n, 4),
            "scenes_without_false_boxes": round(float((fb == 0).sum()) / n, 4),
            "false_boxes_most_in_one_scene": int(fb.max()) if len(fb) else 0}


def held_out_scenes(n: int, seed: int | None = None, size: int = 128) -> Iterator:
    """Held-out shapes scenes 0 .. n-1, made one at a time (a generator): scene i is
    :func:`explorer.data.shapes.held_out_scene` ``(i)``, the picture ``scene:i`` names
    everywhere (or scene i of ``scene_set(n, seed)`` for another seed)."""
    from explorer.data import shapes

    for i in range(n):
        if seed is None or seed == shapes.TEST_SEED:
            yield shapes.held_out_scene(i, size)
        else:
            yield shapes.make_scene(np.random.default_rng((seed, i)), (size, size))


def evaluate_on_scenes(
    detect: Callable[[np.ndarray], tuple[Tensor, Tensor, Tensor]],
    n: int,
    class_names: Sequence[str],
    *,
    seed: int | None = None,
    size: int = 128,
    method: str = "",
    task: Task | None = None,
) -> Evaluation:
    """Run `detect(image np.float32 [H, W, 3]) -> (boxes, scores, labels)` on `n` held-out
    shapes scenes (:func:`held_out_scenes`, made one by one) and score it.

    `detect` may return a fourth item, the proposals (Tensor[P, 4]) it looked at: their
    count and recall (IoU >= 0.5) are then reported too. `task` is checked before every
    scene and told the progress per scene."""
    import time

    from explorer.data import shapes

    task = task or NullTask()
    seed = shapes.TEST_SEED if seed is None else seed
    preds, gts = [], []
    counts, found, total = [], 0, 0
    t0 = time.perf_counter()
    for i, scene in enumerate(held_out_scenes(n, seed, size)):
        task.check()
        task.progress(i / max(n, 1), f"{method}: scene {i + 1}/{n}")
        out = detect(scene.image)
        gt = torch.from_numpy(scene.boxes)
        if len(out) == 4:
            props = out[3]
            counts.append(len(props))
            if len(gt) and len(props):
                found += int((box_iou(gt, props.float()).max(dim=1).values >= 0.5).sum())
            total += len(gt)
        preds.append(tuple(out[:3]))
        gts.append((gt, torch.from_numpy(scene.labels)))
    task.progress(1.0, f"{method}: {n} scenes")
    seconds = time.perf_counter() - t0
    ev = evaluate_detections(preds, gts, class_names, method=method, seconds=seconds)
    ev.extra["data"] = f"shapes scene_set({n}, seed={seed}, size={size})"
    if counts:
        ev.extra["proposals_per_image"] = round(float(np.mean(counts)), 1)
        ev.extra["proposal_recall@0.5"] = round(found / max(total, 1), 4)
    return ev
