"""Where a sliding window's class fires, as one picture-sized heat map over all pyramid
levels.

A window classifier answers for windows centred on an object, and tinyvgg-shapes learned
that sharply: a shape fires one or two cells of one or two levels (an object fills its
window at one scale only, and a crop with the shape off-centre is "background" in its
training set). So one level's map is mostly empty: at the first level of the shapes
pyramid (2x) a star filling half the scene fires nowhere. Here every level's cells are
painted, in picture pixels, over the centre of their window, one stride wide, and the
levels are combined by their maximum; the map is then scaled to its own peak (with the
peak's value kept, so a class that fires nowhere stays dark).
"""

from __future__ import annotations

import math

import numpy as np


def class_heat(maps, cls: int | None, shape: tuple[int, int],
               background: int | None = 0) -> np.ndarray:
    """Probability of class `cls` (or of the best non-background class when None) at
    every pixel of the picture, the maximum over the pyramid levels.

    maps: the slide's :class:`~explorer.detect.sliding.ScaleMap` list (probs Tensor[K,
    H', W'] each); shape: the picture's (H, W). Returns np.float32 [H, W] in [0, 1]: a
    pixel takes the probability of the window whose centre cell covers it (0 where none
    does)."""
    H, W = shape
    heat = np.zeros((H, W), np.float32)
    for m in maps:
        p = m.probs.numpy()
        if cls is None:
            p = p.copy()
            if background is not None:
                p[background] = 0
            level = p.max(axis=0)
        else:
            level = p[cls]
        nh, nw = level.shape
        # cell (i, j) covers one stride around the centre of window (i, j)
        x0 = m.origin[0] + m.window[1] / 2 - m.step / 2
        y0 = m.origin[1] + m.window[0] / 2 - m.step / 2
        xs = np.floor((np.arange(W) + 0.5 - x0) / m.step).astype(int)
        ys = np.floor((np.arange(H) + 0.5 - y0) / m.step).astype(int)
        okx, oky = (xs >= 0) & (xs < nw), (ys >= 0) & (ys < nh)
        painted = np.zeros((H, W), np.float32)
        painted[np.ix_(oky, okx)] = level[np.ix_(ys[oky], xs[okx])]
        np.maximum(heat, painted, out=heat)
    return heat


def contrast(heat: np.ndarray, floor: float = 0.05) -> np.ndarray:
    """`heat` scaled so its peak is 1 (np.float32, same shape), unless the peak is below
    `floor`: then it is left as it is, so noise is not blown up into a hot spot. A
    square root then lifts the weaker cells around the peak into view."""
    peak = float(heat.max()) if heat.size else 0.0
    scaled = heat / peak if peak >= floor else heat
    return np.sqrt(np.clip(scaled, 0, 1)).astype(np.float32)


def peak(heat: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the hottest pixel (the first one), None for an empty map."""
    if heat.size == 0 or not math.isfinite(float(heat.max())) or heat.max() <= 0:
        return None
    r, c = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return int(r), int(c)


__all__ = ["class_heat", "contrast", "peak"]
