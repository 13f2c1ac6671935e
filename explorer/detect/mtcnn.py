"""The MTCNN cascade: P-Net over an image pyramid, then R-Net, then O-Net.

This follows facenet-pytorch 2.6.0 (``facenet_pytorch/models/utils/detect_face.py``) step by
step, so the same weights give the same boxes: pyramid sizes ``int(side * scale + 1)``, area
resampling, P-Net windows of 12 px at stride 2, NMS 0.5 per scale and 0.7 across scales,
box regression, "square-ifying" (``_square``), crops clamped to the image (the reference
does not zero-pad), R-Net threshold + NMS 0.7 + regression, O-Net threshold, landmarks and
a final NMS that divides by the smaller box's area (the original MTCNN "Min" mode).

NMS is ``torchvision.ops.nms`` except for that last "Min" step, which torchvision does not
offer; :func:`_nms_min` reproduces the reference's greedy loop (inclusive pixel areas).
"""

# ruff: noqa: E402 - torchvision comes after ensure_torchvision() (explorer.core.tvimport)

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import interpolate

from explorer.core.tvimport import ensure_torchvision

ensure_torchvision()  # one first import: explorer.core.tvimport
from torchvision.ops import nms

from explorer.app import checks
from explorer.core.tasks import NullTask, Task
from explorer.errors import ImageError, UserError
from explorer.nets.mtcnn import load_stage

#: crops go through R-Net / O-Net in batches of this size (as the reference) to bound memory
BATCH = 512


@dataclass
class StageBoxes:
    """Candidates that survive one stage.

    boxes (Tensor[K, 4]): x1, y1, x2, y2 in image pixels (after that stage's regression
    and, for P-Net and R-Net, squaring, i.e. the windows the next stage looks at).
    scores (Tensor[K]): that stage's face probability.
    """

    boxes: Tensor
    scores: Tensor

    def __len__(self) -> int:
        return len(self.scores)


@dataclass
class FaceDetections:
    """What :func:`detect_faces` found, best score first.

    boxes (Tensor[N, 4]): x1, y1, x2, y2 in image pixels (float, may reach past the border).
    scores (Tensor[N]): O-Net face probability.
    landmarks (Tensor[N, 5, 2]): (x, y) of left eye, right eye, nose, left and right mouth
    corner, in image pixels.
    stages: "pnet", "rnet", "onet" -> :class:`StageBoxes` after each stage.
    timings: seconds per stage ("pnet", "rnet", "onet") and "total".
    scales: the image pyramid's scales (pyramid level size = image size * scale).
    """

    boxes: Tensor
    scores: Tensor
    landmarks: Tensor
    stages: dict[str, StageBoxes] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    scales: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.scores)


@lru_cache(maxsize=4)
def _stages(device: str) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
    return load_stage("pnet", device), load_stage("rnet", device), load_stage("onet", device)


def _to_tensor(image: np.ndarray, device: torch.device) -> Tensor:
    """np.ndarray [H, W, 3] (uint8, or float in [0, 1]) -> Tensor[1, 3, H, W] in 0..255."""
    if not isinstance(image, np.ndarray):
        raise ImageError("The image must be a numpy array of shape [H, W, 3].")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"Expected an RGB image of shape [H, W, 3], got {image.shape}.")
    if image.dtype == np.uint8:
        x = torch.from_numpy(np.ascontiguousarray(image)).to(device, torch.float32)
    elif np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
            raise ImageError("A float image must hold finite values in [0, 1].")
        x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).to(device) * 255
    else:
        raise ImageError(f"Unsupported image dtype {image.dtype}; use uint8 or float.")
    return x.permute(2, 0, 1).unsqueeze(0)


def _normalise(x: Tensor) -> Tensor:
    # (p - 127.5) / 128 on 8-bit pixels: what the networks were trained on
    return (x - 127.5) * 0.0078125


def _resample(x: Tensor, size: tuple[int, int]) -> Tensor:
    return interpolate(x, size=size, mode="area")


def _pyramid(h: int, w: int, min_face_size: float, factor: float) -> list[float]:
    """Scales at which a 12 px P-Net window covers faces from ``min_face_size`` upwards."""
    m = 12.0 / min_face_size
    minl = min(h, w) * m
    scales, scale = [], m
    while minl >= 12:
        scales.append(scale)
        scale *= factor
        minl *= factor
    return scales


def _pnet_boxes(prob: Tensor, reg: Tensor, scale: float, threshold: float) -> Tensor:
    """P-Net maps at one scale -> Tensor[K, 9]: window x1, y1, x2, y2, score, 4 offsets.

    prob (Tensor[H', W']) is the face channel, reg (Tensor[4, H', W']).
    """
    stride, cell = 2, 12
    mask = prob >= threshold
    yx = mask.nonzero().to(reg.dtype)
    xy = yx.flip(1)
    q1 = ((stride * xy + 1) / scale).floor()
    q2 = ((stride * xy + cell) / scale).floor()
    return torch.cat([q1, q2, prob[mask].unsqueeze(1), reg[:, mask].T], dim=1)


