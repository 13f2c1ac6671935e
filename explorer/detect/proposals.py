"""Region proposals by selective search (Uijlings et al. 2013), from opencv-contrib.

Selective search over-segments the image (Felzenszwalb graph segmentation), then merges
neighbouring regions greedily by colour, texture, size and fill similarity; every region
formed on the way is a proposal. "fast" uses few strategies and colour spaces, "quality"
many more (more proposals, higher recall, slower). OpenCV returns them in its own ranking
(roughly coarse-to-fine); we keep that order, drop tiny and duplicate boxes, and cap the count.
"""

# ruff: noqa: E402 - torchvision comes after ensure_torchvision() (explorer.core.tvimport)

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from explorer.core.tvimport import ensure_torchvision

ensure_torchvision()  # one first import: explorer.core.tvimport
from torchvision.ops import box_iou

from explorer.core.tasks import Task
from explorer.detect import settings
from explorer.errors import UserError

MODES = settings.MODES


@dataclass
class Proposals:
    """boxes (Tensor[P, 4]) x1, y1, x2, y2 in image pixels; seconds: time taken."""

    boxes: Tensor
    mode: str
    seconds: float

    def __len__(self) -> int:
        return len(self.boxes)


def selective_search(image: np.ndarray, mode: str = "fast", *, max_proposals: int = 2000,
                     min_size: int = 8, upscale_to: int = 0,
                     task: Task | None = None) -> Proposals:
    """Selective-search proposals for an RGB image (np [H, W, 3], float in [0, 1] or uint8).

    With `upscale_to`, a smaller image is enlarged to that shorter side before segmenting
    (more, smaller regions) and the boxes mapped back; 128-pixel shapes scenes need none.
    Boxes smaller than `min_size` on a side are dropped. With a `task`, a slow
    segmentation runs in a child process that a cancel ends at once (the task's
    :class:`~explorer.errors.Cancelled` is raised); the results are the same either way.
    """
    import cv2

    mode = settings.choice("the proposal mode", mode, MODES)
    max_proposals = settings.max_proposals(max_proposals)
    if not hasattr(cv2, "ximgproc"):
        raise UserError("selective search needs opencv-contrib (cv2.ximgproc) installed")
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise UserError(f"expected an RGB image [H, W, 3], got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    t0 = time.perf_counter()
    h, w = arr.shape[:2]
    f = max(1.0, upscale_to / min(h, w)) if upscale_to else 1.0
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    if f > 1:
        bgr = cv2.resize(bgr, (round(w * f), round(h * f)), interpolation=cv2.INTER_LINEAR)
    # a child process costs a fraction of a second to start: only worth it for a segmentation
    # that takes longer than that (quality mode, or a big picture)
    slow = mode != "fast" or bgr.shape[0] * bgr.shape[1] > 300_000
    if task is not None:
        task.check()
        task.progress(-1, f"selective search ({mode})")
    if task is not None and slow:
        from explorer.detect._segment_worker import segment_cancellable

        rects = segment_cancellable(bgr, mode, task.check)
    else:
        from explorer.detect._segment_worker import segment

        rects = segment(bgr, mode)  # [P, 4] x, y, w, h
    boxes = torch.from_numpy(np.asarray(rects, np.float32).reshape(-1, 4))
    boxes[:, 2:] += boxes[:, :2]
    boxes /= f
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    side = torch.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    boxes = boxes[side >= min_size]
    boxes = torch.unique_consecutive(boxes, dim=0) if len(boxes) else boxes
    boxes = _dedupe(boxes)[:max_proposals]
    return Proposals(boxes, mode, time.perf_counter() - t0)


def _dedupe(boxes: Tensor) -> Tensor:
    """Drop exact repeats (after mapping back to image pixels), keeping the first."""
    if len(boxes) == 0:
        return boxes
    key = (boxes.round() * 4).long()
    _, first = np.unique(key.numpy(), axis=0, return_index=True)
    return boxes[torch.from_numpy(np.sort(first))]


def recall(proposals: Tensor, gt_boxes: Tensor, iou_threshold: float = 0.5) -> float:
    """Fraction of ground-truth boxes (Tensor[G, 4]) that some proposal (Tensor[P, 4])
    overlaps with IoU >= `iou_threshold`."""
    if len(gt_boxes) == 0:
        return 1.0
    if len(proposals) == 0:
        return 0.0
    best = box_iou(gt_boxes.float(), proposals.float()).max(dim=1).values
    return float((best >= iou_threshold).float().mean())


def random_boxes(n: int, height: int, width: int, seed: int = 0, min_size: int = 8) -> Tensor:
    """`n` random boxes (Tensor[n, 4]) inside an image, for benchmarks."""
    g = torch.Generator().manual_seed(seed)
    wh = torch.rand(n, 2, generator=g) * (torch.tensor([width, height]) - min_size) + min_size
    xy = torch.rand(n, 2, generator=g) * (torch.tensor([width, height]) - wh)
    return torch.cat([xy, xy + wh], dim=1)
