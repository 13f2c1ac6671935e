"""What every detector returns, and the box arithmetic they share.

Boxes are ``[x1, y1, x2, y2]`` in image pixels (float, x2/y2 exclusive like the shapes
world's ground truth). NMS is torchvision's: :func:`torchvision.ops.batched_nms` keeps the
classes apart, so a square never suppresses an overlapping circle.
"""

# ruff: noqa: E402 - torchvision comes after ensure_torchvision() (explorer.core.tvimport)

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from explorer.core.tvimport import ensure_torchvision

ensure_torchvision()  # one first import: explorer.core.tvimport
from torchvision.ops import batched_nms, box_iou  # noqa: F401 - box_iou re-exported


@dataclass
class Detections:
    """Final boxes of one detector on one image, best score first.

    boxes (Tensor[N, 4]): x1, y1, x2, y2 in image pixels. scores (Tensor[N]) in [0, 1].
    labels (Tensor[N], int64): class indices into `class_names`.
    timings: seconds per step (names depend on the method) and "total".
    proposals (Tensor[P, 4] | None): the candidate regions looked at (proposal methods).
    extra: method-specific facts (window count, scales, proposal mode...).
    """

    boxes: Tensor
    scores: Tensor
    labels: Tensor
    class_names: list[str]
    method: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    proposals: Tensor | None = None
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def names(self) -> list[str]:
        return [self.class_names[int(i)] for i in self.labels]

    def as_dict(self) -> dict:
        """Plain lists and numbers, for ``--json``."""
        out = {
            "method": self.method,
            "boxes": [[round(float(v), 2) for v in b] for b in self.boxes],
            "scores": [round(float(s), 5) for s in self.scores],
            "labels": self.names,
            "timings": {k: round(v, 5) for k, v in self.timings.items()},
        }
        if self.proposals is not None:
            out["proposal_count"] = len(self.proposals)
        out.update({k: v for k, v in self.extra.items() if _plain(v)})
        return out


def _plain(v) -> bool:
    """Numbers, strings and (nested) lists / dicts of them: what JSON holds as it is."""
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x) for k, x in v.items())
    return isinstance(v, (int, float, str, bool, type(None)))


def empty(class_names: list[str], method: str = "") -> Detections:
    return Detections(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long),
                      list(class_names), method)


def class_candidates(probs: Tensor, boxes: Tensor, threshold: float,
                     background: int | None) -> tuple[Tensor, Tensor, Tensor]:
    """Every (box, class) pair whose probability reaches `threshold`, background excluded.

    probs (Tensor[N, K]), boxes (Tensor[N, 4]) -> (boxes Tensor[M, 4], scores Tensor[M],
    labels Tensor[M]). A box may appear under several classes; NMS runs per class.
    """
    p = probs.clone()
    if background is not None:
        p[:, background] = -1.0
    idx, cls = (p >= threshold).nonzero(as_tuple=True)
    return boxes[idx], probs[idx, cls], cls


def nms_detections(boxes: Tensor, scores: Tensor, labels: Tensor, iou: float,
                   max_detections: int | None = 100) -> tuple[Tensor, Tensor, Tensor]:
    """Per-class NMS (torchvision ``batched_nms``), best first, at most `max_detections`."""
    if len(scores) == 0:
        return boxes.reshape(0, 4), scores, labels
    keep = batched_nms(boxes.float(), scores.float(), labels, iou)
    if max_detections is not None:
        keep = keep[:max_detections]
    return boxes[keep], scores[keep], labels[keep]


def suppress_contained(boxes: Tensor, scores: Tensor, overlap: float) -> Tensor:
    """Indices (Tensor[M], best score first) of the boxes (Tensor[N, 4]) to keep when any
    box lying at least `overlap` inside a better-scored kept box, whatever the classes, is
    dropped: the share is the intersection over the *smaller* box's area.

    Why: a window classifier also names what it sees in windows over part of an object
    (the spike of a star at a large scale looks like a triangle) or over two objects at
    once, often with probability above 0.9; those boxes sit inside or across the true
    one, where per-class NMS (different classes, or a small box nested in a large one,
    IoU < 0.3) cannot reach them. One object, one box.
    """
    if len(scores) == 0:
        return torch.zeros(0, dtype=torch.long)
    order = torch.argsort(scores, descending=True, stable=True)
    b = boxes[order].float()
    area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.max(b[:, None, :2], b[None, :, :2])
    rb = torch.min(b[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    share = inter / torch.min(area[:, None], area[None, :]).clamp(min=1e-6)
    keep: list[int] = []
    for i in range(len(b)):
        if not keep or float(share[i, keep].max()) < overlap:
            keep.append(i)
    return order[torch.tensor(keep, dtype=torch.long)]


def shrink(boxes: Tensor, fraction: float) -> Tensor:
    """Scale boxes (Tensor[N, 4]) about their centres by `fraction` (a classifier window is
    bigger than the object it was trained to name: the object fills ~`fraction` of it)."""
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (fraction / 2)
    return torch.cat([c - half, c + half], dim=1)


def clip(boxes: Tensor, height: int, width: int) -> Tensor:
    out = boxes.clone()
    out[:, 0::2] = out[:, 0::2].clamp(0, width)
    out[:, 1::2] = out[:, 1::2].clamp(0, height)
    return out


#: Fast R-CNN's target scaling: offsets are divided by these so all four have similar spread
BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def encode(boxes: Tensor, targets: Tensor, weights=BOX_WEIGHTS) -> Tensor:
    """Regression targets (Tensor[N, 4]: dx, dy, dw, dh) that move `boxes` onto `targets`
    (both Tensor[N, 4]), as in Fast R-CNN: centre shift in box widths, log size ratio."""
    wx, wy, ww, wh = weights
    w = (boxes[:, 2] - boxes[:, 0]).clamp(min=1e-3)
    h = (boxes[:, 3] - boxes[:, 1]).clamp(min=1e-3)
    cx, cy = boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h
    tw = (targets[:, 2] - targets[:, 0]).clamp(min=1e-3)
    th = (targets[:, 3] - targets[:, 1]).clamp(min=1e-3)
    tx, ty = targets[:, 0] + 0.5 * tw, targets[:, 1] + 0.5 * th
    return torch.stack([wx * (tx - cx) / w, wy * (ty - cy) / h,
                        ww * torch.log(tw / w), wh * torch.log(th / h)], dim=1)


def decode(boxes: Tensor, deltas: Tensor, weights=BOX_WEIGHTS) -> Tensor:
    """Inverse of :func:`encode`: apply deltas (Tensor[N, 4]) to boxes (Tensor[N, 4])."""
    wx, wy, ww, wh = weights
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    cx, cy = boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h
    clampv = 4.135  # log(1000 / 16), torchvision's bound on the size change
    dw = (deltas[:, 2] / ww).clamp(max=clampv)
    dh = (deltas[:, 3] / wh).clamp(max=clampv)
    ncx, ncy = cx + deltas[:, 0] / wx * w, cy + deltas[:, 1] / wy * h
    nw, nh = w * torch.exp(dw), h * torch.exp(dh)
    return torch.stack([ncx - nw / 2, ncy - nh / 2, ncx + nw / 2, ncy + nh / 2], dim=1)
