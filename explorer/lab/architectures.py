"""The layer geometry of the lecture's torchvision networks, known without importing
torchvision.

``lab params``, ``lab vgg`` and ``lab rf`` are arithmetic: they need VGG's configurations
and the (kernel, stride, padding, dilation) of each layer on AlexNet's, VGG16's and
ResNet18's main path, not the networks. Importing torchvision to read them costs about as
much as importing torch (``torchvision.ops`` pulls in ``torch._dynamo``), so they are kept
in ``resources/lab_architectures.json`` for one torchvision version; where the installed
version is another, torchvision itself is asked. Regenerate the file after upgrading
torchvision with ``python -m explorer.lab.architectures``;
tests/core/test_startup_imports.py checks it against torchvision.
"""

from __future__ import annotations

import functools
import json

from explorer import RESOURCES
from explorer.nets.tv_catalogue import installed_version

STORE = RESOURCES / "lab_architectures.json"
#: the torchvision networks whose main path ``lab rf`` tabulates
NETWORKS = ("alexnet", "vgg16", "resnet18")


def from_torchvision() -> dict:
    """{"vgg_cfgs": {A..E: [...]}, "main_paths": {name: [[name, kind, k, s, p, d], ...]}}
    asked of torchvision itself (imports it)."""
    import torch

    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import torchvision
    from torchvision.models.vgg import cfgs

    from explorer.lab.rf import main_path

    paths = {}
    with torch.device("meta"):
        for name in NETWORKS:
            paths[name] = [list(s) for s in main_path(getattr(torchvision.models, name)())]
    return {"vgg_cfgs": {k: list(v) for k, v in cfgs.items()}, "main_paths": paths}


@functools.cache
def stored() -> dict:
    """The stored geometry when made for the installed torchvision, else torchvision's."""
    try:
        data = json.loads(STORE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if isinstance(data, dict) and data.get("torchvision") == installed_version() and \
            {"vgg_cfgs", "main_paths"} <= set(data):
        return data
    return from_torchvision()


def vgg_cfgs() -> dict[str, list]:
    """torchvision's VGG configurations A, B, D, E (channels, "M" for max-pooling)."""
    return {k: list(v) for k, v in stored()["vgg_cfgs"].items()}


def main_path(name: str) -> list[tuple[str, str, int, int, int, int]]:
    """(name, kind, kernel, stride, padding, dilation) along `name`'s main path, as
    :func:`explorer.lab.rf.main_path` gives it for the torchvision network."""
    return [(str(n), str(kind), int(k), int(s), int(p), int(d))
            for n, kind, k, s, p, d in stored()["main_paths"][name]]


def write() -> None:
    """Store torchvision's answer for the installed version."""
    data = {"torchvision": installed_version(), **from_torchvision()}
    STORE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
    print(f"wrote {STORE}")
