"""Top dataset patches: for every channel of a layer, the k pictures of a gallery that
excite it most, each cropped to the unit's receptive field (Zeiler and Fergus 2014).

One sweep runs the gallery through the network once. A picture's score for a channel is
the channel's largest value over positions, and the position is kept, so the patch is the
receptive field of the unit that fired. Each picture counts once per channel.

The sweep is a MAP over shards of the gallery (:func:`map_shard`: each shard keeps its own
top k per channel: values, picture index, y, x) and a MERGE of the shards' lists
(:func:`merge`). Ties are broken by picture index, so any split into shards gives exactly
the result of one shard. The same code runs in this process (``engine="local"``) or on a
Ray cluster (``engine="ray"``; Ray is an optional extra, imported only then).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.core.network import Network
from explorer.core.tasks import NullTask, Task, sub_task
from explorer.core.trace import LayerInfo
from explorer.errors import UserError
from explorer.units.common import (
    Cache,
    LayerProbe,
    fit_batch,
    normalise,
    to_rgb,
    unit_layer,
    weights_key,
)
from explorer.units.galleries import Gallery

ENGINES = ("local", "ray")


@dataclass
class ShardTop:
    """The best k pictures per channel of one shard (or of several, merged), best first.
    values (np.float32 [C, k], -inf where fewer than k pictures were seen), index
    (np.int64 [C, k], gallery index, -1 where none), y, x (np.int64 [C, k]: the position of
    the unit that fired in the layer's map); ``count`` pictures seen."""

    values: np.ndarray
    index: np.ndarray
    y: np.ndarray
    x: np.ndarray
    count: int = 0

    @classmethod
    def empty(cls, channels: int, k: int) -> ShardTop:
        return cls(np.full((channels, k), -np.inf, np.float32),
                   np.full((channels, k), -1, np.int64),
                   np.zeros((channels, k), np.int64), np.zeros((channels, k), np.int64), 0)


def _keep_best(values, index, y, x, k: int):
    """Per row, the k entries with the largest value; ties go to the smaller index."""
    rank = np.where(index < 0, np.iinfo(np.int64).max, index)  # empty slots go last
    order = np.lexsort((rank, -values.astype(np.float64)), axis=1)[:, :k]
    return tuple(np.take_along_axis(a, order, axis=1) for a in (values, index, y, x))


def merge(parts: list[ShardTop], k: int = 9) -> ShardTop:
    """The best k per channel of several shards' lists (the MERGE step)."""
    if not parts:
        raise ValueError("nothing to merge")
    v, i, y, x = _keep_best(*(np.concatenate([getattr(p, name) for p in parts], axis=1)
                              for name in ("values", "index", "y", "x")), k)
    return ShardTop(v, i, y, x, sum(p.count for p in parts))


def gallery_batch(network: Network, gallery: Gallery, start: int, stop: int
                  ) -> torch.Tensor:
    """Pictures start..stop-1 fitted to the network: Tensor[N, Cin, H, W] in [0, 1]."""
    got = gallery.load(start, stop)
    if isinstance(got, torch.Tensor):
        return fit_batch(network, got.float())
    return torch.cat([fit_batch(network, t[None].float()) for t in got])


def map_shard(network: Network, layer: str, gallery: Gallery, start: int, stop: int,
              k: int = 9, batch: int = 64, task: Task | None = None) -> ShardTop:
    """The MAP step: the best k pictures per channel among gallery[start:stop].

    ``task.check()`` runs before every batch of `batch` pictures.
    """
    task = task or NullTask()
    probe = LayerProbe(network, layer)
    best: ShardTop | None = None
    for a in range(start, stop, batch):
        task.check()
        b = min(a + batch, stop)
        x = gallery_batch(network, gallery, a, b).to(network.device)
        with torch.inference_mode():
            act = probe(normalise(network, x)).float()
        flat = act.flatten(2) if act.dim() == 4 else act[..., None]
        val, pos = flat.max(2)  # [N, C]: each picture's strongest unit per channel
        val = torch.nan_to_num(val, nan=-np.inf)
        w = act.shape[-1] if act.dim() == 4 else 1
        val, pos = val.T.cpu().numpy(), pos.T.cpu().numpy().astype(np.int64)
        idx = np.broadcast_to(np.arange(a, b, dtype=np.int64), val.shape)
        here = ShardTop(val.astype(np.float32), idx.copy(), pos // w, pos % w, b - a)
        # an empty list of width k first: fewer than k pictures still give k columns
        best = merge([best or ShardTop.empty(val.shape[0], k), here], k)
        task.progress((b - start) / max(1, stop - start), f"pictures {a + 1}-{b}")
    return best or ShardTop.empty(unit_layer(network, layer).channels, k)


@dataclass
class Patch:
    """One of a unit's top pictures: gallery ``index`` and ``source``; ``box`` (x1, y1, x2,
    y2) in the network's input pixels (the picture fitted to the input size), the unit's
    receptive field clipped to the picture; the unit's ``activation`` and (y, x) in the
    layer's map."""

    index: int
    source: str
    box: tuple[int, int, int, int]
    activation: float
    y: int
    x: int

    def as_dict(self) -> dict:
        return {"source": self.source, "index": self.index, "box": list(self.box),
                "activation": self.activation, "unit_yx": [self.y, self.x]}


@dataclass
class TopPatches:
    """Every channel's top k of one sweep (arrays as in :class:`ShardTop`)."""

    layer: str
    info: LayerInfo
    gallery: Gallery
    top: ShardTop
    k: int
    seconds: float
    engine: str = "local"
    cached: bool = False
    input_size: tuple[int, int] = (0, 0)
    _crops: dict = field(default_factory=dict, repr=False)

    def patches(self, channel: int) -> list[Patch]:
        """Channel `channel`'s top pictures, best first (fewer than k for a small
        gallery)."""
        out = []
        for r in range(self.k):
            i = int(self.top.index[channel, r])
            if i < 0:
                break
            y, x = int(self.top.y[channel, r]), int(self.top.x[channel, r])
            out.append(Patch(i, self.gallery.source(i), self.box(y, x),
                             float(self.top.values[channel, r]), y, x))
        return out

    def box(self, y: int, x: int) -> tuple[int, int, int, int]:
        """Unit (y, x)'s receptive field as integer (x1, y1, x2, y2), clipped to the input;
        the whole input for a layer whose units see all of it."""
        h, w = self.input_size
        fb = self.info.field_box(y, x) if self.info.spatial else None
        if fb is None:
            return (0, 0, w, h)
        x1, y1, x2, y2 = fb
        x1, y1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        x2, y2 = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        return (x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))

    def crops(self, network: Network, channel: int) -> list[np.ndarray]:
        """Channel `channel`'s patches as float32 [h, w, 3] in [0, 1] (the receptive
        field cut from the picture as the network saw it)."""
        out = []
        for p in self.patches(channel):
            if p.index not in self._crops:
                pic = gallery_batch(network, self.gallery, p.index, p.index + 1)[0]
                self._crops[p.index] = to_rgb(pic.cpu().numpy())
            x1, y1, x2, y2 = p.box
            out.append(self._crops[p.index][y1:y2, x1:x2].copy())
        return out


def _shards(n: int, shard: int) -> list[tuple[int, int]]:
    return [(a, min(a + shard, n)) for a in range(0, n, shard)]


def top_patches(network: Network, layer: str, gallery: Gallery, *, k: int = 9,
                engine: str = "local", shard: int = 512, batch: int = 64,
                task: Task | None = None, cache_dir=None) -> TopPatches:
    """Sweep `gallery` once and keep every channel's `k` strongest pictures.

    Args:
        layer: a qualified module name whose output is [C, H, W] or [K].
        engine: "local" (shards one after another in this process) or "ray" (shards as
            Ray tasks; uses a running Ray if there is one, else starts a local one).
        shard: pictures per shard; batch: pictures per forward pass.
        cache_dir: folder of the cache (default the unit cache); False: no cache.
    Raises:
        UserError: unknown layer or one without channels, an empty gallery, an unknown
            engine, or Ray asked for but not installed.
        Cancelled: the task was cancelled.
    """
    task = task or NullTask()
    info = unit_layer(network, layer)
    if engine not in ENGINES:
        raise UserError(f"engine {engine!r}: choose {' or '.join(ENGINES)}")
    if len(gallery) == 0:
        raise UserError("the gallery holds no pictures")
    if k < 1:
        raise UserError(f"k must be at least 1, got {k}")
    cache = Cache.at(cache_dir)
    key = {"weights": weights_key(network), "layer": layer, "gallery": gallery.key, "k": k,
           "size": list(network.input_size), "in_channels": network.in_channels,
           "mean": list(network.mean), "std": list(network.std), "version": 1}
    size = tuple(network.input_size)
    hit = cache.load("toppatches", key)
    if hit is not None:
        task.progress(1.0, "top patches (cached)")
        top = ShardTop(hit["values"], hit["index"], hit["y"], hit["x"], int(hit["count"]))
        return TopPatches(layer, info, gallery, top, k, float(hit["seconds"]), engine,
                          True, size)
    t0 = time.perf_counter()
    shards = _shards(len(gallery), shard)
    if engine == "ray":
        top = _sweep_ray(network, layer, gallery, shards, k, batch, task)
    else:
        parts = []
        for j, (a, b) in enumerate(shards):
            part_task = sub_task(task, j / len(shards), (j + 1) / len(shards))
            parts.append(map_shard(network, layer, gallery, a, b, k, batch, part_task))
        top = merge(parts, k)
    seconds = time.perf_counter() - t0
    cache.save("toppatches", key, {"values": top.values, "index": top.index, "y": top.y,
                                   "x": top.x, "count": np.int64(top.count),
                                   "seconds": np.float64(seconds)})
    task.progress(1.0, "top patches done")
    return TopPatches(layer, info, gallery, top, k, seconds, engine, False, size)


def _map_remote(network: Network, layer: str, gallery: Gallery, start: int, stop: int,
                k: int, batch: int) -> ShardTop:
    torch.set_num_threads(1)  # one Ray task per CPU Ray was given
    return map_shard(network, layer, gallery, start, stop, k, batch)


def _sweep_ray(network: Network, layer: str, gallery: Gallery,
               shards: list[tuple[int, int]], k: int, batch: int, task: Task) -> ShardTop:
    try:
        import ray
    except ImportError:
        raise UserError("engine 'ray' needs Ray: pip install 'cnn-explorer[ray]'") from None
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    shipped = network
    if network.device.type != "cpu":  # Ray's workers get the CPU copy
        shipped = copy.copy(network)
        shipped.module = copy.deepcopy(network.module).cpu()
        shipped.device = torch.device("cpu")
    net_ref = ray.put(shipped)
    remote = ray.remote(_map_remote)
    pending = [remote.remote(net_ref, layer, gallery, a, b, k, batch) for a, b in shards]
    parts: list[ShardTop] = []
    try:
        while pending:
            task.check()
            done, pending = ray.wait(pending, num_returns=1, timeout=0.25)
            parts += ray.get(done)
            task.progress(len(parts) / len(shards), f"shards {len(parts)}/{len(shards)}")
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return merge(parts, k)
