"""Pictures as a network takes them, one at a time or in batches.

Everything goes through :func:`explorer.core.network.preprocess` (resize the shorter
side, centre crop, grey conversion, normalisation): the insight tools never resize or
normalise a picture their own way. A network "without" normalisation and in colour gives
the RGB picture at the input size, which augmentations then work on.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from explorer.core.images import Image
from explorer.core.network import Network, preprocess


def _plain(network: Network) -> Network:
    return dataclasses.replace(network, in_channels=3, mean=(0.0, 0.0, 0.0),
                               std=(1.0, 1.0, 1.0))


def rgb_input(network: Network, image: Image) -> torch.Tensor:
    """The picture the network sees, before grey conversion and normalisation:
    Tensor[1, 3, H, W] in [0, 1] on the network's device."""
    return preprocess(_plain(network), image)


def seen_picture(network: Network, image: Image) -> np.ndarray:
    """:func:`rgb_input` as float32 [H, W, 3] in [0, 1] on the CPU (for drawing)."""
    return np.ascontiguousarray(rgb_input(network, image)[0].permute(1, 2, 0).cpu().numpy())


def _as_image(rgb: torch.Tensor) -> Image:
    """rgb (Tensor[3, h, w] in [0, 1]) -> an Image."""
    arr = rgb.detach().float().cpu().permute(1, 2, 0).contiguous().numpy()
    return Image(arr, "picture", None, "")


def batch_input(network: Network, rgb: torch.Tensor) -> torch.Tensor:
    """rgb (Tensor[N, 3, h, w] in [0, 1]) -> Tensor[N, C, H, W] ready for the network, on
    its device: :func:`preprocess` of every picture (a picture already at the input size
    is not resized: bilinear interpolation to the same size is the identity)."""
    if len(rgb) == 0:
        h, w = network.input_size
        return torch.empty(0, network.in_channels, h, w, device=network.device)
    return torch.cat([preprocess(network, _as_image(t)) for t in rgb])


def rgb_batch(network: Network, rgb: torch.Tensor) -> torch.Tensor:
    """rgb (Tensor[N, 3, h, w] in [0, 1]) -> Tensor[N, 3, H, W] in [0, 1] at the network's
    input size (resized and cropped as :func:`preprocess` does), on the CPU."""
    return batch_input(_plain(network), rgb).cpu()
