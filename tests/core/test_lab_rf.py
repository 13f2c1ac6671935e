"""Receptive fields: recurrence, literature values, gradient measurement, core cross-check."""

import numpy as np
import pytest
import torch
from torch import nn

from explorer.errors import UserError
from explorer.lab import rf


def _by_label(model):
    friendly = rf.FRIENDLY.get(model, {})
    return {friendly.get(r.name, r.name): r for r in rf.rf_table(model)}


def test_literature_values():
    vgg = _by_label("vgg16")
    assert (vgg["conv5_3"].rf, vgg["conv5_3"].jump) == (196, 16)
    assert (vgg["pool5"].rf, vgg["pool5"].jump) == (212, 32)
    assert [vgg[f"conv1_{i}"].rf for i in (1, 2)] == [3, 5] and vgg["pool1"].rf == 6
    alex = _by_label("alexnet")
    assert [alex[n].rf for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4",
                                 "conv5", "pool5")] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert alex["conv5"].jump == 16 and alex["conv5"].out_size == 13
    res = rf.rf_table("resnet18")
    assert res[-1].name == "layer4.1.conv2" and (res[-1].rf, res[-1].jump) == (435, 32)
    assert not any("downsample" in r.name for r in res)
    lenet = _by_label("lenet5")
    assert [lenet[n].rf for n in ("c1", "s2", "c3", "s4", "c5")] == [5, 6, 14, 16, 32]
    assert lenet["c5"].out_size == 1


def test_recurrence_with_dilation_and_start():
    table = rf.rf_recurrence(
        [("a", "conv", 3, 1, 1, 1), ("b", "conv", 3, 1, 2, 2), ("c", "maxpool", 2, 2, 0, 1),
         ("d", "conv", 3, 1, 4, 4)], input_size=16)
    assert [t.rf for t in table] == [3, 7, 8, 24]
    assert [t.jump for t in table] == [1, 1, 2, 2]
    assert [t.out_size for t in table] == [16, 16, 8, 8]
    assert table[2].start == 0.5 and table[2].field(1) == (-1.0, 6.0)
    with pytest.raises(UserError):
        rf.rf_recurrence([("x", "conv", 3, 0, 0, 1)])
    with pytest.raises(UserError):
        rf.rf_table("googlenet")


@pytest.mark.parametrize(
    "model,layer,size,channels,expected",
    [
        ("lenet5", "c3", 32, 1, 14),
        ("lenet5", "c5", 32, 1, 32),
        ("alexnet", "features.10", 224, 3, 163),
        pytest.param("resnet18", "layer4", 448, 3, 435, marks=pytest.mark.slow),
    ],
)
def test_gradient_confirms_recurrence(model, layer, size, channels, expected):
    with torch.device("meta"):
        module = rf.build_model(model)
    module = module.to_empty(device="cpu")  # probe_model sets every weight it uses
    field = rf.gradient_rf(module, layer, (size, size), channels)
    assert (field.height, field.width) == (expected, expected)
    # and it sits where the recurrence puts it
    row = {r.name: r for r in rf.rf_table(model)}
    last = [r for r in rf.rf_table(model) if r.name.startswith(layer)][-1]
    lo, hi = (row.get(layer) or last).field(field.unit[0])
    assert (field.top, field.bottom) == (lo, hi)


@pytest.mark.slow
def test_gradient_vgg16_features():
    """VGG16's convolutional part only (the 100M-parameter classifier is not needed)."""
    import torchvision

    with torch.device("meta"):
        features = torchvision.models.vgg16(weights=None).features
    features = features.to_empty(device="cpu")  # probe_model sets every weight
    field = rf.gradient_rf(features, "30", (224, 224))  # pool5; centre unit fits at 224
    assert (field.height, field.width) == (212, 212)
    assert (field.top, field.bottom) == (6, 217)


def test_effective_rf_map():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 1, 3)).eval()
    torch.manual_seed(1)
    g = rf.effective_rf(net, "2", torch.randn(1, 1, 9, 9), 2, 3)
    assert g.shape == (9, 9) and g.dtype == np.float64
    nonzero = np.argwhere(g > 0)
    assert nonzero.min(0).tolist() >= [2, 3] and nonzero.max(0).tolist() <= [6, 7]
    assert g[:2].sum() == 0 and g[:, :3].sum() == 0
    with pytest.raises(UserError):
        rf.effective_rf(net, "9", torch.randn(1, 1, 9, 9))
    with pytest.raises(UserError):
        rf.effective_rf(net, "2", torch.randn(1, 1, 9, 9), 7, 0)


@pytest.mark.parametrize("model", rf.MODEL_NAMES)
def test_cross_check_with_core_trace(model):
    import explorer.core.network as network_mod
    import explorer.core.trace as trace
    size = 32 if model == "lenet5" else 96  # the RF does not depend on the input size
    with torch.device("meta"):  # shapes and fields only: no weights, no arithmetic
        module = rf.build_model(model)
    net = network_mod.Network(module=module, name=model, task="classify",
                              input_size=(size, size), in_channels=rf.MODEL_CHANNELS[model],
                              device=torch.device("meta"))
    core = {info.name: info for info in trace.layer_table(net)}
    for row in rf.rf_table(model, size):
        info = core[row.name]
        assert (info.rf, info.jump) == (row.rf, row.jump), row.name
