"""Top dataset patches (explorer.units.toppatches): map over shards + merge equals one
shard, patches are receptive fields, cache, cancel, galleries, and Ray when present."""

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer.core.tasks import FlagTask
from explorer.errors import Cancelled, UserError
from explorer.nets.registry import load_network
from explorer.units.common import LayerProbe, normalise
from explorer.units.galleries import (
    DigitsGallery,
    ShapesGallery,
    TensorGallery,
    gallery_from_spec,
)
from explorer.units.toppatches import gallery_batch, map_shard, merge, top_patches

LAYER = "features.relu4"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def net():
    return load_network("tinyvgg-shapes")


@pytest.fixture(scope="module")
def crops():
    # a few exact duplicates, so ties between pictures are exercised too
    x = ShapesGallery(150, seed=3).load(0, 150)
    x[100:105] = x[10:15]
    return TensorGallery(x, "crops")


def _same(a, b):
    for name in ("values", "index", "y", "x"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_map_merge_over_shards_equals_one_shard(net, crops):
    one = top_patches(net, LAYER, crops, shard=10_000, cache_dir=False)
    many = top_patches(net, LAYER, crops, shard=37, batch=10, cache_dir=False)
    _same(one.top, many.top)
    assert one.top.count == many.top.count == 150
    # the merge does not care about the order the shards come back in (Ray's)
    parts = [map_shard(net, LAYER, crops, a, min(a + 23, 150), 9, 16)
             for a in range(0, 150, 23)]
    _same(merge(parts[::-1], 9), one.top)
    # a duplicate ties with its original; the smaller picture index comes first
    for row in one.top.index:
        ranks = {int(i): r for r, i in enumerate(row)}
        for twin in range(100, 105):
            if twin in ranks:
                assert ranks.get(twin - 90, 99) < ranks[twin], row


def test_top_values_are_the_units_and_patches_their_receptive_fields(net, crops):
    tp = top_patches(net, LAYER, crops, cache_dir=False)
    assert tp.top.values.shape == (32, 9)
    assert (np.diff(tp.top.values, axis=1) <= 0).all()  # best first
    x = gallery_batch(net, crops, 0, len(crops))
    with torch.no_grad():
        act = LayerProbe(net, LAYER)(normalise(net, x)).numpy()
    for c in (0, 7, 31):
        best = act[:, c].reshape(len(crops), -1).max(1)
        np.testing.assert_allclose(tp.top.values[c], np.sort(best)[::-1][:9], rtol=1e-5)
        for p, crop in zip(tp.patches(c), tp.crops(net, c)):
            assert act[p.index, c, p.y, p.x] == pytest.approx(p.activation, rel=1e-5)
            x1, y1, x2, y2 = p.box
            assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
            assert crop.shape == (y2 - y1, x2 - x1, 3)
            # relu4's field is 14 px; only units near the border are clipped
            if 4 <= p.y < 28 and 4 <= p.x < 28:
                assert (x2 - x1, y2 - y1) == (14, 14)
            assert p.source == f"crops {p.index}"


def test_linear_units_get_the_whole_picture(net, crops):
    tp = top_patches(net, "classifier.fc2", crops, k=3, cache_dir=False)
    assert tp.top.values.shape == (6, 3)
    assert all(p.box == (0, 0, 64, 64) for p in tp.patches(2))


def test_cache_hit_does_no_work(net, crops, tmp_path):
    first = top_patches(net, LAYER, crops, cache_dir=tmp_path)
    task = FlagTask()
    again = top_patches(net, LAYER, crops, cache_dir=tmp_path, task=task)
    assert again.cached and not first.cached and task.checks == 0
    _same(first.top, again.top)
    other = TensorGallery(crops.x[:50], "crops")
    assert not top_patches(net, LAYER, other, cache_dir=tmp_path).cached


def test_cancel_stops_within_one_batch(net, crops, monkeypatch):
    batches = []
    real = LayerProbe.__call__
    monkeypatch.setattr(LayerProbe, "__call__",
                        lambda self, x: batches.append(1) or real(self, x))
    task = FlagTask()
    calls = {"n": 0}

    def check():
        calls["n"] += 1
        if calls["n"] > 3:
            raise Cancelled

    task.check = check
    with pytest.raises(Cancelled):
        top_patches(net, LAYER, crops, batch=10, cache_dir=False, task=task)
    assert len(batches) <= 3


def test_galleries(tmp_path):
    assert len(gallery_from_spec("shapes:12")) == 12
    assert len(gallery_from_spec("digits")) == 360
    assert len(gallery_from_spec("samples")) == 9
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        gallery_from_spec(str(tmp_path / "empty"))
    (tmp_path / "note.txt").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        gallery_from_spec(str(tmp_path / "note.txt"))
    with pytest.raises(UserError, match="no such folder"):
        gallery_from_spec(str(tmp_path / "missing"))
    with pytest.raises(UserError, match="shapes:N"):
        gallery_from_spec("shapes:lots")
    pics = tmp_path / "pics"
    pics.mkdir()
    rng = np.random.default_rng(0)
    for i, size in enumerate([(40, 60), (80, 50)]):
        PILImage.fromarray(rng.integers(0, 255, (*size, 3), np.uint8)).save(pics / f"{i}.png")
    (pics / "readme.md").write_text("not a picture")
    g = gallery_from_spec(str(pics))
    assert len(g) == 2 and g.source(1).endswith("1.png")


def test_folder_and_digits_galleries_run(tmp_path):
    lenet = load_network("lenet5-digits")
    tp = top_patches(lenet, "conv2", DigitsGallery(), k=9, cache_dir=False)
    assert tp.top.values.shape == (16, 9) and tp.top.count == 360
    assert tp.crops(lenet, 0)[0].shape[-1] == 3
    pics = tmp_path / "pics"
    pics.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        PILImage.fromarray(rng.integers(0, 255, (50 + 10 * i, 70, 3), np.uint8)).save(
            pics / f"{i}.jpg")
    tp = top_patches(lenet, "conv1", gallery_from_spec(str(pics)), cache_dir=False)
    assert tp.top.count == 3 and (tp.top.index[:, 3:] == -1).all()  # fewer than k
    assert len(tp.patches(0)) == 3


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed")
def test_ray_engine_equals_local(net, crops, monkeypatch):
    import socket

    import ray

    # Ray talks to its own processes on this machine; the suite's offline guard refuses
    # every connect, so lift it for this test only (nothing leaves the machine)
    monkeypatch.delattr(socket.socket, "connect", raising=False)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        local = top_patches(net, LAYER, crops, shard=40, cache_dir=False)
        remote = top_patches(net, LAYER, crops, shard=40, engine="ray", cache_dir=False)
        _same(local.top, remote.top)
        assert remote.engine == "ray"
    finally:
        ray.shutdown()


def test_bad_requests(net, crops):
    with pytest.raises(UserError, match="engine"):
        top_patches(net, LAYER, crops, engine="spark", cache_dir=False)
    with pytest.raises(UserError, match="no pictures"):
        top_patches(net, LAYER, TensorGallery(crops.x[:0]), cache_dir=False)
    with pytest.raises(UserError, match="no layer"):
        top_patches(net, "nope", crops, cache_dir=False)


def test_probe_leaves_other_threads_passes_alone():
    """While a probe's hook sits on a shared module, another thread's full pass through
    that module runs to its end (the window traces while a sweep runs)."""
    import threading

    from torch import nn

    from explorer.core.network import Network

    got = {}

    class Spawner(nn.Module):
        def forward(self, x):
            if threading.current_thread() is threading.main_thread():
                def other():
                    try:
                        got["out"] = net.module(x)
                    except BaseException as exc:  # noqa: BLE001
                        got["error"] = exc
                t = threading.Thread(target=other)
                t.start()
                t.join()
            return x

    torch.manual_seed(0)
    module = nn.Sequential(Spawner(), nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3))
    net = Network(module.eval(), "spawner", "classify", (8, 8))
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        probe = LayerProbe(net, "1")
        got.clear()
        act = probe(x)
    assert "error" not in got and got["out"].shape == (1, 2, 4, 4)
    assert act.shape == (1, 4, 6, 6)
