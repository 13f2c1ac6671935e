"""Networks a person brings (explorer.nets.formats): ONNX through onnx2torch, torch.export
programs, timm's CNNs from the cache or a file, and the one-sentence errors. Offline."""

import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from explorer.core.network import Network
from explorer.core.trace import trace
from explorer.errors import ModelError
from explorer.graph import build_graph
from explorer.nets import formats
from explorer.nets.registry import load_network


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 12, 3, stride=2, dilation=2)
        self.relu2 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(12, 4)

    def forward(self, x):
        x = self.pool(self.relu1(self.conv1(x)))
        return self.fc(self.flat(self.gap(self.relu2(self.conv2(x)))))


def _export_onnx(module, x, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the TorchScript exporter: the dynamo one needs more than the test extra installs
        torch.onnx.export(module, (x,), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"])


def _layers(net: Network, x, types):
    """(type, output) of every leaf layer of those types, in the order they ran."""
    tr = trace(net, x)
    return tr, [(lay.type, tr.outputs[lay.name]) for lay in tr.layers
                if lay.is_leaf and lay.type in types]


def _same_layers(a: Network, b: Network, x, types):
    tra, la = _layers(a, x, types)
    trb, lb = _layers(b, x, types)
    assert [(t, tuple(o.shape)) for t, o in la] == [(t, tuple(o.shape)) for t, o in lb]
    for (_, oa), (_, ob) in zip(la, lb):
        assert torch.allclose(oa, ob, atol=1e-4)
    assert torch.allclose(tra.output, trb.output, atol=1e-4)
    return la


def test_onnx_round_trip_of_a_small_cnn(tmp_path):
    torch.manual_seed(0)
    module = SmallCNN().eval()
    x = torch.randn(1, 1, 28, 28)
    _export_onnx(module, x, tmp_path / "small.onnx")
    original = formats.network_from_module(module, name="small")
    assert (original.in_channels, original.input_size) == (1, (224, 224))  # guessed
    net = formats.open_network_file(tmp_path / "small.onnx")
    # the file fixes its input: 1 channel of 28x28
    assert (net.in_channels, net.input_size, net.weights_source) == (1, (28, 28), "file")
    assert net.mean == (0.0,) and net.std == (1.0,)
    layers = _same_layers(original, net, x, {"Conv2d", "ReLU", "MaxPool2d", "Linear"})
    assert [t for t, _ in layers] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU",
                                      "Linear"]


def test_onnx_round_trip_of_tinyvgg_shapes(tmp_path):
    original = load_network("tinyvgg-shapes")
    x = torch.randn(1, 3, *original.input_size)
    _export_onnx(original.module, x, tmp_path / "tinyvgg.onnx")
    net = formats.open_network_file(tmp_path / "tinyvgg.onnx")
    assert (net.in_channels, net.input_size) == (3, original.input_size)
    # the exporter folds each batch norm into its convolution: the convolutions' outputs
    # differ, the ReLUs after them do not
    layers = _same_layers(original, net, x, {"ReLU", "MaxPool2d", "Linear"})
    assert len(layers) == 7 + 3 + 2
    shapes = [lay.out_shape for lay in trace(net, x).layers if lay.type == "Conv2d"]
    assert shapes == [lay.out_shape for lay in trace(original, x).layers
                      if lay.type == "Conv2d"]
    g = build_graph(net)
    assert g.method == "fx" and sum(n.op == "Conv2d" for n in g.nodes) == 6


def test_onnx_errors(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        formats.open_onnx(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="is a folder"):
        formats.open_onnx(tmp_path)
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        formats.open_onnx(tmp_path / "empty.onnx")
    (tmp_path / "text.onnx").write_text("this is not a network\n" * 20)
    with pytest.raises(ModelError, match="not an ONNX") as err:
        formats.open_onnx(tmp_path / "text.onnx")
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match=r"\.onnx or \.pt2"):
        formats.open_network_file(tmp_path / "text.txt")


def test_an_operator_onnx2torch_does_not_convert(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Det", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [2, 2])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(tmp_path / "det.onnx"))
    with pytest.raises(ModelError) as err:
        formats.open_onnx(tmp_path / "det.onnx")
    assert str(err.value) == "det.onnx: onnx2torch cannot convert the operator Det (opset 11)"


@pytest.mark.slow
def test_exported_program_round_trip(tmp_path):
    torch.manual_seed(0)
    module = SmallCNN().eval()
    x = torch.randn(1, 1, 20, 24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(torch.export.export(module, (x,)), str(tmp_path / "small.pt2"))
    net = formats.open_network_file(tmp_path / "small.pt2")
    assert (net.in_channels, net.input_size) == (1, (20, 24))  # the traced example's
    net.module.eval()  # the explorer's habit: harmless here
    with torch.no_grad():
        assert torch.allclose(net.module(x), module(x), atol=1e-5)
    with pytest.raises(ModelError, match="cannot be trained"):
        net.module.train()
    g = build_graph(net)  # aten operators, named after the layers they came from
    convs = [n for n in g.nodes if n.op == "conv2d"]
    assert [(n.module, n.shape, n.params) for n in convs] == [
        ("conv1", (6, 20, 24), 6 * 25 + 6), ("conv2", (12, 3, 4), 12 * 6 * 9 + 12)]


def test_exported_errors(tmp_path):
    (tmp_path / "a.pt2").write_text("not an archive")
    with pytest.raises(ModelError, match="not a torch.export program"):
        formats.open_exported(tmp_path / "a.pt2")
    with zipfile.ZipFile(tmp_path / "b.pt2", "w") as z:
        z.writestr("hello.txt", "a zip, but no program")
    with pytest.raises(ModelError, match="not a torch.export program"):
        formats.open_exported(tmp_path / "b.pt2")


# --- timm ----------------------------------------------------------------------------

def test_timm_names_are_its_cnns():
    names = formats.timm_names()
    for n in ("resnet50", "efficientnet_b0", "convnext_tiny", "regnetx_002",
              "mobilenetv3_small_100", "densenet121"):
        assert n in names
    assert "vit_base_patch16_224" not in names
    with pytest.raises(ModelError, match="not one of timm's convolutional"):
        formats.open_timm("vit_base_patch16_224")
    with pytest.raises(ModelError, match="did you mean resnet50"):
        formats.open_timm("resnet5O")


@pytest.mark.slow
def test_timm_random_weights_when_nothing_is_cached(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    net = formats.open_timm_network("resnet18")
    assert net.weights_source == "random" and net.input_size == (224, 224)
    assert len(net.class_names) == 1000 and net.class_names[0] == "tench"
    assert build_graph(net, layout=False).nodes[-1].shape == (1000,)


def _fake_hf_cache(root, repo: str, filename: str, state):
    from safetensors.torch import save_file

    folder = root / f"models--{repo.replace('/', '--')}"
    snap = folder / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0" * 40)
    save_file({k: v.contiguous() for k, v in state.items()}, str(snap / filename))


@pytest.mark.slow
def test_timm_weights_from_the_hf_cache_and_from_a_file(monkeypatch, tmp_path):
    import huggingface_hub.constants
    import timm

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    torch.manual_seed(1)
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    _fake_hf_cache(tmp_path / "hf", "timm/resnet18.a1_in1k", "model.safetensors", state)
    assert formats.timm_cached_weights("resnet18").name == "model.safetensors"
    net = formats.open_timm_network("resnet18")
    assert net.weights_source == "hub cache"
    assert torch.equal(net.module.conv1.weight, state["conv1.weight"])
    # a state dict file; and one that is for another network
    torch.save(state, tmp_path / "r18.pth")
    net = formats.open_timm_network("resnet18", tmp_path / "r18.pth")
    assert net.weights_source == "file" and net.weights_path.endswith("r18.pth")
    assert torch.equal(net.module.fc.bias, state["fc.bias"])
    with pytest.raises(ModelError, match="does not fit resnet34"):
        formats.open_timm("resnet34", tmp_path / "r18.pth")


def test_timm_weights_from_the_torch_hub_cache(monkeypatch, tmp_path):
    import huggingface_hub.constants
    import timm

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    cfg = timm.models.get_pretrained_cfg("resnet18")
    dest = Path(torch.hub.get_dir()) / "checkpoints" / cfg.url.rsplit("/", 1)[-1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(timm.create_model("resnet18").state_dict(), dest)
    assert formats.timm_cached_weights("resnet18") == dest
    assert formats.open_timm_network("resnet18").weights_source == "hub cache"


def test_network_from_module_guesses():
    m = nn.Sequential(nn.Conv2d(5, 2, 3), nn.ReLU(inplace=True))
    net = formats.network_from_module(m)
    assert (net.in_channels, net.input_size, net.name) == (5, (224, 224), "Sequential")
    assert net.mean == (0.0,) * 5 and not m[1].inplace  # in-place would spoil the trace
    net = formats.network_from_module(nn.Sequential(nn.Conv2d(3, 2, 3)), "x/y/mine.onnx",
                                      input_size=(32, 48))
    assert (net.name, net.input_size, net.mean) == ("mine", (32, 48), (0.485, 0.456, 0.406))
    # timm's configuration says what the network takes (TResNet's first convolution
    # follows a space-to-depth step and has 48 input channels)
    m = nn.Sequential(nn.Conv2d(48, 2, 3))
    m.pretrained_cfg = {"input_size": (3, 256, 256), "mean": (0.5,) * 3, "std": (0.2,) * 3}
    net = formats.network_from_module(m)
    assert (net.in_channels, net.input_size, net.std) == (3, (256, 256), (0.2,) * 3)


# --- every command opens them (explorer.app.networks.open_network) -------------------

def _cli(capsys, *argv):
    from explorer.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys, *argv):
    import json

    code, out, err = _cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out), err


def _tinyvgg_files(tmp_path):
    """tinyvgg-shapes exported to ONNX and to a torch.export program."""
    original = load_network("tinyvgg-shapes")
    x = torch.randn(1, 3, *original.input_size)
    _export_onnx(original.module, x, tmp_path / "tinyvgg.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(torch.export.export(original.module, (x,)), tmp_path / "tv.pt2")
    return tmp_path / "tinyvgg.onnx", tmp_path / "tv.pt2"


@pytest.mark.slow
def test_onnx_and_pt2_through_predict_layers_features_graph(capsys, tmp_path):
    onnx_file, pt2_file = _tinyvgg_files(tmp_path)
    image = ["--image", "sample:shape-crop"]
    ref, _ = _json(capsys, "predict", "--model", "tinyvgg-shapes", *image)
    ref_layers, _ = _json(capsys, "layers", "--model", "tinyvgg-shapes")
    ref_shapes = [lay["output_shape"] for lay in ref_layers["layers"]
                  if lay["type"] in ("ReLU", "MaxPool2d", "Linear")]
    for f in (onnx_file, pt2_file):
        # NAME --weights FILE: the file's module with tinyvgg-shapes' labels
        got, _ = _json(capsys, "predict", "--model", "tinyvgg-shapes", "--weights", f, *image)
        assert got["weights"] == "file"
        assert got["top"][0]["label"] == ref["top"][0]["label"]
        assert ref["top"][0]["label"] in load_network("tinyvgg-shapes").class_names
        assert got["top"][0]["probability"] == pytest.approx(ref["top"][0]["probability"],
                                                             abs=1e-4)
        # file --weights FILE: labels unknown, the same arithmetic
        plain, _ = _json(capsys, "layers", "--model", "file", "--weights", f)
        assert plain["input_size"] == ref_layers["input_size"]
        shapes = [lay["output_shape"] for lay in plain["layers"]
                  if lay["type"] in ("ReLU", "MaxPool2d", "Linear")]
        # onnx2torch makes torch.nn layers; a .pt2 gets its layers back from unflatten
        assert shapes == ref_shapes
        relu = next(lay["name"] for lay in plain["layers"] if lay["type"] == "ReLU")
        feats, _ = _json(capsys, "features", "--model", "file", "--weights", f, *image,
                         "--layer", relu, "--out", tmp_path / "f.png")
        assert feats["shape"] == ref_shapes[0] and (tmp_path / "f.png").stat().st_size
        g, _ = _json(capsys, "graph", "--model", "file", "--weights", f,
                     "--out", tmp_path / f"{f.stem}.svg")
        assert g["method"] == "fx" and (tmp_path / f"{f.stem}.svg").read_text().count("<")
        assert g["nodes"][-2]["shape"] == [len(load_network("tinyvgg-shapes").class_names)]


def _no_hf_cache(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.mark.slow
def test_timm_by_name_with_weights_from_a_file(capsys, monkeypatch, tmp_path):
    """A tiny timm CNN, randomly initialised offline and saved: opened by name with the
    file, it predicts, traces and draws as the module itself does."""
    import timm

    _no_hf_cache(monkeypatch, tmp_path)
    torch.manual_seed(3)
    module = timm.create_model("resnet10t", pretrained=False, num_classes=1000).eval()
    torch.save(module.state_dict(), tmp_path / "r10t.pth")
    image = ["--image", "sample:astronaut"]
    got, err = _json(capsys, "predict", "--model", "timm:resnet10t", "--weights",
                     tmp_path / "r10t.pth", *image, "--topk", "3")
    assert got["weights"] == "file" and "random" not in err
    from explorer.app.pictures import open_picture
    from explorer.core.network import preprocess

    net = formats.open_timm_network("resnet10t", tmp_path / "r10t.pth")
    with torch.no_grad():
        probs = module(preprocess(net, open_picture("sample:astronaut"))).softmax(1)[0]
    assert got["top"][0]["probability"] == pytest.approx(float(probs.max()), abs=1e-4)
    assert got["top"][0]["label"] == net.class_names[int(probs.argmax())]
    layers, _ = _json(capsys, "layers", "--model", "timm:resnet10t", "--weights",
                      tmp_path / "r10t.pth")
    assert layers["total_params"] == sum(p.numel() for p in module.parameters())
    g, _ = _json(capsys, "graph", "--model", "timm:resnet10t", "--weights",
                 tmp_path / "r10t.pth")
    assert sum(n["op"] == "add" for n in g["nodes"]) == 4  # four BasicBlocks
    # without a file and nothing cached: random weights, said in one line
    code, out, err = _cli(capsys, "layers", "--model", "resnet10t")
    assert code == 0 and err.count("\n") == 1 and "random weights" in err


def test_models_lists_every_source(capsys):
    rows, _ = _json(capsys, "models")
    families = {r["family"] for r in rows}
    assert families == {"shipped", "torchvision", "timm", "file"}
    names = {r["name"] for r in rows}
    assert {"tinyvgg-shapes", "resnet18", "timm:resnet50", "timm:efficientnet_b0"} <= names
    assert any(n.endswith(".onnx") for n in names) and any(n.endswith(".pt2") for n in names)
    only, _ = _json(capsys, "models", "--family", "file")
    assert {r["family"] for r in only} == {"file"} and len(only) == 4


def _text_file(tmp_path, name):
    p = tmp_path / name
    p.write_text("this is not a network\n")
    return p


def _onnx_with_unconvertible_op(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Det", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [2, 2])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(tmp_path / "det.onnx"))
    return tmp_path / "det.onnx"


def _cut_pt2(tmp_path):
    _, pt2 = _tinyvgg_files(tmp_path)
    data = pt2.read_bytes()
    (tmp_path / "cut.pt2").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.pt2"


BAD = [
    ("text.onnx", lambda t: ["--model", "file", "--weights", _text_file(t, "text.onnx")],
     "not an ONNX file"),
    ("text.pt2", lambda t: ["--model", "file", "--weights", _text_file(t, "text.pt2")],
     "not a torch.export program"),
    ("cut.pt2", lambda t: ["--model", "file", "--weights", _cut_pt2(t)],
     "not a torch.export program"),
    ("operator", lambda t: ["--model", "file", "--weights", _onnx_with_unconvertible_op(t)],
     "onnx2torch cannot convert the operator Det"),
    ("not a CNN", lambda t: ["--model", "timm:vit_base_patch16_224"],
     "not one of timm's convolutional"),
    ("plain not a CNN", lambda t: ["--model", "vit_base_patch16_224"],
     "not a convolutional one"),
    ("unknown timm", lambda t: ["--model", "timm:resnet5O"], "did you mean resnet50"),
    ("empty timm", lambda t: ["--model", "timm:"], "needs a network name"),
    ("timm with onnx", lambda t: ["--model", "timm:resnet18", "--weights",
                                  _text_file(t, "x.onnx")], "whole network"),
    ("1-channel onnx as tinyvgg", lambda t: ["--model", "tinyvgg-shapes", "--weights",
                                             _small_onnx(t)], "not tinyvgg-shapes"),
]


def _small_onnx(tmp_path):
    _export_onnx(SmallCNN().eval(), torch.randn(1, 1, 28, 28), tmp_path / "small.onnx")
    return tmp_path / "small.onnx"


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_broken_or_foreign_files_are_one_line(capsys, tmp_path, case):
    _, argv, message = case
    for command in (["layers"], ["predict", "--image", "sample:shape-crop"]):
        code, out, err = _cli(capsys, *command, *argv(tmp_path))
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert message in err, err


def test_a_torchscript_file_borrows_the_named_networks_card(capsys, tmp_path):
    """A TorchScript file says nothing of its input; --model NAME lends NAME's size,
    normalisation and labels, so an exported tinyvgg-shapes predicts as the original."""
    original = load_network("tinyvgg-shapes")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(original.module, torch.zeros(1, 3, 64, 64)),
                       str(tmp_path / "tv.ts"))
    image = ["--image", "sample:shape-crop"]
    ref, _ = _json(capsys, "predict", "--model", "tinyvgg-shapes", *image)
    got, _ = _json(capsys, "predict", "--model", "tinyvgg-shapes", "--weights",
                   tmp_path / "tv.ts", *image)
    assert got["weights"] == "file" and got["top"][0]["label"] == ref["top"][0]["label"]
    assert got["top"][0]["probability"] == pytest.approx(ref["top"][0]["probability"],
                                                         abs=1e-4)


def test_unit_math_on_brought_networks(capsys, tmp_path):
    """An ONNX export's convolution gives its unit's sum (to 1e-4); a .pt2 layer, a graph
    of operators, is one line."""
    onnx_file, pt2_file = _tinyvgg_files(tmp_path)
    r, _ = _json(capsys, "unit-math", "--model", "tinyvgg-shapes", "--weights", onnx_file,
                 "--layer", "features/conv2/Conv", "--unit", "1,2,3",
                 "--image", "sample:shape-crop")
    assert len(r["terms"]) == 16 and r["difference"] < 1e-4
    code, out, err = _cli(capsys, "unit-math", "--model", "file", "--weights", pt2_file,
                          "--layer", "features.conv2", "--unit", "1,2,3",
                          "--image", "sample:shape-crop")
    assert code == 2 and out == "" and err.count("\n") == 1 and "torch.export" in err
