"""Fast R-CNN detection: one trunk pass, RoIAlign per proposal, a trained head, NMS.

Same proposals and the same context margin as :mod:`explorer.detect.rcnn`, so the two
compare like with like; the difference is where the regions are cut: from the picture
(R-CNN, one full network pass per region) or from the feature map (Fast R-CNN, one trunk
pass in all).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from explorer.core.tasks import NullTask, Task
from explorer.detect import settings
from explorer.detect.boxes import Detections, class_candidates, clip, decode, nms_detections
from explorer.detect.classifier import image_tensor
from explorer.detect.rcnn import context_boxes
from explorer.errors import UserError
from explorer.nets.fast_rcnn import FastRCNN

#: the object fills this fraction of each region the head sees (as in tinyvgg's crops)
CONTEXT = 0.64
#: pixels of repeated edge around the picture before the trunk pass (half a tinyvgg window)
PAD = 32


def normalise(x: Tensor, mean, std) -> Tensor:
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def trunk_input(image: np.ndarray | Tensor, mean, std, device) -> Tensor:
    """np [H, W, 3] in [0, 1] (or Tensor[1, 3, H, W]) -> normalised, edge-padded
    Tensor[1, 3, H + 2 PAD, W + 2 PAD]."""
    x = image if isinstance(image, Tensor) else image_tensor(image, device)
    return F.pad(normalise(x.to(device, torch.float32), mean, std), (PAD,) * 4,
                 mode="replicate")


def head_rois(proposals: Tensor, context: float = CONTEXT, index: int = 0) -> Tensor:
    """Proposals (Tensor[P, 4], image pixels) -> rois Tensor[P, 5] in padded-trunk pixels."""
    regions = context_boxes(proposals.float(), context) + PAD
    return torch.cat([regions.new_full((len(regions), 1), float(index)), regions], dim=1)


def fast_rcnn_detect(
    model: FastRCNN,
    image: np.ndarray,
    proposals: Tensor,
    *,
    mean=(0.5, 0.49, 0.5),
    std=(0.25, 0.25, 0.25),
    class_names: list[str] | None = None,
    threshold: float = 0.5,
    iou: float = 0.3,
    regress: bool = True,
    max_detections: int = 100,
    device: torch.device | str = "cpu",
    task: Task | None = None,
) -> Detections:
    """Detect with a trained :class:`FastRCNN` on proposals (Tensor[P, 4], image pixels).

    regress: apply the head's box correction (Fast R-CNN's bounding-box regression).
    `task` is checked before the trunk pass and before the head.
    """
    from explorer.data import shapes

    if not isinstance(model, FastRCNN):
        raise UserError("the Fast R-CNN head needs the fast-rcnn-shapes network")
    names = list(class_names or shapes.CLASSES)
    threshold = settings.threshold(threshold)
    iou = settings.iou(iou)
    task = task or NullTask()
    t0 = time.perf_counter()
    h, w = image.shape[:2]
    with torch.inference_mode():
        task.check()
        task.progress(0.0, "Fast R-CNN: trunk over the whole image")
        x = trunk_input(image, mean, std, device)
        feats = model.features(x)
        t1 = time.perf_counter()
        task.check()
        task.progress(0.5, f"Fast R-CNN: RoIAlign + head on {len(proposals)} regions")
        if len(proposals):
            pooled = model.roi_pool(feats, head_rois(proposals.to(device)))
            logits, deltas = model.head(pooled)
        else:
            logits, deltas = feats.new_zeros(0, len(names)), feats.new_zeros(0, 4)
        t2 = time.perf_counter()
    probs = logits.softmax(1).float().cpu()
    props = proposals.float().cpu()
    boxes = clip(decode(props, deltas.float().cpu()), h, w) if regress else props
    b, s, lab = class_candidates(probs, boxes, threshold, 0)
    b, s, lab = nms_detections(b, s, lab, iou, max_detections)
    det = Detections(b, s, lab, names, method="fast-rcnn",
                     timings={"trunk": t1 - t0, "roi_heads": t2 - t1,
                              "nms": time.perf_counter() - t2,
                              "total": time.perf_counter() - t0},
                     proposals=props)
    det.extra["region_probs"] = probs
    det.extra["threshold"] = threshold
    return det
