"""The networks this project defines and ships trained weights for.

Each entry names a builder and what the explorer needs to show the network. Weights are
``pretrained/NAME.pt`` (a state dict, read with ``weights_only=True``) beside a model card
``pretrained/NAME.json``. Modules that define networks add themselves to :data:`SHIPPED`
through :func:`register`; :mod:`explorer.nets.registry` reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn


@dataclass(frozen=True)
class ShippedNet:
    name: str
    build: Callable[[], nn.Module]
    #: "classify", "segment" or "detect-stage" (what the outputs mean)
    task: str
    #: (H, W) the network was trained at
    input_size: tuple[int, int]
    in_channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...]
    description: str = ""
    #: sample image that suits this network (a name from explorer.data.samples), if any
    default_image: str | None = None
    extra: dict = field(default_factory=dict)


SHIPPED: dict[str, ShippedNet] = {}


def register(spec: ShippedNet) -> ShippedNet:
    SHIPPED[spec.name] = spec
    return spec


#: modules whose import registers shipped networks; a missing one is simply not built yet
SHIPPED_MODULES = [
    "explorer.nets.lenet",
    "explorer.nets.tinyvgg",
    "explorer.nets.segnets",
    "explorer.nets.mtcnn",
    "explorer.nets.fast_rcnn",
]


def load_all() -> dict[str, ShippedNet]:
    import importlib

    for name in SHIPPED_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return SHIPPED
