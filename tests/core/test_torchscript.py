"""TorchScript files, scripted or traced, traced as deeply as the format allows: the same
layers, shapes, receptive fields, activations, predictions, filters, Grad-CAM and live
mosaics as the eager network; a block that cannot be replayed is one opaque layer named in
one note; a replay that differs from the file's own output is never shown; never a
traceback."""

import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image as PILImage
from torch import nn

from explorer.cli import main
from explorer.core import script_trace
from explorer.core.filters import filter_image, layer_filter_image
from explorer.core.network import Network, preprocess
from explorer.core.trace import layer_table, script_note, submodule, trace
from explorer.data.samples import load_sample
from explorer.errors import ModelError
from explorer.nets import shipped
from explorer.nets.registry import load_network

SHIPPED = ["tinyvgg-shapes", "lenet5-digits"]
KINDS = ["script", "trace"]
#: a conv layer deep inside each shipped network
CONV = {"tinyvgg-shapes": "features.conv4", "lenet5-digits": "conv2"}
SAME = ("name", "type", "out_shape", "params", "kernel", "stride", "padding", "dilation",
        "rf", "jump", "start", "rf_global", "is_leaf", "children", "depth")


@pytest.fixture(autouse=True)
def one_thread():
    # the machine is shared: keep torch to one thread here, as the other core tests do
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def compile_module(module: nn.Module, kind: str, example: torch.Tensor):
    with warnings.catch_warnings():  # torch.jit.* is deprecated, and says so
        warnings.simplefilter("ignore")
        return torch.jit.script(module) if kind == "script" else \
            torch.jit.trace(module, example)


