"""`cnn-explorer segment`: JSON, the comparison PNG, the held-out evaluation, exit codes."""

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scene_with_ground_truth(capsys, tmp_path):
    out_png = tmp_path / "cmp.png"
    code, out, err = run(capsys, "segment", "--image", "scene:3", "--models",
                         "fcn-shapes,unet-shapes", "--out", str(out_png), "--field", "64,64",
                         "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ground_truth"] is True and data["size"] == [128, 128]
    assert list(data["networks"]) == ["fcn-shapes", "unet-shapes"]
    for entry in data["networks"].values():
        assert sum(entry["class_histogram"].values()) == 128 * 128
        assert entry["seconds"] > 0
        s = entry["scores"]
        assert 0 <= s["mean_iou"] <= 1 and 0 <= s["pixel_accuracy"] <= 1
        assert 0 <= s["boundary_f_score"] <= 1
        assert entry["field"]["theoretical_box"] is not None
    d = data["disagreement"]
    assert (d["a"], d["b"]) == ("fcn-shapes", "unet-shapes") and 0 <= d["fraction"] <= 1
    img = np.asarray(PILImage.open(out_png))
    # input, two predictions, ground truth, disagreement: five panels of >= 320 px
    assert img.shape[2] == 3 and img.shape[1] >= 5 * 320


def test_photo_gets_no_scores(capsys):
    code, out, _ = run(capsys, "segment", "--image", "sample:coffee", "--models",
                       "fcn-dilated-shapes", "--json")
    data = json.loads(out)
    assert code == 0 and data["ground_truth"] is False
    assert "scores" not in data["networks"]["fcn-dilated-shapes"]
    assert "disagreement" not in data


def test_user_mask(capsys, tmp_path):
    from explorer.data.shapes import held_out_scene

    mask = tmp_path / "m.png"
    truth = held_out_scene(4).mask
    PILImage.fromarray(truth.astype(np.uint8)).save(mask)
    code, out, _ = run(capsys, "segment", "--image", "scene:4", "--mask", str(mask),
                       "--models", "fcn-shapes", "--json")
    assert code == 0
    with_mask = json.loads(out)["networks"]["fcn-shapes"]["scores"]
    # the scene's own truth and the same mask from a file give the same scores
    code, out, _ = run(capsys, "segment", "--image", "scene:4", "--models", "fcn-shapes",
                       "--json")
    assert code == 0 and json.loads(out)["networks"]["fcn-shapes"]["scores"] == with_mask
    # --gt is the old name of --mask
    code, _, _ = run(capsys, "segment", "--image", "scene:4", "--gt", str(mask),
                     "--models", "fcn-shapes", "--json")
    assert code == 0


def test_shapes_networks_on_a_photo_get_a_note(capsys):
    code, out, err = run(capsys, "segment", "--image", "sample:coffee", "--models",
                         "fcn-shapes")
    assert code == 0
    assert "note: fcn-shapes was trained only on synthetic shapes scenes" in err
    code, out, _ = run(capsys, "segment", "--image", "sample:coffee", "--models",
                       "fcn-shapes", "--json")
    assert "mean little" in json.loads(out)["notes"][0]


def test_eval_json(capsys):
    code, out, _ = run(capsys, "segment", "--eval", "3", "--models", "unet-shapes", "--json")
    data = json.loads(out)
    assert code == 0 and data["scenes"] == 3 and data["seed"] == 2
    r = data["networks"]["unet-shapes"]
    assert {"mean_iou", "pixel_accuracy", "boundary_f_score"} <= set(r)


def test_upsampling_png(capsys, tmp_path):
    path = tmp_path / "up.png"
    code, out, _ = run(capsys, "segment", "--image", "scene:3", "--models", "fcn-shapes",
                       "--upsampling", str(path), "--json")
    assert code == 0 and path.exists()
    methods = json.loads(out)["upsampling_demo"]["methods"]
    assert methods[-1]["ripple"] > 1.0 and methods[2]["ripple"] < 1e-5


@pytest.mark.parametrize("argv, message", [
    (["--image", "scene:3", "--models", "nope"], "unknown segmentation network"),
    (["--image", "scene:3", "--models", "resnet18"], "not a segmentation network"),
    (["--image", "scene:3", "--compare", "fcn-shapes,nope"], "--compare takes two"),
    (["--image", "scene:x"], "scene:N"),
    (["--image", "scene:3", "--field", "500,3"], "outside"),
    (["--eval", "2", "--models", "fcn_resnet50"], "cannot be scored"),
    (["--eval", "2", "--image", "scene:1"], "takes no --image"),
    ([], "needs --image"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, "segment", *argv)
    assert code == 2 and message in err
    assert err.count("\n") == 1


def test_wrong_size_mask_exits_2(capsys, tmp_path):
    mask = tmp_path / "m.png"
    PILImage.fromarray(np.zeros((50, 60), np.uint8)).save(mask)
    code, _, err = run(capsys, "segment", "--image", "scene:3", "--gt", str(mask))
    assert code == 2 and "60x50 pixels but the image is 128x128" in err
    assert err.count("\n") == 1
