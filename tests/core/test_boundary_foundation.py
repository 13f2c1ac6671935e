"""The boundary of models, layers, predict, features, filters and gui: every bad or odd
input a person can hand them gives exit code 2 and ONE line on stderr (no traceback), or a
right answer. One test per class of input; the classes are listed in CASES."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from torch import nn

from explorer.cli import main
from explorer.nets.registry import load_network


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv: str, match: str = "") -> str:
    code, _out, err = run(capsys, *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert match.lower() in lines[0].lower(), lines[0]
    return lines[0]


# --- networks a person might bring (pickled whole: importable from this module) ---

class BadLinear(nn.Module):
    """Flatten then a Linear whose size fits no 64x64 picture."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(123, 10)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class Grey(nn.Module):
    """A 1-channel model: a colour photo must be turned grey for it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x)).flatten(1))


class Returns(nn.Module):
    """Returns whatever it was built to return."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x):
        y = self.conv(x)
        return {"int": 3, "str": "cat", "scalar": y.sum(), "empty": y[:, :0].flatten(1),
                "5d": y[:, :, None], "tuple": (y.mean((2, 3)), y),
                "dict": {"logits": y.mean((2, 3))}, "nan": y.mean((2, 3)) * float("nan"),
                "raise": None}[self.what] if self.what != "raise" else 1 / 0


def _save_module(tmp_path: Path, module: nn.Module, name: str) -> Path:
    path = tmp_path / name
    torch.save(module, path)
    return path


@pytest.fixture(scope="module")
def lenet_state():
    return load_network("lenet5-digits").module.state_dict()


