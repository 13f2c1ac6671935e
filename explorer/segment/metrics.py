"""Segmentation scores: numpy label maps in, plain floats out.

Label maps are integer arrays of the same shape ([H, W], or any shape for the region scores),
values 0..n-1. IoU and pixel accuracy count pixels; the boundary F-score asks whether the
*edges* are in the right place, which region scores barely notice (a boundary one pixel off
costs a big shape only a sliver of IoU).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, n: int) -> np.ndarray:
    """Pixel counts (np.int64 [n, n]): entry [i, j] is pixels of true class i predicted j."""
    pred = np.asarray(pred).ravel().astype(np.int64)
    gt = np.asarray(gt).ravel().astype(np.int64)
    if pred.shape != gt.shape:
        raise ValueError("pred and gt must have the same number of pixels")
    if pred.size and (min(pred.min(), gt.min()) < 0 or max(pred.max(), gt.max()) >= n):
        raise ValueError(f"labels must lie in 0..{n - 1}")
    return np.bincount(gt * n + pred, minlength=n * n).reshape(n, n)


def _as_cm(cm_or_pred: np.ndarray, gt: np.ndarray | None, n: int | None) -> np.ndarray:
    if gt is None:
        return np.asarray(cm_or_pred, np.float64)
    if n is None:
        n = int(max(np.max(cm_or_pred), np.max(gt))) + 1
    return confusion_matrix(cm_or_pred, gt, n).astype(np.float64)


def iou_per_class(
    cm_or_pred: np.ndarray, gt: np.ndarray | None = None, n: int | None = None
) -> np.ndarray:
    """Intersection over union of each class (np.float64 [n]); NaN for a class that is
    neither present nor predicted (so it does not count in the mean).

    Give a confusion matrix, or ``(pred, gt, n)`` label maps (n defaults to the largest
    label + 1)."""
    cm = _as_cm(cm_or_pred, gt, n)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def mean_iou(cm_or_pred: np.ndarray, gt: np.ndarray | None = None, n: int | None = None) -> float:
    """Mean of :func:`iou_per_class` over the classes that occur (present or predicted)."""
    iou = iou_per_class(cm_or_pred, gt, n)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


def pixel_accuracy(
    cm_or_pred: np.ndarray, gt: np.ndarray | None = None, n: int | None = None
) -> float:
    """Fraction of pixels labelled correctly (a confusion matrix, or pred and gt maps)."""
    cm = _as_cm(cm_or_pred, gt, n)
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def boundary_map(labels: np.ndarray) -> np.ndarray:
    """Boundary pixels (np.bool_ [H, W]): those whose class differs from one of their four
    neighbours inside the image. Both sides of an edge count; the image border is not an
    edge."""
    labels = np.asarray(labels)
    b = np.zeros(labels.shape, bool)
    dy = labels[1:, :] != labels[:-1, :]
    dx = labels[:, 1:] != labels[:, :-1]
    b[1:, :] |= dy
    b[:-1, :] |= dy
    b[:, 1:] |= dx
    b[:, :-1] |= dx
    return b


def boundary_precision_recall(
    pred: np.ndarray, gt: np.ndarray, tolerance: float = 2
) -> tuple[float, float]:
    """(precision, recall) of predicted boundary pixels against true ones: a boundary pixel
    is matched when one of the other map lies within `tolerance` pixels (Euclidean). When a
    map has no boundary, its side is 1.0 if the other has none either, else 0.0."""
    bp, bg = boundary_map(pred), boundary_map(gt)
    if not bp.any() or not bg.any():
        both_empty = float(not bp.any() and not bg.any())
        return (both_empty if not bp.any() else 0.0), (both_empty if not bg.any() else 0.0)
    # distance from every pixel to the nearest boundary pixel of the other map
    dist_to_gt = ndimage.distance_transform_edt(~bg)
    dist_to_pred = ndimage.distance_transform_edt(~bp)
    precision = float((dist_to_gt[bp] <= tolerance).mean())
    recall = float((dist_to_pred[bg] <= tolerance).mean())
    return precision, recall


def boundary_f_score(pred: np.ndarray, gt: np.ndarray, tolerance: float = 2) -> float:
    """Boundary F-score of two label maps [H, W]: the harmonic mean of
    :func:`boundary_precision_recall` (class-agnostic: any change of label is an edge).
    1.0 when neither map has a boundary."""
    p, r = boundary_precision_recall(pred, gt, tolerance)
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def segmentation_scores(
    preds: list[np.ndarray], gts: list[np.ndarray], n: int, tolerance: float = 2
) -> dict[str, float]:
    """Scores over a set of images: mIoU and pixel accuracy from one confusion matrix summed
    over all pixels, boundary F-score averaged over images."""
    cm = np.zeros((n, n), np.int64)
    bf = []
    for p, g in zip(preds, gts, strict=True):
        cm += confusion_matrix(p, g, n)
        bf.append(boundary_f_score(p, g, tolerance))
    return {
        "mean_iou": mean_iou(cm),
        "pixel_accuracy": pixel_accuracy(cm),
        "boundary_f_score": float(np.mean(bf)) if bf else float("nan"),
    }
