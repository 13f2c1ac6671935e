"""Parameter counts from built modules against the lecture's numbers."""

import pytest
import torch
import torchvision
from torch import nn

from explorer.errors import UserError
from explorer.lab import params


@pytest.fixture(scope="module")
def answer():
    return params.fc_vs_conv()


def test_first_layer():
    assert params.first_layer_weights() == 524_288


def test_fully_connected(answer):
    fc, _ = answer
    assert [r.params for r in fc.layers] == [1_048_832, 32_896, 8_256, 1_040]
    assert [(r.weights, r.biases) for r in fc.layers] == [
        (1_048_576, 256), (32_768, 128), (8_192, 64), (1_024, 16)]
    assert [r.neurons for r in fc.layers] == [256, 128, 64, 16]
    assert fc.total == 1_091_024


def test_convolutional(answer):
    _, cv = answer
    assert [r.params for r in cv.layers] == [416, 6_416, 6_416, 692_240]
    assert [r.output_shape for r in cv.layers] == [(16, 60, 60), (16, 56, 56), (16, 52, 52), (16,)]
    assert [r.neurons for r in cv.layers[:3]] == [57_600, 50_176, 43_264]
    assert cv.total == 705_488
    assert [r.description for r in cv.layers] == ["conv5-16"] * 3 + ["FC-16"]


def test_count_layers_leaves_real_model_alone():
    torch.manual_seed(0)
    model = params.conv_network((20, 20), (4,), 3, 2)
    before = model.conv1.weight.clone()
    count = params.count_layers(model, (1, 20, 20))
    assert count.total == (4 * 9 + 4) + (4 * 18 * 18 * 2 + 2)
    assert model.conv1.weight.device.type == "cpu" and torch.equal(model.conv1.weight, before)
    with pytest.raises(UserError):
        params.conv_network((8, 8), (4, 4), 5)


def test_vgg_totals_match_paper_and_torchvision():
    totals = params.vgg_totals()
    assert totals == {"A": 132_863_336, "A-LRN": 132_863_336, "B": 133_047_848,
                      "C": 133_638_952, "D": 138_357_544, "E": 143_667_240}
    assert {k: round(v / 1e6) for k, v in totals.items()} == params.VGG_PAPER_MILLIONS
    assert params.VGG_PAPER_MILLIONS == {"A": 133, "A-LRN": 133, "B": 133, "C": 134,
                                         "D": 138, "E": 144}
    with torch.device("meta"):
        for key, name in (("A", "vgg11"), ("B", "vgg13"), ("D", "vgg16"), ("E", "vgg19")):
            tv = getattr(torchvision.models, name)()
            assert sum(p.numel() for p in tv.parameters()) == totals[key]


@pytest.mark.parametrize("key", list(params.VGG_CONFIGS))
def test_vgg_layer_tables(key):
    net = params.vgg_count(key)
    weight_layers = [r for r in net.layers if r.description.startswith(("conv", "FC"))]
    assert len(weight_layers) == params.VGG_WEIGHT_LAYERS[key]
    rows = {r.name: r for r in net.layers}
    assert rows["conv1_1"].output_shape == (64, 224, 224) and rows["conv1_1"].params == 1_792
    assert rows["pool5"].output_shape == (512, 7, 7)
    assert rows["fc6"].params == 25_088 * 4_096 + 4_096 == 102_764_544
    assert rows["fc8"].output_shape == (1000,)
    assert net.total == params.vgg_totals()[key]
    assert ("lrn1" in rows) == (key == "A-LRN")
    conv1 = [r for r in net.layers if r.description.startswith("conv1-")]
    if key == "C":
        assert [(r.name, r.params) for r in conv1] == [
            ("conv3_3", 65_792), ("conv4_3", 262_656), ("conv5_3", 262_656)]
    else:
        assert conv1 == []


def test_vgg_lrn_module_and_errors():
    with torch.device("meta"):
        model = params.build_vgg("A-LRN")
    assert isinstance(model.lrn1, nn.LocalResponseNorm) and model.lrn1.size == 5
    with pytest.raises(UserError):
        params.build_vgg("F")
