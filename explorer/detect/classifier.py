"""Any classifier as a window scorer: crops in, class probabilities out.

A :class:`WindowClassifier` hides what differs between the networks a detector can slide:
tinyvgg-shapes (logits, class 0 = background, has a fully convolutional twin), an MTCNN stage
(already probabilities, "not face" = background, P-Net is fully convolutional by design) and
a torchvision ImageNet classifier (logits, no background class: every window is *something*,
so only the threshold rejects windows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.core.network import Network
from explorer.errors import UserError


@dataclass
class WindowClassifier:
    """Scores normalised windows.

    module: Tensor[N, C, h, w] (normalised) -> Tensor[N, K] logits or probabilities.
    dense: the same classifier run fully convolutionally, Tensor[1, C, H, W] ->
    Tensor[1, K, H', W'] where cell (i, j) scores the window at (i * stride, j * stride) of
    size `input_size`; None when the network has no such form.
    stride: input pixels between neighbouring cells of the dense map.
    box_fraction: how much of a window the object it names fills (boxes are shrunk to it).
    """

    module: nn.Module
    name: str
    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: list[str]
    background: int | None
    probabilities: bool
    device: torch.device
    dense: Callable[[Tensor], Tensor] | None = None
    stride: int | None = None
    box_fraction: float = 1.0
    in_channels: int = 3
    _context: tuple[tuple[int, int], tuple[int, int]] | None = field(
        default=None, init=False, repr=False, compare=False)

    def context(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right)): input pixels beyond an `input_size` window that
        its cell of the dense map depends on (the receptive field's overhang; 0 when the
        trunk has no zero padding). Top and left are rounded up to a multiple of `stride`,
        so a crop starting there keeps the trunk's pooling grid where the whole-image pass
        has it. Found once by tracing the dense form's receptive field
        (:class:`explorer.core.fields.FieldTracker`) on one `input_size` input.
        """
        if self._context is None:
            from explorer.core.fields import FieldTracker

            if self.dense is None or not self.stride:
                raise UserError(f"{self.name} has no fully convolutional form")
            x = torch.zeros(1, self.in_channels, *self.input_size, device=self.device)
            tracker = FieldTracker(x)
            with torch.no_grad(), tracker:
                out = self.dense(x)
            f = tracker.field_of(out[0] if isinstance(out, (tuple, list)) else out)
            if f is None or f.whole:
                raise UserError(f"{self.name}'s dense form has no local receptive field")
            ctx = []
            for rf, start, size in zip(f.rf, f.start, self.input_size):
                before = max(0, math.ceil((rf - 1) / 2 - start))
                after = max(0, math.ceil(start + (rf - 1) / 2 - (size - 1)))
                ctx.append((math.ceil(before / self.stride) * self.stride, after))
            self._context = (ctx[0], ctx[1])
        return self._context

    def normalise(self, x: Tensor) -> Tensor:
        """x (Tensor[N, 3, H, W] in [0, 1]) -> what the network takes."""
        if self.in_channels == 1:
            x = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def _probs(self, out: Tensor) -> Tensor:
        return out if self.probabilities else out.softmax(dim=1)

    def scores(self, windows: Tensor) -> Tensor:
        """windows (Tensor[N, C, h, w], normalised) -> probabilities Tensor[N, K]."""
        out = self.module(windows)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return self._probs(out.flatten(1))

    def score_map(self, image: Tensor) -> Tensor:
        """image (Tensor[1, C, H, W], normalised) -> probabilities Tensor[K, H', W']."""
        if self.dense is None:
            raise UserError(f"{self.name} has no fully convolutional form; use the naive "
                            "sliding window (--impl naive)")
        return self.score_maps(image)[0]

    def score_maps(self, images: Tensor) -> Tensor:
        """images (Tensor[N, C, H, W], normalised) -> probabilities Tensor[N, K, H', W'] of
        the dense form, each image on its own (the naive sliding window's context crops)."""
        if self.dense is None:
            raise UserError(f"{self.name} has no fully convolutional form; use the naive "
                            "sliding window (--impl naive)")
        return self._probs(self.dense(images))


