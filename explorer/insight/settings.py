"""Every insight setting a person can type, checked in one place.

The ``cam``/``neighbours``/``augment``/``finetune``/``compare`` commands, the window's
Why & training section and the compute functions all call these: each returns the value
ready to use or raises a :class:`~explorer.errors.UserError` with one sentence, before any
work starts. :func:`activation_budget` checks what only the network can tell: a batch
whose activations would not fit in memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from explorer.app import checks
from explorer.errors import UserError

#: bounds: generous for any real use, small enough that a typo is caught at once
MAX_K = 1000
MAX_EPOCHS = 1000
MAX_PER_CLASS = 500
MAX_BATCH = 4096
MAX_SEED = 2**31 - 1
MAX_LR = 10.0
FINETUNE_MODES = ("head", "full")
#: float32 numbers one batch of activations may hold (2e9 = 8 GB)
MAX_FLOATS = 2e9


def choice(name: str, value: str, options: Sequence[str]) -> str:
    if value not in options:
        raise UserError(f"{name} must be one of {', '.join(options)}, not {value!r}")
    return value


def k(value: int) -> int:
    """How many neighbours: a whole number from 1."""
    return checks.count("k (the number of neighbours)", value, 1, MAX_K)


def epochs(value: int) -> int:
    return checks.count("the number of epochs", value, 1, MAX_EPOCHS)


def per_class(name: str, value: int) -> int:
    """Pictures per class of a shipped task (`name` says which: training, held-out)."""
    return checks.count(name, value, 1, MAX_PER_CLASS)


def batch_size(value: int) -> int:
    return checks.count("the batch size", value, 1, MAX_BATCH)


def lr(value: float | None) -> float | None:
    """Adam's learning rate, in (0, 10]; None for the mode's default."""
    if value is None:
        return None
    return checks.number("the learning rate", value, 0.0, MAX_LR, lo_open=True)


def seed(value: int) -> int:
    return checks.count("the seed", value, 0, MAX_SEED)


def finetune_mode(value: str) -> str:
    return choice("the fine-tuning mode", value, FINETUNE_MODES)


def variant_names(value: str | Sequence[str] | None, known: Sequence[str]
                  ) -> list[str] | None:
    """"flip left-right,darker" or a list -> the names, each one of `known`; None or ""
    -> None (every variant)."""
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        return None
    parts = (checks.comma_items("--variants", value, "original,darker")
             if isinstance(value, str) else list(value))
    parts = list(dict.fromkeys(p for p in parts if p))  # each variant once, in order
    if not parts:
        if isinstance(value, str):  # "," names nothing: a slip, not "every variant"
            raise UserError(f"--variants {value!r} names no variant; choose from "
                            f"{', '.join(known)}")
        return None
    for name in parts:
        if name not in known:
            raise UserError(f"unknown variant {name!r}; choose from {', '.join(known)}")
    return parts


def activation_floats(network) -> int:
    """float32 numbers one picture's forward pass keeps (every leaf layer's output)."""
    from explorer.app.tracing import layers_of

    return sum(math.prod(lay.out_shape) for lay in layers_of(network) if lay.is_leaf)


def activation_budget(network, batch: int, what: str, factor: float = 1.0) -> None:
    """Refuse `batch` pictures through `network` when their activations (times `factor`:
    2 when gradients are kept too) would exceed :data:`MAX_FLOATS`, before anything runs."""
    per = activation_floats(network)
    checks.allocation(f"{what} ({batch} pictures through {network.name})",
                      float(per) * batch * factor, MAX_FLOATS)


def fit_batch(network, wanted: int) -> int:
    """The largest batch up to `wanted` whose activations stay under a quarter of
    :data:`MAX_FLOATS` (big networks at big input sizes get smaller batches)."""
    per = max(1, activation_floats(network))
    return max(1, min(wanted, int(MAX_FLOATS / 4 // per)))
