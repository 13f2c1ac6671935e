"""scikit-learn's bundled handwritten digits, sized for LeNet-5.

``sklearn.datasets.load_digits`` ships 1,797 grey 8x8 digits (values 0-16) inside the package,
so nothing is downloaded. They are scaled to [0, 1] and enlarged to 32x32 (bilinear), the input
size of LeNet-5, then split once: a stratified 80/20 split with a fixed seed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

SPLIT_SEED = 0
TEST_FRACTION = 0.2
SIZE = 32
CLASS_NAMES = tuple(str(d) for d in range(10))

#: pixel statistics of the 32x32 training images; LeNet-5 normalises with these
MEAN = (0.31,)
STD = (0.32,)


def resize_digits(images: np.ndarray, size: int = SIZE) -> torch.Tensor:
    """Scale (np [N, 8, 8], values 0..16) to Tensor[N, 1, size, size] float32 in [0, 1]."""
    x = torch.as_tensor(np.asarray(images, np.float32) / 16.0).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.clamp_(0, 1)


@lru_cache(maxsize=1)
def _split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    idx_tr, idx_te = train_test_split(
        np.arange(len(d.target)),
        test_size=TEST_FRACTION,
        stratify=d.target,
        random_state=SPLIT_SEED,
    )
    X = resize_digits(d.images)
    y = torch.as_tensor(d.target, dtype=torch.int64)
    return X[idx_tr], y[idx_tr], X[idx_te], y[idx_te]


def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed split (Xtr Tensor[1437, 1, 32, 32], ytr Tensor[1437], Xte Tensor[360, 1, 32,
    32], yte Tensor[360]); images in [0, 1], labels 0..9. Copies, so callers may modify them."""
    return tuple(t.clone() for t in _split())  # type: ignore[return-value]
