"""torchvision imported whole, once, before any thread imports a part of it.

Python 3.11 takes a module's import lock before its parent package's: a thread running
``from torchvision.ops import nms`` holds ``torchvision.ops`` while it waits for
``torchvision``, and a thread running ``import torchvision`` holds ``torchvision`` while
its ``__init__`` waits for ``torchvision.ops``. Python breaks that deadlock by handing
one of them a half-made module ("cannot import name 'StochasticDepth' from partially
initialized module 'torchvision.ops'"). The window imports torchvision late (it is not
needed for the first mosaic) and from several threads: a section built on the GUI thread,
a network loading in a worker. So every first import of torchvision in the explorer, and
of the libraries that import it (timm, onnx2torch, grad-cam), goes through
:func:`ensure_torchvision` first, which imports the whole package under one lock.
"""

from __future__ import annotations

import sys
import threading

_LOCK = threading.RLock()


def ensure_torchvision() -> None:
    """Import torchvision whole (once, one thread at a time); quick when it is in."""
    module = sys.modules.get("torchvision")
    spec = getattr(module, "__spec__", None)
    if module is not None and not getattr(spec, "_initializing", False):
        return
    with _LOCK:
        import torchvision  # noqa: F401 - the import is the point


__all__ = ["ensure_torchvision"]
