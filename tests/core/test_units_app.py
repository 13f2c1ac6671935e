"""explorer.app.units: the use cases both faces call (checks before work, the learned
hierarchy's layers and channels)."""

from __future__ import annotations

import pytest
import torch

from explorer.app import units
from explorer.app.networks import load_network
from explorer.errors import UserError


@pytest.fixture(scope="module")
def tinyvgg():
    return load_network("tinyvgg-shapes", device="cpu")


@pytest.mark.parametrize("steps, words", [(0, "at least 1"), (-3, "at least 1"),
                                          (10**6, "more than"), (2.5, "whole number"),
                                          (True, "whole number")])
def test_bad_steps_are_one_sentence(steps, words):
    with pytest.raises(UserError, match=words):
        units.check_steps(steps)


def test_galleries_are_checked_before_work(tmp_path, tinyvgg):
    assert units.open_gallery(None, tinyvgg).key.startswith("shapes:")
    assert units.open_gallery("digits").key == "digits:test"
    with pytest.raises(UserError, match="no such folder"):
        units.open_gallery(str(tmp_path / "missing"))
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(UserError, match="holds no images"):
        units.open_gallery(str(tmp_path))
    with pytest.raises(UserError, match="shapes:N"):
        units.open_gallery("shapes:lots")


def test_hierarchy_layers_are_each_convolutions_activation(tinyvgg):
    assert units.hierarchy_layers(tinyvgg) == [f"features.relu{i}" for i in range(1, 7)]
    resnet = load_network("resnet18", device="cpu")
    names = units.hierarchy_layers(resnet)
    # resnet18: the stem, then two convolutions per block (the second's ReLU is the
    # block's shared module, called after the sum: the convolution itself is shown)
    assert names[0] == "relu" and len(names) == 20


def test_distinct_channels_skip_near_copies():
    torch.manual_seed(0)
    base = torch.rand(64, 1)
    # channel 0 strongest; 1 is a scaled copy of 0; 2 and 3 respond on their own
    means = torch.cat([base * 3, base * 2.9, torch.rand(64, 1), torch.rand(64, 1) * 0.5], 1)
    assert units.distinct_channels(means, 2) == [0, 2]
    # asked for more than there are distinct ones: the strongest of the rest fill up
    assert sorted(units.distinct_channels(means, 4)) == [0, 1, 2, 3]


def test_learned_hierarchy_grows_its_fields(tinyvgg, tmp_path):
    layers = units.learned_hierarchy(tinyvgg, per_layer=2, steps=4, sample=32,
                                     cache_dir=tmp_path)
    assert [lay.layer for lay in layers] == [f"features.relu{i}" for i in range(1, 7)]
    assert [lay.field for lay in layers] == [3, 5, 10, 14, 24, 32]
    for lay in layers:
        assert len(set(lay.channels)) == 2
        assert lay.visualisation.pixels.shape == (2, 3, 64, 64)
        assert lay.visualisation.channels == lay.channels
    with pytest.raises(UserError, match="at least one"):
        units.learned_hierarchy(tinyvgg, per_layer=0, steps=4)


def test_strongest_units_are_where_each_channel_peaks(tinyvgg):
    from explorer.app.pictures import open_picture
    from explorer.core.network import preprocess

    image = open_picture("sample:shapes")
    at = units.strongest_units(tinyvgg, image, "features.relu4")
    assert at.shape == (32, 2)
    from explorer.units.common import LayerProbe

    with torch.no_grad():
        act = LayerProbe(tinyvgg, "features.relu4")(preprocess(tinyvgg, image))[0]
    for c in (0, 7, 31):
        y, x = at[c]
        assert act[c, y, x] == act[c].max()
    assert units.strongest_units(tinyvgg, image, "classifier.fc1") is None
