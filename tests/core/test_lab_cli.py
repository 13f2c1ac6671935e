"""`cnn-explorer lab ...`: exit codes and the JSON the GUI pages also show."""

import json

import numpy as np
import pytest
from PIL import Image

from explorer.cli import main


def run(capsys, *argv):
    code = main(["lab", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_conv_default(capsys):
    data = run_json(capsys, "conv")
    assert data["input_shape"] == [10, 10] and data["output_shape"] == [8, 8]
    assert data["size_formula"]["rows"] == "floor((10 + 2*0 - 1*(3-1) - 1) / 1) + 1 = 8"
    assert data["output"][0][0] == pytest.approx(5078 / 9)
    code, out, _ = run(capsys, "conv")
    assert code == 0 and "output 8x8" in out and "564.222" in out


def test_conv_options(capsys):
    data = run_json(capsys, "conv", "--kernel", "x-derivative", "--stride", "2")
    assert data["output"][0] == [93, 62, 36, -176] and data["output_shape"] == [4, 4]
    assert data["applied_kernel"][0] == [-1, 0, 1]  # flipped for true convolution
    data = run_json(capsys, "conv", "--kernel", "x-derivative", "--mode", "correlation",
                    "--stride", "2")
    assert data["output"][0] == [-93, -62, -36, 176]
    data = run_json(capsys, "conv", "--kernel", "gaussian", "--size", "5", "--padding",
                    "same-symmetric", "--dilation", "2", "--stride", "3")
    assert data["output_shape"] == [4, 4] and data["pad"] == [[4, 4], [4, 4]]
    data = run_json(capsys, "conv", "--kernel", "identity", "--transposed", "--stride", "2")
    assert data["output_shape"] == [21, 21] and data["output"][1][1] == 544
    assert data["size_formula"]["rows"].endswith("= 21")


def test_conv_image(capsys, tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((12, 14), 200, dtype=np.uint8)).save(path)
    data = run_json(capsys, "conv", "--image", str(path), "--kernel", "box")
    assert data["output_shape"] == [10, 12]
    assert np.allclose(data["output"], 200, atol=1.0)


@pytest.mark.parametrize(
    "argv",
    [
        ["conv", "--kernel", "sharpen"],
        ["conv", "--stride", "0"],
        ["conv", "--size", "5", "--dilation", "3"],
        ["conv", "--padding", "full"],
        ["conv", "--transposed", "--padding", "valid"],
        ["conv", "--image", "/no/such/picture.png"],
        ["pool", "--size", "11"],
        ["pool", "--stride", "0"],
        ["pool", "--mode", "median"],
        ["sizes", "--kernel", "200"],
        ["vgg", "--config", "Z"],
        ["rf", "--model", "googlenet"],
    ],
)
def test_bad_arguments_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_pool(capsys):
    data = run_json(capsys, "pool")
    assert data["output"] == [[617, 614], [614, 625]] and data["stride"] == 5
    assert data["sources"] == [[[1, 3], [2, 6]], [[9, 1], [9, 5]]]
    assert run_json(capsys, "pool", "--mode", "min")["output"] == [[421, 509], [484, 519]]
    data = run_json(capsys, "pool", "--mode", "avg", "--size", "2", "--stride", "1")
    assert data["output_shape"] == [9, 9] and data["output"][0][0] == (544 + 552 + 549 + 561) / 4


def test_sizes(capsys):
    assert run_json(capsys, "sizes")["sizes"][:4] == [128, 124, 120, 116]
    assert run_json(capsys, "sizes", "--stride", "2")["sizes"] == [128, 62, 29, 13, 5, 1]


def test_params(capsys):
    data = run_json(capsys, "params")
    assert data["first_layer_weights"] == 524_288
    assert data["fully_connected"]["total"] == 1_091_024
    assert [r["params"] for r in data["fully_connected"]["layers"]] == [
        1_048_832, 32_896, 8_256, 1_040]
    assert [r["params"] for r in data["convolutional"]["layers"]] == [416, 6_416, 6_416, 692_240]
    assert data["hidden_neurons_conv"] == [57_600, 50_176, 43_264]
    code, out, _ = run(capsys, "params")
    assert code == 0 and "1,091,024" in out and "57,600" in out


def test_vgg(capsys):
    data = run_json(capsys, "vgg")
    assert {k: v["millions"] for k, v in data.items()} == {
        "A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
    assert all(v["millions"] == v["paper_millions"] for v in data.values())
    table = run_json(capsys, "vgg", "--config", "e")
    assert table["total"] == 143_667_240 and table["layers"][0]["output_shape"] == [64, 224, 224]


def test_rf(capsys):
    data = run_json(capsys, "rf", "--model", "vgg16")
    rows = {r["label"]: r for r in data["layers"]}
    assert rows["conv5_3"]["rf"] == 196 and rows["pool5"]["rf"] == 212
    assert rows["pool5"]["jump"] == 32 and rows["pool5"]["out_size"] == 7
    rows = {r["label"]: r for r in run_json(capsys, "rf", "--model", "alexnet")["layers"]}
    assert rows["conv5"]["rf"] == 163
    assert run_json(capsys, "rf", "--model", "resnet18")["layers"][-1]["rf"] == 435
    assert run_json(capsys, "rf", "--model", "lenet5")["layers"][-1]["rf"] == 32
    code, out, _ = run(capsys, "rf", "--model", "alexnet")
    assert code == 0 and "conv5" in out and "163" in out


def test_invariance(capsys):
    data = run_json(capsys, "invariance")
    assert data["source"] == [1, 3] and data["value"] == 617
    assert data["within_window_unchanged"] and data["moves_within_window"] == 24
    assert data["move"]["target"] == [1, 5] and not data["move"]["same_window"]
    assert data["move"]["after"] == [[610, 617], [614, 625]]
    changed = np.array(data["changes_output"])
    assert not changed[:5, :5].any() and changed[5:].all()
    data = run_json(capsys, "invariance", "--to", "4", "0")
    assert data["move"]["same_window"] and data["move"]["changed_cells"] == []


def test_hierarchy(capsys):
    data = run_json(capsys, "hierarchy")
    assert list(data["layer1"]) == ["x+", "x-", "y+", "y-"]
    assert np.array(data["layer2"]["xx"]).shape == (10, 10)
    assert data["layer1_stats"]["x+"]["max"] == 403 and data["layer1_stats"]["x-"]["min"] == 0


def test_equivariance(capsys):
    data = run_json(capsys, "equivariance", "--model", "lenet5", "--dy", "2", "--dx", "2")
    rows = {r["label"]: r for r in data["layers"]}
    for name in ("c1", "s2", "c3"):
        assert rows[name]["exact"] and rows[name]["rel_diff"] < 1e-6
    assert rows["s2"]["stride"] == [2, 2] and rows["s4"]["stride"] == [4, 4]
    assert not rows["s4"]["exact"] and rows["s4"]["rel_diff"] > 0.01
    assert isinstance(data["prediction_holds"], bool)
    code, _, err = run(capsys, "equivariance", "--model", "lenet", "--dy", "1")
    assert code == 2 and "lenet5" in err


def test_conv_upsample(capsys):
    import torch
    import torch.nn.functional as F

    from explorer.lab.table import lecture_table

    data = run_json(capsys, "conv", "--upsample", "2", "--kernel", "x-derivative",
                    "--mode", "correlation")
    assert data["output_shape"] == [20, 20] and data["padding"] == "same-zeros"
    assert data["upsample"]["factor"] == 2 and data["upsample"]["shape"] == [20, 20]
    t = torch.from_numpy(lecture_table())[None, None]
    up = F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)
    w = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=torch.float64)
    ref = F.conv2d(up, w[None, None], padding=1)[0, 0].numpy()
    np.testing.assert_allclose(data["output"], ref, atol=1e-9)
    assert data["size_formula"]["rows"].startswith("10*2 = 20, then ")
    data = run_json(capsys, "conv", "--upsample", "3", "--interpolation", "nearest",
                    "--kernel", "identity", "--padding", "valid")
    assert data["output_shape"] == [28, 28] and data["output"][0][0] == 544
    code, out, _ = run(capsys, "conv", "--upsample", "2")
    assert code == 0 and "bilinear up-sampling by 2, then convolution" in out


@pytest.mark.parametrize("argv", [
    ["conv", "--upsample", "0"],
    ["conv", "--upsample", "65"],
    ["conv", "--upsample", "2", "--transposed"],
    ["conv", "--interpolation", "nearest"],
    ["conv", "--upsample", "2", "--interpolation", "cubic"],
    ["conv", "--upsample", "2", "--padding", "full"],
    ["conv", "--upsample", "64", "--image", "sample:camera"],
])
def test_conv_upsample_bad_values_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert out == ""
