"""torchvision's Faster R-CNN in the Detection pipeline and `detect --method faster-rcnn`.

The tests cannot download COCO weights, so they put a randomly initialised
fasterrcnn_mobilenet_v3_large_320_fpn into the private hub cache under the file name
torchvision uses: the explorer must find it there, run it stage by stage exactly as
torchvision's own forward does, and draw and report it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer.cli import main
from explorer.detect import faster_rcnn
from explorer.detect.pipeline import DetectConfig, Detector
from explorer.errors import ModelError, UserError

NAME = "fasterrcnn_mobilenet_v3_large_320_fpn"


def _random_detector() -> torch.nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.get_model(NAME, weights=None, weights_backbone=None,
                                        num_classes=91).eval()


@pytest.fixture
def cached():
    """A random Faster R-CNN saved where torch.hub keeps the COCO weights."""
    model = _random_detector()
    path = faster_rcnn.cache_file(NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model


def _photo() -> np.ndarray:
    from explorer.app.pictures import open_picture

    return open_picture("sample:astronaut").array


def test_file_names_are_torchvisions():
    from torchvision.models import get_model_weights

    for name, file in faster_rcnn.FASTER_RCNNS.items():
        assert get_model_weights(name).DEFAULT.url.endswith("/" + file)


def test_stage_by_stage_equals_torchvisions_forward(cached):
    net = faster_rcnn.load(NAME)
    image = _photo()
    det = faster_rcnn.detect(net, image, threshold=0.0, iou=0.5)
    # torchvision's own forward with the same score threshold
    cached.roi_heads.score_thresh = 0.0
    with torch.inference_mode():
        ref = cached([torch.from_numpy(image.transpose(2, 0, 1).copy())])[0]
    assert len(det) == len(ref["boxes"]) > 0
    torch.testing.assert_close(det.boxes, ref["boxes"])
    torch.testing.assert_close(det.scores, ref["scores"])
    assert det.labels.tolist() == ref["labels"].tolist()
    assert det.class_names[1] == "person" and len(det.class_names) == 91
    # the RPN's proposals, in picture pixels, and a time for every stage
    h, w = image.shape[:2]
    p = det.proposals
    assert 0 < len(p) <= faster_rcnn.RPN_POST_NMS
    assert p[:, 0].min() >= 0 and p[:, 2].max() <= w and p[:, 3].max() <= h
    assert set(det.timings) == {"resize", "backbone", "rpn", "heads", "total"}
    # the thresholds were lent, not kept
    assert net.module.roi_heads.score_thresh == pytest.approx(0.05)


def test_the_pipeline_picks_the_cached_one_and_refuses_a_missing_one(cached):
    cfg = DetectConfig(method="faster-rcnn").check()
    assert cfg.model == NAME
    det = Detector(cfg)(_photo())
    assert det.method == "faster-rcnn" and det.extra["model"] == NAME
    # a random network's scores are about 1/91: nothing reaches the default 0.5
    assert len(det) == 0 and det.extra["threshold"] == 0.5
    with pytest.raises(ModelError, match="not in the torch hub cache.*never downloads"):
        DetectConfig(method="faster-rcnn", model="fasterrcnn_resnet50_fpn").check()
    with pytest.raises(ModelError, match="unknown Faster R-CNN"):
        DetectConfig(method="faster-rcnn", model="resnet18").check()


def test_cli_draws_boxes_and_reports_rpn_proposals(cached, capsys, tmp_path):
    out = tmp_path / "faster.png"
    code = main(["detect", "--image", "sample:astronaut", "--method", "faster-rcnn",
                 "--threshold", "0.005", "--out", str(out), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["method"] == "faster-rcnn" and data["model"] == NAME
    assert data["proposal_count"] > 0 and len(data["boxes"]) > 0
    assert set(data["labels"]) <= set(faster_rcnn.load(NAME).class_names)
    pic = np.asarray(PILImage.open(out))
    assert pic.ndim == 3 and pic.shape[0] > 512


@pytest.mark.parametrize("argv, says", [
    (["--eval", "5"], "COCO"),
    (["--image", "sample:astronaut", "--model", "vgg16"], "unknown Faster R-CNN"),
    (["--image", "sample:astronaut", "--download"], "leave out --trust-pickle"),
])
def test_cli_refuses_in_one_line(cached, capsys, argv, says):
    code = main(["detect", "--method", "faster-rcnn", *argv])
    err = capsys.readouterr().err
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1


def test_weights_that_do_not_fit_and_files_that_are_not_weights(tmp_path):
    wrong = tmp_path / "lenet.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(ModelError, match="does not fit"):
        faster_rcnn.load(NAME, weights=wrong)
    with pytest.raises(UserError, match="not a weights file|is a folder|folder"):
        faster_rcnn.check(NAME, tmp_path)
    with pytest.raises(UserError, match="empty"):
        (tmp_path / "empty.pt").touch()
        faster_rcnn.check(NAME, tmp_path / "empty.pt")
