"""Backward views from one unit (explorer.units.backward): Captum's five methods give
finite maps of the input's size, zero outside the unit's receptive field; ReLU caveats."""

import warnings

import numpy as np
import pytest
import torch
from captum.attr import GuidedBackprop
from torch import nn

from explorer.core.network import Network, preprocess
from explorer.data.samples import load_sample
from explorer.errors import UserError
from explorer.nets.registry import load_network
from explorer.units.backward import (
    VIEW_NAMES,
    UnitOutput,
    backward_views,
    functional_relus,
)
from explorer.units.toppatches import TopPatches


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def net():
    return load_network("tinyvgg-shapes")


@pytest.fixture(scope="module")
def x(net):
    return preprocess(net, load_sample("shape-crop"))


def test_five_views_have_the_inputs_shape_and_are_finite(net, x):
    views = backward_views(net, x, "features.relu4", 5)
    assert list(views) == VIEW_NAMES
    for name, v in views.items():
        assert v.map.shape == (64, 64) and v.map.dtype == np.float32, name
        assert np.isfinite(v.map).all() and np.isfinite(v.raw).all(), name
        assert v.raw.shape == (3, 64, 64)
        assert np.abs(v.map).max() > 0, name
        if v.rgb is not None:
            assert v.rgb.shape == (64, 64, 3) and 0 <= v.rgb.min() <= v.rgb.max() <= 1
    assert (views["guided"].map >= 0).all() and (views["gradient"].map >= 0).all()
    # guided backprop keeps less than the plain gradient: a different picture
    assert not np.allclose(views["guided"].map, views["gradient"].map)


def test_one_unit_sees_only_its_receptive_field(net, x):
    """Unit (16, 16) of features.conv4 (field 14x14; before its ReLU, so it is never
    off): every method gives exactly 0 on pixels that cannot reach it (occlusion: on
    windows that do not overlap it), and something inside."""
    from explorer.core.trace import layer_table

    info = next(lay for lay in layer_table(net) if lay.name == "features.conv4")
    x1, y1, x2, y2 = TopPatches("features.conv4", info, None, None, 9, 0.0,
                                input_size=(64, 64)).box(16, 16)
    assert (x2 - x1, y2 - y1) == (14, 14)
    outside = np.ones((64, 64), bool)
    outside[y1:y2, x1:x2] = False
    views = backward_views(net, x, "features.conv4", 5, position=(16, 16))
    for name in ("gradient", "guided", "deconvnet", "integrated"):
        m = views[name].map
        assert np.abs(m[~outside]).max() > 0, name
        assert np.abs(m[outside]).max() == 0, name
    occ = views["occlusion"].map  # windows of 8 px, stride 4: 4 px of slack around
    far = np.ones((64, 64), bool)
    far[max(0, y1 - 8):y2 + 8, max(0, x1 - 8):x2 + 8] = False
    # (float noise of batched against single passes is all there is far away)
    assert np.abs(occ[far]).max() < 1e-4 * np.abs(occ[~far]).max()


def test_guided_backprop_is_captums(net, x):
    ours = backward_views(net, x, "features.relu6", 9, views=["guided"])["guided"].raw
    model = UnitOutput(net, "features.relu6", 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum says it hooks ReLUs, every time
        theirs = GuidedBackprop(model).attribute(x.clone())[0].detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-8)


def test_inplace_relu_gives_the_same_guided_backprop():
    torch.manual_seed(0)

    def make(inplace):
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(inplace=inplace),
                             nn.Conv2d(8, 4, 3), nn.ReLU(inplace=inplace)).eval()

    inputs = torch.randn(1, 3, 16, 16)
    maps = [backward_views(Network(make(flag), f"relu-{flag}", "classify", (16, 16)),
                           inputs, "2", 1, views=["guided", "deconvnet"])
            for flag in (True, False)]
    for name in ("guided", "deconvnet"):
        np.testing.assert_allclose(maps[0][name].raw, maps[1][name].raw)


def test_functional_relus_are_named():
    assert functional_relus(load_network("resnet18"), "layer1") == 0
    googlenet = load_network("googlenet")
    assert functional_relus(googlenet, "conv2") == 2  # conv1's and conv2's F.relu
    v = backward_views(googlenet, torch.randn(1, 3, 224, 224), "conv2", 0,
                       views=["guided", "gradient"])
    assert "as functions" in v["guided"].note and v["gradient"].note == ""


def test_lenet_and_linear_units():
    lenet = load_network("lenet5-digits")
    xd = preprocess(lenet, load_sample("digit"))
    views = backward_views(lenet, xd, "fc2", 3)
    for v in views.values():
        assert v.map.shape == (32, 32) and v.raw.shape == (1, 32, 32)
        assert np.isfinite(v.map).all()
    assert views["gradient"].rgb.shape == (32, 32, 3)
    # tanh everywhere: Captum's ReLU rules have nothing to change, and the note says so
    assert "no ReLU" in views["guided"].note
    np.testing.assert_allclose(views["guided"].raw, views["gradient"].raw, rtol=1e-5)


def test_bad_requests(net, x):
    with pytest.raises(UserError, match="unknown view"):
        backward_views(net, x, "features.relu4", 0, views=["magic"])
    with pytest.raises(UserError, match="out of range"):
        backward_views(net, x, "features.relu4", 32)
    with pytest.raises(UserError, match="outside"):
        backward_views(net, x, "features.relu4", 0, position=(32, 0))
