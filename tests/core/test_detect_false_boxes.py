"""The sliding window's false boxes: containment suppression (one object, one box), the
defaults that use it, and a class heat map whose peak lies on an object of that class."""

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from explorer.data import shapes
from explorer.detect.boxes import suppress_contained
from explorer.detect.heat import class_heat, contrast, peak
from explorer.detect.pipeline import (
    SLIDING_CONTAINMENT,
    SLIDING_THRESHOLD,
    DetectConfig,
    Detector,
)
from explorer.errors import UserError


def test_suppress_contained_by_hand():
    boxes = torch.tensor([[0, 0, 50, 50],     # A: best
                          [10, 10, 30, 30],   # inside A: dropped
                          [60, 60, 90, 90],   # elsewhere: kept
                          [40, 0, 90, 50],    # a fifth of it inside A: kept at 0.5
                          [45, 45, 95, 95]],  # holds all of C: dropped
                         dtype=torch.float32)
    scores = torch.tensor([0.99, 0.95, 0.8, 0.7, 0.6])
    keep = suppress_contained(boxes, scores, 0.5).tolist()
    assert keep == [0, 2, 3]
    assert suppress_contained(boxes, scores, 1.01).tolist() == [0, 1, 2, 3, 4]
    assert suppress_contained(boxes[:0], scores[:0], 0.5).numel() == 0


@pytest.fixture(scope="module")
def detector():
    return Detector(DetectConfig(method="sliding"))


def test_defaults_are_the_chosen_ones(detector):
    assert detector.threshold() == SLIDING_THRESHOLD == 0.9
    assert detector.containment() == SLIDING_CONTAINMENT == 0.5
    assert Detector(DetectConfig(containment=0)).containment() is None
    with pytest.raises(UserError, match="containment"):
        DetectConfig(containment=2).check()


def test_scene_3_gives_its_two_objects_and_nothing_else(detector):
    scene = shapes.held_out_scene(3)
    det = detector(scene.image)
    assert sorted(det.names) == sorted(shapes.CLASSES[i] for i in scene.labels)
    iou = box_iou(det.boxes, torch.from_numpy(scene.boxes))
    for k, name in enumerate(det.names):
        j = int(iou[k].argmax())
        assert shapes.CLASSES[scene.labels[j]] == name and iou[k, j] >= 0.5
    # the old defaults gave the false boxes the issue names, from the same maps
    from explorer.detect.sliding import boxes_from_maps

    clf = detector.classifier
    _, sc, lab = boxes_from_maps(det.extra["maps"], (128, 128),
                                 box_fraction=clf.box_fraction, background=0,
                                 threshold=0.5, iou=0.3)
    assert len(sc) == 5


def test_class_heat_peaks_inside_a_true_box_of_that_class(detector):
    # The peak is where the class fires most: on the object for nearly every (scene,
    # class). Not always: on test scene 8 "triangle" fires at 0.995 on a window over the
    # circle beside the triangle (1 of the 60 pairs of scenes 0-29), so the test asks
    # for 90 % of the pairs of scenes 0-7, and for both objects of scene 3.
    hits, pairs = 0, 0
    for index in range(8):
        scene = shapes.held_out_scene(index)
        det = detector(scene.image)
        for label in sorted(set(scene.labels.tolist())):
            heat = class_heat(det.extra["maps"], label, (128, 128))
            assert heat.shape == (128, 128) and 0 <= heat.min() and heat.max() <= 1
            r, c = peak(heat)
            inside = any(lab == label and b[0] <= c < b[2] and b[1] <= r < b[3]
                         for lab, b in zip(scene.labels, scene.boxes))
            hits += inside
            pairs += 1
            assert inside or index != 3, (shapes.CLASSES[label], (r, c))
            shown = contrast(heat)
            assert shown.max() == pytest.approx(1.0) and shown[r, c] == shown.max()
    assert pairs >= 12 and hits >= 0.9 * pairs, (hits, pairs)


def test_contrast_keeps_a_silent_class_dark():
    quiet = np.full((4, 4), 0.01, np.float32)
    assert contrast(quiet).max() == pytest.approx(0.1)
    assert peak(np.zeros((3, 3))) is None
