"""Receptive fields of segmenter output pixels, and the upsampling demo."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.app.pictures import open_scene
from explorer.core.trace import layer_table
from explorer.nets.segnets import bilinear_upsampler
from explorer.segment.fields import mass_box, output_field, pixel_field
from explorer.segment.run import SHIPPED_SEGMENTERS, run_segmenters, seg_picture
from explorer.segment.upsampling import ripple, upsamplers, upsampling_demo


@pytest.fixture(scope="module")
def scene():
    return seg_picture(open_scene(3))


@pytest.fixture(scope="module")
def preds(scene):
    return run_segmenters(list(SHIPPED_SEGMENTERS), scene)


def _contains(box, y, x, slack=0.0):
    x1, y1, x2, y2 = box
    return x1 - slack <= x + 0.5 <= x2 + slack and y1 - slack <= y + 0.5 <= y2 + slack


@pytest.mark.parametrize("name", SHIPPED_SEGMENTERS)
@pytest.mark.parametrize("pixel", [(64, 64), (5, 120), (127, 0), (40, 77)])
def test_theoretical_box_contains_effective_peak(preds, scene, name, pixel):
    f = pixel_field(preds[name], scene, *pixel)
    assert f.peak is not None and _contains(f.box, *f.peak)
    # (almost) all the gradient lies in the theoretical window; the linear model of the
    # stride-8 transposed convolution can be off by a few pixels at a block's edge
    assert f.inside > 0.99
    assert f.heat.shape == (128, 128) and f.heat.max() == pytest.approx(1.0)
    # the effective field is smaller than the theoretical one
    ex1, ey1, ex2, ey2 = f.mass_box
    bx1, by1, bx2, by2 = f.box
    assert (ex2 - ex1) * (ey2 - ey1) <= (bx2 - bx1) * (by2 - by1) + 1


def test_output_field_matches_layer_table(preds):
    for name in SHIPPED_SEGMENTERS:
        net = preds[name].network
        last = layer_table(net, (128, 128))[-1]  # upsample (FCNs) / score (U-Net)
        out = output_field(net, (128, 128))
        assert out.rf_hw == last.rf_hw and out.jump_hw == (1.0, 1.0)
        assert out.field_box(10, 20) == last.field_box(10, 20)


def test_dilation_buys_the_largest_field(preds):
    size = {n: output_field(preds[n].network, (128, 128)).rf for n in SHIPPED_SEGMENTERS}
    assert size["fcn-dilated-shapes"] > size["unet-shapes"] > size["fcn-shapes"]


def test_field_box_is_centred_on_the_pixel(preds, scene):
    f = pixel_field(preds["unet-shapes"], scene, 64, 64)
    x1, y1, x2, y2 = f.box_full
    assert (x1 + x2) / 2 == pytest.approx(64.5) and (y1 + y2) / 2 == pytest.approx(64.5)


def test_mass_box_by_hand():
    w = np.zeros((10, 12))
    w[4, 7] = 1.0
    assert mass_box(w) == (7, 4, 8, 5)
    w = np.zeros((10, 12))
    w[2:5, 3:9] = 1.0
    assert mass_box(w, 1.0) == (3, 2, 9, 5)
    x1, y1, x2, y2 = mass_box(w, 0.5)
    assert w[y1:y2, x1:x2].sum() >= 0.5 * w.sum()
    assert mass_box(np.zeros((3, 3))) is None


def test_bilinear_kernel_equals_interpolation_inside():
    low = torch.randn(1, 6, 8, 8)
    up = bilinear_upsampler(6, 8)(low)
    ref = F.interpolate(low, scale_factor=8, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 8:-8, 8:-8], ref[..., 8:-8, 8:-8], atol=1e-5,
                               rtol=1e-5)


def test_ripple_sees_the_checkerboard():
    r = {title: ripple(up, 6, 8) for title, _, up in upsamplers(6, 8, None)}
    assert r["Transposed conv (bilinear kernel)"] == pytest.approx(0, abs=1e-5)
    assert r["Bilinear interpolation"] == pytest.approx(0, abs=1e-5)
    assert r["Bilinear + 3x3 conv"] == pytest.approx(0, abs=1e-5)
    assert r["Transposed conv 3x3, stride 2"] > 1.0


def test_upsampling_demo(preds, scene):
    demo = upsampling_demo(preds["fcn-shapes"].network, scene)
    assert demo.low.shape == (16, 16) and demo.factor == 8
    assert len(demo.panels) == 5
    for p in demo.panels:
        assert p.scores.shape == (6, 128, 128) and p.classes.shape == (128, 128)
        assert 0.0 <= p.channel.min() and p.channel.max() <= 1.0
    from explorer.errors import UserError

    with pytest.raises(UserError, match="no learned upsampling"):
        upsampling_demo(preds["unet-shapes"].network, scene)
