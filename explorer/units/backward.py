"""Backward views from one unit on the current picture: which input pixels the unit's
activation depends on, by five of Captum's attribution methods.

- ``gradient``: the plain gradient (Simonyan et al. 2014), Captum's ``Saliency``;
- ``guided``: guided backpropagation (Springenberg et al. 2015), ``GuidedBackprop``: at
  every ReLU only positive gradients pass back, and only where the unit was on;
- ``deconvnet``: Zeiler and Fergus's deconvnet, ``Deconvolution``: at every ReLU only
  positive gradients pass back, wherever the unit was;
- ``occlusion``: how much the activation drops when a grey square covers each place,
  ``Occlusion`` (the baseline is the network's mean colour: 0 after normalisation);
- ``integrated``: integrated gradients from the mean-colour picture (Sundararajan et al.
  2017), ``IntegratedGradients``.

The unit is channel c of a layer at position (y, x) of its map, or the channel's mean
over positions. Guided backprop and deconvnet change the backward pass of ``nn.ReLU``
*modules* only (Captum hooks modules): a network that calls ``F.relu`` in its forward
code (torchvision's GoogLeNet and Inception v3) gets the plain gradient at those places,
and a network without ReLUs (LeNet-5's tanh) gets the plain gradient throughout;
:attr:`BackwardView.note` says so. In-place ReLUs are fine: Captum
hands each hooked ReLU a copy of its input, and the explorer turns ``inplace`` off on
load anyway.
"""

from __future__ import annotations

import time
import warnings
import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from explorer.core.network import Network
from explorer.core.tasks import NullTask, Task
from explorer.errors import UserError
from explorer.units.common import LayerProbe, check_channels, frozen, unit_layer

#: view name -> what it shows, in a few words
VIEWS: dict[str, str] = {
    "gradient": "plain gradient of the unit (Saliency)",
    "guided": "guided backpropagation: positive gradients where ReLUs were on",
    "deconvnet": "deconvnet: positive gradients through every ReLU",
    "occlusion": "drop of the unit when a grey square covers each place",
    "integrated": "integrated gradients from the mean-colour picture",
}
VIEW_NAMES = list(VIEWS)


@dataclass
class BackwardView:
    """map (np.float32 [H, W], H, W = the input's): how much each input pixel matters, >= 0
    for the gradient views (largest |value| over colour channels), signed for occlusion and
    integrated gradients (sum over colour channels); rgb (np.float32 [H, W, 3] in [0, 1],
    0.5 = no effect) for the gradient-like views, the attribution per colour channel, or
    None; raw (np.float32 [Cin, H, W]): the attribution as Captum gave it."""

    name: str
    map: np.ndarray
    rgb: np.ndarray | None
    raw: np.ndarray
    seconds: float
    note: str = ""

    @property
    def signed(self) -> bool:
        return self.name in ("occlusion", "integrated")


