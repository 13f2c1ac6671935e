"""Augmentation preview: the current image turned, scaled, flipped, cropped and recoloured
(torchvision.transforms.v2.functional), each variant's top prediction, and how far one
layer's feature maps move away from the original's.

The variants are made from the picture the network sees (resized and cropped to its input
size, in RGB) and run through the network in one batch. Distance = ||a_v - a_0|| / ||a_0||
over the chosen layer's activation: 0 for the identity; a flip moves the maps (they are
equivariant, not invariant) even when the prediction stays.
"""

# ruff: noqa: E402 - torchvision comes after ensure_torchvision() (explorer.core.tvimport)

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from explorer.core.tvimport import ensure_torchvision

ensure_torchvision()  # one first import: explorer.core.tvimport
import torchvision.transforms.v2.functional as TF

from explorer.core.images import Image
from explorer.core.network import Network
from explorer.core.tasks import NullTask, Task
from explorer.insight import settings
from explorer.insight.inputs import batch_input, rgb_input
from explorer.insight.layers import default_cam_layer, find_layer, require_classifier
from explorer.insight.names import VARIANT_NAMES

Transform = Callable[[torch.Tensor], torch.Tensor]


def _scale(f: float) -> Transform:
    return lambda x: TF.affine(x, angle=0.0, translate=[0, 0], scale=f, shear=[0.0, 0.0],
                               interpolation=TF.InterpolationMode.BILINEAR)


def _crop(frac: float) -> Transform:
    def crop(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ch, cw = max(1, round(h * frac)), max(1, round(w * frac))
        return TF.resized_crop(x, (h - ch) // 2, (w - cw) // 2, ch, cw, [h, w],
                               antialias=True)
    return crop


def _rotate(deg: float) -> Transform:
    return lambda x: TF.rotate(x, deg, interpolation=TF.InterpolationMode.BILINEAR)


#: name -> transform of an RGB batch Tensor[N, 3, H, W] in [0, 1]; "original" comes first
VARIANTS: dict[str, Transform] = {
    "original": lambda x: x,
    "rotate 15°": _rotate(15),
    "rotate -15°": _rotate(-15),
    "rotate 45°": _rotate(45),
    "rotate 90°": lambda x: torch.rot90(x, 1, dims=(-2, -1)),
    "scale 0.75": _scale(0.75),
    "scale 1.25": _scale(1.25),
    "flip left-right": TF.horizontal_flip,
    "flip up-down": TF.vertical_flip,
    "centre crop 70%": _crop(0.7),
    "shift right 1/8": lambda x: TF.affine(x, angle=0.0, translate=[x.shape[-1] // 8, 0],
                                           scale=1.0, shear=[0.0, 0.0]),
    "darker": lambda x: TF.adjust_brightness(x, 0.6),
    "brighter": lambda x: TF.adjust_brightness(x, 1.4),
    "low contrast": lambda x: TF.adjust_contrast(x, 0.5),
    "grey": lambda x: TF.rgb_to_grayscale(x, num_output_channels=3),
    "hue shift": lambda x: TF.adjust_hue(x, 0.25),
    "inverted": TF.invert,
    "blur": lambda x: TF.gaussian_blur(x, [5, 5], [1.5, 1.5]),
}
# the parsers list the variants without importing torchvision: both lists must agree
assert list(VARIANTS) == VARIANT_NAMES, "explorer.insight.names.VARIANT_NAMES is stale"


@dataclass
class Variant:
    name: str
    picture: np.ndarray  # np.float32 [H, W, 3] in [0, 1]
    class_index: int
    label: str
    probability: float
    #: ||a_v - a_0|| / ||a_0|| at the chosen layer
    distance: float
    #: the probability the variant gives the original's top class
    original_class_probability: float

    def as_dict(self) -> dict:
        return {"name": self.name, "class_index": self.class_index, "label": self.label,
                "probability": self.probability, "distance": self.distance,
                "original_class_probability": self.original_class_probability}


@dataclass
class AugmentResult:
    layer: str
    layer_shape: tuple[int, ...]
    variants: list[Variant]
    seconds: float

    def as_dict(self) -> dict:
        return {"layer": self.layer, "layer_shape": list(self.layer_shape),
                "seconds": self.seconds, "variants": [v.as_dict() for v in self.variants]}


#: variants per forward pass: a cancel waits for at most one pass
BATCH = 6


def augment_preview(network: Network, image: Image, layer: str | None = None,
                    variants: list[str] | str | None = None, *, task: Task | None = None,
                    batch_size: int = BATCH) -> AugmentResult:
    """Every variant of `image` (default: all of :data:`VARIANTS`), its top prediction and
    how far `layer`'s activation (default: :func:`default_cam_layer`) moves.

    The variants run `batch_size` at a time; ``task.check()`` comes before every batch,
    so at most one more batch runs after a cancel.

    Raises:
        UserError: not a classifier, an unknown variant or layer.
        Cancelled: the task was cancelled.
    """
    task = task or NullTask()
    require_classifier(network)
    names = settings.variant_names(variants, VARIANT_NAMES) or VARIANT_NAMES
    names = ["original", *[n for n in names if n != "original"]]
    layer = layer or default_cam_layer(network)
    info = find_layer(network, layer)
    batch_size = settings.fit_batch(network, settings.batch_size(batch_size))
    t0 = time.perf_counter()
    rgb = rgb_input(network, image).cpu()
    module = network.module
    acts: list[torch.Tensor] = []
    outs: list[torch.Tensor] = []
    pictures: list[torch.Tensor] = []
    caught: list[torch.Tensor] = []

    def keep(_m, _inp, out):
        caught.append(out[0] if isinstance(out, (tuple, list)) else out)

    handle = module.get_submodule(layer).register_forward_hook(keep)
    try:
        for start in range(0, len(names), batch_size):
            task.check()
            chunk = names[start:start + batch_size]
            batch = torch.cat([VARIANTS[n](rgb).clamp(0, 1) for n in chunk])
            caught.clear()
            with torch.inference_mode():
                out = module(batch_input(network, batch))
            acts.append(caught[-1].flatten(1).float().cpu())
            scores = out[0] if isinstance(out, (tuple, list)) else out
            outs.append(scores.flatten(1).float().cpu())
            pictures.append(batch)
            task.progress(min(1.0, (start + len(chunk)) / len(names)),
                          f"variants {start + len(chunk)}/{len(names)}")
    finally:
        handle.remove()
    task.check()
    acts_all = torch.cat(acts)
    dist = (acts_all - acts_all[0:1]).norm(dim=1) / acts_all[0].norm().clamp_min(1e-12)
    scores = torch.cat(outs)
    probs = scores if network.extra.get("output_is_probability") else scores.softmax(1)
    top_p, top_i = probs.max(1)
    orig = int(top_i[0])
    class_names = network.class_names
    pics = torch.cat(pictures).permute(0, 2, 3, 1).float().numpy()
    out_variants = []
    for j, name in enumerate(names):
        i = int(top_i[j])
        out_variants.append(Variant(
            name=name, picture=np.ascontiguousarray(pics[j]), class_index=i,
            label=class_names[i] if i < len(class_names) else f"class {i}",
            probability=float(top_p[j]), distance=float(dist[j]),
            original_class_probability=float(probs[j, orig])))
    return AugmentResult(layer, tuple(info.out_shape), out_variants,
                         time.perf_counter() - t0)
