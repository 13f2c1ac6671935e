"""Translation equivariance, layer by layer: is ``f(T x) = T' f(x)``?

Shift the input by (dy, dx) pixels; a layer whose output has cumulative stride s should see
its output shifted by (dy/s, dx/s) cells. Convolution (stride 1) is equivariant; a stride or
pooling breaks it when the shift is not a multiple of the stride, and the classifier head
(flatten + fully connected) is neither equivariant nor invariant.

Shifting: ``mode="roll"`` (default) rolls the image circularly (``torch.roll``): no content
is lost or invented, so a network with circular padding is *exactly* equivariant for
shifts that are multiples of its strides, which isolates the effect of strides and pooling.
``mode="zeros"`` shifts in zeros (content leaves at one side), as a camera pan would.

Borders: with zero/reflect padding, output cells whose receptive field reaches the image
border (or, after a roll, the wrapped seam) see different content, not a failure of
equivariance. With ``crop=True`` (default) only cells whose field lies inside the image in
both the shifted and the unshifted run are compared; the field comes from
:mod:`explorer.lab.rf`'s recurrence along the main path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.core.trace import first_tensor
from explorer.errors import UserError
from explorer.lab.rf import RFLayer, main_path, rf_recurrence

SHIFT_MODES = ("roll", "zeros")


def shift(x: torch.Tensor, dy: int, dx: int, mode: str = "roll") -> torch.Tensor:
    """Shift the last two axes of `x` by (dy, dx) (positive: down / right).

    Args:
        x (Tensor[..., H, W]).
        mode: "roll" (circular) or "zeros" (vacated cells become 0).
    """
    if mode not in SHIFT_MODES:
        raise UserError(f"Unknown shift mode '{mode}'; choose roll or zeros.")
    if mode == "roll":
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_r = slice(max(0, -dy), h - max(0, dy))
    dst_r = slice(max(0, dy), h - max(0, -dy))
    src_c = slice(max(0, -dx), w - max(0, dx))
    dst_c = slice(max(0, dx), w - max(0, -dx))
    out[..., dst_r, dst_c] = x[..., src_r, src_c]
    return out


@dataclass(frozen=True)
class LayerEquivariance:
    """How one layer's output responds to the input shift."""

    name: str
    #: output shape without the batch: (C, h, w) or (K,)
    shape: tuple[int, ...]
    #: the output has rows/cols (False: a vector, compared without shifting = invariance)
    spatial: bool
    #: cumulative stride (rows, cols): the main path's jump, or round(input / output size)
    #: when the output size does not follow from the main path
    stride: tuple[int, int]
    #: the ideal output shift (dy/s, dx/s), possibly fractional
    ideal_shift: tuple[float, float]
    #: the whole-cell shift actually compared (the better of floor/ceil when fractional)
    compared_shift: tuple[int, int]
    #: the input shift is a multiple of the stride, so exact equivariance is possible
    exact: bool
    #: ||f(Tx) - T'f(x)|| / ||T'f(x)|| over the compared cells (NaN if none)
    rel_diff: float
    #: output cells (per channel) compared, after cropping
    compared_cells: int
    #: receptive field (input pixels) used for cropping, 1 if unknown
    rf: int
    #: border/seam cells were left out; False when no cell's field avoids them (deep
    #: layers of a small image) and all cells were compared instead
    cropped: bool

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class EquivarianceResult:
    shift: tuple[int, int]
    mode: str
    layers: list[LayerEquivariance]
    #: argmax class of the final output for x and for the shifted x (None: no class vector)
    top_before: int | None
    top_after: int | None

    @property
    def prediction_holds(self) -> bool | None:
        if self.top_before is None:
            return None
        return self.top_before == self.top_after

    def as_dict(self) -> dict:
        return {
            "shift": list(self.shift), "mode": self.mode,
            "layers": [layer.as_dict() for layer in self.layers],
            "top_before": self.top_before, "top_after": self.top_after,
            "prediction_holds": self.prediction_holds,
        }


def estimate_floats(key: str, size: int) -> int:
    """float32 numbers one pass of lab model `key` (:data:`explorer.lab.rf.MODEL_NAMES`)
    keeps at a `size` x `size` input: every module's output, measured on the meta device
    (no memory, no arithmetic), so a size that would not fit is refused before it runs."""
    from explorer.lab.rf import MODEL_CHANNELS, build_model

    total = 0

    def count(_m, _i, out):
        nonlocal total
        t = first_tensor(out)
        if t is not None:
            total += t.numel()

    with torch.device("meta"):
        model = build_model(key)
        hooks = [m.register_forward_hook(count) for m in model.modules()]
        try:
            model(torch.empty(1, MODEL_CHANNELS[key], size, size))
        finally:
            for h in hooks:
                h.remove()
    return total


