"""One forward pass that keeps every module's output, and what each layer is.

:func:`layer_table` describes the layers of a network for one input size (shape,
parameters, kernel, receptive field); it runs once per network and size and is cached.
:func:`trace` then runs the network with a forward hook on every module that keeps its
output on the compute device: that pass costs little more than a plain forward, and a
view moves only the one layer it shows to the CPU.

A TorchScript module cannot be hooked: both functions then work on its eager stand-in
(:mod:`explorer.core.script_trace`), which replays the script's graph child by child and
checks the result against the script's own output; what cannot be replayed is shown as
one opaque layer, and :func:`script_note` (``Trace.note``) says so in one line.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field

import torch
from torch import nn

from explorer.core import script_trace
from explorer.core.fields import Field, FieldTracker
from explorer.core.network import Network
from explorer.errors import ModelError


@dataclass
class LayerInfo:
    name: str
    type: str
    out_shape: tuple[int, ...]  # without the batch dimension
    params: int
    kernel: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] | None = None
    dilation: tuple[int, int] | None = None
    #: receptive-field size in input pixels (the larger of H and W), None if unknown
    rf: int | None = None
    #: input pixels between neighbouring units along H
    jump: float | None = None
    #: input coordinate of unit (0, 0)'s field centre along H
    start: float | None = None
    rf_global: bool = False
    rf_hw: tuple[float, float] | None = None
    jump_hw: tuple[float, float] | None = None
    start_hw: tuple[float, float] | None = None
    depth: int = 0
    is_leaf: bool = True
    children: list[str] = field(default_factory=list)

    @property
    def channels(self) -> int:
        return self.out_shape[0] if self.out_shape else 0

    @property
    def spatial(self) -> bool:
        """Whether the output is a stack of 2-D maps [C, H, W]."""
        return len(self.out_shape) == 3

    def field_box(self, y: int, x: int) -> tuple[float, float, float, float] | None:
        """Unit (y, x)'s theoretical receptive field as (x1, y1, x2, y2) in input pixels,
        with pixel i covering [i, i + 1). Not clipped to the image."""
        if self.rf_hw is None or self.rf_global:
            return None
        cy = self.start_hw[0] + y * self.jump_hw[0] + 0.5
        cx = self.start_hw[1] + x * self.jump_hw[1] + 0.5
        rh, rw = self.rf_hw
        return (cx - rw / 2, cy - rh / 2, cx + rw / 2, cy + rh / 2)

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "output_shape": list(self.out_shape),
                "params": self.params, "kernel": self.kernel, "stride": self.stride,
                "padding": self.padding, "dilation": self.dilation,
                "receptive_field": "global" if self.rf_global else self.rf,
                "jump": self.jump, "depth": self.depth, "is_leaf": self.is_leaf}


_TABLES: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()
#: TorchScript module -> {(size, device): StandIn}, made along with its layer table
_STANDINS: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def layer_table(network: Network, input_size: tuple[int, int] | None = None
                ) -> list[LayerInfo]:
    """Every module that runs in a forward pass at `input_size` (default: the network's),
    in ``named_modules`` order, with its output shape and receptive field."""
    size = tuple(input_size or network.input_size)
    key = (size, str(network.device))
    cache = _TABLES.setdefault(network.module, {})
    if key not in cache:
        cache[key] = _describe(network, size)
    return cache[key]


def first_tensor(out) -> torch.Tensor | None:
    """The first tensor in a module's output (a tensor, tuple/list or dict of them)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        return next((t for t in out if isinstance(t, torch.Tensor)), None)
    if isinstance(out, dict):
        return next((t for t in out.values() if isinstance(t, torch.Tensor)), None)
    return None


def _describe(network: Network, size: tuple[int, int]) -> list[LayerInfo]:
    module = network.module
    if script_trace.is_script(module):
        return _describe_script(network, size)
    x = torch.zeros(1, network.in_channels, *size, device=network.device)
    outs: dict[str, torch.Tensor] = {}
    named = [(n, m) for n, m in module.named_modules() if n]
    tracker = FieldTracker(x)
    hooks = _keep_outputs(named, outs)
    try:
        with torch.no_grad(), tracker:
            module(x)
    finally:
        for h in hooks:
            h.remove()
    return _layer_infos(named, outs, tracker, size)


def _keep_outputs(named, outs: dict[str, torch.Tensor]) -> list:
    hooks = []
    for name, m in named:
        def hook(_m, _inp, out, name=name):
            t = first_tensor(out)
            if t is not None:
                outs[name] = t
        hooks.append(m.register_forward_hook(hook))
    return hooks


def _layer_infos(named, outs: dict[str, torch.Tensor], tracker: FieldTracker,
                 size: tuple[int, int]) -> list[LayerInfo]:
    ran = {n for n in outs}
    layers = []
    for name, m in named:
        if name not in ran:
            continue  # defined but not used at inference (auxiliary heads, ...)
        t = outs[name]
        f: Field | None = tracker.field_of(t)
        info = LayerInfo(
            name=name, type=script_trace.type_name(m), out_shape=tuple(t.shape[1:]),
            params=sum(p.numel() for p in m.parameters()),
            depth=name.count("."),
            children=[f"{name}.{c}" for c, _ in m.named_children() if f"{name}.{c}" in ran],
        )
        info.is_leaf = not info.children
        for attr in ("kernel_size", "stride", "padding", "dilation"):
            v = getattr(m, attr, None)
            if isinstance(v, (int, tuple)) and not isinstance(v, bool):
                setattr(info, "kernel" if attr == "kernel_size" else attr, _pair(v))
        if f is not None:
            info.rf_global = f.whole
            info.rf_hw, info.jump_hw, info.start_hw = f.rf, f.jump, f.start
            info.rf = int(round(max(f.rf))) if not f.whole else max(size)
            info.jump = float(f.jump[0])
            info.start = float(f.start[0])
        layers.append(info)
    return layers


# --- TorchScript ---------------------------------------------------------------------

def _script_error(network: Network, x: torch.Tensor, exc: BaseException) -> ModelError:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    detail = lines[-1] if lines else type(exc).__name__
    for prefix in ("RuntimeError: ", "ValueError: ", "AssertionError: "):
        detail = detail.removeprefix(prefix)
    shape = "x".join(map(str, x.shape[1:]))
    return ModelError(f"{network.name}: the TorchScript file does not run on a {shape} "
                      f"input ({detail[:160]})")


def _run_script(network: Network, x: torch.Tensor) -> None:
    """Run the script itself once: an input it does not take is the person's to fix."""
    try:
        with torch.no_grad(), torch.jit.optimized_execution(False):
            network.module(x)
    except Exception as exc:  # noqa: BLE001 - the file's own code failed on this input
        raise _script_error(network, x, exc) from None


def _describe_script(network: Network, size: tuple[int, int]) -> list[LayerInfo]:
    # a random input, not zeros: a replay is checked on it, and zeros hide a missing ReLU
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, network.in_channels, *size, generator=g).to(network.device)
    _run_script(network, x)
    seen: dict = {}

    def run(standin: nn.Module) -> None:
        named = [(n, m) for n, m in standin.named_modules() if n]
        outs: dict[str, torch.Tensor] = {}
        tracker = FieldTracker(x)
        hooks = _keep_outputs(named, outs)
        try:
            with tracker:
                standin(x)
        finally:
            for h in hooks:
                h.remove()
        seen.update(named=named, outs=outs, tracker=tracker)

    made = script_trace.unscript(network.module, x, run=run)
    _STANDINS.setdefault(network.module, {})[(size, str(network.device))] = made
    return _layer_infos(seen["named"], seen["outs"], seen["tracker"], size)


