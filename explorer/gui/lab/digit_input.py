"""A hand-drawn digit made to look like scikit-learn's digits, which LeNet-5 was trained on.

scikit-learn's digits are 32x32 bitmaps whose digit fills the height, reduced to 8x8 by
counting ink in 4x4 blocks (values 0..16); :func:`explorer.data.digits.resize_digits`
enlarges them back to 32x32. A drawing goes the same way: crop to the ink, scale so the
digit fills the height of a 32x32 box (or its width, for a wide stroke), centre it, count
4x4 blocks, enlarge. No Qt here: the page hands over a numpy array.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from explorer.data import digits

#: a pixel counts as ink above this fraction of full brightness
INK = 0.1


def to_8x8(ink: np.ndarray) -> np.ndarray:
    """ink (ndarray[H, W] in [0, 1], 1 = ink) -> ndarray[8, 8] float32 in 0..16, the way
    scikit-learn's digits were made. No ink gives all zeros."""
    ink = np.asarray(ink, dtype=np.float32)
    rows = np.flatnonzero((ink > INK).any(axis=1))
    cols = np.flatnonzero((ink > INK).any(axis=0))
    if rows.size == 0:
        return np.zeros((8, 8), np.float32)
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = 32.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    t = torch.from_numpy(np.ascontiguousarray(crop))[None, None]
    small = F.interpolate(t, size=(nh, nw), mode="area" if scale < 1 else "bilinear",
                          align_corners=None if scale < 1 else False)[0, 0]
    # thin pen strokes shrink to a pixel; a 3x3 dilation gives them the training width
    small = F.max_pool2d(small[None, None], 3, stride=1, padding=1)[0, 0]
    box = torch.zeros(32, 32)
    top, left = (32 - nh) // 2, (32 - nw) // 2
    box[top:top + nh, left:left + nw] = small.clamp(0, 1)
    return (F.avg_pool2d(box[None, None], 4)[0, 0] * 16.0).numpy()


def to_lenet_input(ink: np.ndarray) -> torch.Tensor:
    """ink (ndarray[H, W] in [0, 1]) -> Tensor[1, 1, 32, 32] normalised as LeNet-5 expects
    (:data:`explorer.data.digits.MEAN` / ``STD``)."""
    x = digits.resize_digits(to_8x8(ink)[None])
    return (x - digits.MEAN[0]) / digits.STD[0]
