"""Receptive fields: how far into the input each layer's units see.

The theoretical receptive field (RF) follows the standard recurrence along the network's
main path, layer by layer (kernel k, stride s, dilation d, padding p)::

    r_l = r_(l-1) + (k - 1) * d * j_(l-1)      (RF size, input pixels; r_0 = 1)
    j_l = j_(l-1) * s                          (jump: input pixels between neighbours)
    c_l = c_(l-1) + ((k - 1) / 2 * d - p) * j_(l-1)   (centre of unit 0's field)

Unit i of layer l then sees input pixels ``c_l + i*j_l +- (r_l - 1)/2`` (pixel centres at
integer coordinates, the first pixel at 0). Residual shortcuts ("downsample" branches) are
left out: they are shorter than the main path, so the main path gives the field. Known
values (random-init torchvision models, never downloaded weights): AlexNet conv5 163,
VGG16 conv5_3 196 and pool5 212, ResNet18 layer4 435, LeNet-5 C5 32 (its whole input).

:func:`effective_rf` measures the field instead: the gradient of one unit with respect to
the input. :func:`gradient_rf` makes every path count (ReLU removed, max-pooling replaced by
average pooling, all weights positive) so that the nonzero-gradient pixels are exactly the
theoretical field, cut by the image border.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.errors import UserError

MODEL_NAMES = ("lenet5", "alexnet", "vgg16", "resnet18")

#: (H, W) each lab model is usually shown at
MODEL_INPUT = {"lenet5": (32, 32), "alexnet": (224, 224), "vgg16": (224, 224),
               "resnet18": (224, 224)}
MODEL_CHANNELS = {"lenet5": 1, "alexnet": 3, "vgg16": 3, "resnet18": 3}


@dataclass(frozen=True)
class RFLayer:
    """One conv/pool layer on the main path and the field of its units."""

    #: qualified name as in ``named_modules`` ("features.28", "layer4.1.conv2", "c1")
    name: str
    #: "conv", "maxpool" or "avgpool"
    kind: str
    kernel: int
    stride: int
    padding: int
    dilation: int
    #: receptive-field size in input pixels (along each axis)
    rf: int
    #: input pixels between neighbouring units
    jump: int
    #: input coordinate of the centre of unit 0's field
    start: float
    #: spatial output size for :func:`rf_table`'s input size (None if not computed)
    out_size: int | None = None

    def field(self, i: int) -> tuple[float, float]:
        """First and last input pixel (may lie outside the image) seen by unit `i`."""
        centre = self.start + i * self.jump
        half = (self.rf - 1) / 2
        return centre - half, centre + half

    def as_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "kernel": self.kernel,
            "stride": self.stride, "padding": self.padding, "dilation": self.dilation,
            "rf": self.rf, "jump": self.jump, "start": self.start, "out_size": self.out_size,
        }


def _first(v) -> int:
    return int(v[0] if isinstance(v, (tuple, list)) else v)


#: names of branches that are shortcuts, not the main path
SHORTCUT_NAMES = ("downsample", "shortcut", "skip")


def main_path(model: nn.Module) -> list[tuple[str, str, int, int, int, int]]:
    """(name, kind, kernel, stride, padding, dilation) of every Conv2d / MaxPool2d /
    AvgPool2d in registration order, leaving out shortcut branches (module names containing
    "downsample", "shortcut" or "skip"). Non-square kernels use the row axis.

    Registration order is execution order for torchvision's LeNet/AlexNet/VGG/ResNet; a
    model whose ``forward`` runs layers in another order needs its own list.
    """
    specs = []
    for name, m in model.named_modules():
        if any(part in SHORTCUT_NAMES for part in name.split(".")):
            continue
        if isinstance(m, nn.Conv2d):
            kind = "conv"
        elif isinstance(m, nn.MaxPool2d):
            kind = "maxpool"
        elif isinstance(m, nn.AvgPool2d):
            kind = "avgpool"
        else:
            continue
        dil = _first(m.dilation) if hasattr(m, "dilation") else 1
        stride = _first(m.stride) if m.stride is not None else _first(m.kernel_size)
        specs.append((name, kind, _first(m.kernel_size), stride, _first(m.padding), dil))
    return specs


def rf_recurrence(
    specs: Iterable[tuple[str, str, int, int, int, int]], input_size: int | None = None
) -> list[RFLayer]:
    """Apply the recurrence of the module docstring to (name, kind, k, s, p, d) layers.

    Args:
        input_size: if given, each layer's spatial output size is filled in too (the
            usual ``floor((m + 2p - d(k-1) - 1) / s) + 1``; pooling in floor mode).
    """
    rf, jump, start, size = 1, 1, 0.0, input_size
    out = []
    for name, kind, k, s, p, d in specs:
        if k < 1 or s < 1 or d < 1 or p < 0:
            raise UserError(f"Layer {name} has an invalid kernel/stride/padding/dilation.")
        start = start + ((k - 1) / 2 * d - p) * jump
        rf = rf + (k - 1) * d * jump
        jump = jump * s
        if size is not None:
            size = (size + 2 * p - d * (k - 1) - 1) // s + 1
        out.append(RFLayer(name, kind, k, s, p, d, rf, jump, start, size))
    return out


def lenet5(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5 as in LeCun et al. 1998 (32x32 grey input; C1, S2, C3, S4, C5, F6, output),
    with average pooling for the subsampling layers and tanh activations."""
    return nn.Sequential(
        OrderedDict(
            c1=nn.Conv2d(1, 6, 5), act1=nn.Tanh(), s2=nn.AvgPool2d(2),
            c3=nn.Conv2d(6, 16, 5), act3=nn.Tanh(), s4=nn.AvgPool2d(2),
            c5=nn.Conv2d(16, 120, 5), act5=nn.Tanh(), flatten=nn.Flatten(),
            f6=nn.Linear(120, 84), act6=nn.Tanh(), output=nn.Linear(84, num_classes),
        )
    )