def _square(boxes: Tensor) -> Tensor:
    """Grow each box (Tensor[K, 4+]) to a square around its centre (reference ``rerec``)."""
    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: Tensor, reg: Tensor) -> Tensor:
    """Apply R-/O-Net offsets (Tensor[K, 4]) with inclusive pixel widths (reference ``bbreg``)."""
    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] = boxes[:, 0] + reg[:, 0] * w
    out[:, 1] = boxes[:, 1] + reg[:, 1] * h
    out[:, 2] = boxes[:, 2] + reg[:, 2] * w
    out[:, 3] = boxes[:, 3] + reg[:, 3] * h
    return out


def _crops(img: Tensor, boxes: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Cut boxes (Tensor[K, 4]) out of img (Tensor[1, 3, H, W]) and resize to size x size.

    As the reference: truncate to int, clamp to the image (1-based x, y), no zero padding.
    Returns (crops Tensor[K', 3, size, size], keep Tensor[K] bool) where boxes entirely
    outside the image are dropped (the reference would misalign its arrays there).
    """
    h, w = img.shape[2:]
    b = boxes[:, :4].trunc().int().cpu()
    x = b[:, 0].clamp(min=1)
    y = b[:, 1].clamp(min=1)
    ex = b[:, 2].clamp(max=w)
    ey = b[:, 3].clamp(max=h)
    keep = (ey > y - 1) & (ex > x - 1)
    x, y, ex, ey = x.tolist(), y.tolist(), ex.tolist(), ey.tolist()
    crops = [
        _resample(img[:, :, y[k] - 1 : ey[k], x[k] - 1 : ex[k]], (size, size))
        for k in keep.nonzero().flatten().tolist()
    ]
    if not crops:
        return img.new_zeros((0, 3, size, size)), keep.to(boxes.device)
    return torch.cat(crops), keep.to(boxes.device)


def _run_batched(net: torch.nn.Module, x: Tensor, task: Task) -> tuple[Tensor, ...]:
    outs = []
    for i in range(0, len(x), BATCH):
        task.check()
        outs.append(net(x[i : i + BATCH]))
    return tuple(torch.cat(parts) for parts in zip(*outs, strict=True))


def _nms_min(boxes: Tensor, scores: Tensor, threshold: float) -> Tensor:
    """Greedy NMS where overlap = intersection / smaller area (pixel-inclusive areas).

    torchvision has only IoU; the reference's last step uses this "Min" overlap so a small
    box inside a big one is suppressed. Returns kept indices, best score first.
    """
    if len(boxes) == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    iw = (torch.minimum(x2[:, None], x2[None]) - torch.maximum(x1[:, None], x1[None]) + 1)
    ih = (torch.minimum(y2[:, None], y2[None]) - torch.maximum(y1[:, None], y1[None]) + 1)
    inter = iw.clamp(min=0) * ih.clamp(min=0)
    overlap = (inter / torch.minimum(area[:, None], area[None])).cpu()
    order = torch.argsort(scores.cpu(), descending=True, stable=True).tolist()
    keep: list[int] = []
    alive = torch.ones(len(order), dtype=torch.bool)
    for i in order:
        if alive[i]:
            keep.append(i)
            alive &= overlap[i] <= threshold
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def detect_faces(
    image: np.ndarray,
    min_face_size: float = 20,
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
    factor: float = 0.709,
    device: str | torch.device = "cpu",
    task: Task | None = None,
) -> FaceDetections:
    """Find faces with the MTCNN cascade.

    Args:
        image: np.ndarray [H, W, 3] RGB, uint8 or float in [0, 1].
        min_face_size: smallest face side (pixels) searched for; sets the pyramid's top scale.
        thresholds: face-probability cut-offs for P-Net (>=), R-Net (>) and O-Net (>).
        factor: ratio between neighbouring pyramid levels, in (0, 1).
        device: where the networks run.
        task: progress and cancel (:class:`~explorer.core.tasks.Task`), checked before
            every pyramid level and every batch of R-Net / O-Net crops.

    Returns:
        :class:`FaceDetections` with boxes (Tensor[N, 4]), scores (Tensor[N]),
        landmarks (Tensor[N, 5, 2]) on the CPU, sorted by score.
    """
    min_face_size = checks.number("the smallest face", min_face_size, 1.0)
    if not (isinstance(factor, (int, float)) and 0 < factor < 1):
        raise UserError(f"the pyramid factor must lie strictly between 0 and 1, not {factor}")
    if len(thresholds) != 3:
        raise UserError(f"give three thresholds between 0 and 1, not {tuple(thresholds)}")
    thresholds = tuple(checks.number("each MTCNN threshold", t, 0.0, 1.0) for t in thresholds)
    task = task or NullTask()

    def step(fraction: float, message: str) -> None:
        task.check()
        task.progress(fraction, message)

    device = torch.device(device)
    t_start = time.perf_counter()
    step(0.0, "Loading MTCNN")
    pnet, rnet, onet = _stages(str(device))
    img = _to_tensor(image, device)
    h, w = img.shape[2:]
    scales = _pyramid(h, w, min_face_size, factor)
    timings: dict[str, float] = {}
    stages: dict[str, StageBoxes] = {}

    with torch.inference_mode():
        # Stage 1: P-Net on every pyramid level
        t0 = time.perf_counter()
        per_scale = []
        for i, scale in enumerate(scales):
            step(0.6 * i / len(scales), f"P-Net, pyramid level {i + 1}/{len(scales)}")
            level = _resample(img, (int(h * scale + 1), int(w * scale + 1)))
            prob, reg = pnet(_normalise(level))
            cand = _pnet_boxes(prob[0, 1], reg[0], scale, thresholds[0])
            per_scale.append(cand[nms(cand[:, :4], cand[:, 4], 0.5)])
        boxes = torch.cat(per_scale) if per_scale else img.new_zeros((0, 9))
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        # P-Net's offsets are in window sizes without the +1 (unlike _regress)
        bw = boxes[:, 2] - boxes[:, 0]
        bh = boxes[:, 3] - boxes[:, 1]
        offsets = boxes[:, 5:9]
        boxes = torch.stack(
            [
                boxes[:, 0] + offsets[:, 0] * bw,
                boxes[:, 1] + offsets[:, 1] * bh,
                boxes[:, 2] + offsets[:, 2] * bw,
                boxes[:, 3] + offsets[:, 3] * bh,
                boxes[:, 4],
            ],
            dim=1,
        )
        boxes = _square(boxes)
        stages["pnet"] = StageBoxes(boxes[:, :4].cpu(), boxes[:, 4].cpu())
        timings["pnet"] = time.perf_counter() - t0

        # Stage 2: R-Net on 24x24 crops
        step(0.6, f"R-Net on {len(boxes)} candidates")
        t0 = time.perf_counter()
        if len(boxes):
            crops, inside = _crops(img, boxes, 24)
            boxes = boxes[inside]
            prob, reg = _run_batched(rnet, _normalise(crops), task)
            score = prob[:, 1]
            passed = score > thresholds[1]
            boxes = torch.cat([boxes[passed, :4], score[passed, None]], dim=1)
            reg = reg[passed]
            pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
            boxes = _square(_regress(boxes[pick], reg[pick]))
        stages["rnet"] = StageBoxes(boxes[:, :4].cpu(), boxes[:, 4].cpu())
        timings["rnet"] = time.perf_counter() - t0

        # Stage 3: O-Net on 48x48 crops, landmarks, final "Min" NMS
        step(0.8, f"O-Net on {len(boxes)} candidates")
        t0 = time.perf_counter()
        points = img.new_zeros((0, 5, 2))
        if len(boxes):
            crops, inside = _crops(img, boxes, 48)
            boxes = boxes[inside]
            prob, reg, marks = _run_batched(onet, _normalise(crops), task)
            score = prob[:, 1]
            passed = score > thresholds[2]
            boxes = torch.cat([boxes[passed, :4], score[passed, None]], dim=1)
            reg, marks = reg[passed], marks[passed]
            # landmarks are fractions of the (unregressed) crop box, 1-based like MATLAB
            bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
            bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
            px = bw * marks[:, :5] + boxes[:, 0:1] - 1
            py = bh * marks[:, 5:] + boxes[:, 1:2] - 1
            points = torch.stack([px, py], dim=2)
            boxes = _regress(boxes, reg)
            pick = _nms_min(boxes[:, :4], boxes[:, 4], 0.7)
            boxes, points = boxes[pick], points[pick]
        stages["onet"] = StageBoxes(boxes[:, :4].cpu(), boxes[:, 4].cpu())
        timings["onet"] = time.perf_counter() - t0

    timings["total"] = time.perf_counter() - t_start
    task.progress(1.0, f"{len(boxes)} face(s)")
    return FaceDetections(
        boxes=boxes[:, :4].cpu(),
        scores=boxes[:, 4].cpu(),
        landmarks=points.cpu(),
        stages=stages,
        timings=timings,
        scales=scales,
    )
