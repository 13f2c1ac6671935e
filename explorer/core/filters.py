"""A convolution's kernels as a picture: colour patches for a first layer that reads RGB
(like AlexNet's 11x11 filters), one grey patch per (output, input) pair deeper down."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.core import script_trace


@dataclass
class FilterImage:
    """``image``: float32 [H, W, 3] (rgb) or [H, W] in [0, 1], gaps NaN (grey) or 1."""

    image: np.ndarray
    rgb: bool
    rows: int  # output channels shown
    cols: int  # patches per row
    k: tuple[int, int]
    pad: int
    shown_in: int  # input channels shown per output channel (grey mode)
    total_out: int
    total_in: int


def filter_image(module: nn.Module, max_in: int = 16, max_out: int = 64,
                 pad: int = 1) -> FilterImage:
    """The kernels of `module` (a Conv2d or ConvTranspose2d) as one image.

    RGB mode (3 input channels, not grouped): each output channel's kernel [3, kh, kw]
    scaled symmetrically around 0 (grey = 0) and shown as a colour patch in a square grid.
    Grey mode: rows are output channels (up to `max_out`), columns input channels (up to
    `max_in`), each kernel scaled by the largest absolute weight of the layer.
    """
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise ValueError(f"{script_trace.type_name(module)} has no 2-D convolution kernels")
    w = weight.detach().float().cpu()
    transposed, groups = _layout(module)
    if transposed:
        w = w.transpose(0, 1)  # stored [in, out, kh, kw]
    out_c, in_c, kh, kw = w.shape
    scale = w.abs().max().clamp_min(1e-12)
    if in_c == 3 and groups == 1:
        n = min(out_c, max_out * 4)
        cols = int(np.ceil(np.sqrt(n)))
        rows = int(np.ceil(n / cols))
        # per-filter symmetric scaling: AlexNet-style pictures show each filter's pattern
        per = w[:n].abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        patches = (w[:n] / per * 0.5 + 0.5).permute(0, 2, 3, 1).numpy()
        canvas = np.ones((rows * (kh + pad) - pad, cols * (kw + pad) - pad, 3), np.float32)
        for i in range(n):
            r, q = divmod(i, cols)
            canvas[r * (kh + pad): r * (kh + pad) + kh,
                   q * (kw + pad): q * (kw + pad) + kw] = patches[i]
        return FilterImage(canvas, True, rows, cols, (kh, kw), pad, 3, out_c, in_c)
    rows, cols = min(out_c, max_out), min(in_c, max_in)
    tiles = (w[:rows, :cols] / scale * 0.5 + 0.5).numpy()
    canvas = np.full((rows * (kh + pad) - pad, cols * (kw + pad) - pad), np.nan, np.float32)
    view = canvas[: rows * (kh + pad) - pad, : cols * (kw + pad) - pad]
    for r in range(rows):
        for q in range(cols):
            view[r * (kh + pad): r * (kh + pad) + kh,
                 q * (kw + pad): q * (kw + pad) + kw] = tiles[r, q]
    return FilterImage(canvas, False, rows, cols, (kh, kw), pad, cols, out_c, in_c)


def _layout(module: nn.Module) -> tuple[bool, int]:
    """(transposed, groups) of a convolution: an eager one, the stand-in of a TorchScript
    layer (:mod:`explorer.core.script_trace`), or a TorchScript layer itself, whose
    traced form keeps them only in its graph."""
    if isinstance(module, nn.ConvTranspose2d):
        return True, module.groups
    if isinstance(module, nn.Conv2d):
        return False, module.groups
    geometry = (script_trace.leaf_geometry(module) if script_trace.is_script(module)
                else {"transposed": getattr(module, "transposed", None),
                      "groups": getattr(module, "groups", None)})
    transposed = geometry.get("transposed")
    if not isinstance(transposed, bool):
        transposed = script_trace.type_name(module) == "ConvTranspose2d"
    groups = geometry.get("groups")
    return transposed, groups if isinstance(groups, int) and groups > 0 else 1


def layer_filter_image(network, name: str, **kwargs) -> FilterImage:
    """:func:`filter_image` of layer `name` of `network` (an
    :class:`explorer.core.network.Network`), TorchScript files included."""
    from explorer.core.trace import submodule

    return filter_image(submodule(network, name), **kwargs)
