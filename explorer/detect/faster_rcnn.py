"""torchvision's Faster R-CNN on a photo: the end of the lecture's arc from R-CNN.

R-CNN warps and classifies ~2,000 selective-search regions one by one; Fast R-CNN pools
them from one feature map; Faster R-CNN (Ren et al. 2015) drops selective search too: a
small region proposal network (RPN) slides over the same feature map and proposes the
regions itself. The detector runs here stage by stage (backbone, RPN, box head) exactly as
:class:`torchvision.models.detection.GeneralizedRCNN` does in evaluation, so the window can
show the RPN's proposals beside the final boxes and time each stage.

Weights are torchvision's COCO weights, read from the torch hub cache (the explorer never
downloads at run time), or a state-dict file the user names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.core.tasks import NullTask, Task
from explorer.detect.boxes import Detections
from explorer.errors import ModelError

#: torchvision's Faster R-CNNs and the file torch.hub caches their COCO weights under,
#: smallest first (known without importing torchvision; a test checks them against it)
FASTER_RCNNS: dict[str, str] = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth",
    "fasterrcnn_mobilenet_v3_large_fpn": "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
    "fasterrcnn_resnet50_fpn": "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth",
    "fasterrcnn_resnet50_fpn_v2": "fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
}
#: proposals the RPN keeps for the box head (torchvision's default in evaluation)
RPN_POST_NMS = 1000


def cache_file(name: str) -> Path:
    """Where torch.hub keeps the COCO weights of Faster R-CNN `name`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FASTER_RCNNS[name]


def available() -> list[tuple[str, bool]]:
    """(name, weights in the hub cache) for every Faster R-CNN, smallest first."""
    return [(n, cache_file(n).exists()) for n in FASTER_RCNNS]


def default_name() -> str:
    """The smallest Faster R-CNN whose weights are cached (the smallest of all if none)."""
    return next((n for n, ok in available() if ok), next(iter(FASTER_RCNNS)))


def check(name: str, weights: str | Path | None = None) -> Path:
    """The weights file Faster R-CNN `name` would load, refused before any work.

    Raises:
        ModelError: an unknown name, or no weights (not in the hub cache, none given).
    """
    if name not in FASTER_RCNNS:
        raise ModelError(f"unknown Faster R-CNN {str(name)[:60]!r}; choose from "
                         f"{', '.join(FASTER_RCNNS)}")
    if weights is not None:
        from explorer.app import checks

        return checks.input_file(weights, "weights file", error=ModelError)
    path = cache_file(name)
    if not path.exists():
        raise ModelError(f"{name}'s COCO weights are not in the torch hub cache ({path}); "
                         "the explorer never downloads them: fetch them once with "
                         f"torchvision.models.detection.{name}(weights='DEFAULT'), or give "
                         "--weights FILE")
    return path


@dataclass
class FasterRCNN:
    """A loaded detector: `module` (torchvision's FasterRCNN, eval mode) on `device`."""

    name: str
    module: torch.nn.Module
    class_names: list[str]
    device: torch.device
    weights: Path


def load(name: str, device: str | torch.device = "cpu",
         weights: str | Path | None = None) -> FasterRCNN:
    """Faster R-CNN `name` with its COCO weights (hub cache) or `weights` (a state dict).

    Raises:
        ModelError: see :func:`check`; a file that does not fit the network.
    """
    import warnings

    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    from torchvision.models import get_model, get_model_weights

    from explorer.core.device import pick_device
    from explorer.nets.registry import load_state_dict_file

    path = check(name, weights)
    categories = list(get_model_weights(name).DEFAULT.meta["categories"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = get_model(name, weights=None, weights_backbone=None,
                           num_classes=len(categories))
    load_state_dict_file(module, path, name)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    module.eval().to(dev)
    return FasterRCNN(name, module, categories, dev, path)


def detect(net: FasterRCNN, image: np.ndarray, *, threshold: float = 0.5,
           iou: float = 0.5, task: Task | None = None) -> Detections:
    """Boxes of COCO objects in `image` (np.float32 [H, W, 3] in [0, 1]).

    The stages run one after another as in torchvision's ``GeneralizedRCNN.forward``
    (resize and normalise, backbone with FPN, RPN, box head, boxes back to the picture),
    with `task` checked between them. Returns :class:`Detections` whose ``proposals``
    (Tensor[P, 4], picture pixels) are the RPN's, with a score ``threshold`` and per-class
    NMS at ``iou``; ``timings`` per stage.
    """
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    from torchvision.models.detection.transform import resize_boxes

    task = task or NullTask()
    model = net.module
    heads = model.roi_heads
    h, w = image.shape[:2]
    old = heads.score_thresh, heads.nms_thresh
    timings: dict[str, float] = {}

    def lap(name: str, t0: float) -> float:
        if net.device.type == "cuda":
            torch.cuda.synchronize(net.device)
        t = time.perf_counter()
        timings[name] = t - t0
        return t

    t_start = t = time.perf_counter()
    try:
        heads.score_thresh, heads.nms_thresh = float(threshold), float(iou)
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
            images, _ = model.transform([x.to(net.device)])
            t = lap("resize", t)
            task.check()
            task.progress(0.2, "Faster R-CNN: backbone")
            features = model.backbone(images.tensors)
            t = lap("backbone", t)
            task.check()
            task.progress(0.6, "Faster R-CNN: region proposal network")
            proposals, _ = model.rpn(images, features)
            t = lap("rpn", t)
            task.check()
            task.progress(0.8, "Faster R-CNN: box head")
            found, _ = heads(features, proposals, images.image_sizes)
            found = model.transform.postprocess(found, images.image_sizes, [(h, w)])[0]
            t = lap("heads", t)
            rpn = resize_boxes(proposals[0], images.image_sizes[0], [h, w])
    finally:
        heads.score_thresh, heads.nms_thresh = old
    timings["total"] = t - t_start
    det = Detections(found["boxes"].float().cpu(), found["scores"].float().cpu(),
                     found["labels"].long().cpu(), list(net.class_names),
                     method="faster-rcnn", timings=timings, proposals=rpn.float().cpu())
    det.extra.update({"model": net.name, "threshold": float(threshold),
                      "input_size": [int(v) for v in images.image_sizes[0]][::-1]})
    task.progress(1.0, f"{len(det)} box(es) from {len(rpn)} RPN proposals")
    return det


__all__ = ["FASTER_RCNNS", "FasterRCNN", "available", "cache_file", "check",
           "default_name", "detect", "load"]
