"""unit_math: a_{l,k} = Σ_j w_{l,kj} * h_{l-1,j} + b_{l,k} on the real network, equal to
the convolution's own output, and `cnn-explorer unit-math`."""

import json

import pytest
import torch
from torch import nn

from explorer.cli import main
from explorer.core.network import Network, preprocess
from explorer.core.trace import trace
from explorer.data.samples import load_sample
from explorer.errors import UserError
from explorer.graph.unit_math import unit_math
from explorer.nets.registry import load_network


def _traced(conv: nn.Conv2d, in_channels: int, size=(7, 9), seed=0):
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Conv2d(in_channels, in_channels, 3, padding=1), nn.ReLU(),
                           conv).eval()
    net = Network(module, "t", "classify", size, in_channels)
    return net, trace(net, torch.randn(1, in_channels, *size))


def _every_unit(net, tr, layer):
    out = tr.outputs[layer]
    worst = 0.0
    for c in range(out.shape[0]):
        for y in range(out.shape[1]):
            for x in range(out.shape[2]):
                r = unit_math(net, tr, layer, c, y, x)
                assert r["output"] == pytest.approx(float(out[c, y, x]))
                assert r["total"] == pytest.approx(sum(t["sum"] for t in r["terms"])
                                                   + r["bias"])
                worst = max(worst, r["difference"])
    return worst


def test_stride_padding_dilation_and_groups():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2)
    net, tr = _traced(conv, 4)
    assert _every_unit(net, tr, "2") < 1e-4
    r = unit_math(net, tr, "2", 4, 1, 2)  # out channel 4 is in group 1: inputs 2 and 3
    assert (r["groups"], r["group"]) == (2, 1)
    assert [t["input_channel"] for t in r["terms"]] == [2, 3]
    assert r["rows"] == [1, 3, 5] and r["cols"] == [3, 5, 7]  # stride 2, dilation 2, pad 1
    assert tr.outputs["2"].shape == (6, 3, 4)
    w = conv.weight.detach()
    assert torch.allclose(torch.tensor(r["terms"][0]["kernel"]).float(), w[4, 0])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes(mode):
    net, tr = _traced(nn.Conv2d(3, 2, 3, padding=2, padding_mode=mode), 3, size=(4, 5))
    assert _every_unit(net, tr, "2") < 1e-4
    r = unit_math(net, tr, "2", 0, 0, 0)  # top-left: mostly padding
    assert r["outside"][0] == [True, True, True] and r["padding"]["mode"] == mode
    assert r["outside"][2] == [True, True, False]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
def test_same_padding_asymmetric_kernel_no_bias():
    conv = nn.Conv2d(2, 3, (2, 3), padding="same", dilation=(1, 2), bias=False)
    net, tr = _traced(conv, 2, size=(5, 6))
    assert _every_unit(net, tr, "2") < 1e-4
    assert unit_math(net, tr, "2", 0, 3, 3)["bias"] == 0.0


def test_hand_checked_unit():
    conv = nn.Conv2d(1, 1, 2, padding=1, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]))
        conv.bias.fill_(0.5)
    net = Network(nn.Sequential(conv).eval(), "t", "classify", (2, 2), 1)
    h = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    tr = trace(net, h)
    r = unit_math(net, tr, "0", 0, 1, 1)  # window rows 0..1, cols 0..1: the whole input
    assert r["terms"][0]["patch"] == [[1.0, 2.0], [3.0, 4.0]]
    assert r["terms"][0]["sum"] == 1 + 4 + 9 + 16
    assert r["total"] == 30.5 == r["output"]
    r = unit_math(net, tr, "0", 0, 0, 0)  # top-left corner: three zeros of padding
    assert r["terms"][0]["patch"] == [[0.0, 0.0], [0.0, 1.0]]
    assert r["outside"] == [[True, True], [True, False]]
    assert r["total"] == 4 * 1 + 0.5


