"""torchvision's classification CNNs and their ImageNet weight files, known without
importing torchvision.

Importing torchvision costs about as much as importing torch once more (``torchvision.ops``
pulls in ``torch._dynamo``), yet listing networks (``cnn-explorer models``, the window's
network list) needs only each name and the file name torch.hub caches its weights under.
Those are kept in ``resources/torchvision_cnns.json`` for one torchvision version; where
the installed version is another, torchvision itself is asked. Regenerate the file after
upgrading torchvision with ``python -m explorer.nets.tv_catalogue``;
tests/core/test_startup_imports.py checks it against torchvision.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata
from pathlib import Path

from explorer import RESOURCES

#: where the catalogue lives (JSON: {"torchvision": version, "models": {name: file}})
CATALOGUE = RESOURCES / "torchvision_cnns.json"

#: torchvision's classification CNNs (its transformers are not convolutional networks)
CNN_PREFIXES = ("alexnet", "vgg", "resnet", "resnext", "wide_resnet", "googlenet",
                "inception", "squeezenet", "mobilenet", "efficientnet", "densenet",
                "mnasnet", "shufflenet", "regnet", "convnext")


def installed_version() -> str | None:
    """The installed torchvision's version, read from its metadata (no import)."""
    try:
        return metadata.version("torchvision")
    except metadata.PackageNotFoundError:
        return None


def from_torchvision() -> dict[str, str]:
    """{name: weights file name} asked of torchvision itself (imports it)."""
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    return {name: Path(torchvision.models.get_model_weights(name).DEFAULT.url).name
            for name in sorted(names) if name.startswith(CNN_PREFIXES)}


@functools.cache
def catalogue() -> dict[str, str]:
    """{name: weights file name} of torchvision's CNNs: the stored catalogue when it was
    made for the installed torchvision, else torchvision's own answer."""
    try:
        data = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if isinstance(data, dict) and data.get("torchvision") == installed_version() and \
            isinstance(data.get("models"), dict):
        return dict(data["models"])
    return from_torchvision()


def write(path: Path = CATALOGUE) -> Path:
    """Store torchvision's answer for the installed version at `path`."""
    data = {"torchvision": installed_version(), "models": from_torchvision()}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover - regenerating the stored catalogue
    print(f"wrote {write()}")
