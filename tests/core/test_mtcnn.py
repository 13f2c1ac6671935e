"""MTCNN: shipped weights, stage shapes, and the cascade against facenet-pytorch 2.6.0.

The golden values were produced by facenet-pytorch 2.6.0's own ``MTCNN(keep_all=True,
select_largest=False).detect(img, landmarks=True)`` (torch 2.14.1, CPU) on the same images;
facenet-pytorch is not needed to run these tests.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from skimage import data
from torchvision.ops import box_iou

from explorer import PRETRAINED
from explorer.core.tasks import FlagTask
from explorer.detect.mtcnn import _nms_min, detect_faces
from explorer.errors import Cancelled, ImageError, UserError
from explorer.nets.mtcnn import STAGES, FaceProbability, ONet, PNet, RNet, load_stage
from explorer.nets.shipped import load_all

# facenet-pytorch 2.6.0 on skimage.data.astronaut()
ASTRONAUT_BOX = [181.051, 62.156, 267.747, 172.05]
ASTRONAUT_PROB = 0.999998
ASTRONAUT_LANDMARKS = [[205.01, 101.73], [246.76, 103.71], [224.67, 128.96],
                       [201.72, 139.25], [245.27, 141.86]]
# ... on skimage.data.camera() as RGB (the cameraman's face, seen from the side)
CAMERA_BOX = [199.216, 118.926, 254.266, 192.27]
CAMERA_PROB = 0.9991
# ... on _lfw_mosaic(): four LFW faces side by side, best score first
MOSAIC_BOXES = [[386.285, 21.045, 459.225, 117.897], [262.858, 16.245, 341.431, 114.441],
                [144.993, 17.357, 221.947, 121.433], [28.077, 18.795, 101.118, 118.911]]
MOSAIC_PROBS = [0.999913, 0.999086, 0.99836, 0.994093]


def _lfw_mosaic() -> np.ndarray:
    """Faces 0-3 of skimage's LFW subset, 25 -> 100 px (nearest), on grey: [140, 500, 3]."""
    faces = data.lfw_subset()[:4]
    side, gap = 100, 20
    canvas = np.full((side + 2 * gap, 4 * (side + gap) + gap), 128, np.uint8)
    for i, face in enumerate(faces):
        tile = np.kron((face * 255).round().astype(np.uint8), np.ones((4, 4), np.uint8))
        x = gap + i * (side + gap)
        canvas[gap : gap + side, x : x + side] = tile
    return np.repeat(canvas[..., None], 3, axis=2)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # these nets are tiny: on a shared 2-core machine one thread is steadier than two
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def astronaut():
    return detect_faces(data.astronaut())


