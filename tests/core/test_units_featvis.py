"""Feature visualisation (explorer.units.featvis): each channel's picture excites that
channel more than any gallery picture and more than the other channels' pictures; grey
networks; cancel; cache; ImageNet-sized networks."""

import numpy as np
import pytest
import torch
from torch import nn

from explorer.core.network import Network
from explorer.core.tasks import FlagTask, NullTask
from explorer.errors import Cancelled, UserError
from explorer.nets.registry import load_network
from explorer.units import featvis
from explorer.units.common import LayerProbe, channel_means, normalise, unit_layer
from explorer.units.featvis import FeatureVis, Settings, visualise
from explorer.units.galleries import ShapesGallery


@pytest.fixture(autouse=True)
def one_thread():
    # a busy machine with two threads per process spends its time waiting on barriers
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tinyvgg():
    return load_network("tinyvgg-shapes")


def _means(net, layer, pixels) -> np.ndarray:
    """[picture, channel] mean activation."""
    with torch.no_grad():
        x = torch.as_tensor(pixels)
        return channel_means(LayerProbe(net, layer)(normalise(net, x))).float().numpy()


@pytest.mark.slow
@pytest.mark.parametrize("layer, channels", [("features.relu4", 32), ("features.relu6", 64)])
def test_mid_layer_channels_prefer_their_own_visualisation(tinyvgg, tmp_path, layer,
                                                           channels):
    """features.relu4 (32 channels, 32x32 maps, receptive field 14 px) and relu6 (64, 16x16,
    32 px), each optimised as a 32-px tile until the polish: for at least 90 % of the
    channels, the channel's mean activation on its own picture beats its best on 600
    shapes crops (so also the picture holding its best patch) AND its activation on every
    other channel's picture."""
    fv = visualise(tinyvgg, layer, steps=256, cache_dir=tmp_path)
    assert fv.pixels.shape == (channels, 3, 64, 64) and fv.channels == list(range(channels))
    crops = ShapesGallery(600, seed=11).load(0, 600)
    gallery_best = _means(tinyvgg, layer, crops).max(0)
    cross = _means(tinyvgg, layer, fv.pixels)  # row: picture of channel i
    own = np.diag(cross)
    np.testing.assert_allclose(own, fv.activations, rtol=1e-4, atol=1e-5)
    others = np.array([np.delete(cross[:, c], c).max() for c in range(channels)])
    beats_gallery = own > gallery_best
    beats_others = own > others
    ok = beats_gallery & beats_others
    assert ok.mean() >= 0.9, (np.nonzero(~ok)[0], own[~ok], gallery_best[~ok], others[~ok])
    # the picture is seamless: its tiles repeat exactly (the Fourier basis is periodic)
    # and the polish may refine each copy; no copy differs much from the others
    tile = fv.pixels[..., :32, :32]
    assert np.abs(fv.pixels[..., 32:, 32:] - tile).mean() < 0.1


def test_lenet_gets_one_grey_channel():
    net = load_network("lenet5-digits")
    fv = visualise(net, "conv2", steps=48, cache_dir=False)
    assert fv.pixels.shape == (16, 1, 32, 32)
    assert fv.pixels.min() >= 0 and fv.pixels.max() <= 1
    rgb = fv.images
    assert rgb.shape == (16, 32, 32, 3)
    assert np.array_equal(rgb[..., 0], rgb[..., 2])
    grey = _means(net, "conv2", np.full((1, 1, 32, 32), 0.5, np.float32))[0]
    own = np.diag(_means(net, "conv2", fv.pixels))
    assert (own > grey + 0.5).mean() >= 0.9, (own, grey)


