"""Nearest neighbours in the last hidden layer, as in the first figure of the AlexNet paper:
the gallery pictures whose last-hidden-layer vectors lie closest (Euclidean) to the
current image's. Pictures far apart in pixels end up close when the network sees them alike.

The last hidden layer is the input of the final Linear layer, caught by a forward pre-hook.
Gallery features are computed once per (weights, gallery) in batches, kept in memory and in
``cache_dir()/neighbours/*.pt`` (keyed by a hash of the weights and of the file list).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.core.images import Image
from explorer.core.network import Network, preprocess
from explorer.core.tasks import NullTask, Task
from explorer.errors import UserError
from explorer.insight import settings
from explorer.insight.cache import cache_dir, weights_hash
from explorer.insight.gallery import Gallery, get_gallery
from explorer.insight.inputs import batch_input
from explorer.insight.layers import final_linear, require_classifier


@dataclass
class GalleryFeatures:
    """features (Tensor[N, D] float32, CPU), one row per gallery item."""

    gallery: Gallery
    layer: str
    features: torch.Tensor
    seconds: float
    #: "computed", "memory" or "disk"
    source: str = "computed"


@dataclass
class Neighbour:
    index: int
    distance: float
    label: str
    name: str
    picture: np.ndarray  # np.float32 [H, W, 3] in [0, 1], the gallery item as stored


@dataclass
class NeighbourResult:
    query: torch.Tensor  # Tensor[D], the image's last-hidden-layer vector
    layer: str
    neighbours: list[Neighbour]
    gallery: str
    gallery_size: int
    prediction: str
    seconds: float
    features_cached: bool

    def as_dict(self) -> dict:
        return {"layer": self.layer, "dim": int(self.query.numel()), "gallery": self.gallery,
                "gallery_size": self.gallery_size, "prediction": self.prediction,
                "seconds": self.seconds, "features_cached": self.features_cached,
                "neighbours": [{"index": n.index, "distance": n.distance, "label": n.label,
                                "name": n.name} for n in self.neighbours]}


_MEMORY: dict[tuple[str, str, str], GalleryFeatures] = {}
#: (weights, gallery) pairs kept in memory; the oldest is forgotten first
MEMORY_ENTRIES = 16


def _remember(key: tuple[str, str, str], features: GalleryFeatures) -> None:
    _MEMORY.pop(key, None)
    _MEMORY[key] = features
    while len(_MEMORY) > MEMORY_ENTRIES:
        _MEMORY.pop(next(iter(_MEMORY)))


def hidden_features(network: Network, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (Tensor[N, C, H, W], preprocessed) -> (features Tensor[N, D], logits Tensor[N, K]),
    both on the CPU; features are the input of the final Linear layer."""
    _, linear = final_linear(network)
    caught: list[torch.Tensor] = []
    handle = linear.register_forward_pre_hook(lambda _m, inp: caught.append(inp[0]))
    try:
        with torch.inference_mode():
            logits = network.module(x.to(network.device))
    finally:
        handle.remove()
    if not caught:
        raise UserError(f"{network.name}'s final Linear layer did not run")
    return caught[-1].flatten(1).float().cpu(), logits.flatten(1).float().cpu()


def _batch(network: Network, gallery: Gallery, idx: range) -> torch.Tensor:
    if gallery.pixels is not None:
        return batch_input(network, gallery.pixels[idx.start:idx.stop].permute(0, 3, 1, 2))
    return torch.cat([preprocess(network, gallery.image(i)) for i in idx])


def _cache_file(network: Network, gallery: Gallery, layer: str) -> Path:
    key = "\0".join([network.name, weights_hash(network.module), layer,
                     "x".join(map(str, network.input_size)), str(network.in_channels),
                     repr(network.mean), repr(network.std), gallery.key, gallery.fingerprint])
    return cache_dir() / "neighbours" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.pt"


def gallery_features(network: Network, gallery: Gallery | str, *, batch_size: int = 64,
                     task: Task | None = None, use_disk: bool = True) -> GalleryFeatures:
    """Last-hidden-layer features of every gallery item, from memory, disk or computed
    `batch_size` items at a time (fewer for a network whose activations are big).

    Raises:
        Cancelled: the task was cancelled; ``task.check()`` runs before every batch, so
            at most one more batch runs after a cancel, and nothing is cached then.
    """
    task = task or NullTask()
    gallery = get_gallery(gallery) if isinstance(gallery, (str, Path)) else gallery
    layer, _ = final_linear(network)
    mem_key = (weights_hash(network.module), network.name, gallery.key + gallery.fingerprint)
    if mem_key in _MEMORY:
        return dataclasses.replace(_MEMORY[mem_key], source="memory")
    path = _cache_file(network, gallery, layer)
    if use_disk and path.exists():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            feats = saved["features"]
            if isinstance(feats, torch.Tensor) and feats.shape[0] == len(gallery):
                out = GalleryFeatures(gallery, layer, feats, 0.0, source="disk")
                _remember(mem_key, out)
                return out
        except Exception:  # noqa: BLE001 - a damaged cache file is simply recomputed
            pass
    t0 = time.perf_counter()
    chunks = []
    n = len(gallery)
    batch_size = settings.fit_batch(network, settings.batch_size(batch_size))
    task.progress(0.0, f"gallery features 0/{n}")
    for start in range(0, n, batch_size):
        task.check()
        idx = range(start, min(n, start + batch_size))
        chunks.append(hidden_features(network, _batch(network, gallery, idx))[0])
        task.progress(idx.stop / n, f"gallery features {idx.stop}/{n}")
    task.check()
    out = GalleryFeatures(gallery, layer, torch.cat(chunks), time.perf_counter() - t0)
    _remember(mem_key, out)
    if use_disk:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save({"features": out.features, "gallery": gallery.key,
                        "network": network.name, "layer": layer}, tmp)
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs time
    return out


def nearest_neighbours(network: Network, image: Image, gallery: Gallery | str = "shapes",
                       k: int = 6, *, task: Task | None = None,
                       use_disk: bool = True) -> NeighbourResult:
    """The `k` gallery items closest to `image` in the last hidden layer, nearest first.

    Raises:
        UserError: not a classifier, no final Linear layer, a bad `k` or gallery.
        Cancelled: the task was cancelled (see :func:`gallery_features`).
    """
    require_classifier(network)
    final_linear(network)
    k = settings.k(k)
    t0 = time.perf_counter()
    gf = gallery_features(network, gallery, task=task, use_disk=use_disk)
    q, logits = hidden_features(network, preprocess(network, image))
    d = torch.cdist(q.double(), gf.features.double())[0]
    dist, idx = d.topk(min(k, d.numel()), largest=False)
    g = gf.gallery
    top = int(logits[0].argmax())
    names = network.class_names
    return NeighbourResult(
        query=q[0], layer=gf.layer,
        neighbours=[Neighbour(int(i), float(v), g.labels[int(i)], g.item_name(int(i)),
                              g.array(int(i))) for v, i in zip(dist.tolist(), idx.tolist())],
        gallery=g.name, gallery_size=len(g),
        prediction=names[top] if top < len(names) else f"class {top}",
        seconds=time.perf_counter() - t0, features_cached=gf.source != "computed")


def clear_memory() -> None:
    """Forget the in-memory features (tests; after a network's weights change in place)."""
    _MEMORY.clear()
