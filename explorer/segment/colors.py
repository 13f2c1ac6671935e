"""Class colours for label maps, shared by the window and the PNGs the command line writes.

The shapes world gets six colours that a class can tell apart on a projector; other label
sets (Pascal VOC's 21 classes for torchvision's segmenters) get the VOC palette, which is
what those networks' papers show.
"""

from __future__ import annotations

import numpy as np

#: background, circle, square, triangle, star, cross
SHAPES_PALETTE = np.array(
    [(40, 40, 40), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
     (245, 130, 48)], np.uint8)


def voc_palette(n: int = 256) -> np.ndarray:
    """Pascal VOC's colour map (uint8 [n, 3]): class i's bits spread over R, G and B."""
    out = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = (r, g, b)
    return out


def palette_for(class_names: list[str] | tuple[str, ...]) -> np.ndarray:
    """uint8 [K, 3]: one colour per class (at least K rows)."""
    from explorer.data.shapes import CLASSES

    k = max(len(class_names), 1)
    if tuple(class_names) == tuple(CLASSES):
        return SHAPES_PALETTE.copy()
    return voc_palette(max(k, 256))[:max(k, 1)]


def colorize(classes: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """classes (int [H, W]) -> uint8 [H, W, 3]; labels beyond the palette show white."""
    table = np.vstack([palette, np.full((1, 3), 255, np.uint8)])
    idx = np.clip(np.asarray(classes, np.int64), 0, len(palette))
    idx[np.asarray(classes) >= len(palette)] = len(palette)
    return table[idx]


def overlay(image: np.ndarray, classes: np.ndarray, palette: np.ndarray,
            opacity: float = 0.7, background: int | None = 0) -> np.ndarray:
    """Blend class colours over a picture.

    image (float [H, W, 3] in [0, 1]), classes (int [H, W]) -> uint8 [H, W, 3]. Pixels of
    class `background` keep the picture (dimmed a little) so the objects stand out.
    """
    rgb = np.asarray(image, np.float32)
    col = colorize(classes, palette).astype(np.float32) / 255.0
    a = np.full(classes.shape + (1,), opacity, np.float32)
    if background is not None:
        a[classes == background] = opacity * 0.35
    out = rgb * (1 - a) + col * a
    return np.round(out.clip(0, 1) * 255).astype(np.uint8)
