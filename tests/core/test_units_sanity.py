"""Adebayo et al.'s model-parameter randomisation (explorer.units.sanity): as the trained
layers are replaced by random ones from the top down, the saliency and Grad-CAM maps
drift away from the originals."""

import numpy as np
import pytest
import torch

from explorer.data.samples import load_sample
from explorer.errors import UserError
from explorer.nets.registry import load_network
from explorer.units.sanity import (
    learnable_layers,
    output_layer,
    parameter_randomisation,
    spearman,
    ssim,
)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_correlations_fall_as_layers_are_randomised():
    net = load_network("tinyvgg-shapes")
    before = {k: v.clone() for k, v in net.module.state_dict().items()}
    r = parameter_randomisation(net, load_sample("shape-crop"), view="gradient")
    assert r.class_name == "star" and r.output_layer == "classifier.fc2"
    assert [len(s.layers) for s in r.steps] == list(range(9))  # original + 8 layers
    assert r.steps[1].randomised == "classifier.fc2"
    assert r.steps[-1].randomised == "features.conv1"
    first = r.steps[0]
    assert first.saliency_spearman == pytest.approx(1) and first.cam_ssim == pytest.approx(1)
    sal = np.array([s.saliency_spearman for s in r.steps])
    cam = np.array([s.cam_spearman for s in r.steps])
    assert sal[1:].max() < 0.9 and cam[1:].max() < 0.9
    # the more layers are random, the less the maps keep of the original
    assert sal[-1] < sal[1] and sal[-3:].mean() < sal[1:4].mean()
    assert sal[-1] < 0.5 and cam[-1] < 0.5
    # Adebayo et al.'s finding: guided backprop hardly notices a random classifier (it
    # shows edges of the picture), the plain gradient does; both fall in the end
    guided = parameter_randomisation(net, load_sample("shape-crop"), view="guided",
                                     layers=r.steps[-1].layers)
    g = np.array([s.saliency_spearman for s in guided.steps])
    assert g[1] > 0.8 > sal[1] and g[-1] < 0.5
    assert np.corrcoef(np.arange(1, 9), g[1:])[0, 1] < -0.9  # falls step after step
    assert np.array([s.saliency_ssim for s in r.steps])[-1] < 0.5
    for s in r.steps:
        assert s.saliency.shape == (64, 64) and s.cam.shape == (64, 64)
    # the network itself is untouched (a copy was randomised)
    after = net.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    data = r.as_dict()
    assert len(data["steps"]) == 9 and data["steps"][0]["randomised"] == ""


def test_lenet_in_one_pass_with_chosen_layers():
    net = load_network("lenet5-digits")
    assert learnable_layers(net.module) == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert output_layer(net) == "fc2"
    r = parameter_randomisation(net, load_sample("digit"), layers=["fc2", "fc1"], seed=3)
    assert [s.randomised for s in r.steps] == ["", "fc2", "fc1"]
    assert r.steps[2].saliency_spearman < 1
    with pytest.raises(UserError, match="not a learnable layer"):
        parameter_randomisation(net, load_sample("digit"), layers=["tanh1"])
    with pytest.raises(UserError, match="unknown view"):
        parameter_randomisation(net, load_sample("digit"), view="magic")


def test_measures():
    rng = np.random.default_rng(0)
    a = rng.random((16, 16))
    assert spearman(a, a) == pytest.approx(1) and spearman(a, -a) == pytest.approx(-1)
    assert spearman(a, np.zeros_like(a)) == 0.0
    assert ssim(a, a) == pytest.approx(1) and ssim(a, rng.random((16, 16))) < 0.5
    assert ssim(a[:5, :5], a[:5, :5]) == pytest.approx(1)  # smaller than SSIM's window