def test_images_that_are_not_regular_files(capsys, tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    refused(capsys, "predict", "--image", fifo, match="named pipe")
    refused(capsys, "predict", "--image", "/dev/zero", match="device")
    refused(capsys, "predict", "--image", tmp_path, match="folder")
    refused(capsys, "predict", "--image", "x" * 300 + ".png", match="too long")
    refused(capsys, "predict", "--image", tmp_path / "missing.png", match="no such file")
    (tmp_path / "empty.png").write_bytes(b"")
    refused(capsys, "predict", "--image", tmp_path / "empty.png", match="empty")
    (tmp_path / "text.png").write_text("not a picture")
    refused(capsys, "predict", "--image", tmp_path / "text.png", match="not an image")


def test_an_image_holding_nan_is_reported_in_words(capsys, tmp_path):
    a = np.full((32, 32), 0.5, np.float32)
    a[3, 4] = np.nan
    path = tmp_path / "nan.tif"
    PILImage.fromarray(a, mode="F").save(path)
    refused(capsys, "predict", "--image", path, match="NaN")


def test_specs_in_the_input_grammar(capsys):
    refused(capsys, "predict", "--image", "scene:abc", match="scene:N")
    refused(capsys, "predict", "--image", "scene:-1", match="scene:N")
    refused(capsys, "predict", "--image", "scene:99999999999", match="go up to")
    refused(capsys, "predict", "--image", "sample:nope", match="unknown sample")
    code, out, _ = run(capsys, "predict", "--image", "scene:5", "--json")
    assert code == 0 and json.loads(out)["image"] == "scene:5"


@pytest.mark.parametrize("device", ["mps", "xpu", "meta", "cuda:7", "gpu", "cpu:2"])
def test_devices(capsys, device):
    refused(capsys, "predict", "--image", "sample:shape-crop", "--device", device)


@pytest.mark.parametrize("k", ["-1", "0", "1000001"])
def test_topk_out_of_range(capsys, k):
    refused(capsys, "predict", "--image", "sample:shape-crop", "--topk", k, match="--topk")


def test_weights_that_are_not_regular_files(capsys, tmp_path):
    fifo = tmp_path / "w.pt"
    os.mkfifo(fifo)
    base = ("layers", "--model", "lenet5-digits", "--weights")
    refused(capsys, *base, fifo, match="named pipe")
    refused(capsys, *base, "/dev/zero", match="device")
    refused(capsys, *base, tmp_path, match="folder")
    (tmp_path / "e.pt").write_bytes(b"")
    refused(capsys, *base, tmp_path / "e.pt", match="empty")
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    refused(capsys, *base, tmp_path / "cut.pt", match="not a readable")


def _state_file(tmp_path: Path, name: str, state) -> Path:
    path = tmp_path / name
    torch.save(state, path)
    return path


@pytest.mark.parametrize("kind,match", [
    ("int-keys", "keys"), ("meta", "meta"), ("sparse", "sparse"), ("quantized", "quantized"),
    ("complex", "complex"), ("int-dtype", "floating point"), ("bool-dtype", "floating point"),
    ("nan", "NaN"), ("inf", "infinity"), ("other-arch", "does not fit"), ("list", "state dict"),
])
def test_state_dicts_that_cannot_be_weights(capsys, tmp_path, lenet_state, kind, match):
    state = dict(lenet_state)
    key = next(k for k, v in state.items() if v.is_floating_point() and v.dim() == 4)
    w = state[key]
    if kind == "int-keys":
        state = {i: v for i, v in enumerate(state.values())}
    elif kind == "meta":
        state[key] = torch.empty(w.shape, device="meta")
    elif kind == "sparse":
        state[key] = w.flatten(1).to_sparse()
    elif kind == "quantized":
        state[key] = torch.quantize_per_tensor(w, 0.1, 0, torch.qint8)
    elif kind == "complex":
        state[key] = w.to(torch.complex64)
    elif kind == "int-dtype":
        state[key] = w.to(torch.int64)
    elif kind == "bool-dtype":
        state[key] = w > 0
    elif kind == "nan":
        state[key] = w.clone()
        state[key][0, 0, 0, 0] = float("nan")
    elif kind == "inf":
        state[key] = w.clone()
        state[key][0, 0, 0, 0] = float("inf")
    elif kind == "other-arch":
        state = load_network("tinyvgg-shapes").module.state_dict()
    elif kind == "list":
        state = list(state.values())
    path = _state_file(tmp_path, f"{kind}.pt", state)
    refused(capsys, "predict", "--model", "lenet5-digits", "--weights", path, "--image",
            "sample:digit", match=match)


@pytest.mark.parametrize("wrapper", ["state_dict", "model_state_dict", "model", "net"])
def test_checkpoint_wrappers_load_and_predict(capsys, tmp_path, lenet_state, wrapper):
    path = _state_file(tmp_path, "ckpt.pt", {wrapper: lenet_state, "epoch": 3})
    code, out, err = run(capsys, "predict", "--model", "lenet5-digits", "--weights", path,
                         "--image", "sample:digit", "--json")
    assert code == 0, err
    assert json.loads(out)["top"][0]["label"] == "3"


def test_a_pickled_module_whose_linear_does_not_fit(capsys, tmp_path):
    path = _save_module(tmp_path, BadLinear(), "bad.pt")
    for command in ("predict", "layers"):
        argv = [command, "--model", "file", "--weights", path, "--trust-pickle"]
        if command == "predict":
            argv += ["--image", "sample:chelsea"]
        refused(capsys, *argv, match="could not run")


def test_a_one_channel_module_on_a_colour_photo_predicts(capsys, tmp_path):
    path = _save_module(tmp_path, Grey().eval(), "grey.pt")
    code, out, err = run(capsys, "predict", "--model", "file", "--weights", path,
                         "--trust-pickle", "--image", "sample:chelsea", "--json")
    assert code == 0, err
    top = json.loads(out)["top"]
    assert len(top) == 3 and abs(sum(t["probability"] for t in top) - 1) < 1e-5


def test_a_pickle_is_never_opened_without_trust(capsys, tmp_path):
    path = _save_module(tmp_path, Grey(), "grey.pt")
    refused(capsys, "predict", "--model", "file", "--weights", path, "--image",
            "sample:digit", match="trust")


@pytest.mark.parametrize("what,match", [
    ("int", "not a tensor"), ("str", "not a tensor"), ("raise", "could not run"),
    ("empty", "empty"), ("5d", "one score per class"), ("scalar", "one score per class"),
    ("nan", "NaN"),
])
def test_modules_that_return_odd_things(capsys, tmp_path, what, match):
    path = _save_module(tmp_path, Returns(what), f"{what}.pt")
    refused(capsys, "predict", "--model", "file", "--weights", path, "--trust-pickle",
            "--image", "sample:shape-crop", match=match)


@pytest.mark.parametrize("what", ["tuple", "dict"])
def test_modules_that_return_a_tuple_or_dict_predict_from_its_first_tensor(capsys, tmp_path,
                                                                          what):
    path = _save_module(tmp_path, Returns(what), f"{what}.pt")
    code, out, err = run(capsys, "predict", "--model", "file", "--weights", path,
                         "--trust-pickle", "--image", "sample:shape-crop", "--json")
    assert code == 0, err
    assert len(json.loads(out)["top"]) == 2


def test_output_paths_checked_before_work(capsys, tmp_path):
    base = ("features", "--image", "sample:shape-crop", "--layer", "features.conv1", "--out")
    refused(capsys, *base, tmp_path, match="is a folder")
    refused(capsys, *base, tmp_path / "missing" / "x.png", match="does not exist")
    refused(capsys, *base, tmp_path / "x.jpg", match=".png")
    refused(capsys, "filters", "--layer", "features.conv1", "--out", tmp_path, match="folder")
    refused(capsys, "gui", "--screenshot", tmp_path / "missing" / "x.png", match="not exist")
    refused(capsys, "gui", "--screenshot", tmp_path, match="folder")
    assert list(tmp_path.iterdir()) == []


def test_gui_arguments_checked_before_qt_starts(capsys, tmp_path):
    refused(capsys, "gui", "--size", "10x10", "--screenshot", tmp_path / "a.png")
    refused(capsys, "gui", "--size", "bigxbig", "--screenshot", tmp_path / "a.png")
    refused(capsys, "gui", "--section", "Nowhere", "--screenshot", tmp_path / "a.png")
    refused(capsys, "gui", "--page", "nope", "--screenshot", tmp_path / "a.png")
    refused(capsys, "gui", "--section", "Detection", "--page", "conv", "--screenshot",
            tmp_path / "a.png")
    refused(capsys, "gui", "--image", "/dev/zero", "--screenshot", tmp_path / "a.png")


def test_layer_names_and_kinds(capsys, tmp_path):
    refused(capsys, "features", "--image", "sample:shape-crop", "--layer", "nope", "--out",
            tmp_path / "a.png", match="no layer")
    refused(capsys, "features", "--image", "sample:shape-crop", "--layer", "classifier",
            "--out", tmp_path / "a.png", match="not feature maps")
    refused(capsys, "predict", "--model", "", "--image", "sample:digit")
    refused(capsys, "predict", "--model", "resnet1800", "--image", "sample:digit",
            match="unknown network")


def test_features_json_gives_every_channel_statistics(capsys, tmp_path):
    code, out, err = run(capsys, "features", "--image", "sample:shape-crop", "--layer",
                         "features.conv1", "--out", tmp_path / "m.png", "--json")
    assert code == 0, err
    data = json.loads(out)
    stats = data["per_channel"]
    assert len(stats) == data["channels"] == 16
    net = load_network("tinyvgg-shapes")
    from explorer.app.pictures import open_picture
    from explorer.app.tracing import trace_picture

    tr, _p, _n = trace_picture(net, open_picture("sample:shape-crop"))
    act = tr.activation("features.conv1")
    for c in (0, 7, 15):
        assert stats[c]["max"] == pytest.approx(float(act[c].max()), rel=1e-5)
        assert stats[c]["mean"] == pytest.approx(float(act[c].mean()), rel=1e-4, abs=1e-6)
    assert PILImage.open(tmp_path / "m.png").size[0] > 0
