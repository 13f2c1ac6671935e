"""NMS, box coding and VOC average precision, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.detect.boxes import class_candidates, decode, encode, nms_detections, shrink
from explorer.detect.evaluate import average_precision, evaluate_detections, match

T = torch.tensor


def test_ap_hand_computed():
    # ranked TP, FP, TP, FP with 3 objects: recall 1/3, 1/3, 2/3, 2/3;
    # precision 1, 1/2, 2/3, 1/2; envelope 1 up to recall 1/3, then 2/3 up to 2/3:
    # AP = 1/3 * 1 + 1/3 * 2/3 = 5/9
    rec = np.array([1, 1, 2, 2]) / 3
    prec = np.array([1, 1 / 2, 2 / 3, 1 / 2])
    assert average_precision(rec, prec) == pytest.approx(5 / 9)
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    # FP first, then the only object: precision 1/2 at recall 1
    assert average_precision(np.array([0.0, 1.0]), np.array([0.0, 0.5])) == pytest.approx(0.5)
    # interpolation: a later, higher precision lifts the earlier points
    rec = np.array([0.25, 0.25, 0.5, 0.75])
    prec = np.array([1.0, 0.5, 2 / 3, 0.75])
    assert average_precision(rec, prec) == pytest.approx(0.25 * 1 + 0.5 * 0.75)


def test_match_greedy_by_score_and_duplicates():
    gt = T([[0, 0, 10, 10], [20, 20, 30, 30.0]])
    det = T([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 31, 31], [50, 50, 60, 60.0]])
    scores = T([0.5, 0.9, 0.8, 0.7])
    # det 1 (best) takes gt 0; det 0 is a duplicate -> FP; det 2 takes gt 1; det 3 misses
    assert match(det, scores, gt).tolist() == [0, 1, 1, 0]
    assert match(det[:0], scores[:0], gt).tolist() == []
    assert match(det, scores, gt[:0]).tolist() == [0, 0, 0, 0]


def test_evaluate_detections_two_images_two_classes():
    names = ["background", "circle", "square"]
    gt = [(T([[0, 0, 10, 10], [20, 20, 30, 30.0]]), T([1, 2])),
          (T([[0, 0, 10, 10.0]]), T([1]))]
    preds = [
        # circle found (0.9), a false circle (0.8), the square called a circle (0.6)
        (T([[0, 0, 10, 10], [40, 40, 50, 50], [20, 20, 30, 30.0]]), T([0.9, 0.8, 0.6]),
         T([1, 1, 1])),
        # image 2's circle, found at 0.7
        (T([[0, 0, 10, 10.0]]), T([0.7]), T([1])),
    ]
    ev = evaluate_detections(preds, gt, names)
    by = {c.name: c for c in ev.classes}
    # circle: ranked 0.9 TP, 0.8 FP, 0.7 TP, 0.6 FP; 2 objects -> recall 1/2, 1/2, 1, 1;
    # precision 1, 1/2, 2/3, 1/2 -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    assert by["circle"].ap == pytest.approx(5 / 6)
    assert by["circle"].precision == pytest.approx(0.5)
    assert by["circle"].recall == pytest.approx(1.0)
    assert by["square"].ap == 0.0 and by["square"].n_gt == 1 and by["square"].n_det == 0
    assert ev.mAP == pytest.approx((5 / 6 + 0) / 2)
    d = ev.as_dict()
    assert d["per_class"]["circle"]["AP"] == pytest.approx(0.8333, abs=1e-4)


def test_perfect_detector_scores_one():
    names = ["background", "a"]
    boxes = T([[0, 0, 10, 10], [20, 0, 30, 10.0]])
    ev = evaluate_detections([(boxes, T([0.9, 0.8]), T([1, 1]))], [(boxes, T([1, 1]))], names)
    assert ev.mAP == pytest.approx(1.0)


def test_nms_per_class():
    boxes = T([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60.0]])
    scores = T([0.9, 0.8, 0.7, 0.6])
    labels = T([1, 1, 2, 1])
    b, s, lab = nms_detections(boxes, scores, labels, iou=0.5)
    # box 1 overlaps box 0 (IoU 9/11) in the same class and goes; box 2 is another class
    assert s.tolist() == pytest.approx([0.9, 0.7, 0.6])
    assert lab.tolist() == [1, 2, 1]
    b, s, lab = nms_detections(boxes, scores, labels, iou=0.5, max_detections=2)
    assert len(s) == 2


def test_class_candidates_skip_background():
    probs = T([[0.7, 0.2, 0.1], [0.1, 0.55, 0.35], [0.0, 0.5, 0.5]])
    boxes = torch.arange(12, dtype=torch.float32).view(3, 4)
    b, s, lab = class_candidates(probs, boxes, 0.5, background=0)
    assert lab.tolist() == [1, 1, 2]
    assert s.tolist() == pytest.approx([0.55, 0.5, 0.5])
    assert b[0].tolist() == boxes[1].tolist()


def test_box_coding_round_trip_and_shrink():
    a = T([[10, 20, 50, 40.0], [0, 0, 8, 8]])
    b = T([[12, 18, 60, 44.0], [1, -1, 7, 9]])
    assert torch.allclose(decode(a, encode(a, b)), b, atol=1e-4)
    assert encode(a, a).abs().max() < 1e-6
    assert shrink(T([[0, 0, 64, 64.0]]), 0.5).tolist() == [[16, 16, 48, 48]]
