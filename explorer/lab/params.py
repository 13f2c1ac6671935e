"""Parameter counter: fully connected versus convolutional networks, and VGG A-E.

Every number here comes from *building* the torch modules and counting their parameters
(``numel`` of each weight and bias), with output shapes from a forward pass on the
``meta`` device (shapes only, no memory, no arithmetic). Nothing is a hand-typed answer,
so the lecture's numbers are checked, not copied.

The lecture's question: 16 classes, input 64x64.

- fully connected ``64x64 -> 256 -> 128 -> 64 -> 16``: :func:`fc_network`;
- convolutional ``64x64 => 16 => 16 => 16 -> 16`` (double arrows are 5x5 "valid"
  convolutions, the last arrow fully connected): :func:`conv_network`.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from explorer.errors import UserError
from explorer.lab.architectures import vgg_cfgs

META = torch.device("meta")


@dataclass(frozen=True)
class LayerCount:
    """One layer of a parameter table."""

    #: layer name ("fc1", "conv1_2", "pool3", ...), as in the model's ``named_modules``
    name: str
    #: short description in the lecture's / VGG paper's notation: "conv5-16", "FC-256", ...
    description: str
    #: output shape without the batch dimension, (C, H, W) or (features,)
    output_shape: tuple[int, ...]
    weights: int
    biases: int

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def neurons(self) -> int:
        """Units in the layer's output: C*H*W, or the number of features."""
        return math.prod(self.output_shape)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "output_shape": list(self.output_shape),
            "weights": self.weights,
            "biases": self.biases,
            "params": self.params,
            "neurons": self.neurons,
        }


@dataclass(frozen=True)
class NetworkCount:
    """A parameter table for a whole network."""

    name: str
    #: (C, H, W) the network was counted at
    input_shape: tuple[int, ...]
    layers: list[LayerCount]

    @property
    def total(self) -> int:
        return sum(layer.params for layer in self.layers)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "layers": [layer.as_dict() for layer in self.layers],
            "total": self.total,
        }


def _describe(module: nn.Module) -> str | None:
    """The lecture's notation for layers worth a row, None for those that are not
    (activations, dropout, flatten: no parameters and no change of shape worth showing)."""
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size
        size = str(k[0]) if k[0] == k[1] else f"{k[0]}x{k[1]}"
        return f"conv{size}-{module.out_channels}"
    if isinstance(module, nn.Linear):
        return f"FC-{module.out_features}"
    if isinstance(module, nn.MaxPool2d):
        return "maxpool"
    if isinstance(module, nn.AvgPool2d):
        return "avgpool"
    if isinstance(module, nn.LocalResponseNorm):
        return "LRN"
    if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return "batchnorm"
    if any(True for _ in module.parameters(recurse=False)):
        return type(module).__name__
    return None


def count_layers(model: nn.Module, input_shape: tuple[int, ...], name: str = "") -> NetworkCount:
    """Count the parameters of every conv / linear / pooling / normalisation leaf of `model`
    and record its output shape from one forward pass on the meta device.

    Args:
        model: any module. One built on the meta device is used as it is; any other is
            copied to meta first (its weights are left alone).
        input_shape: (C, H, W) or (features,), without the batch.

    Returns:
        NetworkCount with the layers in execution order.
    """
    first = next(model.parameters(), None)
    if first is not None and first.device != META:
        model = copy.deepcopy(model).to(META)
    rows: list[LayerCount] = []
    names = {module: n for n, module in model.named_modules()}
    hooks = []

    def hook(module, _inputs, output):
        desc = _describe(module)
        if desc is None:
            return
        weight = getattr(module, "weight", None)
        bias = getattr(module, "bias", None)
        rows.append(
            LayerCount(
                names[module],
                desc,
                tuple(output.shape[1:]),
                weight.numel() if isinstance(weight, torch.Tensor) else 0,
                bias.numel() if isinstance(bias, torch.Tensor) else 0,
            )
        )

    for module in model.modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.empty((1, *input_shape), device=META))
    finally:
        for h in hooks:
            h.remove()
    counted = sum(r.params for r in rows)
    total = sum(p.numel() for p in model.parameters())
    if counted != total:  # parameters held outside leaf layers (class tokens, unused layers)
        rows.append(LayerCount("(other)", "not in a layer", (), total - counted, 0))
    return NetworkCount(name or type(model).__name__, tuple(input_shape), rows)


# ------------------------------------------------------------- the lecture's question

def fc_network(
    input_size: tuple[int, int] = (64, 64),
    hidden: tuple[int, ...] = (256, 128, 64),
    classes: int = 16,
) -> nn.Sequential:
    """Fully connected ``H x W -> hidden... -> classes`` with ReLUs (layers fc1, fc2, ...)."""
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    sizes = [math.prod(input_size), *hidden, classes]
    for i in range(len(sizes) - 1):
        layers.append((f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1])))
        if i < len(sizes) - 2:
            layers.append((f"relu{i + 1}", nn.ReLU()))
    return nn.Sequential(OrderedDict(layers))


def conv_network(
    input_size: tuple[int, int] = (64, 64),
    channels: tuple[int, ...] = (16, 16, 16),
    kernel: int = 5,
    classes: int = 16,
    in_channels: int = 1,
) -> nn.Sequential:
    """``kernel x kernel`` "valid" convolutions with ReLU (conv1, conv2, ...), then one fully
    connected layer ("fc") from the flattened last channels to `classes`."""
    layers: list[tuple[str, nn.Module]] = []
    c, h, w = in_channels, *input_size
    for i, out in enumerate(channels):
        layers.append((f"conv{i + 1}", nn.Conv2d(c, out, kernel)))  # padding=0: valid
        layers.append((f"relu{i + 1}", nn.ReLU()))
        c, h, w = out, h - kernel + 1, w - kernel + 1
    if h < 1 or w < 1:
        raise UserError(f"{len(channels)} valid {kernel}x{kernel} convolutions do not fit "
                        f"in a {input_size[0]}x{input_size[1]} input.")
    layers += [("flatten", nn.Flatten()), ("fc", nn.Linear(c * h * w, classes))]
    return nn.Sequential(OrderedDict(layers))


