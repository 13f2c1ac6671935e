"""Pooling playground: max, min and average pooling, which cell each output came from, and
the lecture's point that max pooling is *locally* translation invariant: moving the maximum
inside its pooling window leaves the output unchanged, moving it across a window boundary
does not.

Images are ``ndarray[H, W]``; results are float64 computed with ``torch.nn.functional``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from explorer.errors import UserError
from explorer.lab.conv import _as_image, _pair, output_size

MODES = ("max", "min", "avg")


def _check(x: np.ndarray, mode: str, size, stride) -> tuple[np.ndarray, tuple, tuple]:
    if mode not in MODES:
        raise UserError(f"Unknown pooling mode '{mode}'; choose max, min or avg.")
    x = _as_image(x)
    k = _pair(size, "pooling size")
    s = k if stride is None else _pair(stride, "stride")
    check_fits(x.shape, k)
    return x, k, s


def check_fits(shape: tuple[int, int], size) -> None:
    """Refuse a pooling window larger than the image, in the one sentence every pooling
    command uses."""
    k = _pair(size, "pooling size")
    if k[0] > shape[0] or k[1] > shape[1]:
        raise UserError(
            f"A {k[0]}x{k[1]} pooling window does not fit in a {shape[0]}x{shape[1]} image."
        )


def pool_output_shape(shape: tuple[int, int], size=2, stride=None) -> tuple[int, int]:
    """(H_out, W_out) of :func:`pool`: ``floor((m - k) / s) + 1`` per axis (no padding;
    cells that do not fill a whole window at the bottom/right are dropped, as in torch)."""
    k = _pair(size, "pooling size")
    s = k if stride is None else _pair(stride, "stride")
    return output_size(shape[0], k[0], s[0]), output_size(shape[1], k[1], s[1])


def pool(x: np.ndarray, mode: str = "max", size=2, stride=None) -> np.ndarray:
    """Pool one channel.

    Args:
        x (ndarray[H, W]): the channel.
        mode: "max", "min" (computed as ``-maxpool(-x)``) or "avg".
        size: window (int or (rows, cols)). stride: defaults to `size` (non-overlapping
            windows, as the lecture recommends).

    Returns:
        ndarray[H_out, W_out] float64, see :func:`pool_output_shape`.
    """
    x, k, s = _check(x, mode, size, stride)
    t = torch.from_numpy(x)[None, None]
    if mode == "max":
        out = F.max_pool2d(t, k, s)
    elif mode == "min":
        out = -F.max_pool2d(-t, k, s)
    else:
        out = F.avg_pool2d(t, k, s)
    return out[0, 0].numpy()


def pool_sources(x: np.ndarray, mode: str = "max", size=2, stride=None) -> np.ndarray:
    """Where each max/min-pooled value came from (the cell to highlight).

    Returns:
        ndarray[H_out, W_out, 2] int: (row, col) in `x` of the selected cell (the first one
        in torch's scan order on ties). For "avg" every cell of the window counts, so this
        returns the window's top-left corner.
    """
    x, k, s = _check(x, mode, size, stride)
    t = torch.from_numpy(x if mode != "min" else -x)[None, None]
    if mode == "avg":
        h, w = pool_output_shape(x.shape, k, s)
        rows = (np.arange(h) * s[0])[:, None].repeat(w, 1)
        cols = (np.arange(w) * s[1])[None, :].repeat(h, 0)
        return np.stack([rows, cols], axis=-1)
    _, idx = F.max_pool2d(t, k, s, return_indices=True)
    flat = idx[0, 0].numpy()
    return np.stack(np.divmod(flat, x.shape[1]), axis=-1)


def window_of(
    cell: tuple[int, int], size=2, stride=None, shape: tuple[int, int] | None = None
) -> list[tuple[int, int]]:
    """All pooling windows (output cells) that contain input `cell` (several when windows
    overlap, none when the cell falls in a gap or, given the image `shape`, in the border
    that pooling drops)."""
    k = _pair(size, "pooling size")
    s = k if stride is None else _pair(stride, "stride")
    n_out = pool_output_shape(shape, k, s) if shape is not None else (None, None)
    per_axis = []
    for a in range(2):
        c = cell[a]
        per_axis.append([
            i for i in range(c // s[a] + 1)
            if i * s[a] <= c < i * s[a] + k[a] and (n_out[a] is None or i < n_out[a])
        ])
    return [(i, j) for i in per_axis[0] for j in per_axis[1]]


@dataclass(frozen=True)
class MoveResult:
    """Pooling before and after swapping the values at `source` and `target`."""

    source: tuple[int, int]
    target: tuple[int, int]
    #: the value that was moved (from `source` to `target`)
    value: float
    #: both cells lie in exactly the same pooling windows
    same_window: bool
    #: ndarray[H_out, W_out]: pooled original
    before: np.ndarray
    #: ndarray[H_out, W_out]: pooled after the swap
    after: np.ndarray
    #: output cells whose value changed
    changed_cells: list[tuple[int, int]]

    @property
    def changed(self) -> bool:
        return bool(self.changed_cells)


def move_value(
    x: np.ndarray,
    source: tuple[int, int],
    target: tuple[int, int],
    mode: str = "max",
    size=2,
    stride=None,
) -> MoveResult:
    """Swap the cells `source` and `target` of `x` and pool before and after.

    A swap (rather than overwriting) keeps the multiset of values, so any change in the
    pooled output is due to *where* the values are, which is what invariance is about.
    """
    x, k, s = _check(x, mode, size, stride)
    for cell in (source, target):
        if not (0 <= cell[0] < x.shape[0] and 0 <= cell[1] < x.shape[1]):
            raise UserError(f"Cell {tuple(cell)} lies outside the {x.shape} image.")
    moved = x.copy()
    moved[source], moved[target] = x[target], x[source]
    before, after = pool(x, mode, k, s), pool(moved, mode, k, s)
    changed = [tuple(int(v) for v in c) for c in np.argwhere(before != after)]
    same = set(window_of(source, k, s, x.shape)) == set(window_of(target, k, s, x.shape))
    return MoveResult(
        tuple(source), tuple(target), float(x[source]), same, before, after, changed
    )


def window_maximum(x: np.ndarray, window: tuple[int, int], size=2, stride=None) -> tuple:
    """(row, col) of the largest value inside pooling window `window` (an output cell)."""
    x, k, s = _check(x, "max", size, stride)
    r0, c0 = window[0] * s[0], window[1] * s[1]
    h, w = pool_output_shape(x.shape, k, s)
    if not (0 <= window[0] < h and 0 <= window[1] < w):
        raise UserError(f"Window {tuple(window)} does not exist; the output is {h}x{w}.")
    block = x[r0 : r0 + k[0], c0 : c0 + k[1]]
    r, c = np.unravel_index(int(np.argmax(block)), block.shape)
    return int(r0 + r), int(c0 + c)


def move_max_within_window(
    x: np.ndarray, window: tuple[int, int] = (0, 0), size=2, stride=None
) -> list[MoveResult]:
    """Move the maximum of pooling window `window` to every other cell of that window.

    With non-overlapping windows none of the results changes the max-pooled output (the
    lecture: "617 in the highlighted area can be in any of the neurons, the pooled value
    will not change").
    """
    x, k, s = _check(x, "max", size, stride)
    src = window_maximum(x, window, k, s)
    r0, c0 = window[0] * s[0], window[1] * s[1]
    return [
        move_value(x, src, (r, c), "max", k, s)
        for r in range(r0, r0 + k[0])
        for c in range(c0, c0 + k[1])
        if (r, c) != src
    ]


def invariance_map(
    x: np.ndarray, window: tuple[int, int] = (0, 0), mode: str = "max", size=2, stride=None
) -> np.ndarray:
    """For every cell of `x`: does moving window `window`'s max (or min) there change the
    pooled output?

    Returns:
        ndarray[H, W] bool: False across the source window (local invariance), True almost
        everywhere outside it. The source cell itself is False.
    """
    x, k, s = _check(x, mode, size, stride)
    pick = np.argmin if mode == "min" else np.argmax
    r0, c0 = window[0] * s[0], window[1] * s[1]
    block = x[r0 : r0 + k[0], c0 : c0 + k[1]]
    r, c = np.unravel_index(int(pick(block)), block.shape)
    src = (int(r0 + r), int(c0 + c))
    out = np.zeros(x.shape, dtype=bool)
    for rr in range(x.shape[0]):
        for cc in range(x.shape[1]):
            out[rr, cc] = move_value(x, src, (rr, cc), mode, k, s).changed
    return out
