"""What one output pixel of a segmenter looks at: its theoretical and its effective
receptive field.

* The **theoretical** field is the window of input pixels that can change the pixel's
  score at all, worked out layer by layer (kernels, strides, pooling, dilation, the
  transposed convolutions and upsampling on the way back up) by the same
  :class:`~explorer.core.fields.FieldTracker` that fills :func:`explorer.core.trace.layer_table`.
* The **effective** field is measured: the gradient of the pixel's winning class score with
  respect to the input, |d logit / d input| summed over colour channels. It is usually far
  smaller than the theoretical window and peaks near the pixel (Luo et al., 2016): most of
  the window barely matters.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.core.fields import FieldTracker
from explorer.core.network import Network
from explorer.core.tasks import NullTask, Task
from explorer.core.trace import LayerInfo
from explorer.segment.run import Prediction, SegPicture, _logits

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels, x2/y2 exclusive

_OUTPUT_FIELDS: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def output_field(network: Network, size: tuple[int, int]) -> LayerInfo:
    """The receptive field of the network's *output* for an input of `size` (h, w), as a
    :class:`LayerInfo` (use its ``field_box``).

    Tracked on the output tensor itself rather than read from the last module, because a
    network may make its output after its last module (torchvision's segmenters
    interpolate their scores back to the input size in ``forward``).
    """
    cache = _OUTPUT_FIELDS.setdefault(network.module, {})
    key = (tuple(size), str(network.device))
    if key not in cache:
        x = torch.zeros(1, network.in_channels, *size, device=network.device)
        tracker = FieldTracker(x)
        with torch.no_grad(), tracker:
            out = _logits(network.module(x))
        f = tracker.field_of(out)
        if f is None:
            raise ValueError(f"{network.name}: the output's receptive field is unknown")
        info = LayerInfo("output", type(network.module).__name__, tuple(out.shape[1:]), 0,
                         rf=int(round(max(f.rf))), jump=float(f.jump[0]),
                         start=float(f.start[0]), rf_global=f.whole, rf_hw=f.rf,
                         jump_hw=f.jump, start_hw=f.start)
        cache[key] = info
    return cache[key]


@dataclass
class PixelField:
    """One network's receptive fields for one output pixel, on the picture's grid.

    heat (np.float32 [H, W]): |gradient| summed over channels, scaled so its maximum is 1;
    box: the theoretical field (x1, y1, x2, y2), clipped to the picture; box_full: the same
    unclipped; mass_box: the smallest box grown from the gradient's peak that holds
    `mass` of the gradient; inside: the fraction of the gradient inside `box`.
    """

    name: str
    pixel: tuple[int, int]  # (y, x) on the picture's grid
    cls: int
    class_name: str
    heat: np.ndarray
    box: Box | None
    box_full: Box | None
    mass_box: Box | None
    mass: float
    peak: tuple[int, int] | None  # (y, x) of the largest gradient
    inside: float | None
    rf_size: tuple[float, float] | None  # theoretical (h, w) in picture pixels

    def as_dict(self) -> dict:
        return {"network": self.name, "pixel": list(self.pixel), "class": self.class_name,
                "theoretical_box": _r(self.box), "theoretical_size": _r(self.rf_size),
                "effective_box": _r(self.mass_box), "mass": self.mass,
                "peak": list(self.peak) if self.peak else None,
                "gradient_inside_theoretical": self.inside}


def _r(v):
    return None if v is None else [round(float(t), 2) for t in v]


def mass_box(weights: np.ndarray, mass: float = 0.95) -> tuple[int, int, int, int] | None:
    """The box (x1, y1, x2, y2), x2/y2 exclusive, grown one row or column at a time from
    the largest entry of `weights` (non-negative [H, W]), always towards the side that adds
    the most weight, until it holds `mass` of the total. None if all weights are zero."""
    w = np.asarray(weights, np.float64)
    total = w.sum()
    if not total > 0:
        return None
    h, wd = w.shape
    sat = np.zeros((h + 1, wd + 1))
    sat[1:, 1:] = w.cumsum(0).cumsum(1)

    def box_sum(y1, y2, x1, x2):
        return sat[y2, x2] - sat[y1, x2] - sat[y2, x1] + sat[y1, x1]

    py, px = np.unravel_index(int(np.argmax(w)), w.shape)
    y1, y2, x1, x2 = int(py), int(py) + 1, int(px), int(px) + 1
    target = mass * total
    current = box_sum(y1, y2, x1, x2)
    while current < target - 1e-12 * total:
        options = []
        if y1 > 0:
            options.append((box_sum(y1 - 1, y1, x1, x2), "top"))
        if y2 < h:
            options.append((box_sum(y2, y2 + 1, x1, x2), "bottom"))
        if x1 > 0:
            options.append((box_sum(y1, y2, x1 - 1, x1), "left"))
        if x2 < wd:
            options.append((box_sum(y1, y2, x2, x2 + 1), "right"))
        if not options:
            break
        gain, side = max(options, key=lambda o: o[0])
        if side == "top":
            y1 -= 1
        elif side == "bottom":
            y2 += 1
        elif side == "left":
            x1 -= 1
        else:
            x2 += 1
        current += gain
    return x1, y1, x2, y2


def effective_gradient(network: Network, x: torch.Tensor, unit: tuple[int, int],
                       cls: int) -> np.ndarray:
    """|d logit[cls, unit] / d x| summed over channels: np.float32 [h, w] for x
    (Tensor[1, C, h, w]); `unit` (y, x) on the output's grid."""
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = _logits(network.module(xg))
        out[0, cls, unit[0], unit[1]].backward()
    return xg.grad[0].abs().sum(0).float().cpu().numpy()


