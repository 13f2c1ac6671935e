"""The headless contract: --json output, exit code 0, and 2 with one line on bad input."""

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_json(capsys):
    code, out, _ = run(capsys, "models", "--json")
    rows = json.loads(out)
    assert code == 0 and {"name", "family", "available", "weights_source"} <= set(rows[0])
    assert any(r["name"] == "resnet18" for r in rows)


def test_layers_json_has_every_field_and_total(capsys):
    code, out, _ = run(capsys, "layers", "--model", "alexnet", "--json")
    data = json.loads(out)
    assert code == 0 and data["total_params"] == 61_100_840
    first = data["layers"][1]
    assert first["name"] == "features.0" and first["output_shape"] == [64, 55, 55]
    assert first["params"] == 23_296 and first["receptive_field"] == 11 and first["jump"] == 4
    assert data["layers"][-1]["receptive_field"] == "global"


def test_predict_and_features_and_filters(capsys, tmp_path):
    img = tmp_path / "x.png"
    PILImage.fromarray(np.random.default_rng(0).integers(0, 255, (80, 90, 3), np.uint8)
                       ).save(img)
    code, out, _ = run(capsys, "predict", "-m", "squeezenet1_1", "-i", str(img), "-k", "3",
                       "--json")
    top = json.loads(out)["top"]
    assert code == 0 and len(top) == 3 and top[0]["probability"] >= top[1]["probability"]
    png = tmp_path / "f.png"
    code, out, _ = run(capsys, "features", "-m", "squeezenet1_1", "-i", str(img), "-l",
                       "features.0", "-o", str(png), "--json")
    assert code == 0 and json.loads(out)["channels"] == 64 and png.stat().st_size > 0
    code, out, _ = run(capsys, "filters", "-m", "squeezenet1_1", "-l", "features.0", "-o",
                       str(tmp_path / "k.png"), "--json")
    assert code == 0 and json.loads(out)["rgb"] is True


@pytest.mark.parametrize("argv,msg", [
    (["predict", "-m", "nonet", "-i", "sample:chelsea"], "unknown network"),
    (["predict", "-m", "squeezenet1_1", "-i", "/nonexistent.png"], "no such file"),
    (["features", "-m", "squeezenet1_1", "-i", "sample:chelsea", "-l", "nolayer", "-o",
      "/tmp/x.png"], "no layer 'nolayer'"),
    (["filters", "-m", "squeezenet1_1", "-l", "features.1", "-o", "/tmp/x.png"],
     "no 2-D convolution kernels"),
    (["layers", "-m", "squeezenet1_1", "--weights", "/nonexistent.pt"], "no such file"),
    (["predict", "--topk"], "expected one argument"),
    (["nocommand"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, msg):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert msg in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_text_file_as_image(capsys, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    code, _, err = run(capsys, "predict", "-m", "squeezenet1_1", "-i", str(bad))
    assert code == 2 and "not an image" in err