def _run(model: nn.Module, x: torch.Tensor, layers: list[str], path: dict[str, RFLayer]):
    """Outputs of `layers` and, per layer, the main-path field in force when it finished."""
    modules = dict(model.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    fields: dict[str, RFLayer | None] = {}
    state: dict[str, RFLayer | None] = {"rf": None}
    hooks = []

    def on_path(name):
        def hook(_m, _i, _o):
            state["rf"] = path[name]
        return hook

    def on_layer(name):
        def hook(_m, _i, out):
            t = first_tensor(out)
            if t is not None:
                outputs[name] = t.detach()
                fields[name] = state["rf"]
        return hook

    # path hooks first so a conv that is also a requested layer sees its own field
    for name in path:
        hooks.append(modules[name].register_forward_hook(on_path(name)))
    for name in layers:
        hooks.append(modules[name].register_forward_hook(on_layer(name)))
    try:
        with torch.no_grad():
            final = first_tensor(model(x))
    finally:
        for h in hooks:
            h.remove()
    return outputs, fields, final


def _clean(n_out: int, n_in: int, field: RFLayer | None) -> np.ndarray:
    """bool[n_out]: unit's field lies inside [0, n_in - 1] (no padding involved)."""
    if field is None:
        return np.ones(n_out, dtype=bool)
    lo, hi = field.field(np.arange(n_out))
    return (lo >= 0) & (hi <= n_in - 1)


def _compare(a, b, k: tuple[int, int], mode, masks, crop) -> tuple[float, int]:
    """rel. difference of b = f(Tx) and a shifted by k cells, on the trusted cells.

    Trusted (``crop``): cell i of b whose field is clean, and whose partner i - k in a exists
    (no wrap-around of the output) and is clean. Then b's field is a's field moved by the
    input shift and holds the same content (no padding, no zeros shifted in, no roll seam).
    """
    h, w = a.shape[-2:]
    ref = shift(a, k[0], k[1], mode)
    src_r, src_c = np.arange(h) - k[0], np.arange(w) - k[1]
    in_r, in_c = (src_r >= 0) & (src_r < h), (src_c >= 0) & (src_c < w)
    if crop:
        clean_r, clean_c = masks
        rows = clean_r & in_r & clean_r[src_r.clip(0, h - 1)]
        cols = clean_c & in_c & clean_c[src_c.clip(0, w - 1)]
        keep = np.outer(rows, cols)
    elif mode == "zeros":  # cells shifted in from outside hold no information
        keep = np.outer(in_r, in_c)
    else:
        keep = np.ones((h, w), dtype=bool)
    if not keep.any():
        return float("nan"), 0
    m = torch.from_numpy(keep)
    diff = (b - ref)[..., m]
    base = ref[..., m]
    rel = diff.double().norm() / base.double().norm().clamp_min(1e-12)
    return float(rel), int(keep.sum())


def equivariance(
    model: nn.Module,
    x: torch.Tensor,
    dy: int,
    dx: int,
    layers: list[str] | None = None,
    mode: str = "roll",
    crop: bool = True,
) -> EquivarianceResult:
    """Compare ``f(shift(x))`` with ``shift(f(x))`` at every layer in `layers`.

    Args:
        model: any module (evaluated under no_grad in its current mode; use eval mode).
        x (Tensor[1, C, H, W] or Tensor[C, H, W]): the image.
        dy, dx: input shift in pixels.
        layers: qualified module names; default the model's direct children.
        mode: "roll" or "zeros" (see the module docstring).
        crop: compare only cells whose field avoids borders and seams.

    Returns:
        EquivarianceResult: one LayerEquivariance per layer with a tensor output, in the
        order given, and the top class before/after when the model outputs [1, K].
    """
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[0] != 1:
        raise UserError(f"Expected one image [1, C, H, W], got shape {tuple(x.shape)}.")
    names = dict(model.named_modules())
    layers = [n for n, _ in model.named_children()] if layers is None else list(layers)
    for name in layers:
        if name not in names:
            raise UserError(f"The model has no layer named '{name}'.")
    H, W = x.shape[-2:]
    specs = main_path(model)
    path = {f.name: f for f in rf_recurrence(specs, H)}
    out_w = {f.name: f.out_size for f in rf_recurrence(specs, W)}
    out_a, fields, final_a = _run(model, x, layers, path)
    out_b, _, final_b = _run(model, shift(x, dy, dx, mode), layers, path)

    rows = []
    for name in layers:
        if name not in out_a:
            continue
        a, b = out_a[name][0], out_b[name][0]
        field = fields[name]
        rf = field.rf if field is not None else 1
        if a.dim() < 3 or a.shape[-2:] == (1, 1):
            # a vector (or a global pooling): the shift should not change it at all
            rel = float((b - a).double().norm() / a.double().norm().clamp_min(1e-12))
            rows.append(LayerEquivariance(name, tuple(a.shape), False, (1, 1), (0.0, 0.0),
                                          (0, 0), False, rel, a.numel(), rf, False))
            continue
        h, w = a.shape[-2:]
        if field is not None and (field.out_size, out_w[field.name]) == (h, w):
            s = (field.jump, field.jump)
        else:  # something off the main path resized it (adaptive pooling, upsampling)
            field = None
            s = (max(1, round(H / h)), max(1, round(W / w)))
        ideal = (dy / s[0], dx / s[1])
        exact = dy % s[0] == 0 and dx % s[1] == 0
        masks = (_clean(h, H, field), _clean(w, W, field))
        candidates = {
            (ry, rx)
            for ry in {math.floor(ideal[0]), math.ceil(ideal[0])}
            for rx in {math.floor(ideal[1]), math.ceil(ideal[1])}
        }
        use_crop = crop and bool(np.outer(*masks).any())
        best = None
        for k in sorted(candidates):
            rel, n = _compare(a, b, k, mode, masks, use_crop)
            if best is None or (not math.isnan(rel) and (math.isnan(best[1]) or rel < best[1])):
                best = (k, rel, n)
        if use_crop and best[2] == 0:  # the shift moved every clean cell onto a border
            best = min(
                ((k, *_compare(a, b, k, mode, masks, False)) for k in sorted(candidates)),
                key=lambda t: t[1],
            )
            use_crop = False
        rows.append(LayerEquivariance(name, tuple(a.shape), True, s, ideal, best[0], exact,
                                      best[1], best[2], rf, use_crop))
    top_a = top_b = None
    if final_a is not None and final_a.dim() == 2:
        top_a, top_b = int(final_a[0].argmax()), int(final_b[0].argmax())
    return EquivarianceResult((dy, dx), mode, rows, top_a, top_b)
