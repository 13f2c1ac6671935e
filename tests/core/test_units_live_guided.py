"""Guided backpropagation for the live view: the same map as Captum's GuidedBackprop (the
unit card's ``guided`` view), from a private copy, so the network itself is never hooked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.app.networks import load_network
from explorer.errors import UserError
from explorer.units.backward import backward_views
from explorer.units.live_guided import LiveGuided


@pytest.fixture(scope="module")
def tinyvgg():
    return load_network("tinyvgg-shapes", device="cpu")


@pytest.mark.parametrize("layer", ["features.relu2", "features.relu4", "features.conv5",
                                   "features"])
def test_equals_captums_guided_backprop(tinyvgg, layer):
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 64)
    live = LiveGuided(tinyvgg, layer, channel=3)
    got, channel = live(x)
    want = backward_views(tinyvgg, x, layer, 3, views=["guided"])["guided"].map
    assert channel == 3 and got.shape == (64, 64)
    assert want.max() > 0
    # the copy folds batch norms into the convolutions: equal up to rounding
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * float(want.max()))


def test_follows_the_strongest_channel_and_leaves_the_network_alone(tinyvgg):
    from explorer.units.common import LayerProbe, channel_means

    x = torch.rand(1, 3, 128, 128)  # a frame larger than the training crops
    live = LiveGuided(tinyvgg, "features.relu6")
    before = {k: v.clone() for k, v in tinyvgg.module.state_dict().items()}
    hooks = sum(len(m._forward_hooks) + len(m._backward_hooks)
                for m in tinyvgg.module.modules())
    got, channel = live(x)
    with torch.no_grad():
        means = channel_means(LayerProbe(tinyvgg, "features.relu6")(x))[0]
    assert channel == int(means.argmax())
    assert got.shape == (128, 128) and np.isfinite(got).all() and got.max() > 0
    # guided: a positive-only rule gives a sparser map than the plain gradient
    plain = backward_views(tinyvgg, x, "features.relu6", channel, views=["gradient"])
    assert (got > 0).mean() <= (plain["gradient"].map > 0).mean()
    after = tinyvgg.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert hooks == sum(len(m._forward_hooks) + len(m._backward_hooks)
                        for m in tinyvgg.module.modules())
    assert all(p.grad is None for p in tinyvgg.module.parameters())


def test_bad_channel_and_layer_are_one_sentence(tinyvgg):
    with pytest.raises(UserError, match="out of range"):
        LiveGuided(tinyvgg, "features.relu6", channel=64)
    with pytest.raises(UserError, match="no layer"):
        LiveGuided(tinyvgg, "features.nope")
