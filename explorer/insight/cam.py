"""Class activation maps: which parts of the picture made the network pick a class.

The maps come from the grad-cam package (``pytorch_grad_cam``): Grad-CAM weighs each map of
a layer by the average gradient of the class score, Grad-CAM++ and XGrad-CAM weigh them
differently, LayerCAM weighs every position, Eigen-CAM takes the first principal component of
the maps (no gradients, no class), Score-CAM masks the input with each map in turn (slow).
The layer defaults to the last one with spatial maps (:func:`default_cam_layer`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.core import colormaps, script_trace
from explorer.core.images import Image
from explorer.core.network import Network, preprocess, to_display
from explorer.core.trace import eager_module, layer_table
from explorer.errors import ModelError, UserError
from explorer.insight.layers import default_cam_layer, find_layer, is_map, require_classifier
from explorer.insight.names import METHOD_NAMES, METHODS  # noqa: F401 - plain names, for parsers


@dataclass
class CamResult:
    """heatmap (np.float32 [H, W] in [0, 1], H, W = the network's input size); overlay
    (np.uint8 [H, W, 3]: the heat map over the picture); picture (np.float32 [H, W, 3]:
    what the network sees)."""

    heatmap: np.ndarray
    overlay: np.ndarray
    picture: np.ndarray
    method: str
    layer: str
    layer_shape: tuple[int, ...]
    class_index: int
    class_name: str
    probability: float
    #: the top-5 classes as (index, label, probability)
    top: list[tuple[int, str, float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def peak(self) -> tuple[int, int]:
        """(y, x) of the hottest input pixel."""
        y, x = np.unravel_index(int(np.argmax(self.heatmap)), self.heatmap.shape)
        return int(y), int(x)

    def as_dict(self) -> dict:
        return {"method": self.method, "layer": self.layer,
                "layer_shape": list(self.layer_shape), "class_index": self.class_index,
                "class": self.class_name, "probability": self.probability,
                "peak_yx": list(self.peak), "heatmap_size": list(self.heatmap.shape),
                "heat_mean": float(self.heatmap.mean()), "seconds": self.seconds,
                "top": [{"index": i, "label": lab, "probability": p}
                        for i, lab, p in self.top]}


def label_of(network: Network, index: int) -> str:
    names = network.class_names
    return names[index] if 0 <= index < len(names) else f"class {index}"


def resolve_class(network: Network, spec: int | str | None, probs: torch.Tensor) -> int:
    """A class index from an index, a label, or None (the top-1 class)."""
    k = probs.numel()
    if spec is None or spec == "":
        return int(probs.argmax())
    if isinstance(spec, int) or (isinstance(spec, str) and spec.lstrip("-").isdigit()):
        i = int(spec)
        if not 0 <= i < k:
            raise UserError(f"class {i} is out of range: {network.name} has {k} classes "
                            f"(0..{k - 1})")
        return i
    names = [n.lower() for n in network.class_names]
    if spec.lower() in names:
        return names.index(spec.lower())
    close = [n for n in network.class_names if spec.lower() in n.lower()][:5]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UserError(f"{network.name} has no class {spec!r}{hint}")


@contextlib.contextmanager
def _frozen(module: torch.nn.Module):
    """Parameters stop asking for gradients while a CAM runs: the backward pass then only
    reaches the activations (faster) and leaves no ``.grad`` behind on a shared network."""
    saved = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


def _require_maps_reachable(network: Network) -> None:
    """A TorchScript file whose layers with maps are all hidden (see
    :func:`explorer.core.trace.script_note`) leaves Grad-CAM nothing to hook."""
    if not script_trace.is_script(network.module):
        return
    if not any(is_map(lay) for lay in layer_table(network)):
        raise ModelError("Grad-CAM needs hooks, which a TorchScript file does not allow "
                         "and whose layers with maps this file hides; open the model as a "
                         "state dict or an eager module")


def overlay_heatmap(picture: np.ndarray, heatmap: np.ndarray, cmap: str = "inferno"
                    ) -> np.ndarray:
    """picture (float [H, W, 3] in [0, 1]) + heatmap (float [H, W] in [0, 1]) -> uint8
    [H, W, 3]. Hot places take the map's colour; cold ones keep the picture, dimmed."""
    colour = colormaps.apply(heatmap, cmap).astype(np.float32) / 255.0
    alpha = (0.2 + 0.6 * heatmap)[..., None]
    out = (1 - alpha) * picture + alpha * colour
    return np.round(out.clip(0, 1) * 255).astype(np.uint8)


def class_activation_map(network: Network, image: Image | torch.Tensor, *,
                         method: str = "gradcam", class_index: int | str | None = None,
                         layer: str | None = None) -> CamResult:
    """The class activation map of `image` for one class.

    Args:
        image: an Image, or x (Tensor[1, C, H, W]) already preprocessed for `network`.
        method: one of :data:`METHOD_NAMES`.
        class_index: index or label of the class to explain; None = the top-1 class.
        layer: qualified layer name; None = :func:`default_cam_layer`.
    Raises:
        UserError: not a classifier, unknown method, class or layer, or a layer
            without spatial maps.
    """
    import time

    require_classifier(network)
    if method not in METHODS:
        raise UserError(f"unknown CAM method {method!r}; choose from "
                        f"{', '.join(METHOD_NAMES)}")
    _require_maps_reachable(network)
    layer = layer or default_cam_layer(network)
    info = find_layer(network, layer)
    if not is_map(info):
        raise UserError(f"{layer} gives {'x'.join(map(str, info.out_shape))}, not maps "
                        "bigger than 1x1; pick a convolutional layer")
    x = image if isinstance(image, torch.Tensor) else preprocess(network, image)
    x = x.to(network.device)
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    t0 = time.perf_counter()
    # a TorchScript file takes no hooks: its eager stand-in does (same layer names, its
    # output checked against the file's own on every call)
    module = eager_module(network, tuple(x.shape[-2:]))
    with torch.no_grad():
        logits = module(x)
    probs = logits.flatten(1)[0].float().softmax(0).cpu()
    index = resolve_class(network, class_index, probs)
    cls = getattr(pytorch_grad_cam, METHODS[method][0])
    target = module.get_submodule(layer)
    with _frozen(module), torch.enable_grad(), cls(model=module, target_layers=[target]) as cam:
        # the input carries the graph: parameters are frozen, yet gradients must flow
        heat = cam(input_tensor=x.detach().clone().requires_grad_(True),
                   targets=[ClassifierOutputTarget(index)])[0]
    module.eval()
    heat = np.nan_to_num(np.asarray(heat, np.float32)).clip(0, 1)
    picture = to_display(network, x.detach())
    p, i = probs.topk(min(5, probs.numel()))
    top = [(int(j), label_of(network, int(j)), float(q)) for q, j in zip(p, i)]
    return CamResult(heatmap=heat, overlay=overlay_heatmap(picture, heat), picture=picture,
                     method=method, layer=layer, layer_shape=tuple(info.out_shape),
                     class_index=index, class_name=label_of(network, index),
                     probability=float(probs[index]), top=top,
                     seconds=time.perf_counter() - t0)
