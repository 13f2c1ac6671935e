"""Class colours for label maps, shared by the window and the PNGs the command line writes.

The shapes world's five object classes get five of Okabe and Ito's colour-blind-safe
colours; the other three mark where two networks disagree (:data:`DISAGREE`), so no colour
means two things on one screen. Other label sets (Pascal VOC's 21 classes for
torchvision's segmenters) get the VOC palette, which is what those networks' papers show.
"""

from __future__ import annotations

import numpy as np

#: Okabe & Ito's colour-blind-safe categorical colours
OKABE_ITO = {
    "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
    "reddish purple": "#CC79A7", "black": "#000000",
}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """'#E69F00' -> (230, 159, 0)."""
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


#: background (a neutral dark grey: "nothing"), circle, square, triangle, star, cross
SHAPES_PALETTE = np.array(
    [(40, 40, 40)] + [rgb(OKABE_ITO[c]) for c in
                      ("orange", "sky blue", "bluish green", "yellow", "reddish purple")],
    np.uint8)

#: the disagreement map's colours, none of them a shapes class's: where only the first
#: network is right, only the second, both are wrong, or (without ground truth) they differ
DISAGREE = {
    "first right": rgb(OKABE_ITO["blue"]),
    "second right": rgb(OKABE_ITO["vermillion"]),
    "both wrong": rgb(OKABE_ITO["black"]),
    "differ": rgb(OKABE_ITO["black"]),
}


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


#: how strongly class colours cover the picture by default: fully on objects, so a colour
#: on the screen is the colour in the legend and not a mix with the shape's own paint
DEFAULT_OPACITY = 1.0
#: how much of the background class's dark grey covers the picture (times the opacity):
#: enough to make the coloured objects stand out, little enough to see what is there
BACKGROUND_SHADE = 0.55


def overlay(image: np.ndarray, classes: np.ndarray, palette: np.ndarray,
            opacity: float = DEFAULT_OPACITY, background: int | None = 0) -> np.ndarray:
    """Blend class colours over a picture.

    image (float [H, W, 3] in [0, 1]), classes (int [H, W]) -> uint8 [H, W, 3]. Pixels of
    class `background` keep the picture (dimmed a little) so the objects stand out.
    """
    rgb = np.asarray(image, np.float32)
    col = colorize(classes, palette).astype(np.float32) / 255.0
    a = np.full(classes.shape + (1,), opacity, np.float32)
    if background is not None:
        a[classes == background] = opacity * BACKGROUND_SHADE
    out = rgb * (1 - a) + col * a
    return np.round(out.clip(0, 1) * 255).astype(np.uint8)


def to_hex(colour) -> str:
    """(230, 159, 0) -> '#e69f00'."""
    return "#" + "".join(f"{int(v):02x}" for v in tuple(colour)[:3])
