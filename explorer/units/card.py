"""A unit card as one picture (numpy and Pillow, no Qt): per channel, a row with the
channel's number and activation, its feature visualisation, its top dataset patches in a
3x3 grid, and its backward views on the current picture."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from explorer.core import colormaps
from explorer.units.backward import BackwardView

TILE = 128
GAP = 6
LABEL_W = 112
HEAD_H = 24
CAPTION_H = 14
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


@dataclass
class CardRow:
    """What one channel's row shows; pictures are float [H, W, 3] in [0, 1]."""

    channel: int
    visualisation: np.ndarray
    activation: float
    patches: list[np.ndarray] = field(default_factory=list)
    views: dict[str, BackwardView] = field(default_factory=dict)
    #: the picture the backward views are about (shown first among them)
    picture: np.ndarray | None = None
    #: the channel's strongest unit on its visualisation (``activation`` is the mean)
    peak: float | None = None


def view_rgb(view: BackwardView) -> np.ndarray:
    """A backward view as uint8 [H, W, 3]: the per-colour attribution where there is one,
    else the map through a colour map (coolwarm when signed, inferno when not)."""
    if view.rgb is not None:
        return colormaps.to_uint8_rgb(view.rgb)
    m = np.nan_to_num(view.map.astype(np.float64))
    if view.signed:
        lim = np.abs(m).max()
        return colormaps.apply(m / (2 * lim) + 0.5 if lim > 0 else m * 0 + 0.5, "coolwarm")
    hi = m.max()
    return colormaps.apply(m / hi if hi > 0 else m * 0, "inferno")


def _fit(img: np.ndarray, side: int) -> PILImage.Image:
    """A float [H, W, 3] in [0, 1] or uint8 picture scaled to fit side x side (nearest
    when enlarged, so small inputs stay crisp)."""
    if img.dtype != np.uint8:
        img = colormaps.to_uint8_rgb(np.asarray(img, np.float32))
    pil = PILImage.fromarray(np.ascontiguousarray(img))
    scale = side / max(pil.size)
    size = (max(1, round(pil.size[0] * scale)), max(1, round(pil.size[1] * scale)))
    resample = PILImage.NEAREST if scale >= 1 else PILImage.LANCZOS
    return pil.resize(size, resample)


def patch_grid(patches: list[np.ndarray], side: int) -> PILImage.Image:
    """Up to 9 patches (float [h, w, 3]) in a 3x3 grid of side x side pixels, each
    scaled to fit its cell."""
    cell = (side - 2 * 2) // 3
    grid = PILImage.new("RGB", (side, side), (235, 235, 235))
    for i, p in enumerate(patches[:9]):
        r, c = divmod(i, 3)
        tile = _fit(p, cell)
        grid.paste(tile, (c * (cell + 2) + (cell - tile.size[0]) // 2,
                          r * (cell + 2) + (cell - tile.size[1]) // 2))
    return grid


def compose_card(rows: list[CardRow], title: str) -> np.ndarray:
    """The card: uint8 [H, W, 3]."""
    view_names = list(rows[0].views) if rows else []
    has_picture = any(r.picture is not None for r in rows)
    columns = ["visualisation", "top patches"] + (["picture"] if has_picture else []) \
        + view_names
    width = LABEL_W + len(columns) * (TILE + GAP) + GAP
    row_h = TILE + CAPTION_H + GAP
    height = HEAD_H + max(1, len(rows)) * row_h + GAP
    card = PILImage.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(card)
    font = ImageFont.load_default()
    draw.text((GAP, 6), title, fill=INK, font=font)
    for i, row in enumerate(rows):
        top = HEAD_H + i * row_h
        draw.text((GAP, top + CAPTION_H), f"channel {row.channel}", fill=INK, font=font)
        draw.text((GAP, top + CAPTION_H + 16), f"mean {row.activation:.3g}", fill=INK,
                  font=font)
        if row.peak is not None:
            draw.text((GAP, top + CAPTION_H + 32), f"peak {row.peak:.3g}", fill=INK,
                      font=font)
        tiles = [_fit(row.visualisation, TILE), patch_grid(row.patches, TILE)]
        if has_picture:
            tiles.append(_fit(row.picture, TILE) if row.picture is not None else None)
        tiles += [_fit(view_rgb(row.views[n]), TILE) for n in view_names]
        for j, (name, tile) in enumerate(zip(columns, tiles)):
            left = LABEL_W + j * (TILE + GAP)
            draw.text((left, top), name, fill=INK, font=font)
            if tile is not None:
                card.paste(tile, (left + (TILE - tile.size[0]) // 2,
                                  top + CAPTION_H + (TILE - tile.size[1]) // 2))
    return np.asarray(card)
