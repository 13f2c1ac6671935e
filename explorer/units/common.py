"""What every unit tool shares: finding a layer that has channels, running a network up to
that layer only, the network's own preprocessing for a batch, and the on-disk cache.

A *unit* is one channel of a layer: a map [H, W] of a layer with output [C, H, W], or one
number of a layer with output [K] (a Linear layer's units, a classifier's scores).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.core.network import Network
from explorer.core.trace import LayerInfo, first_tensor, layer_table
from explorer.errors import UserError

#: activations whose dead zone gives no gradient: the visualisation optimises what goes in
_RELUS = (nn.ReLU, nn.ReLU6)


# --- layers ---------------------------------------------------------------------------

def unit_layer(network: Network, name: str) -> LayerInfo:
    """The layer called `name` if it has channels (output [C, H, W] or [K]).

    Raises:
        UserError: no such layer, or its output has no channels.
    """
    layers = layer_table(network)
    for layer in layers:
        if layer.name == name:
            if len(layer.out_shape) not in (1, 3) or layer.channels < 1:
                shape = "x".join(map(str, layer.out_shape)) or "a scalar"
                raise UserError(f"{name} gives {shape}, which has no channels; pick a "
                                "convolutional or linear layer")
            return layer
    close = [lay.name for lay in layers if name and name in lay.name][:5]
    close = close or [lay.name for lay in layers if lay.spatial][-5:]
    raise UserError(f"{network.name} has no layer {name!r}; layers include "
                    f"{', '.join(close)} (see `cnn-explorer layers`)")


def check_channels(layer: LayerInfo, channels: list[int] | None) -> list[int]:
    """`channels` (default: all of them), each checked to be in range."""
    if channels is None:
        return list(range(layer.channels))
    out = []
    for c in channels:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise UserError(f"channel {c!r} is not a whole number")
        if not 0 <= int(c) < layer.channels:
            raise UserError(f"channel {c} is out of range: {layer.name} has "
                            f"{layer.channels} channels (0..{layer.channels - 1})")
        out.append(int(c))
    if not out:
        raise UserError("no channels given")
    return out


class _Stop(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a hook to end a forward pass once the wanted layer has run."""


_CALLS: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def _calls_per_pass(network: Network, name: str) -> int:
    """How often module `name` runs in one forward pass (ResNet's blocks call one ReLU
    module twice; the trace keeps the last call's output, and so do the unit tools)."""
    known = _CALLS.setdefault(network.module, {})
    if name not in known:
        count = [0]
        me = threading.get_ident()

        def hook(_m, _i, _o):
            count[0] += threading.get_ident() == me

        h = network.module.get_submodule(name).register_forward_hook(hook)
        dtype = next(network.module.parameters(), torch.empty(0)).dtype
        x = torch.zeros(1, network.in_channels, *network.input_size, device=network.device,
                        dtype=dtype)
        try:
            with torch.no_grad():
                network.module(x)
        finally:
            h.remove()
        known[name] = count[0]
    return known[name]


class LayerProbe:
    """Runs `network` on a batch and returns `layer`'s output, Tensor[N, C, H, W] or
    Tensor[N, K]. When the layer runs once per pass the rest of the network is skipped
    (a hook ends the pass), which makes a unit's gradient cost only what lies below it.
    The hook acts only on the calling thread's pass, so another thread may run the same
    module meanwhile.

    ``pre_activation=True`` returns what goes *into* a ReLU layer instead of its output:
    the same ranking of inputs where the ReLU is positive, and a gradient where it is 0.
    """

    def __init__(self, network: Network, layer: str, pre_activation: bool = False) -> None:
        self.network = network
        self.layer = layer
        self.module = network.module.get_submodule(layer)
        self.pre = pre_activation and isinstance(self.module, _RELUS)
        self.calls = _calls_per_pass(network, layer)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        seen: list[torch.Tensor] = []
        stop_after = self.calls
        me = threading.get_ident()

        def hook(_m, inputs, output):
            if threading.get_ident() != me:
                return  # another thread's pass through the same module (the window's)
            t = first_tensor(inputs) if self.pre else first_tensor(output)
            seen.append(t)
            if len(seen) == stop_after:
                raise _Stop

        h = self.module.register_forward_hook(hook)
        try:
            self.network.module(x)
        except _Stop:
            pass
        finally:
            h.remove()
        if not seen:
            raise RuntimeError(f"{self.layer} did not run")
        return seen[-1]


def unit_values(act: torch.Tensor, channels: list[int] | torch.Tensor,
                reduce: str = "mean") -> torch.Tensor:
    """Each batch element's own unit, reduced to one number: act (Tensor[N, C, H, W] or
    Tensor[N, K]) and channels (N ints) -> Tensor[N], the mean (or with ``reduce="max"``
    the largest value) of channel channels[i] of element i over its positions."""
    idx = torch.as_tensor(channels, device=act.device).long()
    rows = torch.arange(act.shape[0], device=act.device)
    sel = act[rows, idx]
    if sel.dim() == 1:
        return sel
    flat = sel.flatten(1)
    return flat.amax(1) if reduce == "max" else flat.mean(1)


def channel_means(act: torch.Tensor) -> torch.Tensor:
    """act (Tensor[N, C, H, W] or Tensor[N, K]) -> Tensor[N, C], each channel's mean."""
    return act.flatten(2).mean(2) if act.dim() == 4 else act


