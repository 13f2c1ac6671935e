"""Nearest neighbours in the last hidden layer: sorted, the image itself first, cached."""

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer.core.tasks import FlagTask
from explorer.errors import Cancelled, UserError
from explorer.insight import neighbours as nb
from explorer.insight.gallery import folder_gallery, get_gallery
from explorer.nets.registry import load_network


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))
    nb.clear_memory()
    yield
    nb.clear_memory()


@pytest.fixture
def folder(tmp_path):
    """Ten 40x40 pictures in two class folders: stripes and blobs of different colours."""
    rng = np.random.default_rng(0)
    for cls in ("stripes", "blobs"):
        (tmp_path / "g" / cls).mkdir(parents=True)
        for i in range(5):
            a = rng.uniform(0, 1, (40, 40, 3))
            if cls == "stripes":
                a[:, ::4] = rng.uniform(0, 1, 3)
            PILImage.fromarray((a * 255).astype(np.uint8)).save(
                tmp_path / "g" / cls / f"{i}.png")
    (tmp_path / "g" / "notes.txt").write_text("not an image")
    return tmp_path / "g"


def test_six_sorted_and_the_image_itself_at_zero(folder):
    net = load_network("tinyvgg-shapes")
    g = folder_gallery(folder)
    assert len(g) == 10 and g.classes == ["blobs", "stripes"]
    r = nb.nearest_neighbours(net, g.image(7), g, k=6)
    d = [n.distance for n in r.neighbours]
    assert len(d) == 6 and d == sorted(d)
    assert r.neighbours[0].index == 7 and d[0] < 1e-4
    assert d[1] > 1e-3  # the others are other pictures
    assert r.layer == "classifier.fc2" and r.query.shape == (128,)
    assert r.neighbours[0].label == "stripes" and r.neighbours[0].name == "2.png"
    assert r.neighbours[0].picture.shape == (40, 40, 3)
    # distances are plain Euclidean distances between last-hidden-layer vectors
    feats = nb.gallery_features(net, g).features
    assert d[1] == pytest.approx(float((r.query - feats[r.neighbours[1].index]).norm()),
                                 rel=1e-4)


def test_features_cached_in_memory_and_on_disk(folder, tmp_path):
    net = load_network("tinyvgg-shapes")
    g = folder_gallery(folder)
    seen = []
    first = nb.gallery_features(net, g, batch_size=4,
                                task=FlagTask(lambda f, m: seen.append(f)))
    assert first.source == "computed" and seen == [0.0, 0.4, 0.8, 1.0]
    assert len(list((tmp_path / "cache" / "neighbours").glob("*.pt"))) == 1
    assert nb.gallery_features(net, g).source == "memory"
    nb.clear_memory()
    again = nb.gallery_features(net, g)
    assert again.source == "disk" and torch.equal(again.features, first.features)
    # other weights: another key, computed afresh
    with torch.no_grad():
        net.module.classifier.fc1.weight.mul_(2)
    assert nb.gallery_features(net, g).source == "computed"
    assert len(list((tmp_path / "cache" / "neighbours").glob("*.pt"))) == 2


def test_cancel_and_bad_input(folder, tmp_path):
    net = load_network("tinyvgg-shapes")
    task = FlagTask()
    task.cancel()
    with pytest.raises(Cancelled):
        nb.gallery_features(net, folder_gallery(folder), batch_size=2, task=task)
    assert not (tmp_path / "cache" / "neighbours").exists()
    with pytest.raises(UserError, match="no such folder"):
        get_gallery(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        get_gallery(tmp_path / "empty")
    g = folder_gallery(folder)
    with pytest.raises(UserError, match="at least 1"):
        nb.nearest_neighbours(net, g.image(0), g, k=0)
    assert len(nb.nearest_neighbours(net, g.image(0), g, k=50).neighbours) == 10
    with pytest.raises(UserError, match="classifier"):
        nb.nearest_neighbours(load_network("fcn-shapes"), g.image(0), g)


def test_digits_gallery_with_lenet():
    net = load_network("lenet5-digits")
    g = get_gallery("digits")
    assert len(g) == 1437 and g.pixels.shape == (1437, 32, 32, 3)
    r = nb.nearest_neighbours(net, g.image(100), "digits", use_disk=False)
    assert r.layer == "fc2" and r.query.shape == (84,)
    assert r.neighbours[0].index == 100 and r.neighbours[0].distance < 1e-4
