"""Mosaics and filter pictures."""

import numpy as np
import pytest
import torch
from torch import nn

from explorer.core import colormaps
from explorer.core.filters import filter_image
from explorer.core.mosaic import mosaic


def test_mosaic_one_tile_per_channel_and_lookup():
    act = torch.arange(5 * 4 * 3, dtype=torch.float32).view(5, 4, 3)
    m = mosaic(act, pad=1)
    assert (m.channels, m.rows * m.cols >= 5) == (5, True)
    assert m.image.shape == (m.rows * 5 - 1, m.cols * 4 - 1)
    for c in range(5):
        y, x = m.tile_origin(c)
        assert m.channel_at(y, x) == c and m.channel_at(y + 3, x + 2) == c
        tile = m.image[y:y + 4, x:x + 3]
        assert tile.min() == 0.0 and tile.max() == 1.0  # per-channel scaling
    assert m.channel_at(4, 0) is None  # the gap row
    assert np.isnan(m.image[4, 0])
    assert m.unit_at(m.tile_origin(3)[0] + 2, m.tile_origin(3)[1] + 1) == (3, 2, 1)


def test_mosaic_layer_normalisation_keeps_relative_strength():
    act = torch.stack([torch.zeros(2, 2), torch.ones(2, 2), 2 * torch.ones(2, 2)])
    m = mosaic(act, normalize="layer")
    vals = [m.image[m.tile_origin(c)] for c in range(3)]
    assert vals == [0.0, 0.5, 1.0]


def test_mosaic_vector_as_pixels():
    m = mosaic(torch.randn(1000))
    assert m.channels == 1000 and m.pad == 0 and m.rows * m.cols >= 1000


def test_mosaic_constant_channel_is_finite():
    m = mosaic(torch.zeros(3, 5, 5))
    assert np.isfinite(m.image[~np.isnan(m.image)]).all()


def test_filters_rgb_first_layer():
    conv = nn.Conv2d(3, 10, 11)
    f = filter_image(conv)
    assert f.rgb and f.image.ndim == 3 and f.k == (11, 11) and f.rows * f.cols >= 10
    # patch 0 equals the kernel scaled around grey
    w = conv.weight[0].detach()
    expected = (w / w.abs().max() * 0.5 + 0.5).permute(1, 2, 0).numpy()
    assert np.allclose(f.image[:11, :11], expected, atol=1e-6)


def test_filters_deep_layer_grid():
    f = filter_image(nn.Conv2d(32, 8, 3), max_in=16)
    assert not f.rgb and (f.rows, f.cols) == (8, 16)
    assert f.image.shape == (8 * 4 - 1, 16 * 4 - 1)


def test_filters_reject_non_conv():
    with pytest.raises(ValueError):
        filter_image(nn.ReLU())


def test_colormap_lut_and_gaps():
    table = colormaps.lut("viridis")
    assert table.shape == (256, 3) and tuple(table[0]) == (0x44, 0x01, 0x54)
    rgb = colormaps.apply(np.array([[0.0, np.nan, 1.0]]))
    assert tuple(rgb[0, 1]) == (255, 255, 255) and tuple(rgb[0, 2]) == (0xfd, 0xe7, 0x25)