def save(module: nn.Module, kind: str, example: torch.Tensor, path) -> str:
    compile_module(module, kind, example).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(network, kind) -> the shipped network saved as a TorchScript file."""
    folder = tmp_path_factory.mktemp("ts")
    out = {}
    for name in SHIPPED:
        net = load_network(name)
        example = torch.randn(1, net.in_channels, *net.input_size)
        for kind in KINDS:
            out[name, kind] = save(net.module, kind, example, folder / f"{name}-{kind}.ts")
    return out


def as_shipped(name: str, path: str) -> Network:
    """The file's module with the shipped network's input size, normalisation, labels."""
    return dataclasses.replace(load_network(name), module=load_network("file", path).module)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str) -> bool:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return code == 2 and len(lines) == 1 and lines[0].startswith("error: ")


# --- layers, activations, predictions: equal to the eager network -----------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SHIPPED)
def test_layers_activations_and_prediction_equal_eager(files, name, kind):
    eager = load_network(name)
    net = as_shipped(name, files[name, kind])
    assert script_trace.is_script(net.module)
    want, got = layer_table(eager), layer_table(net)
    assert [lay.name for lay in got] == [lay.name for lay in want]
    for g, w in zip(got, want):
        for attr in SAME:
            assert getattr(g, attr) == getattr(w, attr), (g.name, attr)
    assert got[0].rf is not None and any(lay.rf_global for lay in got)
    assert script_note(net) is None

    x = preprocess(eager, load_sample("shape-crop"))
    te, ts = trace(eager, x), trace(net, x)
    assert ts.note is None and set(ts.outputs) == set(te.outputs)
    for layer, t in te.outputs.items():
        torch.testing.assert_close(ts.outputs[layer], t, rtol=0, atol=1e-5, msg=layer)
    assert ts.topk(1)[0][0] == te.topk(1)[0][0]
    torch.testing.assert_close(ts.probs, te.probs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SHIPPED)
def test_filters_equal_eager(files, name, kind):
    eager = load_network(name)
    net = as_shipped(name, files[name, kind])
    convs = [lay.name for lay in layer_table(eager) if lay.type == "Conv2d"]
    assert len(convs) >= 2
    for layer in convs:
        want = filter_image(eager.module.get_submodule(layer))
        got = layer_filter_image(net, layer)
        assert (got.rgb, got.k, got.total_out, got.total_in) == \
            (want.rgb, want.k, want.total_out, want.total_in)
        np.testing.assert_array_equal(got.image, want.image)
    # the TorchScript layer itself also has its kernels drawn
    raw = dict(net.module.named_modules())[convs[0]]
    assert filter_image(raw).total_out == filter_image(eager.module.get_submodule(
        convs[0])).total_out
    with pytest.raises(ValueError, match="no 2-D convolution kernels"):
        filter_image(submodule(net, [lay.name for lay in layer_table(net)
                                     if lay.type == "Linear"][0]))


# --- the command line --------------------------------------------------------------------

@pytest.fixture
def shipped_metadata(monkeypatch):
    """A TorchScript file carries no input size, normalisation or labels; the app guesses
    224 x 224 ImageNet pictures, at which TinyVGG and LeNet-5 cannot run. Give a file
    the shipped network's (as a card beside the file would), so that what is compared
    below is the tracing of the TorchScript module itself."""
    def fit(net: Network) -> None:
        spec = shipped.SHIPPED[net.name.rsplit("-", 1)[0]]
        net.input_size, net.in_channels = spec.input_size, spec.in_channels
        net.mean, net.std, net.class_names = spec.mean, spec.std, list(spec.class_names)

    monkeypatch.setattr("explorer.app.networks._fit_file_network", fit)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SHIPPED)
def test_cli_predict_layers_features_equal_eager(files, name, kind, capsys, tmp_path,
                                                 shipped_metadata):
    ts = ["--model", "file", "--weights", files[name, kind]]
    ours = ["--model", name]
    image = ["--image", "sample:shape-crop"]
    predictions = []
    for model in (ts, ours):
        code, out, err = run(capsys, "predict", *model, *image, "--json")
        assert code == 0, err
        assert "note:" not in err  # every layer is reached
        predictions.append(json.loads(out)["top"])
    got, want = predictions
    assert got[0]["label"] == want[0]["label"]
    for g, w in zip(got, want):
        assert g["label"] == w["label"] and g["probability"] == pytest.approx(
            w["probability"], abs=1e-4)

    tables = []
    for model in (ts, ours):
        code, out, err = run(capsys, "layers", *model, "--json")
        assert code == 0, err
        tables.append({lay["name"]: lay for lay in json.loads(out)["layers"]})
    got, want = tables
    convs = [n for n, lay in want.items() if lay["type"] == "Conv2d"]
    assert CONV[name] in convs
    for layer in convs:
        assert got[layer]["type"] == "Conv2d"
        assert got[layer]["output_shape"] == want[layer]["output_shape"]
        assert got[layer]["receptive_field"] == want[layer]["receptive_field"]

    pictures = []
    for model, png in ((ts, tmp_path / "ts.png"), (ours, tmp_path / "eager.png")):
        code, out, err = run(capsys, "features", *model, *image, "--layer", CONV[name],
                             "--out", png)
        assert code == 0, err
        pictures.append(np.asarray(PILImage.open(png)))
    assert pictures[0].shape == pictures[1].shape and pictures[0].size > 0
    np.testing.assert_array_equal(*pictures)


def test_cli_filters(files, capsys, tmp_path, shipped_metadata):
    code, out, err = run(capsys, "filters", "--model", "file", "--weights",
                         files["tinyvgg-shapes", "trace"], "--layer", "features.conv1",
                         "--out", tmp_path / "f.png", "--json")
    assert code == 0, err
    assert json.loads(out)["kernel"] == [3, 3] and (tmp_path / "f.png").stat().st_size


def test_cli_file_that_does_not_fit_the_picture_is_one_line(files, capsys):
    """Without its card, TinyVGG gets a 224 x 224 picture its classifier cannot take:
    one line and exit 2 (or, should the app learn the size, an answer)."""
    code, out, err = run(capsys, "predict", "--model", "file", "--weights",
                         files["tinyvgg-shapes", "script"], "--image", "sample:shape-crop")
    assert code == 0 or one_line_error(code, err), err
    assert "Traceback" not in err


# --- torchvision's ResNet-18 -------------------------------------------------------------

@pytest.fixture(scope="module")
def resnet_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resnet")
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    example = torch.randn(1, 3, 224, 224)
    out = {"pickle": folder / "r18.pt",
           "trace": save(model, "trace", example, folder / "r18-trace.ts"),
           "script": save(model, "script", example, folder / "r18-script.ts")}
    torch.save(model, out["pickle"])
    for m in model.modules():  # what the registry does to an eager module it opens
        if getattr(m, "inplace", False):
            m.inplace = False
    out["script-no-inplace"] = save(model, "script", example, folder / "r18-noinpl.ts")
    return out


def resnet_kinds():
    return ["trace", "script-no-inplace", "script"]


@pytest.mark.parametrize("kind", resnet_kinds())
def test_cli_resnet18_predicts_as_eager_and_reaches_its_layers(resnet_files, kind, capsys):
    image = ["--image", "sample:shape-crop", "--json"]
    code, out, err = run(capsys, "predict", "--model", "file", "--weights",
                         resnet_files["pickle"], "--trust-pickle", *image)
    assert code == 0, err
    want = json.loads(out)["top"]
    code, out, err = run(capsys, "predict", "--model", "file", "--weights",
                         resnet_files[kind], *image)
    assert code == 0, err
    got = json.loads(out)["top"]
    assert [g["label"] for g in got] == [w["label"] for w in want]
    for g, w in zip(got, want):
        assert g["probability"] == pytest.approx(w["probability"], abs=1e-4)
    notes = [ln for ln in err.splitlines() if ln.startswith("note:")]
    code, out, err = run(capsys, "layers", "--model", "file", "--weights",
                         resnet_files[kind], "--json")
    assert code == 0, err
    names = {lay["name"] for lay in json.loads(out)["layers"]}
    if "layer4.1.conv2" not in names:  # not reached: then one note says so
        assert len(notes) == 1 and "hides" in notes[0]
    else:
        assert not notes and "layer2.0.downsample.0" in names


def test_resnet18_fields_and_residual_blocks_equal_eager(resnet_files):
    """Residual additions replayed from the graph: every block and layer inside reached,
    receptive fields as the eager network's (the field tracker sees the replayed add)."""
    eager = load_network("file", resnet_files["pickle"], trust_pickle=True)
    net = load_network("file", resnet_files["trace"])
    want = {lay.name: lay for lay in layer_table(eager)}
    got = layer_table(net)
    assert [lay.name for lay in got] == list(want)
    for g in got:
        w = want[g.name]
        for attr in ("type", "out_shape", "params", "kernel", "rf", "jump", "rf_global"):
            assert getattr(g, attr) == getattr(w, attr), (g.name, attr)
    assert want["layer4.1.conv2"].rf == 435 and not want["layer4"].rf_global
    x = preprocess(eager, load_sample("shape-crop"))
    te, ts = trace(eager, x), trace(net, x)
    for layer in ("conv1", "layer1.0.conv1", "layer3.1.conv2", "layer4", "avgpool"):
        torch.testing.assert_close(ts.outputs[layer], te.outputs[layer], rtol=0,
                                   atol=1e-4)
    # eager's layer1.0.bn2 is overwritten by the block's `out += identity`; the replay
    # keeps the batch norm's own output
    block = eager.module.layer1[0]
    with torch.no_grad():
        stem = eager.module.maxpool(eager.module.relu(eager.module.bn1(
            eager.module.conv1(x))))
        bn2 = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(stem)))))
    torch.testing.assert_close(ts.outputs["layer1.0.bn2"], bn2[0], rtol=0, atol=1e-5)


