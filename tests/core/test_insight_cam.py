"""Class activation maps: the heat lands on the object, at the input size, in [0, 1]."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from explorer import PRETRAINED
from explorer.core.images import Image
from explorer.core.network import Network
from explorer.errors import UserError
from explorer.insight.cam import class_activation_map, resolve_class
from explorer.insight.layers import default_cam_layer


def bright_detector() -> Network:
    """Conv (mean of a 3x3x3 patch, minus 0.3) -> ReLU -> global average -> 2 classes:
    "bright" rises with the area brighter than 0.3. Its CAM must light up that area."""
    net = nn.Sequential(OrderedDict(
        conv=nn.Conv2d(3, 4, 3, padding=1), relu=nn.ReLU(),
        pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=nn.Linear(4, 2)))
    with torch.no_grad():
        net.conv.weight.fill_(1 / 27)
        net.conv.bias.fill_(-0.3)
        net.fc.weight.copy_(torch.tensor([[-1.0] * 4, [1.0] * 4]))
        net.fc.bias.zero_()
    return Network(net.eval(), "bright", "classify", (32, 32), 3, (0.0, 0.0, 0.0),
                   (1.0, 1.0, 1.0), ["dark", "bright"], "file")


def square_image() -> tuple[Image, np.ndarray]:
    """Dark 32x32 picture with a bright block off the diagonal (a transposed map would miss
    it): rows 4..11, columns 18..27."""
    a = np.full((32, 32, 3), 0.1, np.float32)
    mask = np.zeros((32, 32), bool)
    mask[4:12, 18:28] = True
    a[mask] = 0.9
    return Image(a, "square", None, "synthetic"), mask


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "xgradcam", "layercam",
                                    "hirescam"])
def test_peak_lies_on_the_bright_block(method):
    net = bright_detector()
    image, mask = square_image()
    r = class_activation_map(net, image, method=method, class_index="bright")
    assert r.layer == "relu"  # the last spatial layer before global pooling
    assert r.heatmap.shape == (32, 32) and r.heatmap.dtype == np.float32
    assert r.heatmap.min() >= 0 and r.heatmap.max() == pytest.approx(1.0, abs=1e-5)
    assert mask[r.peak]
    # the heat is on the block, not spread over the picture
    assert r.heatmap[mask].mean() > 3 * r.heatmap[~mask].mean()
    assert r.overlay.shape == (32, 32, 3) and r.overlay.dtype == np.uint8
    assert r.class_index == 1 and r.class_name == "bright"


def test_eigencam_needs_no_class_and_finds_the_block():
    net = bright_detector()
    image, mask = square_image()
    r = class_activation_map(net, image, method="eigencam")
    assert r.heatmap[mask].mean() > r.heatmap[~mask].mean()


def test_network_is_left_as_it_was():
    net = bright_detector()
    for p in net.module.parameters():
        p.grad = None
    class_activation_map(net, square_image()[0])
    assert all(p.requires_grad for p in net.module.parameters())
    assert all(p.grad is None for p in net.module.parameters())
    assert not net.module.training


def test_class_choice_and_errors():
    net = bright_detector()
    probs = torch.tensor([0.3, 0.7])
    assert resolve_class(net, None, probs) == 1
    assert resolve_class(net, "0", probs) == 0
    assert resolve_class(net, "Dark", probs) == 0
    with pytest.raises(UserError, match="out of range"):
        resolve_class(net, 5, probs)
    with pytest.raises(UserError, match="no class"):
        resolve_class(net, "cat", probs)
    with pytest.raises(UserError, match="unknown CAM method"):
        class_activation_map(net, square_image()[0], method="magic")
    with pytest.raises(UserError, match="not maps"):
        class_activation_map(net, square_image()[0], layer="pool")
    with pytest.raises(UserError, match="no layer"):
        class_activation_map(net, square_image()[0], layer="conv9")


def test_default_layers_of_shipped_and_torchvision_networks():
    from explorer.nets.registry import load_network

    assert default_cam_layer(load_network("tinyvgg-shapes")) == "features"
    assert default_cam_layer(load_network("lenet5-digits")) == "pool2"
    # ResNet's last leaf in named_modules order sits before the residual sum: the
    # whole last stage is taken instead
    assert default_cam_layer(load_network("resnet18")) == "layer4"


def test_segmenter_is_refused():
    from explorer.nets.registry import load_network

    with pytest.raises(UserError, match="classifier"):
        class_activation_map(load_network("fcn-shapes"), square_image()[0])


@pytest.mark.skipif(not (PRETRAINED / "tinyvgg-shapes.pt").exists(),
                    reason="tinyvgg-shapes has not been trained yet")
def test_trained_tinyvgg_looks_at_the_shape():
    from explorer.data import shapes
    from explorer.nets.registry import load_network

    net = load_network("tinyvgg-shapes")
    rng = np.random.default_rng(5)
    img = np.full((64, 64, 3), (0.85, 0.8, 0.7), np.float32)
    # a star (class 4) a little off centre, as in the training crops
    cov = shapes._place(rng, 4, 36.0, 28.0, 20.0, 64, 64)
    img = img * (1 - cov[..., None]) + cov[..., None] * np.array([0.1, 0.2, 0.7], np.float32)
    r = class_activation_map(net, Image(img.astype(np.float32), "star", None, ""),
                             class_index="star")
    ys, xs = np.nonzero(cov > 0.5)
    y, x = r.peak
    # an 8x8 map upsampled to 64x64: the peak may sit up to one cell off the outline
    assert ys.min() - 8 <= y <= ys.max() + 8 and xs.min() - 8 <= x <= xs.max() + 8
    assert r.heatmap[cov > 0.5].mean() > r.heatmap[cov < 0.01].mean()
