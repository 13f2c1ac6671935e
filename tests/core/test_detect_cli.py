"""`cnn-explorer detect`: JSON output, the drawn picture, exit codes, and MTCNN via the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer import PRETRAINED
from explorer.cli import main

HAS_FAST = (PRETRAINED / "fast-rcnn-shapes.pt").exists()


# steadier timings and less contention on a shared machine
pytestmark = pytest.mark.usefixtures("one_thread")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_mtcnn_finds_the_astronaut(capsys, tmp_path):
    png = tmp_path / "faces.png"
    code, out, _ = run(capsys, "detect", "--image", "sample:astronaut", "--method", "mtcnn",
                       "--out", str(png), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["labels"] == ["face"] and len(data["boxes"]) == 1
    x1, y1, x2, y2 = data["boxes"][0]
    assert abs(x1 - 181.05) < 1 and abs(y2 - 172.05) < 1 and data["scores"][0] > 0.99
    assert data["proposal_count"] > 1 and data["timings"]["total"] > 0
    pic = np.asarray(PILImage.open(png))
    # the 512-px picture with a margin all round for labels outside the boxes
    m = (pic.shape[0] - 512) // 2
    assert m > 0 and pic.shape == (512 + 2 * m, 512 + 2 * m, 3)
    # the box is drawn 3 px wide in the face class's colour (Okabe-Ito orange) on its top
    orange = np.array([0xE6, 0x9F, 0x00])
    top = round(62.05) + m
    assert (pic[top - 1:top + 2, m + 200:m + 250] == orange).all(axis=-1).any(axis=1).sum() >= 2


def test_sliding_pnet_json(capsys, tmp_path):
    img = tmp_path / "s.png"
    PILImage.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), np.uint8)
                       ).save(img)
    code, out, _ = run(capsys, "detect", "--model", "mtcnn-pnet", "--image", str(img),
                       "--method", "sliding", "--impl", "naive", "--scales", "1,0.5",
                       "--threshold", "0.0", "--json")
    data = json.loads(out)
    assert code == 0 and data["method"] == "sliding-naive" and data["model"] == "mtcnn-pnet"
    # P-Net's stride 2 by default; levels padded by 6 px each side. Scale 1: 52x62 ->
    # 21 x 26 windows of 12 px; scale 0.5: 20x25 -> 32x37 -> 11 x 13
    assert data["windows"] == 21 * 26 + 11 * 13
    assert len(data["boxes"]) == len(data["scores"]) == len(data["labels"]) > 0
    assert set(data["labels"]) == {"face"}
    assert "maps" not in data and data["scales"] == [1.0, 0.5]  # plain JSON only
    for x1, y1, x2, y2 in data["boxes"]:
        assert 0 <= x1 < x2 <= 50 and 0 <= y1 < y2 <= 40


def test_imagenet_classifier_slides_naively(capsys, tmp_path):
    img = tmp_path / "c.png"
    PILImage.fromarray(np.random.default_rng(1).integers(0, 255, (300, 260, 3), np.uint8)
                       ).save(img)
    code, out, _ = run(capsys, "detect", "--model", "squeezenet1_1", "--image", str(img),
                       "--stride", "112", "--scales", "1", "--threshold", "0", "--json")
    data = json.loads(out)
    # no fully convolutional form: auto picks naive; 224-px windows every 112 px on the
    # 300x260 picture padded by 112 -> 3 x 3 windows
    assert code == 0 and data["method"] == "sliding-naive" and data["windows"] == 9
    assert data["weights"] == "random" and len(data["labels"]) > 0


def test_proposals_rcnn_json_and_picture(capsys, tmp_path):
    png = tmp_path / "r.png"
    code, out, _ = run(capsys, "detect", "--image", "sample:shapes", "--method", "proposals",
                       "--head", "rcnn", "--out", str(png), "--show-proposals", "--json")
    data = json.loads(out)
    assert code == 0 and data["method"] == "rcnn" and data["proposal_count"] > 5
    assert {"proposals", "warp", "classify", "nms", "total"} <= set(data["timings"])
    assert png.stat().st_size > 0
    pic = np.asarray(PILImage.open(png))
    # 128 px enlarged 4x, with margins for the labels that do not fit inside (a label
    # moved out to the side widens the picture on both sides, so it stays centred)
    h, w, c = pic.shape
    assert c == 3 and h > 512 and w > 512 and (h - 512) % 2 == 0 and (w - 512) % 2 == 0


@pytest.mark.skipif(not HAS_FAST, reason="pretrained/fast-rcnn-shapes.pt not trained yet")
def test_fast_rcnn_finds_the_sample_shapes(capsys):
    from explorer.data import shapes

    code, out, _ = run(capsys, "detect", "--image", "sample:shapes", "--method", "proposals",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["method"] == "fast-rcnn" and data["model"] == "fast-rcnn-shapes"
    scene = shapes.sample_scene()  # what sample:shapes draws
    found = torch.tensor(data["boxes"]).reshape(-1, 4)
    from torchvision.ops import box_iou

    iou = box_iou(torch.from_numpy(scene.boxes), found)
    assert (iou.max(dim=1).values >= 0.5).float().mean() >= 0.5


@pytest.mark.skipif(not HAS_FAST, reason="pretrained/fast-rcnn-shapes.pt not trained yet")
def test_eval_json(capsys):
    code, out, _ = run(capsys, "detect", "--eval", "3", "--method", "proposals", "--head",
                       "fast-rcnn", "--json")
    data = json.loads(out)
    assert code == 0 and data["scenes"] == 3
    r = data["results"][0]
    assert r["method"] == "fast-rcnn" and 0 <= r["mAP@0.5"] <= 1
    assert set(r["per_class"]) == {"circle", "square", "triangle", "star", "cross"}
    assert r["proposals_per_image"] > 5 and 0.5 <= r["proposal_recall@0.5"] <= 1


def test_eval_sliding_text(capsys):
    code, out, _ = run(capsys, "detect", "--eval", "2", "--method", "sliding")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("sliding: mAP@0.5 = ") and "on 2 scenes" in first
    assert 0 <= float(first.split("= ")[1].split()[0]) <= 1
    assert sum(line.strip().startswith(("circle", "square", "triangle", "star", "cross"))
               for line in out.splitlines()) >= 1


@pytest.mark.parametrize("argv,msg", [
    (["detect", "--method", "sliding"], "needs --image"),
    (["detect", "--image", "/nonexistent.png", "--method", "mtcnn"], "no such file"),
    (["detect", "--image", "sample:nothing", "--method", "mtcnn"], "unknown sample"),
    (["detect", "--image", "sample:shapes", "--scales", "1,x"], "scales"),
    (["detect", "--image", "sample:shapes", "--threshold", "3"], "threshold"),
    (["detect", "--image", "sample:shapes", "--window", "2"], "window"),
    (["detect", "--image", "sample:shapes", "--method", "walk"], "invalid choice"),
    (["detect", "--image", "sample:shapes", "--model", "nonet"], "unknown network"),
    (["detect", "--image", "sample:shapes", "--model", "mtcnn-rnet", "--impl", "shared"],
     "naive"),
    (["detect", "--image", "sample:shapes", "--out", "/no/such/dir/x.png", "--method",
      "mtcnn"], "does not exist"),
    (["detect", "--eval", "0"], "at least 1"),
    (["detect", "--eval", "2", "--method", "mtcnn"], "faces"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, msg):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert msg in err and len(err.strip().splitlines()) == 1
