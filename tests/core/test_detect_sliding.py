"""Sliding windows: the naive and shared (OverFeat) implementations agree, boxes land in
image pixels, and bad settings are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from explorer.core.tasks import FlagTask
from explorer.data import shapes
from explorer.detect.classifier import WindowClassifier, from_network
from explorer.detect.sliding import parse_scales, slide
from explorer.errors import Cancelled, UserError
from explorer.nets.registry import load_network


@pytest.fixture(scope="module")
def pnet():
    return from_network(load_network("mtcnn-pnet"))


def _unpadded_classifier() -> WindowClassifier:
    """A 16x16 classifier with no zero padding, and its fully convolutional twin (stride 4)."""
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 3), nn.ReLU(), nn.MaxPool2d(2))  # 16 -> 2x2
    fc = nn.Linear(8 * 2 * 2, 3)
    conv = nn.Conv2d(8, 3, 2)
    with torch.no_grad():
        conv.weight.copy_(fc.weight.view(3, 8, 2, 2))
        conv.bias.copy_(fc.bias)
    module = nn.Sequential(trunk, nn.Flatten(), fc).eval()
    dense = nn.Sequential(trunk, conv).eval()
    return WindowClassifier(module, "toy", (16, 16), (0.5,) * 3, (0.25,) * 3,
                            ["background", "a", "b"], background=0, probabilities=False,
                            device=torch.device("cpu"), dense=dense, stride=4)


def test_naive_equals_shared_on_pnet(pnet):
    """P-Net has no zero padding: every cell of its map sees exactly its 12x12 window."""
    img = shapes.make_scene(3, (70, 90)).image
    a = slide(pnet, img, impl="naive", stride=2, scales=[1.0, 0.8, 0.55], pad=True)
    b = slide(pnet, img, impl="shared", scales=[1.0, 0.8, 0.55], pad=True)
    assert len(a.maps) == len(b.maps) == 3
    for ma, mb in zip(a.maps, b.maps):
        assert ma.probs.shape == mb.probs.shape
        assert ma.probs.shape[1] > 10
        assert (ma.probs - mb.probs).abs().max() < 1e-4
        assert torch.allclose(ma.boxes(), mb.boxes(), atol=1e-4)
    assert a.windows == b.windows > 1000


def test_naive_equals_shared_unpadded_toy_and_stride_multiple():
    clf = _unpadded_classifier()
    img = np.random.default_rng(0).uniform(0, 1, (45, 53, 3)).astype(np.float32)
    for stride in (4, 8):
        a = slide(clf, img, impl="naive", stride=stride, scales=[1.0, 1.5], threshold=0.0)
        b = slide(clf, img, impl="shared", stride=stride, scales=[1.0, 1.5], threshold=0.0)
        for ma, mb in zip(a.maps, b.maps):
            assert ma.probs.shape == mb.probs.shape
            assert (ma.probs - mb.probs).abs().max() < 1e-4
            assert ma.step == pytest.approx(mb.step)


def test_window_positions_in_image_pixels(pnet):
    img = np.zeros((40, 60, 3), np.float32)
    r = slide(pnet, img, impl="shared", scales=[0.5], pad=False)
    m = r.maps[0]
    # level 20x30, 12-px windows every 2 px -> 5 x 10 windows; in image pixels 24 wide, 4 apart
    assert tuple(m.probs.shape) == (2, 5, 10)
    assert m.step == pytest.approx(4.0)
    boxes = m.boxes()
    assert boxes[0].tolist() == pytest.approx([0, 0, 24, 24])
    assert boxes[-1].tolist() == pytest.approx([36, 16, 60, 40])


def test_detections_are_clipped_and_thresholded(pnet):
    img = shapes.make_scene(5, (64, 64)).image
    r = slide(pnet, img, impl="shared", scales=[1.0], threshold=0.0, iou=0.5)
    d = r.detections
    assert len(d) > 0
    assert (d.boxes[:, 0::2] >= 0).all() and (d.boxes[:, 0::2] <= 64).all()
    assert (d.scores[:-1] >= d.scores[1:]).all()  # best first
    assert set(d.labels.tolist()) == {1}  # background never reported
    none = slide(pnet, img, impl="shared", scales=[1.0], threshold=1.0).detections
    assert len(none) <= len(d)


def test_tinyvgg_naive_equals_shared():
    """TinyVGG pads its convolutions, so a shared-map cell sees 14 px beyond its window; the
    naive detector cuts each window out with that context (clipped to the level, so the
    network's own zero padding falls at the level's border as in the shared pass) and
    agrees to float rounding. A bare 64x64 cut-out differed by up to 0.65."""
    clf = from_network(load_network("tinyvgg-shapes"))
    assert clf.context() == ((16, 14), (16, 14))
    img = shapes.make_scene(11, (96, 112)).image
    scales = [1.0, 0.75, 1.5]
    for pad in (True, False):
        a = slide(clf, img, impl="naive", stride=8, scales=scales, pad=pad, threshold=0.0)
        b = slide(clf, img, impl="shared", scales=scales, pad=pad, threshold=0.0)
        assert len(a.maps) == len(b.maps) == 3
        for ma, mb in zip(a.maps, b.maps):
            assert ma.probs.shape == mb.probs.shape
            assert ma.step == pytest.approx(mb.step)
            assert ma.origin == pytest.approx(mb.origin)
            assert (ma.probs - mb.probs).abs().max() <= 1e-4
    assert tuple(a.maps[0].probs.shape) == (6, 5, 7)  # pad=False: (96 - 64) / 8 + 1 rows
    assert tuple(b.maps[2].probs.shape) == (6, 11, 14)
    # a window other than the input: both grow the level so it becomes 64 px
    a = slide(clf, img, impl="naive", window=80, stride=10, scales=[1.0], threshold=0.0)
    b = slide(clf, img, impl="shared", window=80, stride=10, scales=[1.0], threshold=0.0)
    assert a.maps[0].probs.shape == b.maps[0].probs.shape == (6, 10, 12)
    assert (a.maps[0].probs - b.maps[0].probs).abs().max() <= 1e-4
    assert a.maps[0].window == b.maps[0].window == pytest.approx((80, 80))


def test_context_of_unpadded_nets_is_empty(pnet):
    assert pnet.context() == ((0, 0), (0, 0))
    assert _unpadded_classifier().context() == ((0, 0), (0, 0))


def test_bad_settings():
    clf = _unpadded_classifier()
    img = np.zeros((32, 32, 3), np.float32)
    with pytest.raises(UserError):
        slide(clf, img, impl="fast")
    with pytest.raises(UserError):
        slide(clf, img, threshold=2)
    with pytest.raises(UserError):
        slide(clf, img, window=2)
    with pytest.raises(UserError):
        slide(clf, np.zeros((5, 5, 3), np.float32), pad=False)
    clf.dense = None
    with pytest.raises(UserError, match="naive"):
        slide(clf, img, impl="shared")
    with pytest.raises(UserError):
        parse_scales("1,x")
    with pytest.raises(UserError):
        parse_scales("0,1")
    assert parse_scales("1, 0.75,0.5") == [1.0, 0.75, 0.5]


def test_cancel(pnet):
    task = FlagTask()
    task.cancel()
    with pytest.raises(Cancelled):
        slide(pnet, np.zeros((40, 40, 3), np.float32), task=task)
    assert task.checks == 1  # refused before the first level


def test_other_window_size_is_resized_for_naive(pnet):
    img = shapes.make_scene(2, (48, 48)).image
    r = slide(pnet, img, impl="naive", window=24, stride=6, scales=[1.0], pad=False)
    assert tuple(r.maps[0].probs.shape) == (2, 5, 5)
    assert r.maps[0].window == (24, 24)


def test_overfeat_alexnet_dense_form():
    """AlexNet's dense layers as convolutions: at 224x224 the same logits; on a bigger
    picture one cell per 224-px window, 32 px apart (random weights, never downloaded)."""
    torch.manual_seed(0)
    clf = from_network(load_network("alexnet"))
    assert clf.dense is not None and clf.stride == 32 and clf.background is None
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert (clf.module(x) - clf.dense(x)[:, :, 0, 0]).abs().max() < 1e-4
    img = np.random.default_rng(0).uniform(0, 1, (260, 300, 3)).astype(np.float32)
    a = slide(clf, img, impl="naive", scales=[1.0], pad=False, threshold=0.0)
    b = slide(clf, img, impl="shared", scales=[1.0], pad=False, threshold=0.0)
    assert a.maps[0].probs.shape == b.maps[0].probs.shape == (1000, 2, 3)
    # AlexNet pads too: the naive crops carry 96 px before and 65 px after each window
    assert clf.context() == ((96, 65), (96, 65))
    assert (a.maps[0].probs - b.maps[0].probs).abs().max() <= 1e-4
