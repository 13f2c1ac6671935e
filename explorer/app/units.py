"""Unit cards as use cases: what does channel C of layer L look for? Both faces call these
(``cnn-explorer unit`` and the window's unit card, the Lab's learned hierarchy), so each
is computed one way; the work itself is :mod:`explorer.units`.

Each function checks what a person can get wrong (layer, channel, gallery, steps) before
any work starts and raises :class:`~explorer.errors.UserError` with one sentence; long work
takes a :class:`~explorer.core.tasks.Task` (progress, cancel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.core.images import Image
from explorer.core.network import Network, preprocess
from explorer.core.tasks import NullTask, Task
from explorer.errors import UserError
from explorer.units.backward import VIEW_NAMES, BackwardView, backward_views
from explorer.units.common import (
    LayerProbe,
    channel_means,
    check_channels,
    unit_layer,
)
from explorer.units.featvis import FeatureVis, visualise
from explorer.units.galleries import (
    GALLERY_NAMES,
    Gallery,
    default_gallery_name,
    gallery_from_spec,
)
from explorer.units.sanity import SanityResult, parameter_randomisation
from explorer.units.toppatches import TopPatches, top_patches

__all__ = ["GALLERY_NAMES", "VIEW_NAMES", "HierarchyLayer", "check_steps", "layer_channels",
           "learned_hierarchy", "network_input", "open_gallery", "patches_picture",
           "saliency_picture", "strongest_units", "unit_activations", "view_picture",
           "unit_patches", "unit_sanity", "unit_views", "visualise_layer"]

#: more steps than this is a typing mistake, not a wish (256 already gives clear pictures)
MAX_STEPS = 100_000


def check_steps(steps: int) -> int:
    """`steps` if it is a sensible number of optimisation steps."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise UserError(f"steps {steps!r} is not a whole number")
    if steps <= 0:
        raise UserError(f"--steps {steps}: give at least 1 step (256 is a good start)")
    if steps > MAX_STEPS:
        raise UserError(f"--steps {steps} is more than {MAX_STEPS:,}; 256 to 1024 is plenty")
    return int(steps)


def open_gallery(spec: str | None, network: Network | None = None) -> Gallery:
    """The gallery `spec` names (``shapes``, ``shapes:N``, ``digits``, ``samples`` or a
    folder of images), or the one that suits `network` when `spec` is empty. Cheap: a
    folder is listed, not read.

    Raises:
        UserError: unknown name, bad count, missing folder, a folder without images.
    """
    if spec:
        return gallery_from_spec(spec)
    return gallery_from_spec(default_gallery_name(network.name if network else ""))


def layer_channels(network: Network, layer: str) -> int:
    """How many channels (units per position) `layer` has; UserError when it has none."""
    return unit_layer(network, layer).channels


def visualise_layer(network: Network, layer: str, channels: list[int] | None = None, *,
                    steps: int = 256, task: Task | None = None,
                    cache_dir=None) -> FeatureVis:
    """Feature visualisation of `channels` of `layer` (default: every channel, as one
    batch), cached on disk per weights, layer and settings."""
    check_steps(steps)
    info = unit_layer(network, layer)
    check_channels(info, channels)
    return visualise(network, info.name, channels, steps=steps, task=task,
                     cache_dir=cache_dir)


def unit_patches(network: Network, layer: str, gallery: Gallery, *, k: int = 9,
                 engine: str = "local", task: Task | None = None,
                 cache_dir=None) -> TopPatches:
    """Every channel's top-`k` gallery patches from one sweep (cached)."""
    unit_layer(network, layer)
    return top_patches(network, layer, gallery, k=k, engine=engine, task=task,
                       cache_dir=cache_dir)


def network_input(network: Network, image: Image | torch.Tensor) -> torch.Tensor:
    """x (Tensor[1, Cin, H, W]) as `network` takes `image`, on its device."""
    x = image if isinstance(image, torch.Tensor) else preprocess(network, image)
    return x.to(network.device)


def unit_views(network: Network, image: Image | torch.Tensor, layer: str, channel: int,
               position: tuple[int, int] | None = None, views: list[str] | None = None,
               *, task: Task | None = None) -> dict[str, BackwardView]:
    """The backward views of one unit on the picture (gradient, guided backprop,
    deconvnet, occlusion, integrated gradients): name -> map [H, W] of the input."""
    return backward_views(network, network_input(network, image), layer, channel,
                          position, views, task=task)


def unit_activations(network: Network, image: Image | torch.Tensor, layer: str
                     ) -> np.ndarray:
    """Every channel's mean activation of `layer` on the picture: np.float32 [C]."""
    info = unit_layer(network, layer)
    with torch.no_grad():
        act = LayerProbe(network, info.name)(network_input(network, image))
    return channel_means(act)[0].float().cpu().numpy()