class _StopAfter:
    """A task whose check() raises Cancelled from call n + 1 on."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def progress(self, fraction, message=""):
        pass

    def check(self):
        self.calls += 1
        if self.calls > self.n:
            raise Cancelled


def test_cancel_stops_within_one_step(tinyvgg, monkeypatch):
    steps = []
    real = LayerProbe.__call__

    def counted(self, x):
        if x.requires_grad:  # an optimisation step (the exchange scores without grad)
            steps.append(1)
        return real(self, x)

    monkeypatch.setattr(LayerProbe, "__call__", counted)
    with pytest.raises(Cancelled):
        visualise(tinyvgg, "features.relu2", [0, 1, 2], steps=200, task=_StopAfter(5),
                  cache_dir=False)
    assert 5 <= len(steps) <= 6


def test_cache_hit_returns_the_same_arrays_without_work(tinyvgg, tmp_path):
    first = visualise(tinyvgg, "features.relu2", [3, 1], steps=8, cache_dir=tmp_path)
    assert not first.cached and list((tmp_path / "featvis").glob("*.npz"))
    task = FlagTask()
    again = visualise(tinyvgg, "features.relu2", [3, 1], steps=8, cache_dir=tmp_path,
                      task=task)
    assert again.cached and task.checks == 0
    assert np.array_equal(again.pixels, first.pixels)
    assert np.array_equal(again.activations, first.activations)
    # other channels, other steps or other weights are other entries
    assert not visualise(tinyvgg, "features.relu2", [1, 3], steps=8,
                         cache_dir=tmp_path).cached
    changed = load_network("tinyvgg-shapes")
    with torch.no_grad():
        changed.module.features.conv1.weight.mul_(1.01)
    assert not visualise(changed, "features.relu2", [3, 1], steps=8,
                         cache_dir=tmp_path).cached


def test_env_variable_moves_the_cache(tinyvgg, tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "elsewhere"))
    visualise(tinyvgg, "features.relu1", [0], steps=2)
    assert list((tmp_path / "elsewhere" / "units" / "featvis").glob("*.npz"))


@pytest.mark.parametrize("name, layer", [("resnet18", "layer2"),
                                         ("squeezenet1_1", "features.3")])
def test_imagenet_networks_at_224(name, layer):
    net = load_network(name)  # random weights: only the shapes and the plumbing matter
    fv = visualise(net, layer, [0, 5], steps=3, cache_dir=False)
    assert fv.pixels.shape == (2, 3, 224, 224) and np.isfinite(fv.activations).all()


def test_big_layers_go_in_batches(tinyvgg):
    fv = visualise(tinyvgg, "features.relu1", steps=2, batch_size=5, cache_dir=False)
    assert fv.pixels.shape == (16, 3, 64, 64) and len(fv.activations) == 16


def test_bad_layers_and_channels(tinyvgg):
    with pytest.raises(UserError, match="no layer"):
        visualise(tinyvgg, "features.nope", steps=2, cache_dir=False)
    with pytest.raises(UserError, match="out of range"):
        visualise(tinyvgg, "features.relu1", [16], steps=2, cache_dir=False)
    with pytest.raises(UserError, match="out of range"):
        visualise(tinyvgg, "features.relu1", [-1], steps=2, cache_dir=False)
    flat = Network(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(2)), "flat", "classify",
                   (8, 8))
    with pytest.raises(UserError, match="no channels"):
        unit_layer(flat, "1")


def test_settings_reach_the_optimiser(tinyvgg):
    # a linear layer's units work too: here the classifier's six scores
    fv = visualise(tinyvgg, "classifier.fc2", steps=24, settings=Settings(lr=0.1),
                   cache_dir=False, task=NullTask())
    assert isinstance(fv, FeatureVis) and fv.pixels.shape == (6, 3, 64, 64)
    grey = _means(tinyvgg, "classifier.fc2", np.full((1, 3, 64, 64), 0.5, np.float32))[0]
    assert (fv.activations > grey).all()
    assert featvis.resolve_precision("float32", torch.device("cpu")) == "float32"


def test_a_tile_only_where_the_field_fits_and_a_map_remains(tinyvgg):
    """tile_side: relu4 (field 14 px) and relu6 (32 px) of the 64-px tinyvgg get a 32-px
    tile; pool3 (36 px) does not; LeNet-5's conv1 (5 px) gets a 16-px tile, its conv2
    (14 px, but only 2x2 units on 16 px without padding) does not."""
    from explorer.units.common import fused_twin, unit_layer
    from explorer.units.featvis import tile_side

    def tile(net, layer):
        twin = fused_twin(net, layer, None)
        return tile_side(twin, LayerProbe(twin, layer, pre_activation=True), 2,
                         unit_layer(net, layer))

    assert tile(tinyvgg, "features.relu4") == (32, 32)
    assert tile(tinyvgg, "features.relu6") == (32, 32)
    assert tile(tinyvgg, "features.pool3") is None
    lenet = load_network("lenet5-digits")
    assert tile(lenet, "conv1") == (16, 16) and tile(lenet, "conv2") is None
