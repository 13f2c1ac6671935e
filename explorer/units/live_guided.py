"""Guided backpropagation for a stream of frames (the camera): the same map as
:func:`explorer.units.backward.backward_views`' ``guided`` view, made cheaply enough to run
on every frame.

Captum's ``GuidedBackprop`` hooks every ReLU module on every call and runs the whole
network; for a live view the set-up is paid once instead: a private copy of the network
(the live loop's own network is never hooked, so both may run at once) with batch norms
folded into the convolutions (torch.fx), every ``nn.ReLU`` replaced by a guided ReLU (an
autograd function whose backward passes only positive gradients, and only where the
forward input was positive: Springenberg et al. 2015), no parameter asking for a gradient,
and the pass ended at the unit's layer. ReLUs applied as functions (``F.relu``) stay plain
gradients there, as in Captum (:attr:`LiveGuided.note`).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch
from torch import nn

from explorer.core.network import Network
from explorer.units.common import _RELUS, LayerProbe, check_channels, unit_layer


class _GuidedReluFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clamp(min=0)
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0).to(grad.dtype)


class GuidedReLU(nn.Module):
    """ReLU forward; guided backpropagation's rule backward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedReluFn.apply(x)


def _guided_copy(network: Network, fold: bool = True) -> tuple[nn.Module, int]:
    """A copy of the network's module, batch norms folded (`fold`, where torch.fx can
    trace it), every ReLU / ReLU6 module replaced by :class:`GuidedReLU` (guided backprop
    treats ReLU6 as a ReLU; its forward cap at 6 is dropped in the copy, which only
    matters where a unit exceeds 6). Returns (module, ReLUs replaced)."""
    module = copy.deepcopy(network.module).eval()
    if fold:
        try:
            from explorer.core.fx_safe import fuse

            module = fuse(module, inplace=True)
        except Exception:  # noqa: BLE001 - any trace failure: keep the unfused copy
            pass
    replaced = 0
    for name, m in list(module.named_modules()):
        if isinstance(m, _RELUS) and name:
            module.set_submodule(name, GuidedReLU())
            replaced += 1
    for p in module.parameters():
        p.requires_grad_(False)
    return module, replaced


class LiveGuided:
    """Guided backpropagation from one unit of `layer`, frame after frame.

    ``channel=None`` follows the frame: each frame's map is for the channel with the
    largest mean activation on that frame (what lights up most). Call with x
    (Tensor[1, Cin, H, W], preprocessed for the network; any H, W the layers accept).
    """

    def __init__(self, network: Network, layer: str, channel: int | None = None) -> None:
        info = unit_layer(network, layer)
        if channel is not None:
            check_channels(info, [channel])
        self.layer, self.channel = layer, channel
        # folding changes what a convolution followed by a batch norm gives, and removes
        # the batch norm: for those layers the copy stays unfolded
        target = network.module.get_submodule(layer)
        fold = not isinstance(target, (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm))
        module, replaced = _guided_copy(network, fold=fold)
        if fold and hasattr(module, "graph") and layer not in {
                n.target for n in module.graph.nodes if n.op == "call_module"}:
            # the traced copy calls a block's leaves, not the block (resnet's layer3)
            module, replaced = _guided_copy(network, fold=False)
        self.network = dataclasses.replace(network, module=module)
        self.probe = LayerProbe(self.network, layer)
        self.note = "" if replaced else (f"{network.name} has no ReLU modules: guided "
                                         "backprop is the plain gradient here")

    def __call__(self, x: torch.Tensor) -> tuple[np.ndarray, int]:
        """(map np.float32 [H, W] >= 0: the largest |guided gradient| over colours, the
        channel it is for)."""
        x = x.detach().to(self.network.device).float().requires_grad_(True)
        with torch.enable_grad():
            act = self.probe(x)
            if act.dim() == 4:
                means = act[0].flatten(1).mean(1)
            else:
                means = act[0]
            c = int(means.argmax()) if self.channel is None else self.channel
            (grad,) = torch.autograd.grad(means[c], x)
        return grad[0].abs().amax(0).cpu().numpy().astype(np.float32), c