def pixel_field(pred: Prediction, picture: SegPicture, y: int, x: int, mass: float = 0.95,
                cls: int | None = None) -> PixelField:
    """Theoretical and effective receptive field of picture pixel (y, x) for one network.

    The gradient is taken of the logit of `cls` (default: the class the network chose at
    that pixel), at the output unit that the picture pixel falls on.
    """
    H, W = picture.size
    if not (0 <= y < H and 0 <= x < W):
        raise ValueError(f"pixel ({y}, {x}) is outside the {W}x{H} picture")
    net = pred.network
    h, w = pred.net_size
    oh, ow = pred.logits.shape[-2:]
    yn, xn = int((y + 0.5) * h / H), int((x + 0.5) * w / W)  # network-input pixel
    yo, xo = min(int((yn + 0.5) * oh / h), oh - 1), min(int((xn + 0.5) * ow / w), ow - 1)
    cls = int(pred.classes[y, x]) if cls is None else int(cls)
    grad = effective_gradient(net, pred.x, (yo, xo), cls)
    sy, sx = H / h, W / w

    info = output_field(net, (h, w))
    box_full = box = None
    rf_size = None
    inside = None
    total = float(grad.sum())
    fb = info.field_box(yo, xo)
    if fb is not None:
        bx1, by1, bx2, by2 = fb
        box_full = (bx1 * sx, by1 * sy, bx2 * sx, by2 * sy)
        box = (max(0.0, box_full[0]), max(0.0, box_full[1]),
               min(float(W), box_full[2]), min(float(H), box_full[3]))
        rf_size = (info.rf_hw[0] * sy, info.rf_hw[1] * sx)
        if total > 0:
            iy1, iy2 = max(0, int(np.floor(by1))), min(h, int(np.ceil(by2)))
            ix1, ix2 = max(0, int(np.floor(bx1))), min(w, int(np.ceil(bx2)))
            inside = float(grad[iy1:iy2, ix1:ix2].sum() / total)
    elif info.rf_global:
        box_full = box = (0.0, 0.0, float(W), float(H))
        rf_size = (float(H), float(W))
        inside = 1.0 if total > 0 else None

    mb = mass_box(grad, mass)
    mbox = None if mb is None else (mb[0] * sx, mb[1] * sy, mb[2] * sx, mb[3] * sy)
    peak = None
    if total > 0:
        py, px = np.unravel_index(int(np.argmax(grad)), grad.shape)
        peak = (min(int((py + 0.5) * sy), H - 1), min(int((px + 0.5) * sx), W - 1))
    heat = grad
    if (h, w) != (H, W):
        heat = F.interpolate(torch.from_numpy(grad)[None, None], size=(H, W),
                             mode="bilinear", align_corners=False)[0, 0].numpy()
    top = float(heat.max())
    heat = (heat / top if top > 0 else heat).astype(np.float32)
    names = pred.class_names
    return PixelField(pred.name, (int(y), int(x)), cls,
                      names[cls] if cls < len(names) else f"class {cls}", heat, box,
                      box_full, mbox, mass, peak, inside, rf_size)


def pixel_fields(preds: dict[str, Prediction], picture: SegPicture, y: int, x: int,
                 mass: float = 0.95, task: Task | None = None) -> dict[str, PixelField]:
    """:func:`pixel_field` for every network; `task` is checked before each network (one
    backward pass each), so after a cancel at most one more runs."""
    task = task or NullTask()
    out = {}
    for i, (name, p) in enumerate(preds.items()):
        task.check()
        task.progress(i / max(1, len(preds)), f"receptive field of {name}")
        out[name] = pixel_field(p, picture, y, x, mass)
    return out
