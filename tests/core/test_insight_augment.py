"""Augmentation preview: the identity does not move, the others do, pictures are right."""

import numpy as np
import pytest
import torch

from explorer.core.images import Image
from explorer.errors import UserError
from explorer.insight.augment import VARIANT_NAMES, augment_preview
from explorer.nets.registry import load_network


def picture(seed=0, grey=False):
    a = np.random.default_rng(seed).uniform(0, 1, (64, 64, 1 if grey else 3))
    if grey:
        a = np.repeat(a, 3, axis=2)
    return Image(a.astype(np.float32), "noise", None, "")


def test_identity_is_zero_and_every_variant_is_there():
    torch.manual_seed(0)
    net = load_network("tinyvgg-shapes")
    r = augment_preview(net, picture())
    assert [v.name for v in r.variants] == VARIANT_NAMES
    orig = r.variants[0]
    assert orig.name == "original" and orig.distance == 0.0
    assert r.layer == "features" and r.layer_shape == (64, 8, 8)
    moved = {v.name: v.distance for v in r.variants[1:]}
    assert min(moved.values()) > 1e-3  # noise changes under every variant
    assert all(v.picture.shape == (64, 64, 3) for v in r.variants)
    by = {v.name: v for v in r.variants}
    np.testing.assert_allclose(by["flip left-right"].picture, orig.picture[:, ::-1])
    np.testing.assert_allclose(by["rotate 90°"].picture,
                               np.rot90(orig.picture, 1, axes=(0, 1)), atol=1e-6)
    np.testing.assert_allclose(by["inverted"].picture, 1 - orig.picture, atol=1e-6)
    assert orig.original_class_probability == pytest.approx(orig.probability)


def test_colour_changes_are_invisible_to_a_grey_network():
    net = load_network("lenet5-digits")
    r = augment_preview(net, picture(1, grey=True), layer="conv1",
                        variants=["grey", "hue shift", "darker"])
    d = {v.name: v.distance for v in r.variants}
    assert list(d) == ["original", "grey", "hue shift", "darker"]
    # grey in, grey out (torchvision weighs R, G, B 0.2989, 0.587, 0.114: not quite 1)
    assert d["grey"] < 1e-3 and d["hue shift"] < 1e-3
    assert d["darker"] > 0.05


def test_vector_layers_and_errors():
    net = load_network("lenet5-digits")
    r = augment_preview(net, picture(), layer="fc1", variants=["flip up-down"])
    assert r.layer_shape == (84,) and r.variants[1].distance > 0
    with pytest.raises(UserError, match="unknown variant"):
        augment_preview(net, picture(), variants=["sepia"])
    with pytest.raises(UserError, match="no layer"):
        augment_preview(net, picture(), layer="conv7")