def fc_vs_conv(
    input_size: tuple[int, int] = (64, 64),
    hidden: tuple[int, ...] = (256, 128, 64),
    channels: tuple[int, ...] = (16, 16, 16),
    kernel: int = 5,
    classes: int = 16,
) -> tuple[NetworkCount, NetworkCount]:
    """The lecture's question answered: (fully connected count, convolutional count)."""
    with META:
        fc = fc_network(input_size, hidden, classes)
        conv = conv_network(input_size, channels, kernel, classes)
    arrows = " -> ".join(map(str, hidden))
    fc_name = f"{input_size[0]}x{input_size[1]} -> {arrows} -> {classes}"
    conv_name = (
        f"{input_size[0]}x{input_size[1]} => "
        + " => ".join(map(str, channels))
        + f" -> {classes} ({kernel}x{kernel} valid)"
    )
    return (
        count_layers(fc, (math.prod(input_size),), fc_name),
        count_layers(conv, (1, *input_size), conv_name),
    )


def first_layer_weights(input_size: tuple[int, int] = (64, 64), hidden: int = 128) -> int:
    """Weights (without biases) of the first fully connected layer of the lecture's naive
    approach: 64x64 -> 128 gives 524,288."""
    with META:
        layer = nn.Linear(math.prod(input_size), hidden)
    return layer.weight.numel()


# ------------------------------------------------------------------------------ VGG

#: VGG paper Table 1 as layer lists: an int is conv3-N, ("conv1", N) is conv1-N, "M" is
#: maxpool 2x2/2, "LRN" local response normalisation. A, B, D, E are torchvision's cfgs.
_TV_CFGS = vgg_cfgs()  # torchvision's, read without importing it
VGG_CONFIGS: dict[str, list] = {
    "A": list(_TV_CFGS["A"]),
    "A-LRN": [64, "LRN", *_TV_CFGS["A"][1:]],
    "B": list(_TV_CFGS["B"]),
    "C": [64, 64, "M", 128, 128, "M", 256, 256, ("conv1", 256), "M",
          512, 512, ("conv1", 512), "M", 512, 512, ("conv1", 512), "M"],
    "D": list(_TV_CFGS["D"]),
    "E": list(_TV_CFGS["E"]),
}

#: VGG paper Table 2: number of parameters in millions, as the lecture shows it
VGG_PAPER_MILLIONS = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}

#: weight layers per configuration, Table 1's header row
VGG_WEIGHT_LAYERS = {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}


def _vgg_config(config: str) -> list:
    key = config.strip().upper()
    if key not in VGG_CONFIGS:
        raise UserError(f"Unknown VGG configuration '{config}'; choose one of "
                        f"{', '.join(VGG_CONFIGS)}.")
    return VGG_CONFIGS[key]


def build_vgg(config: str = "D", num_classes: int = 1000) -> nn.Sequential:
    """VGG configuration `config` (A, A-LRN, B, C, D, E) as named layers: conv1_1,
    relu1_1, [lrn1,] pool1, ..., flatten, fc6, relu6, drop6, fc7, relu7, drop7, fc8.

    Built on the current default device (wrap in ``with torch.device("meta"):`` to count
    without allocating). Same layers as torchvision's ``vgg11`` / ``vgg13`` / ``vgg16`` /
    ``vgg19`` without its AdaptiveAvgPool2d (an identity at 224x224); LRN is
    ``nn.LocalResponseNorm(5)`` (the paper uses Krizhevsky's LRN, whose size is 5).
    """
    layers: list[tuple[str, nn.Module]] = []
    c, block, i = 3, 1, 1
    for item in _vgg_config(config):
        if item == "M":
            layers.append((f"pool{block}", nn.MaxPool2d(2, 2)))
            block, i = block + 1, 1
        elif item == "LRN":
            layers.append((f"lrn{block}", nn.LocalResponseNorm(5)))
        else:
            k, out = (1, item[1]) if isinstance(item, tuple) else (3, item)
            layers.append((f"conv{block}_{i}", nn.Conv2d(c, out, k, padding=k // 2)))
            layers.append((f"relu{block}_{i}", nn.ReLU(inplace=True)))
            c, i = out, i + 1
    layers += [
        ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(c * 7 * 7, 4096)),
        ("relu6", nn.ReLU(inplace=True)),
        ("drop6", nn.Dropout()),
        ("fc7", nn.Linear(4096, 4096)),
        ("relu7", nn.ReLU(inplace=True)),
        ("drop7", nn.Dropout()),
        ("fc8", nn.Linear(4096, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))


def vgg_count(config: str = "D") -> NetworkCount:
    """Per-layer table of VGG `config` at 224x224 (shapes from a meta-device pass)."""
    key = config.strip().upper()
    with META:
        model = build_vgg(key)
    return count_layers(model, (3, 224, 224), f"VGG-{key}")


def vgg_totals() -> dict[str, int]:
    """Total parameters of every configuration: {"A": 132863336, ...}."""
    out = {}
    for key in VGG_CONFIGS:
        with META:
            out[key] = sum(p.numel() for p in build_vgg(key).parameters())
    return out
