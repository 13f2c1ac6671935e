"""Disagreement maps and the held-out evaluation."""

import numpy as np
import pytest

from explorer.errors import UserError
from explorer.segment import compare
from explorer.segment.run import SHIPPED_SEGMENTERS


def _maps(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4, (20, 30)), rng.integers(0, 4, (20, 30)), rng.integers(0, 4, (20, 30))


def test_disagreement_is_symmetric():
    a, b, gt = _maps()
    ab = compare.disagreement(a, b, gt, ("a", "b"))
    ba = compare.disagreement(b, a, gt, ("b", "a"))
    assert (ab.mask == ba.mask).all()
    assert ab.fraction == ba.fraction == pytest.approx(float((a != b).mean()))
    # who was right swaps with the order
    assert (ab.a_right, ab.b_right) == (ba.b_right, ba.a_right)
    assert ab.a_right == int(((a != b) & (a == gt)).sum())


def test_identical_maps_never_disagree():
    a, _, gt = _maps(1)
    d = compare.disagreement(a, a.copy(), gt)
    assert not d.mask.any() and d.fraction == 0.0
    assert d.a_right == d.b_right == 0
    img = compare.disagreement_image(np.full((20, 30, 3), 0.5, np.float32), d, gt, a, a)
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8
    assert (img == img[0, 0]).all()  # plain grey: nothing coloured


def test_disagreement_image_colours_who_is_right():
    gt = np.array([[0, 1, 2]])
    a = np.array([[0, 0, 1]])  # right, wrong, wrong
    b = np.array([[1, 1, 0]])  # wrong, right, wrong
    d = compare.disagreement(a, b, gt)
    img = compare.disagreement_image(np.zeros((1, 3, 3), np.float32), d, gt, a, b)
    col = {k: np.round(np.array(v) * 255).astype(np.uint8)
           for k, v in compare.DISAGREE_COLOURS.items()}
    assert (img[0, 0] == col["first right"]).all()
    assert (img[0, 1] == col["second right"]).all()
    assert (img[0, 2] == col["both wrong"]).all()


def test_disagreement_rejects_different_sizes():
    with pytest.raises(ValueError):
        compare.disagreement(np.zeros((2, 2)), np.zeros((3, 2)))


def test_evaluate_on_held_out_scenes():
    res = compare.evaluate(["fcn-shapes", "unet-shapes"], n=4, batch=2)
    assert list(res) == ["fcn-shapes", "unet-shapes"]
    for r in res.values():
        for key in ("mean_iou", "pixel_accuracy", "boundary_f_score"):
            assert 0.0 <= r[key] <= 1.0
        assert r["scenes"] == 4 and r["seed"] == 2


def test_evaluate_matches_scoring_scene_by_scene():
    from explorer.core.images import load_image
    from explorer.data import shapes
    from explorer.segment import metrics
    from explorer.segment.run import run_segmenters, seg_picture

    nets: dict = {}  # one network object for both (random weights differ between loads)
    res = compare.evaluate(["fcn-dilated-shapes"], n=3, networks=nets)["fcn-dilated-shapes"]
    preds, gts = [], []
    for s in shapes.scene_set(3, shapes.TEST_SEED):
        pic = seg_picture(load_image(s.image, name="s"), s.mask)
        pred = run_segmenters(["fcn-dilated-shapes"], pic, networks=nets)
        preds.append(pred["fcn-dilated-shapes"].classes)
        gts.append(s.mask)
    ref = metrics.segmentation_scores(preds, gts, 6)
    assert res["mean_iou"] == pytest.approx(ref["mean_iou"], abs=1e-6)
    assert res["pixel_accuracy"] == pytest.approx(ref["pixel_accuracy"], abs=1e-6)
    assert res["boundary_f_score"] == pytest.approx(ref["boundary_f_score"], abs=1e-6)


def test_evaluate_refuses_other_label_sets():
    with pytest.raises(UserError, match="cannot be scored on shapes"):
        compare.evaluate(["fcn_resnet50"], n=1)
    with pytest.raises(UserError, match="at least 1"):
        compare.evaluate(list(SHIPPED_SEGMENTERS), n=0)
    with pytest.raises(UserError, match="at most 10,000"):
        compare.evaluate(list(SHIPPED_SEGMENTERS), n=10**12)
    with pytest.raises(UserError, match="seed"):
        compare.evaluate(list(SHIPPED_SEGMENTERS), n=1, seed=-1)
