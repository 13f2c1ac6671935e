"""cam, neighbours, augment, finetune, compare: --json, exit 0, and 2 with one line."""

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.cli import main


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cam_json_and_png(capsys, tmp_path):
    out_png = tmp_path / "cam.png"
    code, out, _ = run(capsys, "cam", "-m", "lenet5-digits", "-i", "sample:digit",
                       "--method", "gradcam++", "--class", "7", "--out", str(out_png),
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["method"] == "gradcam++" and data["layer"] == "pool2"
    assert data["class_index"] == 7 and data["class"] == "7"
    assert data["heatmap_size"] == [32, 32] and len(data["top"]) == 5
    assert PILImage.open(out_png).size[0] >= 512


@pytest.mark.parametrize("argv, message", [
    (["cam", "-i", "sample:shape-crop", "--class", "99"], "out of range"),
    (["cam", "-i", "sample:shape-crop", "--layer", "nope"], "no layer"),
    (["cam", "-i", "sample:nothing"], "unknown sample"),
    (["cam", "-i", "sample:shape-crop", "--method", "magic"], "invalid choice"),
    (["neighbours", "-i", "sample:shape-crop", "--gallery", "/no/such/dir"],
     "no such folder"),
    (["finetune", "--data", "elsewhere"], "neither a task"),
    (["augment", "-i", "sample:shape-crop", "--variants", "sepia"], "unknown variant"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_neighbours_json_on_a_folder(capsys, tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "g" / "c").mkdir(parents=True)
    for i in range(8):
        PILImage.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(
            tmp_path / "g" / "c" / f"{i}.png")
    code, out, _ = run(capsys, "neighbours", "-i", str(tmp_path / "g" / "c" / "3.png"),
                       "--gallery", str(tmp_path / "g"), "-k", "4", "--json",
                       "--out", str(tmp_path / "nn.png"))
    data = json.loads(out)
    assert code == 0 and data["gallery_size"] == 8 and len(data["neighbours"]) == 4
    assert data["neighbours"][0]["name"] == "3.png"
    assert data["neighbours"][0]["distance"] < 1e-4
    dists = [n["distance"] for n in data["neighbours"]]
    assert dists == sorted(dists)
    assert (tmp_path / "nn.png").exists()


def test_augment_finetune_compare_json(capsys):
    code, out, _ = run(capsys, "augment", "-i", "sample:shape-crop", "--variants",
                       "flip left-right,darker", "--json")
    data = json.loads(out)
    assert code == 0 and [v["name"] for v in data["variants"]] == [
        "original", "flip left-right", "darker"]
    assert data["variants"][0]["distance"] == 0.0
    code, out, _ = run(capsys, "finetune", "--data", "shapes-round-pointed", "--n-train",
                       "4", "--n-test", "2", "--epochs", "2", "--batch-size", "4", "--json")
    data = json.loads(out)
    run_ = data["runs"][0]
    assert code == 0 and data["classes"] == ["round", "pointed"]
    assert run_["mode"] == "head" and run_["steps"] == 4 and run_["first_conv_change"] == 0
    code, out, _ = run(capsys, "compare", "-m", "lenet5-digits", "-i", "sample:digit",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["matched_by"] == "name" and data["layers"][0]["a"] == "conv1"
