"""The lecture's "transposed convolution versus upsampling followed by convolution", on a
real feature map: the FCN's coarse class-score map (Tensor[6, H/8, W/8]) blown up 8x in
several ways.

* the FCN's own ``ConvTranspose2d`` (kernel 16, stride 8) with its **trained** weights;
* the same layer with the **bilinear** kernel it started from (Long et al.'s initialisation);
* ``F.interpolate`` bilinear, and bilinear followed by a 3x3 convolution (a fixed smoothing
  kernel here: in a network that convolution is learned);
* three ``ConvTranspose2d`` with kernel 3 and stride 2 and equal weights: the kernel is not
  a multiple of the stride, so output pixels receive one, two or four contributions
  depending on where they fall, and a **checkerboard** appears (Odena et al., 2016).

:func:`ripple` measures that artefact: feed the upsampler a flat map and see how far its
output is from flat (0 = perfectly flat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.core.network import Network
from explorer.core.tasks import NullTask, Task
from explorer.errors import UserError
from explorer.nets.segnets import bilinear_upsampler
from explorer.segment.run import SegPicture, network_input

Upsampler = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class UpsamplePanel:
    """One way of upsampling. scores (np.float32 [K, H, W]); channel (np.float32 [H, W]
    in [0, 1]): the demo's class channel on the coarse map's scale (its minimum -> 0, its
    maximum -> 1, clipped); classes (np.int64 [H, W])."""

    title: str
    note: str
    scores: np.ndarray
    channel: np.ndarray
    classes: np.ndarray
    ripple: float


@dataclass
class UpsamplingDemo:
    """low (np.float32 [h, w] in [0, 1]): the coarse score map of `channel_name`."""

    network: str
    low: np.ndarray
    channel: int
    channel_name: str
    factor: int
    panels: list[UpsamplePanel]

    def as_dict(self) -> dict:
        return {"network": self.network, "channel": self.channel_name,
                "factor": self.factor, "low_res": list(self.low.shape),
                "methods": [{"title": p.title, "note": p.note, "ripple": p.ripple}
                            for p in self.panels]}


def _smoothing_conv(channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
    k = torch.tensor([1.0, 2.0, 1.0])
    with torch.no_grad():
        conv.weight.copy_((k[:, None] * k[None, :] / 16).expand(channels, 1, 3, 3))
    return conv


def _checkerboard_upsampler(channels: int, factor: int) -> Upsampler:
    """log2(factor) transposed convolutions, kernel 3, stride 2, equal weights."""
    steps = int(round(np.log2(factor)))
    layers = []
    for _ in range(steps):
        up = nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, output_padding=1,
                                groups=channels, bias=False)
        with torch.no_grad():
            up.weight.fill_(4 / 9)  # 2x2 of the 3x3 taps land on an average pixel
        layers.append(up)
    return nn.Sequential(*layers)


def upsamplers(low_channels: int, factor: int, learned: nn.Module | None
               ) -> list[tuple[str, str, Upsampler]]:
    """(title, note, function) for every method shown, `learned` first if given."""
    smooth = _smoothing_conv(low_channels)

    def bilinear(t):
        return F.interpolate(t, scale_factor=factor, mode="bilinear", align_corners=False)

    out = []
    if learned is not None:
        out.append(("Transposed conv (trained)",
                    f"the FCN's own {factor * 2}x{factor * 2} kernel, stride {factor}",
                    learned))
    out += [
        ("Transposed conv (bilinear kernel)",
         "the kernel the FCN started from: exact bilinear", bilinear_upsampler(
             low_channels, factor)),
        ("Bilinear interpolation", "F.interpolate, no weights", bilinear),
        ("Bilinear + 3x3 conv", "upsample, then convolve (fixed smoothing here)",
         lambda t: smooth(bilinear(t))),
        ("Transposed conv 3x3, stride 2", "kernel not a multiple of the stride: uneven "
         "overlap", _checkerboard_upsampler(low_channels, factor)),
    ]
    return out


def ripple(up: Upsampler, channels: int, factor: int, size: int = 8) -> float:
    """How far `up`'s answer to a flat map of ones is from flat: (max - min) / mean |out|
    over the interior (away from the zero padding at the border), averaged over channels.
    0 for bilinear upsampling; large for a checkerboard."""
    with torch.no_grad():
        out = up(torch.ones(1, channels, size, size))[0]
    m = 2 * factor
    inner = out[:, m:-m, m:-m]
    spread = inner.amax((1, 2)) - inner.amin((1, 2))
    scale = inner.abs().mean((1, 2)).clamp_min(1e-8)
    return float((spread / scale).mean())


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)).astype(np.float32)


def _scaled(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((a - lo) / (hi - lo) if hi > lo else a * 0, 0, 1).astype(np.float32)


def upsampling_demo(network: Network, picture: SegPicture, channel: int | None = None,
                    task: Task | None = None) -> UpsamplingDemo:
    """Upsample `network`'s coarse score map for `picture` in every way of
    :func:`upsamplers`. The network must have a ``score`` layer followed by an
    ``upsample`` transposed convolution (fcn-shapes, fcn-dilated-shapes).

    `channel`: the class channel to show (default: the commonest non-background class of
    the trained upsampler's answer, else class 1). `task` is checked before the forward
    pass and before each way of upsampling."""
    task = task or NullTask()
    module = network.module
    learned = getattr(module, "upsample", None)
    score_layer = getattr(module, "score", None)
    if not isinstance(learned, nn.ConvTranspose2d) or score_layer is None:
        raise UserError(f"{network.name} has no learned upsampling layer to compare; "
                        "use fcn-shapes or fcn-dilated-shapes")
    factor = int(learned.stride[0])
    kept: dict[str, torch.Tensor] = {}
    hook = score_layer.register_forward_hook(lambda _m, _i, o: kept.setdefault("low", o))
    task.check()
    try:
        with torch.inference_mode():
            module(network_input(network, picture))
    finally:
        hook.remove()
    low = kept["low"].detach().float().cpu().clone()  # Tensor[1, K, h, w]
    k = low.shape[1]
    learned_cpu = _cpu_copy(learned)
    methods = upsamplers(k, factor, learned_cpu)
    if network.random_weights:  # untrained: the layer still holds its bilinear start
        title, _note, up = methods[0]
        methods[0] = ("Transposed conv (untrained)", "no trained weights: still the "
                      "bilinear kernel it starts from", up)
    outs = []
    with torch.no_grad():
        for i, (title, note, up) in enumerate(methods):
            task.check()
            task.progress(i / len(methods), f"upsampling: {title}")
            s = up(low)[0]
            outs.append((title, note, up, s))
    if channel is None:
        counts = np.bincount(outs[0][3].argmax(0).ravel().numpy(), minlength=k)
        counts[0] = 0
        channel = int(counts.argmax()) if counts.any() else min(1, k - 1)
    names = network.class_names
    # one scale for every panel, the coarse map's: a method that darkens the border (zero
    # padding) or rings must not stretch the others' contrast
    lo, hi = float(low[0, channel].min()), float(low[0, channel].max())
    panels = [UpsamplePanel(title, note, s.numpy(), _scaled(s[channel].numpy(), lo, hi),
                            s.argmax(0).numpy().astype(np.int64), ripple(up, k, factor))
              for title, note, up, s in outs]
    return UpsamplingDemo(network.name, _unit(low[0, channel].numpy()), channel,
                          names[channel] if channel < len(names) else f"class {channel}",
                          factor, panels)


def _cpu_copy(layer: nn.ConvTranspose2d) -> nn.ConvTranspose2d:
    copy = nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                              stride=layer.stride, padding=layer.padding,
                              output_padding=layer.output_padding, groups=layer.groups,
                              bias=layer.bias is not None, dilation=layer.dilation)
    copy.load_state_dict({k: v.detach().cpu() for k, v in layer.state_dict().items()})
    return copy