class UnitOutput(nn.Module):
    """The network cut at one unit: Tensor[N, Cin, H, W] -> Tensor[N], channel `channel`
    of `layer` at (y, x), or its mean over positions when `position` is None. Holds the
    network's module as a child, so Captum finds its ReLU modules."""

    def __init__(self, network: Network, layer: str, channel: int,
                 position: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.net = network.module
        self.probe = LayerProbe(network, layer)
        self.channel, self.position = channel, position

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = self.probe(x)[:, self.channel]
        if act.dim() == 1:
            return act
        if self.position is None:
            return act.flatten(1).mean(1)
        y, x_ = self.position
        return act[:, y, x_]


class _CountRelu(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (F.relu, torch.relu, torch.relu_, torch.nn.functional.relu_):
            self.calls += 1
        return func(*args, **(kwargs or {}))


_RELU_COUNTS: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def relu_counts(network: Network, layer: str) -> tuple[int, int]:
    """(ReLUs applied by ``nn.ReLU`` modules, ReLUs applied as functions) in the forward
    pass up to `layer`: guided backprop and deconvnet change only the first kind."""
    known = _RELU_COUNTS.setdefault(network.module, {})
    if layer not in known:
        module_calls = [0]

        def count(_m, _i, _o):
            module_calls[0] += 1

        probe = LayerProbe(network, layer)  # first: it may run a whole pass itself
        hooks = [m.register_forward_hook(count) for m in network.module.modules()
                 if isinstance(m, nn.ReLU)]
        mode = _CountRelu()
        x = torch.zeros(1, network.in_channels, *network.input_size, device=network.device)
        try:
            with torch.no_grad(), mode:
                probe(x)
        finally:
            for h in hooks:
                h.remove()
        known[layer] = (module_calls[0], max(0, mode.calls - module_calls[0]))
    return known[layer]


def functional_relus(network: Network, layer: str) -> int:
    """How many ReLUs the forward pass up to `layer` applies as functions rather than as
    ``nn.ReLU`` modules (guided backprop and deconvnet cannot change those)."""
    return relu_counts(network, layer)[1]


def _relu_note(network: Network, layer: str) -> str:
    modules, functions = relu_counts(network, layer)
    if not modules and not functions:
        return (f"{network.name} has no ReLU below {layer}: guided backprop and deconvnet "
                "are the plain gradient here")
    if functions:
        return (f"{network.name} applies {functions} ReLU(s) as functions below {layer}; "
                "there the plain gradient passes")
    return ""


def _display(attr: torch.Tensor) -> np.ndarray:
    """attr (Tensor[Cin, H, W]) -> float32 [H, W, 3] in [0, 1], 0.5 = nothing, scaled so
    the 99.5th percentile of |attr| reaches the ends."""
    a = attr.detach().float().cpu()
    lim = float(torch.quantile(a.abs().flatten(), 0.995)) if a.numel() else 0.0
    if lim <= 0 and a.numel():
        # one unit of an early layer reaches fewer than 0.5 % of the pixels (5x5 of 64x64):
        # the percentile is 0 there, and the strongest pixel sets the scale instead
        lim = float(a.abs().max())
    a = (a / (2 * lim) + 0.5 if lim > 0 else torch.full_like(a, 0.5)).clamp(0, 1)
    if a.shape[0] == 1:
        a = a.expand(3, -1, -1)
    return np.ascontiguousarray(a.permute(1, 2, 0).numpy(), dtype=np.float32)


def _occlusion_window(size: tuple[int, int]) -> tuple[int, int]:
    """(window, stride): a square of about an eighth of the picture, half-overlapping."""
    win = max(2, round(min(size) / 8))
    return win, max(1, win // 2)


def backward_views(network: Network, x: torch.Tensor, layer: str, channel: int,
                   position: tuple[int, int] | None = None,
                   views: list[str] | None = None, *, ig_steps: int = 32,
                   task: Task | None = None) -> dict[str, BackwardView]:
    """Attributions of one unit's activation with respect to the input picture.

    Args:
        x: Tensor[1, Cin, H, W], preprocessed for `network` (any H, W the layer accepts).
        layer, channel: the unit's layer (output [C, H', W'] or [K]) and channel.
        position: (y, x) in the layer's map; None = the channel's mean over positions.
        views: a subset of :data:`VIEW_NAMES` (default all), in that order.
    Returns:
        name -> :class:`BackwardView`, each map of shape [H, W] and finite.
    Raises:
        UserError: unknown view, layer or channel, or a position outside the map.
    """
    from captum.attr import (
        Deconvolution,
        GuidedBackprop,
        IntegratedGradients,
        Occlusion,
        Saliency,
    )

    task = task or NullTask()
    views = list(views or VIEW_NAMES)
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise UserError(f"unknown view {', '.join(unknown)}; choose from "
                        f"{', '.join(VIEW_NAMES)}")
    info = unit_layer(network, layer)
    check_channels(info, [channel])
    if position is not None and info.spatial:
        h, w = info.out_shape[1:]
        if not (0 <= position[0] < h and 0 <= position[1] < w):
            raise UserError(f"unit {tuple(position)} is outside {layer}'s {h}x{w} map")
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"backward views take Tensor[1, C, H, W], got {list(x.shape)}")
    x = x.detach().to(network.device).float()
    model = UnitOutput(network, layer, channel, position if info.spatial else None)
    relu_note = _relu_note(network, layer) if {"guided", "deconvnet"} & set(views) else ""
    out: dict[str, BackwardView] = {}
    was_training = network.module.training
    network.module.eval()
    try:
        with frozen(network.module), torch.enable_grad(), warnings.catch_warnings():
            # Captum warns on every call that it hooks ReLUs, and about inputs that do not
            # require gradients; both are expected here
            warnings.simplefilter("ignore")
            for i, name in enumerate(views):
                task.check()
                task.progress(i / len(views), f"backward view: {name}")
                t0 = time.perf_counter()
                note = ""
                if name == "gradient":
                    attr = Saliency(model).attribute(x, abs=False)
                elif name == "guided":
                    attr = GuidedBackprop(model).attribute(x)
                    note = relu_note
                elif name == "deconvnet":
                    attr = Deconvolution(model).attribute(x)
                    note = relu_note
                elif name == "occlusion":
                    win, stride = _occlusion_window(tuple(x.shape[-2:]))
                    cin = x.shape[1]
                    attr = Occlusion(model).attribute(
                        x, sliding_window_shapes=(cin, win, win), strides=(cin, stride, stride),
                        baselines=0.0, perturbations_per_eval=64)
                else:  # integrated gradients
                    attr = IntegratedGradients(model).attribute(
                        x, baselines=torch.zeros_like(x), n_steps=ig_steps,
                        internal_batch_size=min(ig_steps, 64))
                a = torch.nan_to_num(attr.detach()[0].float())
                if name in ("occlusion", "integrated"):
                    m = a.mean(0) if name == "occlusion" else a.sum(0)
                    rgb = _display(a) if name == "integrated" else None
                else:
                    m = a.abs().amax(0)
                    rgb = _display(a)
                out[name] = BackwardView(name, m.cpu().numpy().astype(np.float32), rgb,
                                         a.cpu().numpy().astype(np.float32),
                                         time.perf_counter() - t0, note)
    finally:
        network.module.train(was_training)
    task.progress(1.0, "backward views done")
    return out
