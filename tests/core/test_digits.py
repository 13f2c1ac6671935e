"""The digits split is fixed, stratified and sized for LeNet-5."""

import torch

from explorer.data.digits import digits_split, resize_digits


def test_split_shapes_and_ranges():
    xtr, ytr, xte, yte = digits_split()
    assert xtr.shape == (1437, 1, 32, 32) and xte.shape == (360, 1, 32, 32)
    assert ytr.shape == (1437,) and yte.shape == (360,)
    assert xtr.dtype == torch.float32 and ytr.dtype == torch.int64
    assert float(xtr.min()) >= 0 and float(xtr.max()) <= 1
    # stratified: every digit appears 35-37 times among the 360 held-out images
    counts = torch.bincount(yte, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37


def test_split_is_fixed_and_returns_copies():
    a = digits_split()
    a[0].zero_()
    b, c = digits_split(), digits_split()
    for x, y in zip(b, c, strict=True):
        assert torch.equal(x, y)
    assert float(b[0].sum()) > 0
    assert int(b[3][:10].sum()) == int(c[3][:10].sum())


def test_resize_is_bilinear_and_scaled():
    import numpy as np

    img = np.full((1, 8, 8), 16.0)
    out = resize_digits(img)
    assert out.shape == (1, 1, 32, 32)
    assert torch.allclose(out, torch.ones_like(out))
