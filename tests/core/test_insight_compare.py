"""Side by side: a network against itself is identical; against another, layers align."""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from explorer.core.images import Image
from explorer.insight.compare import compare_networks, linear_cka, similarity
from explorer.nets.registry import load_network


def picture():
    a = np.random.default_rng(0).uniform(0, 1, (64, 64, 3)).astype(np.float32)
    return Image(a, "noise", None, "")


def test_linear_cka_properties():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=g)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3 * x @ q) == pytest.approx(1.0)  # rotation and scale invariant
    assert linear_cka(x, torch.randn(50, 8, generator=g)) < 0.5
    cos, cka, rel = similarity(torch.ones(2, 3, 3), -torch.ones(2, 3, 3))
    assert cos == pytest.approx(-1.0) and rel == pytest.approx(2.0)
    assert similarity(torch.ones(4), torch.ones(5)) == (None, None, None)


def test_network_against_itself_and_a_copy_with_other_weights():
    a = load_network("tinyvgg-shapes")
    c = compare_networks(a, a, picture())
    assert c.matched_by == "name"
    assert [p.name_a for p in c.pairs][:3] == ["features.conv1", "features.bn1",
                                                "features.relu1"]
    assert all(p.cosine == pytest.approx(1.0, abs=1e-5) for p in c.pairs)
    assert all(p.rel_change == pytest.approx(0.0, abs=1e-5) for p in c.pairs)
    spatial = [p for p in c.pairs if len(p.shape_a) == 3]
    assert spatial and all(p.cka == pytest.approx(1.0, abs=1e-6) for p in spatial)
    # the same network with its first convolution drawn afresh
    b = dataclasses.replace(a, module=copy.deepcopy(a.module))
    torch.manual_seed(1)
    b.module.features.conv1.reset_parameters()
    c2 = compare_networks(a, b, picture())
    assert c2.pairs[0].name_a == "features.conv1" and c2.pairs[0].cosine < 0.9
    assert c2.pairs[0].rel_change > 0.3


def test_different_architectures_align_by_type():
    c = compare_networks(load_network("lenet5-digits"), load_network("tinyvgg-shapes"),
                         picture())
    assert c.matched_by == "type order"
    assert c.pairs and all(p.type_a == p.type_b for p in c.pairs)
    assert any(p.cka is not None for p in c.pairs)
