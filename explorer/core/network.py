"""A network plus what the explorer needs to show it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.core.images import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Network:
    module: nn.Module
    name: str
    task: str  # "classify" | "segment" | "detect-stage"
    input_size: tuple[int, int]  # (H, W)
    in_channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    class_names: list[str] = field(default_factory=list)
    #: "shipped" | "hub cache" | "file" | "download" | "random"
    weights_source: str = "random"
    weights_path: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    description: str = ""
    #: what a shipped spec says about its outputs (e.g. {"output_is_probability": True})
    extra: dict = field(default_factory=dict)

    @property
    def random_weights(self) -> bool:
        return self.weights_source == "random"

    def to(self, device: torch.device) -> Network:
        self.module.to(device)
        self.device = torch.device(device)
        return self


def preprocess(network: Network, image: Image) -> torch.Tensor:
    """The image as the network takes it: Tensor[1, C, H, W] on the network's device.

    The shorter side is resized to the input size and the centre cropped, as torchvision's
    ImageNet transforms do (without their 256/224 margin, so the whole crop is shown).
    """
    h, w = network.input_size
    x = torch.from_numpy(np.ascontiguousarray(image.array)).permute(2, 0, 1)[None]
    ih, iw = x.shape[-2:]
    scale = max(h / ih, w / iw)
    nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False,
                      antialias=True)
    top, left = (nh - h) // 2, (nw - w) // 2
    x = x[..., top:top + h, left:left + w].clamp(0, 1)
    if network.in_channels == 1:
        x = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    mean = torch.tensor(network.mean, dtype=x.dtype).view(1, -1, 1, 1)
    std = torch.tensor(network.std, dtype=x.dtype).view(1, -1, 1, 1)
    return ((x - mean) / std).to(network.device)


def to_display(network: Network, x: torch.Tensor) -> np.ndarray:
    """Undo :func:`preprocess`'s normalisation: x (Tensor[1, C, H, W]) -> float32
    [H, W, 3] in [0, 1], the picture the network actually sees."""
    mean = torch.tensor(network.mean, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(network.std, device=x.device).view(1, -1, 1, 1)
    img = (x * std + mean).clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return np.ascontiguousarray(img)
