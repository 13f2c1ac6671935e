"""Shapes world: same seed, same pixels; masks, labels and boxes agree."""

import numpy as np
import pytest
import torch

from explorer.data import shapes


def test_same_seed_same_scene_and_different_seed_differs():
    a, b = shapes.make_scene(7), shapes.make_scene(7)
    c = shapes.make_scene(8)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.mask, b.mask)
    assert np.array_equal(a.boxes, b.boxes)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)


def test_scene_types_and_ranges():
    s = shapes.make_scene(np.random.default_rng(3), size=(96, 128))
    assert s.image.shape == (96, 128, 3) and s.image.dtype == np.float32
    assert 0.0 <= s.image.min() and s.image.max() <= 1.0
    assert s.mask.shape == (96, 128) and s.mask.dtype == np.int64
    assert s.boxes.dtype == np.float32 and s.boxes.shape == (len(s.labels), 4)
    assert s.labels.dtype == np.int64


@pytest.mark.parametrize("seed", range(12))
def test_mask_matches_labels_and_boxes_hold_the_visible_pixels(seed):
    s = shapes.make_scene(seed)
    h, w = s.mask.shape
    assert 1 <= len(s.labels) <= 4
    assert set(np.unique(s.mask)) - {0} == set(s.labels.tolist())
    assert ((s.labels >= 1) & (s.labels <= 5)).all()
    x1, y1, x2, y2 = s.boxes.T
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= w).all() and (y2 <= h).all()
    assert (x2 > x1).all() and (y2 > y1).all()
    # every pixel of a class lies in some box of that class
    for c in np.unique(s.labels):
        ys, xs = np.nonzero(s.mask == c)
        inside = np.zeros(len(ys), bool)
        for (bx1, by1, bx2, by2), lab in zip(s.boxes, s.labels, strict=True):
            if lab == c:
                inside |= (xs >= bx1) & (xs < bx2) & (ys >= by1) & (ys < by2)
        assert inside.all()


def test_scene_set_is_fixed_and_prefix_stable():
    a = shapes.scene_set(5, shapes.TEST_SEED, size=64)
    b = shapes.scene_set(3, shapes.TEST_SEED, size=64)
    for x, y in zip(a[:3], b, strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.mask, y.mask)
    train = shapes.scene_set(3, shapes.TRAIN_SEED, size=64)
    assert not np.array_equal(train[0].image, a[0].image)
    X, Y = shapes.scenes_to_tensors(a)
    assert X.shape == (5, 3, 64, 64) and Y.shape == (5, 64, 64) and Y.dtype == torch.int64


def test_crops_are_labelled_and_balanced():
    X, y = shapes.classification_set(24, seed=5)
    assert X.shape == (24, 3, 64, 64) and X.dtype == torch.float32
    assert 0 <= float(X.min()) and float(X.max()) <= 1
    assert y.tolist() == [i % 6 for i in range(24)]
    X2, y2 = shapes.classification_set(12, seed=5)
    assert torch.equal(X[:12], X2) and torch.equal(y[:12], y2)
    X3, _ = shapes.classification_set(12, seed=6)
    assert not torch.equal(X2, X3)


def test_crop_of_a_shape_has_it_in_the_middle():
    rng = np.random.default_rng(0)
    for label in range(1, 6):
        img, lab = shapes.make_crop(rng, 64, label=label)
        assert lab == label and img.shape == (64, 64, 3)
    img, lab = shapes.make_crop(1, 32, label=0)
    assert lab == 0 and img.shape == (32, 32, 3)


def test_every_background_kind_draws():
    rng = np.random.default_rng(0)
    for kind in shapes.BACKGROUNDS:
        bg = shapes._background(rng, 16, 20, kind)
        assert bg.shape == (16, 20, 3) and 0 <= bg.min() and bg.max() <= 1
