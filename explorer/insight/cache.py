"""Where the insight tools keep what took a while to compute (gallery features), and the
fingerprint of a network's weights that such files are keyed by."""

from __future__ import annotations

import hashlib
import os
import weakref
from pathlib import Path

import torch
from torch import nn

_WEIGHT_HASHES: weakref.WeakKeyDictionary[nn.Module, tuple[int, str]] = \
    weakref.WeakKeyDictionary()


def cache_dir() -> Path:
    """$CNN_EXPLORER_CACHE, else $XDG_CACHE_HOME/cnn-explorer, else ~/.cache/cnn-explorer."""
    if os.environ.get("CNN_EXPLORER_CACHE"):
        return Path(os.environ["CNN_EXPLORER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnn-explorer"


def _version(module: nn.Module) -> int:
    # tensors bump their version counter on every in-place change (an optimiser step)
    return sum(t._version for t in module.state_dict().values())


def weights_hash(module: nn.Module) -> str:
    """SHA-256 (16 hex digits) of every tensor in the state dict, names included.

    Remembered per module until one of its tensors changes in place.
    """
    version = _version(module)
    known = _WEIGHT_HASHES.get(module)
    if known and known[0] == version:
        return known[1]
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        t = t.detach().cpu().contiguous()
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    digest = h.hexdigest()[:16]
    _WEIGHT_HASHES[module] = (version, digest)
    return digest
