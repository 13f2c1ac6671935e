"""Colour maps as lookup tables (uint8 [256, 3]), shared by the window and the PNGs the
command line writes, so both show the same colours. Anchors are taken from matplotlib's
perceptually uniform maps and interpolated linearly."""

from __future__ import annotations

from typing import TYPE_CHECKING

_ANCHORS = {
    "viridis": ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89",
                "#35b779", "#6ece58", "#b5de2b", "#fde725"],
    "inferno": ["#000004", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60", "#cf4446",
                "#ed6925", "#fb9b06", "#f7d13d", "#fcffa4"],
    "grey": ["#000000", "#ffffff"],
    # signed values: blue below zero, white at zero, red above
    "coolwarm": ["#3b4cc0", "#7396f5", "#b0cbfc", "#dddddd", "#f6bfa6", "#e7745b",
                 "#b40426"],
}
NAMES = list(_ANCHORS)


if TYPE_CHECKING:  # numpy stays off the --help path
    import numpy as np


def lut(name: str = "viridis") -> np.ndarray:
    """uint8 [256, 3] lookup table for colour map `name`."""
    import numpy as np
    if name not in _ANCHORS:
        raise ValueError(f"unknown colour map {name!r}; choose from {', '.join(NAMES)}")
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in _ANCHORS[name]],
                   dtype=np.float64)
    pos = np.linspace(0, 1, len(rgb))
    t = np.linspace(0, 1, 256)
    out = np.stack([np.interp(t, pos, rgb[:, c]) for c in range(3)], axis=1)
    return np.round(out).astype(np.uint8)


def apply(image: np.ndarray, name: str = "viridis", gap=(255, 255, 255)) -> np.ndarray:
    """float [H, W] in [0, 1] (NaN = gap) -> uint8 [H, W, 3]."""
    import numpy as np
    table = lut(name)
    nan = np.isnan(image)
    idx = np.round(np.nan_to_num(image, nan=0.0).clip(0, 1) * 255).astype(np.int64)
    out = table[idx]
    out[nan] = gap
    return out


def to_uint8_rgb(image: np.ndarray, gap=(255, 255, 255)) -> np.ndarray:
    """float [H, W, 3] or [H, W] in [0, 1] -> uint8 [H, W, 3] (grey via the grey map)."""
    import numpy as np
    if image.ndim == 2:
        return apply(image, "grey", gap)
    return np.round(np.nan_to_num(image, nan=1.0).clip(0, 1) * 255).astype(np.uint8)


def enlarge(rgb: np.ndarray, min_side: int = 512) -> np.ndarray:
    """Nearest-neighbour integer upscaling so tiny maps stay visible (and crisp)."""
    import numpy as np
    f = max(1, int(np.ceil(min_side / max(1, max(rgb.shape[:2])))))
    return np.repeat(np.repeat(rgb, f, axis=0), f, axis=1) if f > 1 else rgb