def build_model(name: str) -> nn.Module:
    """One of :data:`MODEL_NAMES` with random weights (nothing is downloaded), eval mode."""
    key = name.strip().lower().replace("-", "")
    if key == "lenet5":
        model = lenet5()
    elif key in ("alexnet", "vgg16", "resnet18"):
        from explorer.core.tvimport import ensure_torchvision

        ensure_torchvision()  # one first import: explorer.core.tvimport
        import torchvision

        model = getattr(torchvision.models, key)(weights=None)
    else:
        raise UserError(f"Unknown model '{name}'; choose one of {', '.join(MODEL_NAMES)}.")
    return model.eval()


def rf_table(model: str | nn.Module, input_size: int | None = None) -> list[RFLayer]:
    """Receptive field and jump of every conv/pool layer on the main path.

    Args:
        model: a name from :data:`MODEL_NAMES` or a module (see :func:`main_path`).
        input_size: spatial input size for the ``out_size`` column; for a name, defaults
            to the size the model is usually shown at (32 for LeNet-5, else 224).
    """
    if isinstance(model, str):
        key = model.strip().lower().replace("-", "")
        if key not in MODEL_NAMES:
            raise UserError(f"Unknown model '{model}'; choose one of {', '.join(MODEL_NAMES)}.")
        if input_size is None:
            input_size = MODEL_INPUT[key][0]
        return rf_recurrence(model_path(key), input_size)
    return rf_recurrence(main_path(model), input_size)


def model_path(key: str) -> list[tuple[str, str, int, int, int, int]]:
    """:func:`main_path` of the model `key` (one of :data:`MODEL_NAMES`), built from
    geometry only."""
    if key != "lenet5":
        from explorer.lab import architectures

        # torchvision's geometry, stored: the table is arithmetic, not a network
        return architectures.main_path(key)
    with torch.device("meta"):  # only the layer geometry is needed
        return main_path(build_model(key))


def min_input_size(specs: Iterable[tuple[str, str, int, int, int, int]]) -> int:
    """The smallest input side that leaves every layer of `specs` at least one output cell.

    Walked back from the last layer: an output of at least n cells needs an input of at
    least ``(n - 1)s + d(k - 1) + 1 - 2p`` (the output size formula, inverted exactly
    since it only rounds down), and never less than 1.
    """
    need = 1
    for _name, _kind, k, s, p, d in reversed(list(specs)):
        need = max(1, (need - 1) * s + d * (k - 1) + 1 - 2 * p)
    return need


def check_input_size(key: str, size: int) -> int:
    """`size` if every conv/pool layer of the model `key` still has an output at that input
    side; otherwise a UserError naming the smallest side that works and the layer where
    `size` runs out (a table of 0 and negative sizes would be a wrong answer)."""
    specs = model_path(key)
    empty = next((row for row in rf_recurrence(specs, size) if row.out_size < 1), None)
    if empty is not None:
        need = min_input_size(specs)
        raise UserError(f"{key} needs an input of at least {need}x{need} pixels; "
                        f"{size}x{size} leaves no output after "
                        f"{FRIENDLY.get(key, {}).get(empty.name, empty.name)}")
    return size