def strongest_units(network: Network, image: Image | torch.Tensor, layer: str
                    ) -> np.ndarray | None:
    """Where each channel of `layer` is strongest on the picture: np.int64 [C, 2] of
    (row, column) in its map, or None for a layer without maps ([K])."""
    info = unit_layer(network, layer)
    if not info.spatial:
        return None
    with torch.no_grad():
        act = LayerProbe(network, info.name)(network_input(network, image))[0].float()
    flat = act.flatten(1).argmax(1).cpu().numpy().astype(np.int64)
    w = act.shape[-1]
    return np.stack([flat // w, flat % w], axis=1)


def unit_sanity(network: Network, image: Image | torch.Tensor, view: str = "gradient", *,
                task: Task | None = None) -> SanityResult:
    """Adebayo's cascading randomisation on the picture (classifiers only)."""
    return parameter_randomisation(network, network_input(network, image), view=view,
                                   task=task)


# --- pictures of the results (numpy, for both faces) -----------------------------------

def patches_picture(crops: list[np.ndarray]) -> np.ndarray:
    """Up to 9 patches (float [h, w, 3]) as one 3x3 uint8 [S, S, 3] picture, each patch
    at its own pixels' scale (the largest fills a cell)."""
    from explorer.units.card import patch_grid

    side = 3 * max((max(c.shape[0], c.shape[1]) for c in crops), default=8) + 4
    return np.asarray(patch_grid(crops, side))


def view_picture(view: BackwardView) -> np.ndarray:
    """A backward view as uint8 [H, W, 3] (the card's colours)."""
    from explorer.units.card import view_rgb

    return view_rgb(view)


def saliency_picture(saliency: np.ndarray) -> np.ndarray:
    """A map >= 0 (float [H, W]) through inferno, scaled to its 99.5th percentile:
    uint8 [H, W, 3]."""
    from explorer.core import colormaps

    m = np.nan_to_num(np.abs(np.asarray(saliency, np.float64)))
    hi = float(np.percentile(m, 99.5)) if m.size else 0.0
    return colormaps.apply(np.clip(m / hi, 0, 1) if hi > 0 else m * 0, "inferno")


# --- the learned hierarchy --------------------------------------------------------------

@dataclass
class HierarchyLayer:
    """One layer of the learned hierarchy: its name, receptive field in input pixels, the
    channels shown (the layer's most used on the gallery) and their visualisations."""

    layer: str
    field: int | None
    channels: list[int]
    visualisation: FeatureVis


def hierarchy_layers(network: Network) -> list[str]:
    """Each convolution's activation (the ReLU module after it when there is one, else the
    convolution itself), first to last: the layers a learned hierarchy shows."""
    from explorer.units.common import _RELUS

    out: list[str] = []
    open_conv = False
    for name, m in network.module.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            out.append(name)
            open_conv = True
        elif open_conv and isinstance(m, _RELUS):
            out[-1] = name  # what the next layer sees
            open_conv = False
    return out


def distinct_channels(means: torch.Tensor, k: int, most_alike: float = 0.8) -> list[int]:
    """`k` channels that are much used and unlike each other: means (Tensor[N, C], each
    picture's channel means) -> channels in order of their mean over the pictures, each
    taken only if its responses over the pictures correlate with every channel already
    taken by less than `most_alike` (near-copies would show the same picture twice);
    the strongest of the rest fill up when too few are that different."""
    strength = means.mean(0)
    order = [int(c) for c in torch.argsort(strength, descending=True)]
    centred = means - means.mean(0)
    norm = centred.norm(dim=0).clamp_min(1e-12)
    corr = (centred.T @ centred) / (norm[:, None] * norm[None, :])
    chosen: list[int] = []
    for c in order:
        if len(chosen) == k:
            break
        if strength[c] > 0 and all(abs(float(corr[c, d])) < most_alike for d in chosen):
            chosen.append(c)
    chosen += [c for c in order if c not in chosen][:k - len(chosen)]
    return chosen


def learned_hierarchy(network: Network, gallery: Gallery | None = None, *,
                      per_layer: int = 4, steps: int = 256, sample: int = 256,
                      task: Task | None = None, cache_dir=None) -> list[HierarchyLayer]:
    """Every convolutional layer's `per_layer` most used, mutually distinct channels
    (:func:`distinct_channels` over the first `sample` pictures of the gallery) and their
    feature visualisations,
    from the first layer to the last: what a trained network's units respond to as their
    receptive fields grow.
    """
    from explorer.core.tasks import sub_task
    from explorer.units.common import normalise
    from explorer.units.toppatches import gallery_batch

    check_steps(steps)
    if per_layer < 1:
        raise UserError(f"per_layer {per_layer}: show at least one channel")
    task = task or NullTask()
    gallery = gallery or open_gallery(None, network)
    names = hierarchy_layers(network)
    if not names:
        raise UserError(f"{network.name} has no convolutional layers")
    x = gallery_batch(network, gallery, 0, min(sample, len(gallery))).to(network.device)
    means = {}
    with torch.no_grad():
        xn = normalise(network, x)
        for name in names:
            means[name] = channel_means(LayerProbe(network, name)(xn)).float().cpu()
    out = []
    for i, name in enumerate(names):
        task.check()
        info = unit_layer(network, name)
        chosen = sorted(distinct_channels(means[name], per_layer))
        fv = visualise(network, name, chosen, steps=steps, cache_dir=cache_dir,
                       task=sub_task(task, i / len(names), (i + 1) / len(names)))
        out.append(HierarchyLayer(name, None if info.rf_global else info.rf,
                                  chosen, fv))
    task.progress(1.0, "learned hierarchy done")
    return out
