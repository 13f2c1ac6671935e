"""The lecture's hand-built hierarchy of features, as a real two-layer CNN.

Layer 1: x and y derivative filters in both directions, followed by ReLU, four channels:

- ``x+``: brightening to the right, ``x-``: darkening to the right,
- ``y+``: brightening downwards, ``y-``: darkening downwards.

Layer 2: derivative filters again, applied to the layer-1 channels and summed with weights
(+1 for a "+" channel, -1 for a "-" channel). Because ``relu(a) - relu(-a) = a``, these
weighted sums are exactly second-order derivatives: ``xx``, ``yy``, ``xy`` (and ``yx``,
equal to ``xy`` except on the one-pixel border, where the reflect padding of a derivative
is not the derivative of the reflect padding), plus their sum ``laplacian``. Each "raw"
derivative of one layer-1 channel (``dx(x+)``, ``dy(x+)``, ...) is a layer-2 channel too.
The lecture's point: layer 2 sees more than layer 1 (larger field, second-order
structure) although it only combines layer-1 outputs with small kernels.

Derivative kernels are :func:`explorer.lab.conv.kernel`'s 3x3 Sobel-type ones; borders use
reflect padding so flat borders do not light up.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.errors import UserError
from explorer.lab.conv import _as_image, applied_kernel, kernel

LAYER1 = ("x+", "x-", "y+", "y-")
#: layer-2 channels: (name, {layer-1 channel: (derivative axis, weight)})
LAYER2: tuple[tuple[str, dict[str, tuple[str, float]]], ...] = (
    ("xx", {"x+": ("x", 1.0), "x-": ("x", -1.0)}),
    ("yy", {"y+": ("y", 1.0), "y-": ("y", -1.0)}),
    ("xy", {"x+": ("y", 1.0), "x-": ("y", -1.0)}),
    ("yx", {"y+": ("x", 1.0), "y-": ("x", -1.0)}),
    ("laplacian", {"x+": ("x", 1.0), "x-": ("x", -1.0), "y+": ("y", 1.0), "y-": ("y", -1.0)}),
    *(
        (f"d{axis}({c})", {c: (axis, 1.0)})
        for c in LAYER1
        for axis in ("x", "y")
    ),
)
LAYER2_NAMES = tuple(name for name, _ in LAYER2)


def _torch_kernel(axis: str) -> torch.Tensor:
    """3x3 derivative as ``nn.Conv2d`` applies it (correlation, so the lecture's
    convolution kernel is flipped)."""
    w = kernel("x-derivative" if axis == "x" else "y-derivative", 3)
    return torch.from_numpy(applied_kernel(w, "convolution").copy())


def hand_built_net() -> nn.Sequential:
    """The two-layer network with its hand-set weights (no biases), float64.

    Input Tensor[N, 1, H, W]; ``conv1`` -> Tensor[N, 4, H, W] (:data:`LAYER1` order),
    ``relu1``, ``conv2`` -> Tensor[N, len(LAYER2), H, W] (:data:`LAYER2_NAMES` order).
    """
    conv1 = nn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect", bias=False)
    conv2 = nn.Conv2d(4, len(LAYER2), 3, padding=1, padding_mode="reflect", bias=False)
    dx, dy = _torch_kernel("x"), _torch_kernel("y")
    with torch.no_grad():
        conv1.weight.copy_(torch.stack([dx, -dx, dy, -dy])[:, None].float())
        w2 = torch.zeros(len(LAYER2), 4, 3, 3, dtype=torch.float64)
        for o, (_, parts) in enumerate(LAYER2):
            for c, (axis, weight) in parts.items():
                w2[o, LAYER1.index(c)] = weight * (dx if axis == "x" else dy)
        conv2.weight.copy_(w2.float())
    net = nn.Sequential(OrderedDict(conv1=conv1, relu1=nn.ReLU(), conv2=conv2))
    return net.double().eval()


@dataclass(frozen=True)
class Hierarchy:
    """Named channel maps of the hand-built network, each ndarray[H, W] float64."""

    #: layer 1 after ReLU: x+, x-, y+, y-
    layer1: dict[str, np.ndarray]
    #: layer 2 activations (weighted sums, before any nonlinearity)
    layer2: dict[str, np.ndarray]

    def layer2_relu(self) -> dict[str, np.ndarray]:
        """Layer 2 after a ReLU, as the next layer of a CNN would receive it."""
        return {k: np.maximum(v, 0.0) for k, v in self.layer2.items()}


def hierarchy(image: np.ndarray) -> Hierarchy:
    """Run the hand-built network on a grey image.

    Args:
        image (ndarray[H, W]): any grey image (H, W >= 2 for reflect padding).
    """
    image = _as_image(image)
    if min(image.shape) < 2:
        raise UserError("The hierarchy demo needs an image of at least 2x2 pixels.")
    x = torch.from_numpy(image)[None, None]
    net = hand_built_net()
    with torch.no_grad():
        h1 = net.relu1(net.conv1(x))[0]
        h2 = net.conv2(h1[None])[0]
    return Hierarchy(
        {name: h1[i].numpy() for i, name in enumerate(LAYER1)},
        {name: h2[i].numpy() for i, name in enumerate(LAYER2_NAMES)},
    )