def test_cli_cam_on_a_torchscript_file_equals_eager(resnet_files, capsys, tmp_path):
    results = []
    for weights, extra in ((resnet_files["pickle"], ["--trust-pickle"]),
                           (resnet_files["trace"], [])):
        code, out, err = run(capsys, "cam", "--model", "file", "--weights", weights, *extra,
                             "--image", "sample:shape-crop", "--out", tmp_path / "c.png",
                             "--json")
        assert code == 0, err
        results.append(json.loads(out))
    got, want = results
    assert got["layer"] == want["layer"] == "layer4"
    assert got["class_index"] == want["class_index"]
    assert got["probability"] == pytest.approx(want["probability"], abs=1e-4)
    assert got["heat_mean"] == pytest.approx(want["heat_mean"], abs=1e-4)
    assert got["peak_yx"] == want["peak_yx"]


# --- blocks that cannot be replayed ------------------------------------------------------

@torch.jit.script
def _double(x: torch.Tensor) -> torch.Tensor:
    # a function of the file's own: the replay does not call code it cannot vouch for
    return x * 2


class Odd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return _double(self.conv(x))


class Aliasing(nn.Module):
    """Changes a tensor in place through another name: a replay that copies before an
    in-place op would miss that, and must then not be shown."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        z = y.view(y.shape)
        y.add_(1.0)
        return z


class Sometimes(nn.Module):
    """Aliasing only for bright pictures: the build-time check cannot see that path."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        if bool(x.amax() > 10.0):
            z = y.view(y.shape)
            y.add_(1.0)
            return z
        return y


