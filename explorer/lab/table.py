"""The 10x10 grey-value table the lecture uses for convolution, strides and pooling."""

from __future__ import annotations

import numpy as np

import explorer

#: ``resources/lecture_table.csv``: ten comma-separated rows of ten integers
TABLE_PATH = explorer.RESOURCES / "lecture_table.csv"


def lecture_table() -> np.ndarray:
    """Return the lecture's example image.

    Returns:
        ndarray[10, 10] float64: rows top to bottom, first row ``544 552 570 ...``.
    """
    table = np.loadtxt(TABLE_PATH, delimiter=",", dtype=np.float64)
    if table.shape != (10, 10):  # a damaged resource is a bug, not a user error
        raise RuntimeError(f"{TABLE_PATH} holds {table.shape}, expected (10, 10)")
    return table
