"""Pictures as a network takes them, in batches: the same resize, centre crop, grey
conversion and normalisation as :func:`explorer.core.network.preprocess`, split in two so
augmentations can work on the RGB picture in between."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from explorer.core.images import Image
from explorer.core.network import Network, preprocess


def rgb_input(network: Network, image: Image) -> torch.Tensor:
    """The picture the network sees, before grey conversion and normalisation:
    Tensor[1, 3, H, W] in [0, 1] on the network's device."""
    plain = dataclasses.replace(network, in_channels=3, mean=(0.0, 0.0, 0.0),
                                std=(1.0, 1.0, 1.0))
    return preprocess(plain, image)


def resize_crop(network: Network, rgb: torch.Tensor) -> torch.Tensor:
    """rgb (Tensor[N, 3, h, w] in [0, 1], one size) -> Tensor[N, 3, H, W] at the network's
    input size: shorter side resized, centre cropped, as preprocess does."""
    h, w = network.input_size
    ih, iw = rgb.shape[-2:]
    if (ih, iw) == (h, w):
        return rgb.float()
    scale = max(h / ih, w / iw)
    nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
    x = F.interpolate(rgb.float(), size=(nh, nw), mode="bilinear", align_corners=False,
                      antialias=True)
    top, left = (nh - h) // 2, (nw - w) // 2
    return x[..., top:top + h, left:left + w].clamp(0, 1)


def to_network_input(network: Network, rgb: torch.Tensor) -> torch.Tensor:
    """rgb (Tensor[N, 3, H, W] in [0, 1], at the input size) -> what the network takes
    (grey if it is grey, normalised), on the network's device."""
    x = rgb.clamp(0, 1).to(network.device)
    if network.in_channels == 1:
        x = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    mean = torch.tensor(network.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(network.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def batch_input(network: Network, rgb: torch.Tensor) -> torch.Tensor:
    """rgb (Tensor[N, 3, h, w] in [0, 1]) -> Tensor[N, C, H, W] ready for the network."""
    return to_network_input(network, resize_crop(network, rgb))
