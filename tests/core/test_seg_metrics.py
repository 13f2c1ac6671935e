"""Segmentation metrics against answers worked out by hand."""

import numpy as np
import pytest

from explorer.segment import metrics as M


def test_confusion_matrix_counts_true_rows_predicted_columns():
    gt = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1]])
    cm = M.confusion_matrix(pred, gt, 2)
    assert cm.tolist() == [[1, 1], [0, 2]]
    # class 0: tp 1, union 1 + 1 = 2 -> 0.5; class 1: tp 2, union 3 -> 2/3
    assert M.iou_per_class(cm) == pytest.approx([0.5, 2 / 3])
    assert M.mean_iou(cm) == pytest.approx((0.5 + 2 / 3) / 2)
    assert M.pixel_accuracy(cm) == pytest.approx(0.75)
    # the same from label maps directly
    assert M.mean_iou(pred, gt, 2) == pytest.approx((0.5 + 2 / 3) / 2)
    assert M.pixel_accuracy(pred, gt) == pytest.approx(0.75)


def test_absent_class_is_left_out_of_the_mean():
    gt = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1]])
    iou = M.iou_per_class(pred, gt, 3)
    assert np.isnan(iou[2])
    assert M.mean_iou(pred, gt, 3) == pytest.approx((0.5 + 2 / 3) / 2)


def test_perfect_and_wrong_predictions():
    gt = np.array([[0, 0], [1, 2]])
    assert M.mean_iou(gt, gt, 3) == 1.0 and M.pixel_accuracy(gt, gt, 3) == 1.0
    wrong = np.array([[1, 1], [0, 0]])
    assert M.mean_iou(wrong, gt, 3) == 0.0 and M.pixel_accuracy(wrong, gt, 3) == 0.0


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError):
        M.confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError):
        M.confusion_matrix(np.array([0, 1, 1]), np.array([0, 1]), 3)


def test_boundary_map_uses_four_neighbours():
    lab = np.zeros((3, 3), int)
    lab[1, 1] = 1
    assert M.boundary_map(lab).astype(int).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def _split(width: int, at: int, h: int = 6) -> np.ndarray:
    m = np.zeros((h, width), int)
    m[:, at:] = 1
    return m


def test_boundary_f_score_by_hand():
    gt = _split(8, 3)  # edge pixels: columns 2 and 3
    assert M.boundary_f_score(gt, gt, tolerance=0) == 1.0
    one_off = _split(8, 4)  # columns 3 and 4: half of each side within 0 px
    assert M.boundary_precision_recall(one_off, gt, 0) == pytest.approx((0.5, 0.5))
    assert M.boundary_f_score(one_off, gt, tolerance=0) == pytest.approx(0.5)
    assert M.boundary_f_score(one_off, gt, tolerance=1) == 1.0
    three_off = _split(8, 6)  # columns 5 and 6: col 5 is 2 px from col 3, col 6 is 3 px
    assert M.boundary_f_score(three_off, gt, tolerance=2) == pytest.approx(0.5)
    assert M.boundary_f_score(three_off, gt, tolerance=1) == 0.0


def test_boundary_f_score_precision_differs_from_recall():
    gt = _split(10, 5)  # 12 edge pixels
    pred = gt.copy()
    pred[2:4, 8] = 2  # a spurious blob adds 2 + 2 + 2 edge pixels far from gt's edge
    p, r = M.boundary_precision_recall(pred, gt, tolerance=1)
    # pred's edge pixels: 12 true ones + the blob's: (2,8),(3,8) and neighbours (2,7),(3,7),
    # (2,9),(3,9),(1,8),(4,8) = 8 more, none within 1 px of columns 4-5
    assert r == 1.0
    assert p == pytest.approx(12 / 20)
    assert M.boundary_f_score(pred, gt, 1) == pytest.approx(2 * 0.6 / 1.6)


def test_boundary_f_score_without_edges():
    flat = np.zeros((4, 4), int)
    assert M.boundary_f_score(flat, flat) == 1.0
    assert M.boundary_f_score(flat, _split(4, 2, 4)) == 0.0
    assert M.boundary_f_score(_split(4, 2, 4), flat) == 0.0


def test_segmentation_scores_over_a_set():
    gt = [_split(8, 3), _split(8, 3)]
    pred = [_split(8, 3), _split(8, 4)]
    s = M.segmentation_scores(pred, gt, 2, tolerance=0)
    # pixels: 96, wrong: the 6 of column 3 in the second pair
    assert s["pixel_accuracy"] == pytest.approx(90 / 96)
    assert s["boundary_f_score"] == pytest.approx((1.0 + 0.5) / 2)
    # class 0: tp 18+18=36 (first 18 + second 24 minus 6 wrong...) computed from the matrix
    cm = M.confusion_matrix(pred[0], gt[0], 2) + M.confusion_matrix(pred[1], gt[1], 2)
    assert cm.tolist() == [[36, 0], [6, 54]]
    assert s["mean_iou"] == pytest.approx((36 / 42 + 54 / 60) / 2)