def _standin(network: Network, size: tuple[int, int]) -> script_trace.StandIn:
    layer_table(network, size)
    return _STANDINS[network.module][(size, str(network.device))]


def script_note(network: Network, input_size: tuple[int, int] | None = None) -> str | None:
    """For a TorchScript network, one line that says which layers its file keeps opaque
    (None when every layer is reached, and for every other network)."""
    if not script_trace.is_script(network.module):
        return None
    return _standin(network, tuple(input_size or network.input_size)).note


def eager_module(network: Network, input_size: tuple[int, int] | None = None
                 ) -> nn.Module:
    """The module to hook or differentiate: the network's own, or for a TorchScript
    network its eager stand-in (same layer names, checked against the script's output on
    every call; see :mod:`explorer.core.script_trace`)."""
    if not script_trace.is_script(network.module):
        return network.module
    return _standin(network, tuple(input_size or network.input_size)).module


def submodule(network: Network, name: str) -> nn.Module:
    """Layer `name` of the network (``get_submodule``, which a ScriptModule lacks; for
    one, the layer's stand-in, which carries its weights and geometry)."""
    return eager_module(network).get_submodule(name)


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, tuple) else (v, v)


@dataclass
class Trace:
    """What one forward pass produced. ``outputs`` stay on the compute device."""

    network: Network
    input: torch.Tensor  # Tensor[1, C, H, W]
    layers: list[LayerInfo]
    outputs: dict[str, torch.Tensor]  # name -> Tensor[C, H, W] or Tensor[K], no batch dim
    output: torch.Tensor | None  # the network's own output, batch dim kept
    logits: torch.Tensor | None  # Tensor[K] for classifiers, on the CPU
    probs: torch.Tensor | None  # Tensor[K], on the CPU
    seconds: float
    #: one line when a TorchScript file keeps some layers opaque (see script_note)
    note: str | None = None

    def info(self, name: str) -> LayerInfo:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def activation(self, name: str) -> torch.Tensor:
        return self.outputs[name]

    def topk(self, k: int = 5) -> list[tuple[str, float]]:
        if self.probs is None:
            return []
        p, i = self.probs.topk(min(k, self.probs.numel()))
        names = self.network.class_names
        return [(names[j] if j < len(names) else f"class {j}", float(q))
                for q, j in zip(p.tolist(), i.tolist())]