def image_tensor(array: np.ndarray, device: torch.device | str = "cpu") -> Tensor:
    """np.float32 [H, W, 3] in [0, 1] -> Tensor[1, 3, H, W]."""
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(
        2, 0, 1)[None].to(device)


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear, antialiased when shrinking (as :func:`explorer.core.network.preprocess`)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


class _First(nn.Module):
    """The first output of a multi-output stage, flattened (P-Net on 12x12 gives [N, 2, 1, 1])."""

    def __init__(self, stage: nn.Module):
        super().__init__()
        self.stage = stage

    def forward(self, x: Tensor) -> Tensor:
        out = self.stage(x)
        return (out[0] if isinstance(out, (tuple, list)) else out).flatten(1)


def from_network(net: Network) -> WindowClassifier:
    """Wrap a loaded :class:`Network` (classifier or MTCNN stage) as a window scorer."""
    from explorer.nets.mtcnn import PNet
    from explorer.nets.tinyvgg import TinyVGG, fully_convolutional

    if net.task not in ("classify", "detect-stage"):
        raise UserError(f"{net.name} is a {net.task} network; sliding windows and R-CNN need "
                        "a classifier (e.g. tinyvgg-shapes, mtcnn-pnet, a torchvision net)")
    module = net.module.eval()
    probabilities = bool(net.extra.get("output_is_probability", False))
    names = list(net.class_names) or [str(i) for i in range(1000)]
    common = dict(name=net.name, input_size=tuple(net.input_size), mean=tuple(net.mean),
                  std=tuple(net.std), class_names=names, device=net.device,
                  in_channels=net.in_channels)
    if isinstance(module, TinyVGG):
        dense = fully_convolutional(module).eval().to(net.device)
        return WindowClassifier(module, background=0, probabilities=False, dense=dense,
                                stride=dense.stride, box_fraction=0.64, **common)
    if isinstance(module, PNet):
        def pnet_map(x: Tensor) -> Tensor:
            return module(x)[0]

        return WindowClassifier(_First(module), background=0, probabilities=True,
                                dense=pnet_map, stride=2, box_fraction=1.0, **common)
    if net.task == "detect-stage":  # R-Net / O-Net: face probability first, no dense form
        return WindowClassifier(_First(module), background=0, probabilities=probabilities,
                                **common)
    background = 0 if names and names[0].lower() in ("background", "__background__") else None
    dense = overfeat(module)
    return WindowClassifier(module, background=background, probabilities=probabilities,
                            dense=dense, stride=32 if dense is not None else None, **common)


def overfeat(module: nn.Module) -> nn.Module | None:
    """torchvision's AlexNet or VGG with its dense layers as convolutions (OverFeat), sharing
    their weights: Tensor[N, 3, H, W] -> Tensor[N, 1000, H', W'], one cell per 224-px
    window, windows 32 px apart. None for other networks.

    At 224x224 the features are exactly the adaptive pooling's size (6x6 / 7x7), so the
    pooling is the identity and the first Linear is a 6x6 / 7x7 convolution (flatten orders
    (C, H, W), a kernel's layout); the later Linears are 1x1 convolutions.
    """
    if type(module).__name__ not in ("AlexNet", "VGG"):
        return None
    k = module.avgpool.output_size
    k = k[0] if isinstance(k, tuple) else int(k)
    layers: list[nn.Module] = [module.features]
    first = True
    for m in module.classifier:
        if isinstance(m, nn.Linear):
            side = k if first else 1
            cin = m.in_features // (side * side)
            conv = nn.Conv2d(cin, m.out_features, side)
            conv.weight = nn.Parameter(m.weight.detach().view(m.out_features, cin, side, side))
            conv.bias = nn.Parameter(m.bias.detach())
            layers.append(conv)
            first = False
        else:  # ReLU, Dropout (eval: identity)
            layers.append(m)
    return nn.Sequential(*layers).eval()
