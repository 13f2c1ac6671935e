"""Tracing: shapes equal torch's, parameter counts torchvision's, receptive fields the
literature's."""

import pytest
import torch
import torchvision
from torch import nn

from explorer.core.network import Network
from explorer.core.trace import layer_table, trace
from explorer.nets.registry import load_network


def _wrap(module: nn.Module, size=(64, 64), classes=0) -> Network:
    return Network(module.eval(), "test", "classify", size,
                   class_names=[str(i) for i in range(classes)])


@pytest.mark.parametrize("name,size", [("resnet18", 64), ("alexnet", 96),
                                       ("googlenet", 64), ("inception_v3", 96)])
def test_trace_shapes_equal_torch(name, size):
    net = load_network(name)
    x = torch.randn(1, 3, size, size)
    tr = trace(net, x)
    # compare every module's recorded output with what torch itself gives via hooks
    seen = {}
    hooks = [m.register_forward_hook(
        lambda _m, _i, o, n=n: seen.__setitem__(n, o if torch.is_tensor(o) else o[0]))
        for n, m in net.module.named_modules() if n]
    with torch.no_grad():
        expected = net.module(x)
    for h in hooks:
        h.remove()
    assert set(tr.outputs) == set(seen)
    for n, t in seen.items():
        assert tuple(tr.outputs[n].shape) == tuple(t.shape[1:]), n
        assert tr.info(n).out_shape == tuple(t.shape[1:])
    assert torch.allclose(tr.output, expected, atol=1e-5)


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "googlenet", "mobilenet_v2"])
def test_param_counts_equal_torchvision(name):
    net = load_network(name)
    layers = layer_table(net, (64, 64))
    reference = dict(torchvision.models.get_model(
        name, weights=None, **({"aux_logits": False, "init_weights": False}
                               if name == "googlenet" else {})).named_modules())
    for layer in layers:
        assert layer.params == sum(p.numel() for p in reference[layer.name].parameters())
    top = [lay for lay in layers if lay.depth == 0]
    assert sum(lay.params for lay in top) == sum(p.numel() for p in net.module.parameters())


def test_receptive_fields_match_literature():
    vgg = {lay.name: lay for lay in layer_table(load_network("vgg16"))}
    assert vgg["features.0"].rf == 3
    assert vgg["features.28"].rf == 196 and vgg["features.28"].jump == 16  # conv5_3
    assert vgg["features.30"].rf == 212 and vgg["features.30"].jump == 32  # pool5
    assert vgg["classifier.0"].rf_global
    alex = {lay.name: lay for lay in layer_table(load_network("alexnet"))}
    assert (alex["features.0"].rf, alex["features.0"].jump) == (11, 4)
    assert alex["features.10"].rf == 163 and alex["features.12"].rf == 195
    res = {lay.name: lay for lay in layer_table(load_network("resnet18"))}
    assert res["layer4"].rf == 435 and res["layer4"].jump == 32
    assert res["layer1.0"].children[0] == "layer1.0.conv1" and not res["layer1.0"].is_leaf


def test_inception_branches_take_widest_field():
    layers = {lay.name: lay for lay in layer_table(load_network("googlenet"), (96, 96))}
    block = layers["inception3a"]
    assert block.rf == max(layers[f"inception3a.branch{i}"].rf for i in range(1, 5))
    assert layers["inception3a.branch1"].rf < layers["inception3a.branch3"].rf


def test_field_box_centres_and_covers():
    # one 3x3 valid conv then a stride-2 pool: unit (0, 0) sees input pixels 0..3
    net = _wrap(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2)), (16, 16))
    net.in_channels = 1
    lay = {lay.name: lay for lay in layer_table(net)}["1"]
    assert (lay.rf, lay.jump) == (4, 2)
    assert lay.field_box(0, 0) == (0.0, 0.0, 4.0, 4.0)
    assert lay.field_box(1, 2) == (4.0, 2.0, 8.0, 6.0)


def test_field_matches_gradient_support():
    """The theoretical field equals the set of pixels with a gradient (all weights 1)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2),
                          nn.Conv2d(2, 2, 3, dilation=2, padding=2), nn.AvgPool2d(2),
                          nn.Conv2d(2, 1, 5, stride=2, padding=2))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
    net = _wrap(model, (64, 64))
    net.in_channels = 1
    lay = layer_table(net)[-1]
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    y = model(x)
    y[0, 0, 2, 3].backward()
    ys, xs = torch.nonzero(x.grad[0, 0], as_tuple=True)
    x1, y1, x2, y2 = lay.field_box(2, 3)
    assert (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) == (
        x1, y1, x2, y2)


def test_trace_keeps_every_output_on_device_and_probs():
    net = _wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten(), nn.Linear(4, 3)), classes=3)
    tr = trace(net, torch.randn(1, 3, 32, 32))
    assert tr.outputs["0"].shape == (4, 30, 30) and tr.outputs["0"].device.type == "cpu"
    assert tr.probs is not None and float(tr.probs.sum()) == pytest.approx(1.0)
    assert len(tr.topk(5)) == 3
    assert tr.info("4").rf_global


def test_inplace_relu_does_not_overwrite_conv_output():
    net = load_network("vgg11")
    tr = trace(net, torch.randn(1, 3, 32, 32))
    assert float(tr.outputs["features.0"].min()) < 0  # pre-ReLU values survive
    assert float(tr.outputs["features.1"].min()) >= 0


def test_trace_rejects_batches():
    net = _wrap(nn.Conv2d(3, 1, 1))
    with pytest.raises(ValueError):
        trace(net, torch.zeros(2, 3, 8, 8))