def trace(network: Network, x: torch.Tensor) -> Trace:
    """Run `network` once on x (Tensor[1, C, H, W]) keeping every module's output."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"trace expects Tensor[1, C, H, W], got {list(x.shape)}")
    x = x.to(network.device)
    layers = layer_table(network, tuple(x.shape[-2:]))
    if script_trace.is_script(network.module):
        return _trace_script(network, x, layers)
    wanted = {layer.name for layer in layers}
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_m, _inp, out):
            t = first_tensor(out)
            if t is not None:
                outputs[name] = t[0]
        return hook

    hooks = [m.register_forward_hook(keep(n))
             for n, m in network.module.named_modules() if n in wanted]
    t0 = time.perf_counter()
    try:
        with torch.inference_mode():
            out = network.module(x)
    finally:
        for h in hooks:
            h.remove()
    return _finish(network, x, layers, outputs, out, t0)


def _finish(network: Network, x: torch.Tensor, layers: list[LayerInfo],
            outputs: dict[str, torch.Tensor], out, t0: float, note: str | None = None
            ) -> Trace:
    if network.device.type == "cuda":
        torch.cuda.synchronize(network.device)
    seconds = time.perf_counter() - t0
    logits = probs = None
    first = first_tensor(out)
    if network.task in ("classify", "detect-stage") and first is not None:
        k = len(network.class_names)
        scores = first.flatten(1) if first.dim() == 4 and first.shape[-2:] == (1, 1) else first
        if scores.dim() == 2 and (not k or scores.shape[1] == k):
            logits = scores[0].float().cpu()
            # MTCNN's stages end in a softmax already; a second one would flatten them
            already = network.extra.get("output_is_probability", False)
            probs = logits if already else logits.softmax(0)
    return Trace(network, x, layers, outputs, first, logits, probs, seconds, note)


def _trace_script(network: Network, x: torch.Tensor, layers: list[LayerInfo]) -> Trace:
    made = _standin(network, tuple(x.shape[-2:]))
    wanted = {layer.name for layer in layers}
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_m, _inp, out):
            t = first_tensor(out)
            if t is not None:
                outputs[name] = t[0]
        return hook

    hooks = [m.register_forward_hook(keep(n))
             for n, m in made.module.named_modules() if n in wanted]
    t0 = time.perf_counter()
    try:
        with torch.inference_mode():
            out, hidden = script_trace.call(made.module, x, on_retry=outputs.clear)
    except Exception:
        _run_script(network, x)  # the file's own failure on this input is the person's
        raise
    finally:
        for h in hooks:
            h.remove()
    note = made.note
    if hidden:
        # modules whose replay differed for this input: their own outputs are right,
        # what was recorded inside them is not
        for name in [n for n in outputs
                     if any(h == "" or n.startswith(h + ".") for h in hidden)]:
            del outputs[name]
        layers = [lay for lay in layers if lay.name in outputs]
        note = "for this input, " + script_trace.hidden_note(hidden)
    return _finish(network, x, layers, outputs, out, t0, note)
