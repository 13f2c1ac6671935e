"""Opening any network a person names: one use case for every command and section.

A network comes from a registry name (shipped, torchvision), timm's CNNs by name
(``timm:resnet18d``, or the plain name where neither the project nor torchvision has it),
a state dict or checkpoint for a named architecture, or a whole network in a file: ONNX
(``.onnx``, converted by onnx2torch), a torch.export program (``.pt2``), TorchScript, or a
pickled module the person says they trust. A file opens as ``NetSpec("file", path)``, or
as ``NetSpec(NAME, path)`` to borrow NAME's labels, normalisation and input size. Every
failure is one sentence (:class:`~explorer.errors.ModelError`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.app import checks
from explorer.app.names import DEFAULT_IMAGE, DEFAULT_MODEL  # noqa: F401 - what the window opens on
from explorer.core.network import Network
from explorer.core.tasks import Task
from explorer.errors import ModelError


@dataclass(frozen=True)
class NetSpec:
    """Which network to open: a registry name, ``timm:NAME``, or "file" with a whole
    network in `weights` (.onnx, .pt2, TorchScript, trusted pickle)."""

    name: str
    weights: str | None = None
    trust_pickle: bool = False
    download: bool = False

    @property
    def label(self) -> str:
        return str(self.weights) if self.name == "file" and self.weights else self.name


def list_models():
    """Every network the explorer can open, with where its weights come from
    (list of :class:`explorer.nets.registry.ModelEntry`)."""
    from explorer.nets.registry import list_models as registry_list

    return registry_list()


def list_sources():
    """What `cnn-explorer models` lists: every registry network, timm's CNNs (when timm is
    installed) and the kinds of network file a person can bring (list of
    :class:`explorer.nets.registry.ModelEntry`)."""
    from explorer.nets.registry import list_file_kinds, list_timm

    return list_models() + list_timm() + list_file_kinds()


def opening_note(net: Network) -> str | None:
    """One line the person must hear about how `net` was opened (timm without trained
    weights here, ...), or None."""
    return net.extra.get("note") if isinstance(net.extra, dict) else None


def load_network(name: str, weights: str | None = None, *, download: bool = False,
                 trust_pickle: bool = False, device: str | torch.device | None = "cpu",
                 progress=None) -> Network:
    """:func:`open_network` with the registry's signature (for pages that pick a network by
    name)."""
    return open_network(NetSpec(name, weights, trust_pickle, download), device)


def open_network(spec: NetSpec, device: str | torch.device | None = "cpu",
                 task: Task | None = None) -> Network:
    """Build the network `spec` names, with its best weights, on `device`.

    Raises:
        ModelError: an unknown name; a weights file that is missing, not a regular file,
            unreadable, damaged, of another architecture, holding NaN or tensors that
            cannot be weights; a module that does not fit its own first layer.
        UserError: an unsupported device.
    """
    from explorer.core.device import pick_device
    from explorer.nets.registry import load_network, nonfinite_weights

    dev = device if isinstance(device, torch.device) else pick_device(device)
    if not spec.name or not str(spec.name).strip():
        raise ModelError("no network was named; see `cnn-explorer models`")
    if spec.weights is not None:
        checks.input_file(spec.weights, "weights file", error=ModelError)
    if task is not None:
        task.progress(-1, f"Loading {spec.label}…")
    progress = (lambda fraction, message: task.progress(fraction, message)) if task else None
    net = load_network(spec.name, spec.weights, download=spec.download,
                       trust_pickle=spec.trust_pickle, device=torch.device("cpu"),
                       progress=progress)
    if net.weights_source == "file" and spec.name == "file":
        # a whole module from a file: nothing says what it takes; ask its first layer
        _fit_file_network(net)
    if net.weights_source == "file":  # state dicts were checked as they were read
        bad = nonfinite_weights(_state(net.module))
        if bad:
            raise ModelError(f"{net.name}: {bad}, so every output would be meaningless")
    if task is not None:
        task.check()
    return net.to(dev)


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    try:
        return module.state_dict()
    except Exception:  # noqa: BLE001 - a user's module may break its own state_dict
        return {}


def _fit_file_network(net: Network) -> None:
    """Take the input channels from the module's first convolution (a 1-channel model
    then gets grey pictures, not a colour photo it cannot read)."""
    first = next((m for m in net.module.modules()
                  if isinstance(m, (nn.Conv2d, nn.Linear))
                  or type(m).__name__ in ("Conv2d", "Linear")), None)
    channels = getattr(first, "in_channels", None)
    if isinstance(channels, int) and channels in (1, 3) and channels != net.in_channels:
        net.in_channels = channels
        if channels == 1:
            net.mean, net.std = (0.5,), (0.5,)
