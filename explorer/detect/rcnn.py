"""R-CNN (Girshick et al. 2014), the lecture's way: proposals -> warp each region to the
classifier's input -> classify -> per-class NMS.

The warp is :func:`torchvision.ops.roi_align` over the image itself, with output size = the
classifier's input: a batched bilinear crop-and-resize. Each proposal is first grown by a
context margin (R-CNN used 16 warped pixels; here the margin makes the object fill about as
much of the warped window as it filled tinyvgg's training crops) and made square (shapes
keep their proportions). The image is padded by repeating its edge pixels, so windows that
reach past the border see plausible background rather than black.
"""

# ruff: noqa: E402 - torchvision comes after ensure_torchvision() (explorer.core.tvimport)

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from explorer.core.tvimport import ensure_torchvision

ensure_torchvision()  # one first import: explorer.core.tvimport
from torchvision.ops import roi_align

from explorer.core.tasks import NullTask, Task
from explorer.detect import settings
from explorer.detect.boxes import Detections, class_candidates, nms_detections
from explorer.detect.classifier import WindowClassifier, image_tensor
from explorer.errors import UserError


def context_boxes(boxes: Tensor, fraction: float, square: bool = True) -> Tensor:
    """Grow boxes (Tensor[N, 4]) about their centres so the box fills `fraction` of the
    result (and make them square, on the larger side, when `square`)."""
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1.0)
    if square:
        wh = wh.max(dim=1, keepdim=True).values.expand(-1, 2)
    half = wh / (2 * fraction)
    return torch.cat([c - half, c + half], dim=1)


def warp(x: Tensor, boxes: Tensor, size: tuple[int, int], pad: int = 0,
         sampling_ratio: int = 2) -> Tensor:
    """Crop-and-resize every box from one image.

    x (Tensor[1, C, H, W]), boxes (Tensor[N, 4]) in x's pixels -> Tensor[N, C, h, w].
    `pad` pixels of repeated edge are added first so boxes may reach past the border.
    Each output cell averages sampling_ratio x sampling_ratio bilinear samples (2: a little
    smoothing when a big region shrinks; 1: plain bilinear resampling).
    """
    if pad:
        x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        boxes = boxes + pad
    rois = torch.cat([boxes.new_zeros(len(boxes), 1), boxes], dim=1).to(x)
    return roi_align(x, rois, output_size=size, spatial_scale=1.0,
                     sampling_ratio=sampling_ratio,
                     aligned=True)


def rcnn_detect(
    classifier: WindowClassifier,
    image: np.ndarray,
    proposals: Tensor,
    *,
    threshold: float = 0.5,
    iou: float = 0.3,
    context: float | None = None,
    batch: int = 64,  # small enough that a cancel is noticed within a fraction of a second
    max_detections: int = 100,
    task: Task | None = None,
) -> Detections:
    """Classify every warped proposal (Tensor[P, 4], image pixels) with `classifier`.

    Boxes returned are the proposals themselves (R-CNN's class-specific box regression is
    left out). `context`: the fraction of the warped window the proposal fills (default
    the classifier's ``box_fraction``). `task` is checked before every batch of `batch`
    regions.
    """
    threshold = settings.threshold(threshold)
    iou = settings.iou(iou)
    if classifier.background is None and threshold <= 0:
        raise UserError("a classifier without a background class needs a threshold above 0")
    task = task or NullTask()
    t0 = time.perf_counter()
    dev = classifier.device
    img = classifier.normalise(image_tensor(image, dev))
    h, w = img.shape[-2:]
    frac = context if context is not None else classifier.box_fraction
    regions = context_boxes(proposals.float(), frac) if frac < 1 else proposals.float()
    pad = int(max(h, w) // 2)
    probs = []
    t_warp = t_cls = 0.0
    with torch.inference_mode():
        for i in range(0, len(regions), batch):
            task.check()
            task.progress(i / max(len(regions), 1), f"R-CNN: regions {i + 1}-"
                          f"{min(i + batch, len(regions))} of {len(regions)}")
            ta = time.perf_counter()
            crops = warp(img, regions[i:i + batch].to(dev), classifier.input_size, pad)
            tb = time.perf_counter()
            probs.append(classifier.scores(crops).float().cpu())
            t_warp += tb - ta
            t_cls += time.perf_counter() - tb
    p = torch.cat(probs) if probs else torch.zeros(0, len(classifier.class_names))
    t1 = time.perf_counter()
    b, s, lab = class_candidates(p, proposals.float().cpu(), threshold, classifier.background)
    b, s, lab = nms_detections(b, s, lab, iou, max_detections)
    t_nms = time.perf_counter() - t1
    det = Detections(b, s, lab, list(classifier.class_names), method="rcnn",
                     timings={"warp": t_warp, "classify": t_cls, "nms": t_nms,
                              "total": time.perf_counter() - t0},
                     proposals=proposals.float().cpu())
    det.extra["region_probs"] = p  # not plain: kept out of as_dict, used by views
    det.extra["threshold"] = threshold
    return det
