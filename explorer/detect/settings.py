"""Every detection setting a person can type, checked in one place.

The command line, the window and the compute functions all call these: each returns the
value ready to use or raises a :class:`~explorer.errors.UserError` with one sentence,
before any work starts. :func:`sliding_plan` checks what only the picture and the network
can tell: a window larger than the picture, a pyramid that would not fit in memory, more
windows than anyone can wait for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from explorer.app import checks
from explorer.errors import UserError

METHODS = ("sliding", "proposals", "mtcnn", "faster-rcnn")
HEADS = ("rcnn", "fast-rcnn")
IMPLS = ("auto", "shared", "naive")
MODES = ("fast", "quality", "single")

#: bounds: generous for any real picture, small enough that a typo is caught at once
MIN_WINDOW, MAX_WINDOW = 4, 4096
MAX_STRIDE = 4096
SCALE_RANGE = (0.05, 8.0)
MAX_SCALES = 16
MAX_PROPOSALS = 20_000
MAX_EVAL = 10_000
#: a naive slide classifies each window on its own: beyond this it would take hours
MAX_NAIVE_WINDOWS = 250_000
#: float32 numbers a detection may hold at once (2e9 = 8 GB)
MAX_FLOATS = 2e9


def choice(name: str, value: str, options: Sequence[str]) -> str:
    if value not in options:
        raise UserError(f"{name} must be one of {', '.join(options)}, not {value!r}")
    return value


def threshold(value: float) -> float:
    """Least class probability for a box: a number in [0, 1]."""
    return checks.number("the threshold", value, 0.0, 1.0)


def iou(value: float) -> float:
    """NMS overlap: a number in (0, 1]."""
    return checks.number("the NMS IoU", value, 0.0, 1.0, lo_open=True)


def containment(value: float | None) -> float | None:
    """Share of a box inside a better one that drops it (0 or None: off), in [0, 1]."""
    if value is None:
        return None
    v = checks.number("the containment", value, 0.0, 1.0)
    return v or None


def window(value: int | None) -> int | None:
    """Window side in pyramid pixels, or None for the classifier's input."""
    if value is None:
        return None
    return checks.count("the window", value, MIN_WINDOW, MAX_WINDOW)


def stride(value: int | None) -> int | None:
    """Pixels between windows, or None for the default."""
    if value is None:
        return None
    return checks.count("the stride", value, 1, MAX_STRIDE)


def scales(value: str | Sequence[float] | None) -> tuple[float, ...] | None:
    """"2,1,0.5" or a sequence -> (2.0, 1.0, 0.5); None or "" -> None (the default)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        parts = checks.comma_items("scales", value, "2,1,0.5")
    else:
        parts = list(value)
    if not parts:
        raise UserError(f"scales must be numbers separated by commas, e.g. 2,1,0.5; "
                        f"got {value!r}")
    if len(parts) > MAX_SCALES:
        raise UserError(f"at most {MAX_SCALES} scales, not {len(parts)}")
    out = []
    for p in parts:
        try:
            s = float(p)
        except (TypeError, ValueError):
            raise UserError(f"scales must be numbers separated by commas, e.g. 2,1,0.5; "
                            f"got {value!r}") from None
        if not math.isfinite(s) or not SCALE_RANGE[0] <= s <= SCALE_RANGE[1]:
            raise UserError(f"each scale must lie between {SCALE_RANGE[0]:g} and "
                            f"{SCALE_RANGE[1]:g}, not {p!s}".strip())
        if s in out:
            raise UserError(f"scale {s:g} is given twice; each scale is one pyramid level")
        out.append(s)
    return tuple(out)


def max_proposals(value: int) -> int:
    return checks.count("max proposals", value, 1, MAX_PROPOSALS)


def eval_scenes(value: int) -> int:
    """How many held-out scenes ``--eval`` scores."""
    return checks.count("the number of scenes to evaluate", value, 1, MAX_EVAL)


@dataclass
class Level:
    """One pyramid level as the sliding window will run it."""

    scale: float
    level_scale: float  # picture -> level (grows the level when the window is smaller)
    size: tuple[int, int]  # (H, W) of the padded level
    window: tuple[int, int]  # in level pixels
    step: int
    windows: int


def sliding_plan(picture: tuple[int, int], input_size: tuple[int, int], *,
                 dense: bool, trunk: int | None, impl: str, window_px: int | None,
                 stride_px: int | None, scale_list: Sequence[float], pad: bool = True,
                 classes: int = 2, name: str = "the classifier") -> list[Level]:
    """The levels a slide will compute, refused with one sentence when the window is
    larger than the picture at every scale, the levels would not fit in memory or a naive
    slide would classify more than :data:`MAX_NAIVE_WINDOWS` windows one by one.

    picture: (H, W); input_size: the classifier's (h, w); dense: it has a fully
    convolutional form with `trunk` pixels between cells."""
    H, W = picture
    in_h, in_w = input_size
    win = (window_px, window_px) if window_px else (in_h, in_w)
    if all(max(win) > max(H, W) * s for s in scale_list):
        need = max(win) / max(H, W)
        raise UserError(
            f"the {max(win)}-pixel window of {name} is larger than the {W}x{H} picture at "
            f"every scale ({', '.join(f'{s:g}' for s in scale_list)}); choose a smaller "
            f"window or a scale of at least {math.ceil(need * 100) / 100:g}")
    levels, floats, naive_windows = [], 0.0, 0
    for s in scale_list:
        if impl == "naive" and not dense:
            step = stride_px or trunk or max(1, win[1] // 4)
            level_scale, lw = s, win
        else:
            t = int(trunk or 1)
            level_scale, lw = s * in_w / win[1], (in_h, in_w)
            want = (stride_px or t) * in_w / win[1]
            step = max(1, round(want)) if impl == "naive" else t * max(1, round(want / t))
        h, w = max(1, round(H * level_scale)), max(1, round(W * level_scale))
        if pad:
            h, w = h + 2 * (lw[0] // 2), w + 2 * (lw[1] // 2)
        if h < lw[0] or w < lw[1]:
            continue
        n = ((h - lw[0]) // step + 1) * ((w - lw[1]) // step + 1)
        # the level, a few dozen feature channels at its resolution, and the score maps
        floats += h * w * 64.0 + n * classes
        if impl == "naive":
            naive_windows += n
        levels.append(Level(s, level_scale, (h, w), lw, step, n))
    checks.allocation(f"sliding {name} over this pyramid", floats, MAX_FLOATS)
    if naive_windows > MAX_NAIVE_WINDOWS:
        raise UserError(f"the naive slide would classify {naive_windows:,} windows one by "
                        f"one (at most {MAX_NAIVE_WINDOWS:,}); choose a larger stride, fewer "
                        "scales or the shared implementation")
    return levels
