"""Selective-search proposals, their recall, and the R-CNN warp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.data import shapes
from explorer.detect.proposals import random_boxes, recall, selective_search
from explorer.detect.rcnn import context_boxes, warp
from explorer.errors import UserError


@pytest.fixture(scope="module")
def scene():
    return shapes.held_out_scene(0)  # scene:0


def test_selective_search_finds_the_shapes(scene):
    p = selective_search(scene.image, "fast")
    assert 5 <= len(p) <= 2000
    b = p.boxes
    assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
    assert b.min() >= 0 and b[:, 2].max() <= 128 and b[:, 3].max() <= 128
    assert recall(b, torch.from_numpy(scene.boxes)) > 0.5
    assert len(torch.unique(b.round(), dim=0)) == len(b)  # no exact repeats


def test_quality_mode_gives_more_and_cap(scene):
    fast = selective_search(scene.image, "fast")
    quality = selective_search(scene.image, "quality")
    assert len(quality) > len(fast)
    assert len(selective_search(scene.image, "fast", max_proposals=3)) == 3


def test_recall_hand_made():
    gt = torch.tensor([[0, 0, 10, 10], [20, 20, 40, 40.0]])
    props = torch.tensor([[0, 0, 10, 11], [0, 0, 100, 100.0]])
    assert recall(props, gt) == pytest.approx(0.5)
    assert recall(props[:0], gt) == 0.0
    assert recall(props, gt, iou_threshold=0.99) == 0.0


def test_bad_input():
    with pytest.raises(UserError):
        selective_search(np.zeros((10, 10, 3), np.float32), "slow")
    with pytest.raises(UserError):
        selective_search(np.zeros((10, 10), np.float32), "fast")


def test_context_and_warp():
    boxes = torch.tensor([[10, 10, 30, 20.0]])
    c = context_boxes(boxes, 0.5)
    # square on the longer side (20), grown to 40, same centre (20, 15)
    assert c.tolist() == [[0, -5, 40, 35]]
    x = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8)
    # the whole image warped to its own size is itself
    out = warp(x, torch.tensor([[0, 0, 8, 8.0]]), (8, 8), sampling_ratio=1)
    assert torch.allclose(out, x, atol=1e-4)
    # a box past the border reads repeated edge pixels when padded
    out = warp(x, torch.tensor([[-4, 0, 4, 8.0]]), (8, 8), pad=8, sampling_ratio=1)
    assert torch.allclose(out[0, 0, :, :4], x[0, 0, :, :1].expand(8, 4), atol=1e-4)
    assert random_boxes(5, 50, 60).shape == (5, 4)