_FROZEN_LOCK = threading.Lock()
#: module -> [how many callers are inside frozen(), the flags they found]
_FROZEN: weakref.WeakKeyDictionary[nn.Module, list] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def frozen(module: nn.Module):
    """Parameters stop asking for gradients while an input is optimised or attributed: the
    backward pass reaches only the input, and no ``.grad`` is left on a shared network.

    Counted per module, so that two threads working on one network (the window's unit
    card and its hierarchy page) give back the flags the first one found, whichever ends
    first."""
    with _FROZEN_LOCK:
        entry = _FROZEN.get(module)
        if entry is None:
            entry = [0, [(p, p.requires_grad) for p in module.parameters()]]
            _FROZEN[module] = entry
            for p, _ in entry[1]:
                p.requires_grad_(False)
        entry[0] += 1
    try:
        yield
    finally:
        with _FROZEN_LOCK:
            entry[0] -= 1
            if entry[0] == 0:
                for p, flag in entry[1]:
                    p.requires_grad_(flag)
                _FROZEN.pop(module, None)


_TWINS: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, Network | None]] = \
    weakref.WeakKeyDictionary()


def fused_twin(network: Network, layer: str, dtype: torch.dtype | None = None) -> Network:
    """A copy of `network` with every batch norm folded into the convolution before it
    (torch.fx's ``fuse``; in eval mode the two are one affine map), for work that runs the
    network many times, such as feature visualisation: about 1.5x faster on a CPU. With
    `dtype` (torch.bfloat16) the copy's weights are stored in that type, so no pass casts
    them again (autocast re-casts weights that need no gradient on every pass).

    The same network comes back when the fold does not apply: a network in training
    mode, one torch.fx cannot trace, or a `layer` that is not a leaf module the fused
    graph still calls (a container block, or a batch norm that was folded away)."""
    if network.module.training:
        return network
    key = (weights_key(network), str(dtype))
    known = _TWINS.get(network.module)
    if known is None or known[0] != key:
        twin = None
        try:
            import copy

            from explorer.core.fx_safe import fuse

            fused = fuse(copy.deepcopy(network.module))
            fused.eval()
            if dtype is not None:
                fused.to(dtype)
            if network.device.type == "cpu":  # oneDNN's convolutions prefer NHWC
                fused.to(memory_format=torch.channels_last)
            twin = dataclasses.replace(network, module=fused)
        except Exception:  # noqa: BLE001 - any trace failure: use the network as it is
            twin = None
        _TWINS.clear()  # one twin at a time: a copy of VGG-16 is half a gigabyte
        _TWINS[network.module] = (key, twin)
        known = _TWINS[network.module]
    twin = known[1]
    if twin is None:
        return network
    if isinstance(network.module.get_submodule(layer),
                  (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)):
        return network  # folded, a convolution would give what its batch norm gives
    called = {n.target for n in twin.module.graph.nodes if n.op == "call_module"}
    try:
        same = (layer in called and type(twin.module.get_submodule(layer))
                is type(network.module.get_submodule(layer)))
    except AttributeError:
        same = False
    return twin if same else network


# --- pictures -------------------------------------------------------------------------

def normalise(network: Network, x: torch.Tensor) -> torch.Tensor:
    """x (Tensor[N, Cin, H, W] in [0, 1], Cin = the network's channels) -> what the
    network takes: (x - mean) / std, on x's device."""
    mean = torch.tensor(network.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(network.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def fit_batch(network: Network, x: torch.Tensor) -> torch.Tensor:
    """x (Tensor[N, 3 or 1, H, W] in [0, 1]) at the network's input size and channels, as
    :func:`explorer.core.network.preprocess` does for one picture (shorter side resized,
    centre cropped, grey for one-channel networks), still in [0, 1]."""
    h, w = network.input_size
    ih, iw = x.shape[-2:]
    if (ih, iw) != (h, w):
        scale = max(h / ih, w / iw)
        nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False,
                          antialias=True)
        top, left = (nh - h) // 2, (nw - w) // 2
        x = x[..., top:top + h, left:left + w].clamp(0, 1)
    if network.in_channels == 1 and x.shape[1] == 3:
        x = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    elif network.in_channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x


def to_rgb(x: np.ndarray) -> np.ndarray:
    """x (float [N, Cin, H, W] or [Cin, H, W]) -> float32 [..., H, W, 3]; grey repeated."""
    a = np.moveaxis(np.asarray(x, np.float32), -3, -1)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.ascontiguousarray(a)


# --- cache ----------------------------------------------------------------------------

def default_cache_dir() -> Path:
    """$CNN_EXPLORER_CACHE/units, else ~/.cache/cnn-explorer/units (XDG respected)."""
    from explorer.insight.cache import cache_dir

    return cache_dir() / "units"


def weights_key(network: Network) -> str:
    """A fingerprint of the network's weights: SHA-256 of its state dict (remembered per
    module until a tensor changes in place), so a file loaded twice or a network trained
    further each get their own cache entries."""
    from explorer.insight.cache import weights_hash

    return f"{network.name}-{weights_hash(network.module)}"


@dataclass
class Cache:
    """One folder of ``.npz`` files keyed by a hash of what produced them. ``folder=None``
    disables it."""

    folder: Path | None

    @classmethod
    def at(cls, folder: str | Path | None | bool) -> Cache:
        if folder is False:
            return cls(None)
        return cls(Path(folder) if folder else default_cache_dir())

    def path(self, kind: str, key: dict) -> Path | None:
        if self.folder is None:
            return None
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        return self.folder / kind / f"{digest}.npz"

    def load(self, kind: str, key: dict) -> dict[str, np.ndarray] | None:
        path = self.path(kind, key)
        if path is None or not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError):
            return None  # a half-written or foreign file: compute again

    def save(self, kind: str, key: dict, arrays: dict[str, np.ndarray]) -> None:
        path = self.path(kind, key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)  # readers never see half a file
        except OSError:
            pass  # a read-only or full disk costs the next run time, nothing else
