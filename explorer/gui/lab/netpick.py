"""Choosing and loading the networks the Lab pages run, off the GUI thread.

A page offers the shipped networks (trained weights when ``pretrained/`` has them, else
random ones, and says so) and a few torchvision ones, always with random weights here:
the Lab never downloads. Loaded networks are kept per page, so moving a slider does not
build the network again.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.core.network import Network

#: the pages' network menus: registry name -> what the menu says
SHIPPED_CHOICES = ("tinyvgg-shapes", "lenet5-digits")
TORCHVISION_CHOICES = ("resnet18", "alexnet", "vgg16")

#: layer types that add nothing to a per-layer plot (no parameters, no change of shape)
_SKIP = (nn.Dropout, nn.Flatten, nn.Identity)


def shipped_available(name: str) -> bool:
    from explorer import PRETRAINED

    return (PRETRAINED / f"{name}.pt").exists()


def default_choice() -> str:
    """The first shipped network with trained weights, else torchvision's resnet18."""
    return next((n for n in SHIPPED_CHOICES if shipped_available(n)), "resnet18")


def menu_text(name: str) -> str:
    if name in SHIPPED_CHOICES:
        return name if shipped_available(name) else f"{name} (random weights)"
    return f"{name} (random weights)"


def load(name: str, cache: dict[str, Network]) -> Network:
    """Network `name` on the CPU from `cache`, built (never downloaded) if absent."""
    if name not in cache:
        from explorer.app.networks import load_network

        cache[name] = load_network(name, device="cpu")
    return cache[name]


def default_image(name: str) -> str:
    """The sample picture that suits network `name`."""
    from explorer.nets import shipped

    spec = shipped.load_all().get(name)
    return spec.default_image if spec is not None and spec.default_image else (
        "digit" if name.startswith("lenet") else "chelsea")


def plot_layers(module: nn.Module, most: int = 30) -> list[str]:
    """Layers worth one point each in a per-layer plot: every leaf (but dropout/flatten)
    for small networks, the direct children (ResNet's stages) for deep ones."""
    leaves = [n for n, m in module.named_modules()
              if n and not list(m.children()) and not isinstance(m, _SKIP)]
    if len(leaves) <= most:
        return leaves
    return [n for n, m in module.named_children() if not isinstance(m, _SKIP)]


def meta_module(name: str) -> nn.Module:
    """Architecture `name` built on the meta device: shapes and counts, no weights, no
    memory (for tables that never run the network on a picture)."""
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import torchvision

    from explorer.nets import shipped

    with torch.device("meta"):
        specs = shipped.load_all()
        if name in specs:
            return specs[name].build().eval()
        kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        return torchvision.models.get_model(name, weights=None, **kwargs).eval()
