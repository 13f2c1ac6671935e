"""Every number the Lab takes from a person, checked in one place.

``cnn-explorer lab ...``, the Lab pages and the compute functions call these: each
returns the value ready to use or raises a :class:`~explorer.errors.UserError` with one
sentence before anything is allocated. The bounds are generous for any lecture example
and any picture, and small enough that a typo (a stride of 10**9, a negative padding) is
one line instead of terabytes of memory or an hour of waiting.
"""

from __future__ import annotations

from explorer.app import checks
from explorer.errors import UserError

#: stride, dilation, kernel and pooling window sides, padding cells
MAX_GEOMETRY = 10_000
#: the side of an input the size chain starts from
MAX_INPUT = 1_000_000
#: layers a size chain may list
MAX_LAYERS = 1_000
#: the lab's pictures are shrunk to at most this side (the numbers are printed, and a
#: 4000 x 3000 photo as a table of numbers is not a lecture example)
MAX_PICTURE_SIDE = 512
#: cells the invariance map may move the maximum to (each move pools the whole picture)
MAX_INVARIANCE_CELLS = 10_000
#: equivariance input side: 32 (LeNet-5) to 1024
EQUIVARIANCE_SIZES = (32, 1024)
#: float64 cells one lab array may hold (each is two float32s for checks.allocation):
#: 800 MB, a 512-pixel picture up-sampled 16 times; the lab prints its numbers
MAX_CELLS = 1e8
#: float64 products one convolution may lay out (torch unfolds every window on the CPU:
#: output cells x kernel taps, 1.6 GB; a 4096 x 4096 image with a 3x3 kernel)
MAX_TAPS = 2e8


def geometry(name: str, value: int, lo: int = 1) -> int:
    """A stride, dilation, kernel side or pooling window: a whole number in [lo, 10,000]."""
    return checks.count(name, value, lo, MAX_GEOMETRY)


#: the largest up-sampling factor of "up-sampling followed by convolution"
MAX_UPSAMPLE = 64


def upsample_factor(value: int) -> int:
    """How many times larger up-sampling makes each side: a whole number in [1, 64]."""
    return checks.count("the up-sampling factor", value, 1, MAX_UPSAMPLE)


def interpolation(name: str, known: tuple[str, ...]) -> str:
    """An up-sampling method by name (bilinear, nearest)."""
    if name not in known:
        raise UserError(f"Unknown interpolation '{name}'; choose {' or '.join(known)}.")
    return name


def padding(value: int) -> int:
    """Cells added (or cropped) on each side: 0 to 10,000."""
    return checks.count("the padding", value, 0, MAX_GEOMETRY)


def input_size(value: int, name: str = "the input size") -> int:
    return checks.count(name, value, 1, MAX_INPUT)


def layers(value: int | None) -> int | None:
    return None if value is None else checks.count("the number of layers", value, 1,
                                                   MAX_LAYERS)


def cells(what: str, rows: float, cols: float) -> None:
    """Refuse a float64 array of rows x cols before it is allocated."""
    checks.allocation(what, 2.0 * float(rows) * float(cols), 2.0 * MAX_CELLS)


def taps(what: str, cells: float, kernel_taps: float) -> None:
    """Refuse a convolution whose unfolded windows (cells x kernel taps, float64) would
    not fit in :data:`MAX_TAPS` before it runs."""
    checks.allocation(what, 2.0 * float(cells) * float(kernel_taps), 2.0 * MAX_TAPS)


def equivariance_size(value: int) -> int:
    lo, hi = EQUIVARIANCE_SIZES
    return checks.count("the input size", value, lo, hi)


def shift(name: str, value: int, size: int) -> int:
    """A shift in pixels: at most the picture's side either way."""
    return checks.count(name, value, -size, size)


def model_key(name: str, known: tuple[str, ...]) -> str:
    key = str(name).strip().lower().replace("-", "")
    if key not in known:
        raise UserError(f"Unknown model '{name}'; choose one of {', '.join(known)}.")
    return key


def cell(name: str, value, shape: tuple[int, int]) -> tuple[int, int]:
    """A (row, col) inside an array of `shape`."""
    row, col = (checks.count(f"{name} row", value[0], 0, shape[0] - 1),
                checks.count(f"{name} column", value[1], 0, shape[1] - 1))
    return row, col