def test_a_layer_used_twice_is_checked_against_its_last_call():
    conv = nn.Conv2d(2, 2, 3, padding=1)
    module = nn.Sequential(conv, nn.ReLU(), conv).eval()  # the same layer twice
    net = Network(module, "t", "classify", (6, 6), 2)
    tr = trace(net, torch.randn(1, 2, 6, 6))
    r = unit_math(net, tr, "0", 1, 2, 3)
    assert r["difference"] < 1e-5


@pytest.fixture(scope="module")
def tinyvgg():
    net = load_network("tinyvgg-shapes")
    return net, trace(net, preprocess(net, load_sample("shape-crop")))


def test_tinyvgg_real_layers(tinyvgg):
    net, tr = tinyvgg
    convs = [n for n, m in net.module.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 6
    for name in convs:
        c, h, w = tr.outputs[name].shape
        for unit in [(0, 0, 0), (c - 1, h - 1, w - 1), (c // 2, h // 2, w // 3)]:
            r = unit_math(net, tr, name, *unit)
            assert r["difference"] < 1e-4, (name, unit)
            assert len(r["terms"]) == net.module.get_submodule(name).in_channels


def test_bad_units_and_layers(tinyvgg):
    net, tr = tinyvgg
    with pytest.raises(UserError, match="not a Conv2d"):
        unit_math(net, tr, "features.bn1", 0, 0, 0)
    with pytest.raises(UserError, match="no layer"):
        unit_math(net, tr, "features.conv99", 0, 0, 0)
    with pytest.raises(UserError, match="channel 16 is outside"):
        unit_math(net, tr, "features.conv1", 16, 0, 0)
    with pytest.raises(UserError, match="row y -1"):
        unit_math(net, tr, "features.conv1", 0, -1, 0)


def test_cli_unit_math_json(capsys):
    argv = ["unit-math", "--model", "tinyvgg-shapes", "--layer", "features.conv3",
            "--unit", "5,7,9", "--image", "sample:shape-crop", "--json"]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["unit"] == [5, 7, 9] and len(r["terms"]) == 16
    assert r["difference"] < 1e-4
    assert r["total"] == pytest.approx(sum(t["sum"] for t in r["terms"]) + r["bias"])
    assert len(r["terms"][0]["patch"]) == 3


def test_cli_unit_math_text(capsys):
    assert main(["unit-math", "-m", "tinyvgg-shapes", "-l", "features.conv1", "-u", "0,3,4",
                 "-i", "sample:shape-crop", "--patches"]) == 0
    out = capsys.readouterr().out
    assert "= total" in out and "the network's output" in out
    assert out.count("h ") >= 9  # three channels, three rows of patch each


@pytest.mark.parametrize("layer, unit, message", [
    ("features.conv1", "16,0,0", "channel 16 is outside"),
    ("features.conv1", "0,64,0", "row y 64 is outside"),
    ("features.conv1", "0,0,-3", "negative numbers"),
    ("features.conv1", "0,0", "CHANNEL,Y,X"),
    ("features.conv1", "a,b,c", "whole numbers"),
    ("features.relu1", "0,0,0", "not a Conv2d"),
    ("nothing", "0,0,0", "no layer"),
])
def test_cli_unit_math_bad_input_exits_2(capsys, layer, unit, message):
    argv = ["unit-math", "--model", "tinyvgg-shapes", "--layer", layer, "--unit", unit,
            "--image", "sample:shape-crop"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_unit_math_bad_image_exits_2(tmp_path, capsys):
    assert main(["unit-math", "--layer", "features.conv1", "--unit", "0,0,0",
                 "--image", str(tmp_path / "none.png")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_pooling_layer_is_named_with_its_article():
    """ "pool1 is an AvgPool2d", not "a AvgPool2d" (LeNet-5's pooling is an average)."""
    import pytest

    from explorer.app.networks import load_network
    from explorer.errors import UserError
    from explorer.graph.unit_math import conv_layer

    net = load_network("lenet5-digits")
    with pytest.raises(UserError, match="pool1 is an AvgPool2d, not a Conv2d"):
        conv_layer(net, "pool1")
