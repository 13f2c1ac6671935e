"""All channels of a layer tiled into ONE image, so a view draws one picture per layer
rather than one widget per channel."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Mosaic:
    """``image`` is float32 [rows * (tile_h + pad) - pad, cols * (tile_w + pad) - pad] in
    [0, 1]; the gaps between tiles are NaN so a colour map can leave them blank."""

    image: np.ndarray
    rows: int
    cols: int
    tile_h: int
    tile_w: int
    pad: int
    channels: int
    #: the value range each tile was scaled from: float32 [channels, 2] (lo, hi)
    ranges: np.ndarray

    def tile_origin(self, c: int) -> tuple[int, int]:
        """(y, x) of channel c's top-left pixel in the mosaic."""
        r, q = divmod(c, self.cols)
        return r * (self.tile_h + self.pad), q * (self.tile_w + self.pad)

    def channel_at(self, y: float, x: float) -> int | None:
        """The channel whose tile holds mosaic pixel (y, x), or None for a gap."""
        if y < 0 or x < 0:
            return None
        r, ry = divmod(int(y), self.tile_h + self.pad)
        q, rx = divmod(int(x), self.tile_w + self.pad)
        if ry >= self.tile_h or rx >= self.tile_w or q >= self.cols:
            return None
        c = r * self.cols + q
        return c if c < self.channels else None

    def unit_at(self, y: float, x: float) -> tuple[int, int, int] | None:
        """(channel, unit y, unit x) under mosaic pixel (y, x)."""
        c = self.channel_at(y, x)
        if c is None:
            return None
        oy, ox = self.tile_origin(c)
        return c, int(y) - oy, int(x) - ox


def as_maps(act: torch.Tensor) -> torch.Tensor:
    """Any activation as maps Tensor[C, H, W]: a vector [K] becomes K 1x1 maps."""
    if act.dim() == 3:
        return act
    if act.dim() == 1:
        return act.view(-1, 1, 1)
    if act.dim() == 2:  # [C, L] (1-D signals): one row per channel
        return act.unsqueeze(1)
    if act.dim() == 4:  # [C, D, H, W] volumes: their middle slice
        return act[:, act.shape[1] // 2]
    raise ValueError(f"cannot tile an activation of shape {list(act.shape)}")


def mosaic(act: torch.Tensor, normalize: str = "channel", pad: int = 1,
           cols: int | None = None) -> Mosaic:
    """Tile act (Tensor[C, H, W] or Tensor[K]) into one image.

    Args:
        normalize: "channel" scales each map to its own range (shows every map's pattern);
            "layer" uses one range for the whole layer (shows which maps are strong).
        cols: tiles per row; default makes the mosaic roughly square.
    The scaling runs on the tensor's device; only the finished image moves to the CPU.
    """
    maps = as_maps(act.detach()).float()
    c, h, w = maps.shape
    if h == 1 and w == 1:
        pad = 0  # a vector: a grid of single pixels reads best without gaps
    if cols is None:
        cols = max(1, math.ceil(math.sqrt(c * h / max(w, 1))))
    rows = math.ceil(c / cols)
    flat = maps.reshape(c, -1)
    if normalize == "layer":
        lo = flat.min().expand(c)
        hi = flat.max().expand(c)
    elif normalize == "channel":
        lo, hi = flat.min(1).values, flat.max(1).values
    else:
        raise ValueError(f"normalize must be 'channel' or 'layer', not {normalize!r}")
    scaled = (maps - lo.view(c, 1, 1)) / (hi - lo).clamp_min(1e-12).view(c, 1, 1)
    th, tw = h + pad, w + pad
    canvas = torch.full((rows * cols, th, tw), float("nan"), device=maps.device)
    canvas[:c, :h, :w] = scaled
    image = (canvas.view(rows, cols, th, tw).permute(0, 2, 1, 3)
             .reshape(rows * th, cols * tw))
    if pad:
        image = image[:-pad, :-pad]
    ranges = torch.stack([lo, hi], 1)
    return Mosaic(image.cpu().numpy(), rows, cols, h, w, pad, c, ranges.cpu().numpy())
