"""Translation equivariance per layer, and the hand-built feature hierarchy."""

import numpy as np
import pytest
import torch
from torch import nn

from explorer.errors import UserError
from explorer.lab import equivariance as eq
from explorer.lab.conv import convolve, kernel
from explorer.lab.hierarchy import LAYER1, LAYER2_NAMES, hand_built_net, hierarchy
from explorer.lab.table import lecture_table


def _net(padding_mode="circular"):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, padding_mode=padding_mode), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, padding_mode=padding_mode),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, padding_mode=padding_mode),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    ).eval()


@pytest.fixture(scope="module")
def image():
    torch.manual_seed(1)
    return torch.rand(1, 3, 32, 32)


def test_shift():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert eq.shift(x, 1, 0)[0, 0, 0].tolist() == [12, 13, 14, 15]
    z = eq.shift(x, 1, -1, "zeros")[0, 0]
    assert z[0].tolist() == [0, 0, 0, 0] and z[1].tolist() == [1, 2, 3, 0]
    assert eq.shift(x, 5, 0, "zeros").sum() == 0
    with pytest.raises(UserError):
        eq.shift(x, 1, 1, "wrap")


def test_conv_only_circular_is_equivariant(image):
    net = nn.Sequential(*list(_net())[:3]).eval()  # conv, relu, conv: stride 1
    for dy, dx in ((1, 0), (3, 5), (-2, 7)):
        res = eq.equivariance(net, image, dy, dx, crop=False)
        assert [r.name for r in res.layers] == ["0", "1", "2"]
        for r in res.layers:
            assert r.exact and r.stride == (1, 1) and r.compared_shift == (dy, dx)
            assert r.rel_diff < 1e-6 and r.compared_cells == 32 * 32


def test_pooling_breaks_equivariance_for_odd_shifts(image):
    net = _net()
    even = {r.name: r for r in eq.equivariance(net, image, 2, 4).layers}
    assert even["3"].stride == (2, 2) and even["3"].compared_shift == (1, 2)
    assert even["3"].exact and even["3"].rel_diff < 1e-6
    assert even["4"].rel_diff < 1e-6
    assert even["7"].spatial is False and even["7"].rel_diff < 1e-5  # global pool: invariant
    odd = eq.equivariance(net, image, 1, 3)
    rows = {r.name: r for r in odd.layers}
    assert rows["2"].rel_diff < 1e-6  # before the pooling: still exact
    assert not rows["3"].exact and rows["3"].ideal_shift == (0.5, 1.5)
    assert rows["3"].rel_diff > 0.05  # best of floor/ceil shifts, still clearly different
    assert odd.top_before is not None and isinstance(odd.prediction_holds, bool)


def test_zero_padding_needs_the_crop(image):
    net = nn.Sequential(*list(_net("zeros"))[:4]).eval()
    for mode in eq.SHIFT_MODES:
        cropped = eq.equivariance(net, image, 2, 2, mode=mode)
        assert all(r.cropped and r.rel_diff < 1e-6 for r in cropped.layers)
        assert cropped.layers[2].rf == 5 and cropped.layers[2].compared_cells < 32 * 32
        full = eq.equivariance(net, image, 2, 2, mode=mode, crop=False)
        assert full.layers[0].rel_diff > 0.01  # borders / the wrapped seam differ


def test_resnet_layers(image):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.rand(1, 3, 128, 128)
    res = eq.equivariance(model, x, 8, 8, layers=["conv1", "maxpool", "layer2", "layer4", "fc"])
    rows = {r.name: r for r in res.layers}
    assert rows["conv1"].stride == (2, 2) and rows["conv1"].rel_diff < 1e-5
    assert rows["layer2"].stride == (8, 8) and rows["layer2"].rel_diff < 1e-5
    assert rows["layer4"].stride == (32, 32) and not rows["layer4"].exact
    assert rows["fc"].spatial is False
    assert res.prediction_holds in (True, False)
    with pytest.raises(UserError):
        eq.equivariance(model, x, 1, 1, layers=["nope"])


# ------------------------------------------------------------------------- hierarchy

def test_hierarchy_layers_are_derivatives():
    x = lecture_table()
    h = hierarchy(x)
    assert tuple(h.layer1) == LAYER1 and tuple(h.layer2) == LAYER2_NAMES
    dx, dy = kernel("x-derivative"), kernel("y-derivative")

    def d(a, w):
        return convolve(a, w, "same-reflect")

    for name in LAYER1:
        assert h.layer1[name].shape == (10, 10) and h.layer1[name].min() >= 0
    np.testing.assert_array_equal(h.layer1["x+"] - h.layer1["x-"], d(x, dx))
    np.testing.assert_array_equal(h.layer1["y+"] - h.layer1["y-"], d(x, dy))
    np.testing.assert_allclose(h.layer2["xx"], d(d(x, dx), dx))
    np.testing.assert_allclose(h.layer2["yy"], d(d(x, dy), dy))
    np.testing.assert_allclose(h.layer2["xy"], d(d(x, dx), dy))
    np.testing.assert_allclose(h.layer2["laplacian"], h.layer2["xx"] + h.layer2["yy"])
    np.testing.assert_allclose(h.layer2["xy"][1:-1, 1:-1], h.layer2["yx"][1:-1, 1:-1])
    np.testing.assert_allclose(h.layer2["dx(x+)"], d(h.layer1["x+"], dx))
    assert h.layer1["x+"][0, :3].tolist() == [0, 144, 178]
    assert all(v.min() >= 0 for v in h.layer2_relu().values())


def test_hierarchy_on_a_ramp_and_a_step():
    ramp = np.tile(np.arange(8.0), (8, 1))
    h = hierarchy(ramp)
    assert h.layer1["x+"][3, 1:-1].tolist() == [8] * 6 and h.layer1["x-"].max() == 0
    assert h.layer1["y+"].max() == 0 and h.layer1["y-"].max() == 0
    assert np.all(h.layer2["xx"][:, 2:-2] == 0)  # constant slope: no second derivative
    step = np.zeros((8, 8))
    step[:, 4:] = 1.0
    h = hierarchy(step)
    assert h.layer1["x+"][:, 3:5].min() > 0 and h.layer1["x+"][:, :2].max() == 0
    assert h.layer2["xx"][4, 3] > 0 > h.layer2["xx"][4, 4]  # edge: + then - curvature


def test_hand_built_net():
    net = hand_built_net()
    assert net.conv1.weight.shape == (4, 1, 3, 3) and net.conv2.weight.shape[0] == len(
        LAYER2_NAMES)
    assert net.conv1.bias is None
    with pytest.raises(UserError):
        hierarchy(np.ones((1, 5)))
