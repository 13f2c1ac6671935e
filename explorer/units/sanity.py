"""Sanity check of saliency maps by model-parameter randomisation (Adebayo et al.,
"Sanity Checks for Saliency Maps", NeurIPS 2018).

A copy of the network has its learnable layers re-initialised at random one after another,
from the top (the classifier) down, cumulatively. After each step a saliency map (one of
the backward views of :mod:`explorer.units.backward`, taken from the class score) and a
Grad-CAM map (:mod:`explorer.insight.cam`) are made again for the class the original
network predicted, and compared with the original maps by Spearman rank correlation and
SSIM. A method whose maps stay similar while the weights that produce the prediction are
destroyed shows the picture, not the network.

Layers re-initialised are those with a weight matrix or kernel (convolutions, linear
layers), each by its own ``reset_parameters()`` under a fixed seed; batch-norm layers keep
their statistics (re-initialising them would only add an identity).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from explorer.core.images import Image
from explorer.core.network import Network, preprocess
from explorer.core.tasks import NullTask, Task
from explorer.core.trace import layer_table
from explorer.errors import UserError
from explorer.units.backward import VIEW_NAMES, backward_views


@dataclass
class SanityStep:
    """The maps after randomising ``layers`` (cumulative; empty for the original).
    saliency, cam (np.float32 [H, W]); the four figures compare each with step 0's."""

    layers: list[str]
    saliency: np.ndarray
    cam: np.ndarray
    saliency_spearman: float
    saliency_ssim: float
    cam_spearman: float
    cam_ssim: float

    @property
    def randomised(self) -> str:
        """The layer this step randomised ("" for the original network)."""
        return self.layers[-1] if self.layers else ""

    def as_dict(self) -> dict:
        return {"randomised": self.randomised, "layers_randomised": len(self.layers),
                "saliency_spearman": self.saliency_spearman,
                "saliency_ssim": self.saliency_ssim, "cam_spearman": self.cam_spearman,
                "cam_ssim": self.cam_ssim}


@dataclass
class SanityResult:
    view: str
    output_layer: str
    class_index: int
    class_name: str
    cam_layer: str
    steps: list[SanityStep] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"view": self.view, "output_layer": self.output_layer,
                "class_index": self.class_index, "class": self.class_name,
                "cam_layer": self.cam_layer, "seconds": self.seconds,
                "steps": [s.as_dict() for s in self.steps]}


def learnable_layers(module: nn.Module) -> list[str]:
    """Names of the modules with their own weight kernel or matrix (dim >= 2) and a
    ``reset_parameters``, in ``named_modules`` order (bottom up)."""
    out = []
    for name, m in module.named_modules():
        w = getattr(m, "weight", None)
        if (name and isinstance(w, nn.Parameter) and w.dim() >= 2
                and callable(getattr(m, "reset_parameters", None))):
            out.append(name)
    return out


def output_layer(network: Network) -> str:
    """The last layer whose output is one score per class ([K] or [K, 1, 1])."""
    k = len(network.class_names)
    layers = layer_table(network)
    for lay in reversed(layers):
        shape = lay.out_shape
        if shape and shape[0] == k and (len(shape) == 1 or shape[1:] == (1, 1)):
            return lay.name
    raise UserError(f"{network.name} has no layer that gives its {k} class scores")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps; 0 when either is constant (no ranking)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    r = spearmanr(a, b).statistic
    return float(r) if np.isfinite(r) else 0.0


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two maps, each scaled to [0, 1] by its own range first."""
    from skimage.metrics import structural_similarity

    def unit(m):
        m = np.asarray(m, np.float64)
        span = np.ptp(m)
        return (m - m.min()) / span if span > 0 else np.zeros_like(m)

    a, b = unit(a), unit(b)
    side = min(a.shape)
    win = 7 if side >= 7 else max(3, side - (1 - side % 2))  # odd, at most the side
    return float(structural_similarity(a, b, data_range=1.0, win_size=win))


def parameter_randomisation(network: Network, image: Image | torch.Tensor, *,
                            view: str = "gradient", class_index: int | str | None = None,
                            layers: list[str] | None = None, cam_layer: str | None = None,
                            seed: int = 0, task: Task | None = None) -> SanityResult:
    """Cascading randomisation, top layer first.

    Args:
        image: an Image, or x (Tensor[1, C, H, W]) preprocessed for `network`.
        view: which backward view is the saliency map (:data:`VIEW_NAMES`).
        class_index: index or label of the class; None = what the original predicts.
        layers: the layers to randomise, top first (default: every learnable layer,
            :func:`learnable_layers` reversed).
        cam_layer: Grad-CAM's layer (default: explorer.insight's choice).
    Returns:
        a :class:`SanityResult` whose step 0 is the original network (correlations 1).
    Raises:
        UserError: not a classifier, an unknown view, class or layer.
    """
    from explorer.insight.cam import class_activation_map, label_of, resolve_class
    from explorer.insight.layers import default_cam_layer, require_classifier

    t0 = time.perf_counter()
    task = task or NullTask()
    require_classifier(network)
    if view not in VIEW_NAMES:
        raise UserError(f"unknown view {view!r}; choose from {', '.join(VIEW_NAMES)}")
    x = image if isinstance(image, torch.Tensor) else preprocess(network, image)
    x = x.to(network.device)
    out_layer = output_layer(network)
    with torch.no_grad():
        probs = network.module(x).flatten(1)[0].float().softmax(0).cpu()
    index = resolve_class(network, class_index, probs)
    cam_layer = cam_layer or default_cam_layer(network)
    order = list(reversed(learnable_layers(network.module))) if layers is None else layers
    names = set(learnable_layers(network.module))
    bad = [n for n in order if n not in names]
    if bad:
        raise UserError(f"{', '.join(bad)}: not a learnable layer of {network.name}")

    twin = dataclasses.replace(network, module=copy.deepcopy(network.module))
    result = SanityResult(view, out_layer, index, label_of(network, index), cam_layer)
    gen = torch.Generator().manual_seed(seed)
    done: list[str] = []
    base_sal = base_cam = None
    for i in range(len(order) + 1):
        task.check()
        task.progress(i / (len(order) + 1), f"randomised {i} of {len(order)} layers")
        if i > 0:
            name = order[i - 1]
            cuda = [twin.device.index or 0] if twin.device.type == "cuda" else []
            with torch.no_grad(), torch.random.fork_rng(devices=cuda):
                torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=gen)))
                twin.module.get_submodule(name).reset_parameters()
            done.append(name)
        sal = backward_views(twin, x, out_layer, index, views=[view])[view].map
        sal = np.abs(sal)
        cam = class_activation_map(twin, x, method="gradcam", class_index=index,
                                   layer=cam_layer).heatmap
        if i == 0:
            base_sal, base_cam = sal, cam
        result.steps.append(SanityStep(list(done), sal, cam, spearman(base_sal, sal),
                                       ssim(base_sal, sal), spearman(base_cam, cam),
                                       ssim(base_cam, cam)))
    result.seconds = time.perf_counter() - t0
    task.progress(1.0, "sanity check done")
    return result