class Holder(nn.Module):
    def __init__(self, middle: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.middle = middle
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(self.flat(self.pool(self.middle(self.relu(self.stem(x))))))


def holder_network(middle: nn.Module, kind: str = "script") -> tuple[Network, Network]:
    torch.manual_seed(1)
    model = Holder(middle).eval()
    eager = Network(model, "holder", "classify", (24, 24), class_names=list("abcd"))
    ts = compile_module(model, kind, torch.randn(1, 3, 24, 24))
    return eager, dataclasses.replace(eager, module=ts)


def test_a_block_that_calls_the_files_own_function_is_one_opaque_layer():
    eager, net = holder_network(Odd())
    names = [lay.name for lay in layer_table(net)]
    assert names == ["stem", "relu", "middle", "pool", "flat", "fc"]
    info = {lay.name: lay for lay in layer_table(net)}
    assert info["middle"].type == "Odd" and info["middle"].is_leaf
    assert info["middle"].params == 8 * 8 * 9 + 8
    assert info["stem"].rf == 3 and info["middle"].rf is None  # not guessed
    note = script_note(net)
    assert note.startswith("this TorchScript file hides the inside of middle (it calls ")
    assert "_double, which cannot be replayed" in note and note.count("\n") == 0
    x = torch.randn(1, 3, 24, 24)
    te, ts = trace(eager, x), trace(net, x)
    assert ts.note == note
    for layer in names:
        torch.testing.assert_close(ts.outputs[layer], te.outputs[layer], rtol=0, atol=1e-5)
    torch.testing.assert_close(ts.probs, te.probs, rtol=0, atol=1e-6)


def test_cli_prints_the_note_once_and_predicts(tmp_path, capsys):
    eager, net = holder_network(Odd())
    path = tmp_path / "odd.ts"
    net.module.save(str(path))
    code, out, err = run(capsys, "predict", "--model", "file", "--weights", path,
                         "--image", "sample:shape-crop", "--json")
    assert code == 0, err
    notes = [ln for ln in err.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and "hides the inside of middle" in notes[0]
    file_net = load_network("file", path)
    x = preprocess(file_net, load_sample("shape-crop"))
    want = trace(dataclasses.replace(file_net, module=eager.module), x).probs
    assert json.loads(out)["top"][0]["probability"] == pytest.approx(float(want.max()),
                                                                     abs=1e-5)


def test_a_replay_that_differs_from_the_file_is_never_shown():
    eager, net = holder_network(Aliasing())
    info = {lay.name: lay for lay in layer_table(net)}
    assert "middle" in info and "middle.conv" not in info
    assert "differs from its own output" in script_note(net)
    x = torch.randn(1, 3, 24, 24)
    te, ts = trace(eager, x), trace(net, x)
    torch.testing.assert_close(ts.outputs["middle"], te.outputs["middle"], rtol=0,
                               atol=1e-5)  # the file's own output, +1 included
    torch.testing.assert_close(ts.output, te.output, rtol=0, atol=1e-5)


def test_an_input_that_takes_another_path_is_checked_module_by_module():
    eager, net = holder_network(Sometimes())
    assert script_note(net) is None
    assert "middle.conv" in {lay.name for lay in layer_table(net)}
    dark = torch.randn(1, 3, 24, 24, generator=torch.Generator().manual_seed(3)) * 0.1
    tr = trace(net, dark)
    assert tr.note is None and "middle.conv" in tr.outputs
    bright = torch.full((1, 3, 24, 24), 1000.0)
    tr, te = trace(net, bright), trace(eager, bright)
    assert tr.note.startswith("for this input, this TorchScript file hides the inside of "
                              "middle")
    assert "middle.conv" not in tr.outputs and "middle.conv" not in {
        lay.name for lay in tr.layers}
    for layer in ("stem", "middle", "fc"):
        torch.testing.assert_close(tr.outputs[layer], te.outputs[layer], rtol=1e-5,
                                   atol=1e-3)
    torch.testing.assert_close(tr.output, te.output, rtol=1e-5, atol=1e-3)
    assert trace(net, dark).note is None  # the next picture is checked afresh


class Residual(nn.Module):
    """F.relu(inplace=True) and `out += x`: both would overwrite a shown output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.conv2(out)
        out += x
        return F.relu(out, inplace=True)


@pytest.mark.parametrize("kind", KINDS)
def test_in_place_ops_do_not_overwrite_shown_outputs(kind):
    block = Residual()
    eager, net = holder_network(block, kind)
    x = torch.randn(1, 3, 24, 24)
    tr = trace(net, x)
    assert tr.note is None
    m = eager.module
    with torch.no_grad():
        inp = m.relu(m.stem(x))
        bn1 = m.middle.bn1(m.middle.conv1(inp))
        conv2 = m.middle.conv2(bn1.relu())
        want = m(x)
    torch.testing.assert_close(tr.outputs["middle.bn1"], bn1[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(tr.outputs["middle.conv2"], conv2[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(tr.output, want, rtol=0, atol=1e-5)
    info = {lay.name: lay for lay in layer_table(net)}
    assert info["middle.conv2"].rf == 7 and info["middle"].rf == 7  # through the add


class Hidden(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(_double(self.conv(x)).mean((2, 3)))


def test_a_file_that_hides_every_layer(tmp_path, capsys):
    torch.manual_seed(2)
    model = Hidden().eval()
    path = tmp_path / "hidden.ts"
    save(model, "script", torch.randn(1, 3, 8, 8), path)
    net = load_network("file", path)
    assert layer_table(net) == []
    assert script_note(net).startswith("this TorchScript file hides every layer")
    code, out, err = run(capsys, "predict", "--model", "file", "--weights", path,
                         "--image", "sample:shape-crop", "--json")
    assert code == 0, err
    assert "hides every layer" in err
    code, out, err = run(capsys, "cam", "--model", "file", "--weights", path,
                         "--image", "sample:shape-crop")
    assert one_line_error(code, err) and "Grad-CAM needs hooks" in err
    with pytest.raises(ModelError, match="Grad-CAM needs hooks"):
        from explorer.insight.cam import class_activation_map

        class_activation_map(net, load_sample("shape-crop"))


# --- the live loop -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_live_engine_taps_a_torchscript_network(kind):
    from explorer.live.engine import LiveEngine
    from explorer.live.sources import SyntheticSource

    eager = load_network("tinyvgg-shapes")
    module = compile_module(eager.module, kind, torch.randn(1, 3, 64, 64))  # in memory
    net = dataclasses.replace(eager, module=module)
    frame = SyntheticSource((64, 64), seed=1).frame_at(0)
    want = LiveEngine(eager, "features.conv2", device="cpu").process(frame)
    engine = LiveEngine(net, "features.conv2", device="cpu")
    got = engine.process(frame)
    assert got.layer == "features.conv2" and got.shape == want.shape == (16, 64, 64)
    np.testing.assert_allclose(got.mosaic.image, want.mosaic.image, atol=1e-5)
    assert [lab for lab, _ in got.topk] == [lab for lab, _ in want.topk]
    np.testing.assert_allclose([p for _, p in got.topk], [p for _, p in want.topk],
                               atol=1e-5)
    engine.set_layer("classifier.fc1")
    assert engine.process(frame).shape == (128,)
