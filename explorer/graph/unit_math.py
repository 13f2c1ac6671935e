"""The arithmetic of one convolution unit, on the real network.

The lecture writes a unit of layer l as a_{l,k} = Σ_j w_{l,kj} * h_{l-1,j} + b_{l,k}: for
every input channel j, the kernel slice w_{l,kj} times the patch of the input map h_{l-1,j}
under it, summed, plus the bias. :func:`unit_math` lays that sum out for unit (k, y, x)
of a ``Conv2d`` with its stride, padding (zeros, reflect, replicate or circular),
dilation and groups, on the input that layer really received, and checks the total
against the output the trace recorded.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from torch import nn

from explorer.core.network import Network
from explorer.core.trace import Trace
from explorer.errors import UserError

FORMULA = "a_{l,k} = Σ_j w_{l,kj} * h_{l-1,j} + b_{l,k}"
#: the total and the recorded output agree to this on the CPU (float32 sums in another
#: order); cuDNN's TF32 convolutions on a GPU differ by more
TOLERANCE = 1e-4


class _Captured(Exception):  # noqa: N818 - a signal that ends the forward pass early
    pass


def conv_layer(network: Network, layer: str) -> nn.Conv2d:
    """The ``Conv2d`` called `layer`, or one line saying why there is none."""
    modules = dict(network.module.named_modules())
    if layer not in modules or not layer:
        close = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)][:5]
        raise UserError(f"no layer {layer!r} in {network.name}; its convolutions include "
                        f"{', '.join(close) or 'none'}")
    module = modules[layer]
    if not isinstance(module, nn.Conv2d) and hasattr(module, "graph_module"):
        # torch.export.unflatten's layer: a graph of aten operators named after its type
        raise UserError(f"{layer} comes from a torch.export program, where a layer is a "
                        "graph of operators without its stride and padding; open the "
                        "network as ONNX or a state dict to see a unit's sum")
    if not isinstance(module, nn.Conv2d):
        kind = type(module).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"  # an AvgPool2d
        raise UserError(f"{layer} is {article} {kind}, not a Conv2d: the sum of "
                        "products is shown for convolution layers")
    return module


def check_unit(shape: tuple[int, ...], layer: str, channel: int, y: int, x: int) -> None:
    """Raise a one-line UserError unless (channel, y, x) lies in an output of `shape`
    ([C, H, W])."""
    for what, value, size in (("channel", channel, shape[0]), ("row y", y, shape[1]),
                              ("column x", x, shape[2])):
        if not 0 <= value < size:
            raise UserError(f"{what} {value} is outside {layer}'s output "
                            f"{'x'.join(map(str, shape))} (0 to {size - 1})")


def conv_input(network: Network, x: torch.Tensor, conv: nn.Conv2d, *, last: bool = False
               ) -> torch.Tensor:
    """What `conv` receives when the network runs on x (Tensor[1, C, H, W]): Tensor[1,
    C_in, H_in, W_in]. The pass stops at the layer's first call; with `last` it runs to
    the end and keeps the last call's input (a layer used twice)."""
    seen: list[torch.Tensor] = []
    me = threading.get_ident()

    def grab(_m, args):
        # the window may run the same network in another thread meanwhile (the unit
        # card, a new trace): only this thread's pass is caught and stopped
        if threading.get_ident() != me:
            return
        seen.append(args[0].detach().clone())
        if not last:
            raise _Captured

    handle = conv.register_forward_pre_hook(grab)
    try:
        with torch.inference_mode():
            network.module(x)
    except _Captured:
        pass
    finally:
        handle.remove()
    if not seen:
        raise UserError(f"{type(conv).__name__} layer does not run in this network's "
                        "forward pass")
    return seen[-1]


def unit_math(network: Network, trace: Trace, layer: str, channel: int, y: int, x: int
              ) -> dict:
    """Σ_j w_kj * h_j + b for unit (channel, y, x) of Conv2d `layer`, term by term.

    Returns a dict with, for each input channel j of the unit's group, the input patch
    under the kernel (``patch``, kh×kw; padded positions hold the padding's value and are
    marked in ``outside``), the kernel slice (``kernel``) and ``sum`` Σ w·h; then
    ``bias``, ``total`` (Σ sums + bias), the trace's ``output`` at the unit and their
    ``difference``. ``rows`` and ``cols`` are the input coordinates the kernel taps
    (negative or past the edge inside the padding).

    Raises:
        UserError: `layer` is not a Conv2d of the network, or the unit is outside its
            output.
    """
    conv = conv_layer(network, layer)
    if layer not in trace.outputs:
        raise UserError(f"{layer} did not run in this trace")
    out = trace.outputs[layer]
    check_unit(tuple(out.shape), layer, channel, y, x)
    recorded = float(out[channel, y, x])
    h = conv_input(network, trace.input, conv)
    result = _terms(conv, h, channel, y, x)
    if abs(result["total"] - recorded) > TOLERANCE * max(1.0, abs(recorded)):
        # the layer may run more than once; the trace keeps its last output
        h = conv_input(network, trace.input, conv, last=True)
        result = _terms(conv, h, channel, y, x)
    result.update(layer=layer, output=recorded,
                  difference=abs(result["total"] - recorded))
    return result


def _terms(conv: nn.Conv2d, h: torch.Tensor, channel: int, y: int, x: int) -> dict:
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    dh, dw = conv.dilation
    left, right, top, bottom = conv._reversed_padding_repeated_twice
    h = h.detach().double().cpu()
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = F.pad(h, (left, right, top, bottom), mode=mode)
    inside = F.pad(torch.ones_like(h[:, :1]), (left, right, top, bottom), value=0.0)
    per_group_out = conv.out_channels // conv.groups
    per_group_in = conv.in_channels // conv.groups
    group = channel // per_group_out
    y0, x0 = y * sh, x * sw
    rows = slice(y0, y0 + dh * (kh - 1) + 1, dh)
    cols = slice(x0, x0 + dw * (kw - 1) + 1, dw)
    outside = (inside[0, 0, rows, cols] == 0).tolist()
    weight = conv.weight.detach().double().cpu()
    terms = []
    for jj in range(per_group_in):
        j = group * per_group_in + jj
        patch = padded[0, j, rows, cols]
        kernel = weight[channel, jj]
        terms.append({"input_channel": j, "patch": patch.tolist(), "kernel": kernel.tolist(),
                      "sum": float((patch * kernel).sum())})
    bias = float(conv.bias.detach()[channel]) if conv.bias is not None else 0.0
    partial = sum(t["sum"] for t in terms)
    return {
        "formula": FORMULA,
        "unit": [channel, y, x],
        "kernel_size": [kh, kw], "stride": [sh, sw], "dilation": [dh, dw],
        "padding": {"top": top, "bottom": bottom, "left": left, "right": right,
                    "mode": conv.padding_mode},
        "groups": conv.groups, "group": group,
        "input_shape": list(h.shape[1:]),
        "rows": [y0 - top + i * dh for i in range(kh)],
        "cols": [x0 - left + i * dw for i in range(kw)],
        "outside": outside,
        "terms": terms,
        "sum": partial,
        "bias": bias,
        "total": partial + bias,
    }
