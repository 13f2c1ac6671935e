"""timm's convolutional networks and where their pretrained weights would be cached, known
without importing timm.

timm imports torchvision (and with it ``torch._dynamo``) and builds its registry of ~1,300
models on import: listing its CNNs took seconds. ``cnn-explorer models`` and the window's
network list need only each name and the cache keys of its default weights, kept in
``resources/timm_cnns.json`` for one timm version; where the installed version is another,
timm itself is asked. Regenerate after upgrading timm with
``python -m explorer.nets.timm_catalogue``; tests/core/test_startup_imports.py checks it.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata
from pathlib import Path

from explorer import RESOURCES

#: {"timm": version, "models": {name: [hf_hub_id, hf_hub_filename, url] or null}}
CATALOGUE = RESOURCES / "timm_cnns.json"

Fields = tuple[str | None, str | None, str | None]


def installed_version() -> str | None:
    """The installed timm's version, read from its metadata (no import)."""
    try:
        return metadata.version("timm")
    except metadata.PackageNotFoundError:
        return None


def from_timm() -> dict[str, Fields | None]:
    """{name: (hf_hub_id, hf_hub_filename, url) of its default weights, or None} asked of
    timm itself (imports it)."""
    from explorer.errors import ModelError
    from explorer.nets import formats

    answer: dict[str, Fields | None] = {}
    for name in formats.timm_names():
        try:
            cfg = formats._timm_cfg(name)
        except ModelError:  # a name without a pretrained configuration
            cfg = None
        answer[name] = None if cfg is None else (
            cfg.hf_hub_id or None, cfg.hf_hub_filename or None, cfg.url or None)
    return answer


@functools.cache
def catalogue() -> dict[str, Fields | None] | None:
    """timm's CNNs: the stored catalogue when it was made for the installed timm, else
    timm's own answer; None when timm is not installed."""
    version = installed_version()
    if version is None:
        return None
    try:
        data = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if isinstance(data, dict) and data.get("timm") == version and \
            isinstance(data.get("models"), dict):
        return {name: (tuple(fields) if fields else None)
                for name, fields in data["models"].items()}
    return from_timm()


def cached_file(hf_hub_id: str | None, hf_hub_filename: str | None,
                url: str | None) -> Path | None:
    """The file holding weights with these cache keys if a download already put it in the
    Hugging Face hub cache or the torch hub cache; never downloads."""
    if hf_hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            try_to_load_from_cache = None
        if try_to_load_from_cache is not None:
            repo, _, revision = hf_hub_id.partition("@")
            files = ([hf_hub_filename] if hf_hub_filename else
                     ["model.safetensors", "pytorch_model.bin"])
            for filename in files:
                found = try_to_load_from_cache(repo, filename, revision=revision or None)
                if isinstance(found, str) and Path(found).is_file():
                    return Path(found)
    if url:
        import torch

        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
        if cached.is_file():
            return cached
    return None


def write(path: Path = CATALOGUE) -> Path:
    """Store timm's answer for the installed version at `path`."""
    models = from_timm()
    rows = ",\n".join(f"  {json.dumps(name)}: {json.dumps(models[name])}"
                      for name in sorted(models))  # one network a line: readable diffs
    path.write_text(f'{{"timm": {json.dumps(installed_version())}, "models": {{\n{rows}\n}}}}\n',
                    encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover - regenerating the stored catalogue
    print(f"wrote {write()}")
