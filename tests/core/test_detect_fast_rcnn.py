"""Fast R-CNN: the network, its training entry point (tiny run), and the shipped head and
R-CNN finding the shapes of held-out scenes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from explorer import PRETRAINED
from explorer.core.tasks import FlagTask
from explorer.data import shapes
from explorer.detect.classifier import from_network
from explorer.detect.fast_rcnn import fast_rcnn_detect, head_rois
from explorer.detect.proposals import selective_search
from explorer.detect.rcnn import rcnn_detect
from explorer.errors import Cancelled
from explorer.nets.fast_rcnn import FastRCNN
from explorer.nets.registry import load_network
from explorer.nets.tinyvgg import TinyVGG

TRAINED = (PRETRAINED / "tinyvgg-shapes.pt").exists()
SHIPPED = (PRETRAINED / "fast-rcnn-shapes.pt").exists()


pytestmark = pytest.mark.usefixtures("one_thread")


def _scene(i: int) -> shapes.Scene:
    return shapes.held_out_scene(i)


def test_network_shapes_and_weights_from_tinyvgg():
    torch.manual_seed(0)
    tv = TinyVGG().eval()
    net = FastRCNN.from_tinyvgg(tv).eval()
    assert torch.equal(net.head.fc1.weight, tv.classifier.fc1.weight)
    assert torch.equal(net.head.cls.bias, tv.classifier.fc2.bias)
    assert net.head.bbox.weight.abs().sum() == 0
    x = torch.randn(2, 3, 96, 128)
    rois = torch.tensor([[0, 0, 0, 64, 64], [1, 10, 20, 50, 90], [1, 0, 0, 128, 96.0]])
    logits, deltas = net(x, rois)
    assert logits.shape == (3, 6) and deltas.shape == (3, 4)
    whole, _ = net(x)  # no rois: each image is one region
    assert whole.shape == (2, 6)
    assert torch.allclose(whole[1], logits[2], atol=1e-5)


def test_head_rois_pad_and_context():
    r = head_rois(torch.tensor([[10, 10, 42, 26.0]]), context=0.5)
    # square on the longer side 32, doubled to 64 about the centre (26, 18), +32 padding
    assert r.tolist() == [[0, 26, 18, 90, 82]]


def test_tiny_training_run_writes_weights_and_card(tmp_path):
    from explorer.detect.fast_rcnn_train import train_fast_rcnn

    assert TRAINED, "the repository ships tinyvgg-shapes' weights"
    card = train_fast_rcnn(tmp_path, epochs=1, n_train=3, n_test=2)
    assert (tmp_path / "fast-rcnn-shapes.pt").exists()
    saved = json.loads((tmp_path / "fast-rcnn-shapes.json").read_text())
    assert saved["epochs"] == 1 and saved["seed"] == 0
    assert 0.0 <= saved["metrics"]["mAP@0.5"] <= 1.0
    assert card["files"][0].endswith("fast-rcnn-shapes.pt")
    assert len(saved["history"]) == 1 and saved["history"][0]["loss"] > 0
    net = load_network("fast-rcnn-shapes", tmp_path / "fast-rcnn-shapes.pt")
    assert isinstance(net.module, FastRCNN) and net.weights_source == "file"
    task = FlagTask()
    task.cancel()
    with pytest.raises(Cancelled):
        train_fast_rcnn(tmp_path / "x", epochs=1, task=task, n_train=3, n_test=1)
    assert task.checks == 1 and not (tmp_path / "x").exists()


@pytest.mark.skipif(not (SHIPPED and TRAINED), reason="shipped weights missing")
def test_shipped_fast_rcnn_and_rcnn_find_the_shapes():
    fast = load_network("fast-rcnn-shapes")
    clf = from_network(load_network("tinyvgg-shapes"))
    hits = {"fast": [], "rcnn": []}
    for i in range(3):
        scene = _scene(i)
        gt = torch.from_numpy(scene.boxes)
        props = selective_search(scene.image, "fast").boxes
        for key, det in (("fast", fast_rcnn_detect(fast.module, scene.image, props)),
                         ("rcnn", rcnn_detect(clf, scene.image, props))):
            assert det.proposals is not None and len(det.proposals) == len(props)
            if len(det):
                iou = box_iou(gt, det.boxes)
                best = iou.max(dim=1)
                right = torch.from_numpy(scene.labels) == det.labels[best.indices]
                hits[key] += ((best.values >= 0.5) & right).tolist()
            else:
                hits[key] += [False] * len(gt)
    # 1.0 and 1.0 with the shipped weights; leave room for a retrained head
    assert np.mean(hits["fast"]) >= 0.8
    assert np.mean(hits["rcnn"]) >= 0.8


def test_cancel_and_progress():
    scene = _scene(0)
    props = selective_search(scene.image, "fast").boxes
    clf = from_network(load_network("tinyvgg-shapes"))
    task = FlagTask()
    task.cancel()
    with pytest.raises(Cancelled):
        rcnn_detect(clf, scene.image, props, task=task)
    seen = []
    fast = load_network("fast-rcnn-shapes")
    fast_rcnn_detect(fast.module, scene.image, props, task=FlagTask(lambda f, m: seen.append(f)))
    assert seen and all(0 <= f <= 1 for f in seen)
    with pytest.raises(Cancelled):
        fast_rcnn_detect(fast.module, scene.image, props, task=task)