#: friendly names of the conv/pool layers of torchvision's AlexNet and VGG16
FRIENDLY = {
    "alexnet": {
        "features.0": "conv1", "features.2": "pool1", "features.3": "conv2",
        "features.5": "pool2", "features.6": "conv3", "features.8": "conv4",
        "features.10": "conv5", "features.12": "pool5",
    },
    "vgg16": {},
}
_block, _i = 1, 1
for _idx in (0, 2, 4, 5, 7, 9, 10, 12, 14, 16, 17, 19, 21, 23, 24, 26, 28, 30):
    if _idx in (4, 9, 16, 23, 30):
        FRIENDLY["vgg16"][f"features.{_idx}"] = f"pool{_block}"
        _block, _i = _block + 1, 1
    else:
        FRIENDLY["vgg16"][f"features.{_idx}"] = f"conv{_block}_{_i}"
        _i += 1
del _block, _i, _idx


# --------------------------------------------------------------------- measured fields

def _capture(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    modules = dict(model.named_modules())
    if layer not in modules:
        raise UserError(f"The model has no layer named '{layer}'.")
    box: dict[str, torch.Tensor] = {}

    def hook(_m, _i, out):
        box["out"] = out

    h = modules[layer].register_forward_hook(hook)
    try:
        model(x)
    finally:
        h.remove()
    return box["out"]


def effective_rf(
    model: nn.Module,
    layer: str,
    input: torch.Tensor,
    y: int | None = None,
    x: int | None = None,
    channel: int | None = None,
) -> np.ndarray:
    """Gradient map of one unit: ``|d a / d input|`` summed over the input channels.

    Args:
        model: any module (left in its current mode; call ``.eval()`` first as a rule).
        layer: qualified module name whose output holds the unit (must be [1, C, h, w]).
        input (Tensor[1, C, H, W]): the image.
        y, x: the unit's position in the layer's output; default its centre.
        channel: the unit's channel; None sums the activations of all channels at (y, x).

    Returns:
        ndarray[H, W] float64, zero outside the unit's effective receptive field.
    """
    inp = input.detach().clone().requires_grad_(True)
    out = _capture(model, layer, inp)
    if out.dim() != 4:
        raise UserError(f"Layer '{layer}' has no spatial output (shape {tuple(out.shape)}).")
    h, w = out.shape[-2:]
    y = h // 2 if y is None else y
    x = w // 2 if x is None else x
    if not (0 <= y < h and 0 <= x < w):
        raise UserError(f"Unit ({y}, {x}) lies outside the {h}x{w} output of '{layer}'.")
    target = out[0, :, y, x].sum() if channel is None else out[0, channel, y, x]
    (grad,) = torch.autograd.grad(target, inp)
    return grad[0].abs().sum(0).double().cpu().numpy()


def probe_model(model: nn.Module) -> nn.Module:
    """A copy of `model` in which every path from input to output counts: activations and
    batch-norm become identities, max pooling becomes average pooling of the same geometry
    (max sends gradient to one cell only), conv/linear weights become positive (1 / fan-in)
    and biases zero. Its gradient is nonzero on the whole theoretical receptive field."""
    probe = copy.deepcopy(model).eval()
    for name, m in list(probe.named_modules()):
        parent = probe.get_submodule(name.rsplit(".", 1)[0]) if "." in name else probe
        leaf = name.rsplit(".", 1)[-1]
        if isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.BatchNorm2d, nn.Dropout)):
            setattr(parent, leaf, nn.Identity())
        elif isinstance(m, nn.MaxPool2d):
            setattr(parent, leaf, nn.AvgPool2d(m.kernel_size, m.stride, m.padding,
                                               ceil_mode=m.ceil_mode))
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            with torch.no_grad():
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()
    return probe


@dataclass(frozen=True)
class MeasuredField:
    """Extent of the nonzero gradient of one unit, in input pixels (inclusive)."""

    unit: tuple[int, int]
    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1


def gradient_rf(
    model: nn.Module,
    layer: str,
    input_size: tuple[int, int],
    in_channels: int = 3,
    unit: tuple[int, int] | None = None,
) -> MeasuredField:
    """Measure the receptive field of one unit of `layer` (default: the centre unit) on a
    :func:`probe_model` of `model` with an all-ones input of `input_size`. Choose an input
    large enough that the field does not reach the border, and the height/width equal the
    theoretical RF."""
    probe = probe_model(model)
    x = torch.ones(1, in_channels, *input_size)
    y0, x0 = (None, None) if unit is None else unit
    grad = effective_rf(probe, layer, x, y0, x0)
    rows = np.flatnonzero(grad.any(axis=1))
    cols = np.flatnonzero(grad.any(axis=0))
    if unit is None:
        out = _capture(probe, layer, x)
        unit = (out.shape[-2] // 2, out.shape[-1] // 2)
    return MeasuredField(tuple(unit), int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))