# --- weights and cards -------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["pnet", "rnet", "onet"])
def test_weights_load_strict_and_match_card(stage):
    cls, name, side = STAGES[stage]
    path = PRETRAINED / f"{name}.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    cls().load_state_dict(state, strict=True)  # raises on missing/unexpected keys

    card = json.loads((PRETRAINED / f"{name}.json").read_text())
    assert card["name"] == name
    assert card["input_size"] == [side, side]
    assert list(state) == card["state_dict_keys"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == card["provenance"]["resaved_sha256"]
    assert card["provenance"]["path_in_wheel"] == f"facenet_pytorch/data/{stage}.pt"
    assert card["parameters"] == sum(v.numel() for v in state.values())


def test_weights_are_small_and_licensed():
    sizes = {s: (PRETRAINED / f"{n}.pt").stat().st_size for s, (_, n, _) in STAGES.items()}
    assert sizes["pnet"] < 50_000 and sizes["rnet"] < 500_000 and sizes["onet"] < 2_000_000
    text = (PRETRAINED / "MTCNN-LICENSE.txt").read_text()
    assert "MIT License" in text and "Copyright (c) 2019 Timothy Esler" in text


def test_registered_as_shipped_stages():
    shipped = load_all()
    for cls, name, side in STAGES.values():
        spec = shipped[name]
        assert spec.task == "detect-stage"
        assert spec.input_size == (side, side)
        assert spec.in_channels == 3
        assert spec.class_names == ("not face", "face")
        assert spec.default_image == "astronaut"
        assert isinstance(spec.build(), cls)
        assert spec.extra["probability_output"] == 0 and spec.extra["output_is_probability"]
        # mean/std on [0, 1] input reproduce facenet's (255 x - 127.5) * 0.0078125
        x = torch.rand(3)
        std_form = (x - torch.tensor(spec.mean)) / torch.tensor(spec.std)
        torch.testing.assert_close(std_form, (x * 255 - 127.5) * 0.0078125)


# --- stage shapes ------------------------------------------------------------------------


def test_pnet_shapes_12_and_larger():
    net = load_stage("pnet")
    with torch.no_grad():
        prob, reg = net(torch.zeros(2, 3, 12, 12))
        assert prob.shape == (2, 2, 1, 1) and reg.shape == (2, 4, 1, 1)
        prob, reg = net(torch.zeros(1, 3, 100, 81))
        # H' = ceil((H - 4) / 2) - 3: 45 x 36 windows at stride 2
        assert prob.shape == (1, 2, 45, 36) and reg.shape == (1, 4, 45, 36)
        torch.testing.assert_close(prob.sum(1), torch.ones(1, 45, 36))
        assert FaceProbability(net)(torch.zeros(1, 3, 30, 30)).shape == (1, 2, 10, 10)


def test_rnet_onet_shapes():
    with torch.no_grad():
        prob, reg = RNet()(torch.zeros(3, 3, 24, 24))
        assert prob.shape == (3, 2) and reg.shape == (3, 4)
        prob, reg, marks = ONet()(torch.zeros(3, 3, 48, 48))
        assert prob.shape == (3, 2) and reg.shape == (3, 4) and marks.shape == (3, 10)
    assert isinstance(PNet(), torch.nn.Module)


def test_pretrained_onet_prefers_the_astronaut_face_crop():
    onet = load_stage("onet")
    img = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float()
    face = img[:, :, 62:172, 174:284]  # around the reference box, square
    sky = img[:, :, 0:110, 400:510]
    crops = torch.nn.functional.interpolate(torch.cat([face, sky]), size=(48, 48), mode="area")
    with torch.no_grad():
        prob = onet((crops - 127.5) * 0.0078125)[0][:, 1]
    assert prob[0] > 0.99 and prob[1] < 0.1


# --- the cascade against the reference ---------------------------------------------------


def test_astronaut_matches_reference(astronaut):
    det = astronaut
    assert len(det) == 1
    iou = box_iou(det.boxes, torch.tensor([ASTRONAUT_BOX])).item()
    assert iou >= 0.999
    assert abs(det.scores[0].item() - ASTRONAUT_PROB) < 1e-4
    assert det.landmarks.shape == (1, 5, 2)
    torch.testing.assert_close(det.landmarks[0], torch.tensor(ASTRONAUT_LANDMARKS),
                               atol=0.05, rtol=0)


def test_astronaut_stages_and_timings(astronaut):
    det = astronaut
    counts = [len(det.stages[s]) for s in ("pnet", "rnet", "onet")]
    assert counts[0] > counts[1] > counts[2] == 1
    assert det.stages["pnet"].boxes.shape == (counts[0], 4)
    torch.testing.assert_close(det.stages["onet"].boxes, det.boxes)
    # P-Net and R-Net hand on square windows
    b = det.stages["rnet"].boxes
    torch.testing.assert_close(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    assert set(det.timings) == {"pnet", "rnet", "onet", "total"}
    assert det.scales[0] == pytest.approx(12 / 20) and len(det.scales) == 10


def test_float_input_gives_the_same_face(astronaut):
    det = detect_faces(data.astronaut().astype(np.float32) / 255)
    torch.testing.assert_close(det.boxes, astronaut.boxes, atol=1e-3, rtol=0)
    torch.testing.assert_close(det.scores, astronaut.scores)


def test_camera_matches_reference():
    det = detect_faces(np.repeat(data.camera()[..., None], 3, axis=2))
    assert len(det) == 1
    assert box_iou(det.boxes, torch.tensor([CAMERA_BOX])).item() >= 0.999
    assert abs(det.scores[0].item() - CAMERA_PROB) < 1e-4


def test_four_faces_match_reference_in_order():
    det = detect_faces(_lfw_mosaic())
    assert len(det) == 4
    ious = box_iou(det.boxes, torch.tensor(MOSAIC_BOXES)).diag()
    assert ious.min().item() >= 0.999
    torch.testing.assert_close(det.scores, torch.tensor(MOSAIC_PROBS), atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_no_faces_where_reference_finds_none(name):
    det = detect_faces(getattr(data, name)())
    assert len(det) == 0
    assert det.boxes.shape == (0, 4) and det.landmarks.shape == (0, 5, 2)
    assert len(det.stages["pnet"]) > 0  # P-Net proposed windows; later stages rejected them


# --- GUI hooks and bad input -------------------------------------------------------------


def test_progress_reported_and_stop_honoured():
    seen = []
    detect_faces(_lfw_mosaic(), task=FlagTask(lambda f, msg: seen.append((f, msg))))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert seen[-1][1] == "4 face(s)"

    class StopAfterThree(FlagTask):
        def check(self) -> None:
            if self.checks == 3:
                self.cancel()
            super().check()

    task = StopAfterThree()
    with pytest.raises(Cancelled):
        detect_faces(data.astronaut(), task=task)
    assert task.checks == 4


def test_small_image_and_bad_input():
    assert len(detect_faces(np.zeros((15, 15, 3), np.uint8))) == 0  # below 20 px: no pyramid
    with pytest.raises(ImageError):
        detect_faces(np.zeros((20, 20), np.uint8))
    with pytest.raises(ImageError):
        detect_faces(np.full((20, 20, 3), 2.0, np.float32))
    with pytest.raises(UserError):
        detect_faces(data.astronaut(), factor=1.0)
    with pytest.raises(UserError):
        detect_faces(data.astronaut(), thresholds=(0.6, 0.7))


def test_min_nms_drops_a_box_inside_a_bigger_one():
    boxes = torch.tensor([[0.0, 0, 99, 99], [10, 10, 39, 39], [200, 200, 250, 250]])
    scores = torch.tensor([0.9, 0.95, 0.8])
    # IoU of the inner box with the outer is 0.09, but 100% of the smaller area
    assert _nms_min(boxes, scores, 0.7).tolist() == [1, 2]
