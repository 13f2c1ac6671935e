"""Where tensors live: CUDA when present, the CPU otherwise, and a way back to the CPU
when the GPU runs out of memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

from explorer.errors import UserError

T = TypeVar("T")


def pick_device(name: str | None = None) -> torch.device:
    """``None``/"auto": CUDA if available, else CPU; otherwise the named device."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(str(name).strip().lower())
    except (RuntimeError, ValueError):
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        # mps, xpu, meta, ...: torch knows them, but the explorer is tested on CPU and CUDA
        # only, and "meta" holds no numbers at all
        raise UserError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("CUDA was asked for but no CUDA GPU is available; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"there is no {device}: this machine has "
                            f"{torch.cuda.device_count()} CUDA device(s)")
    if device.type == "cpu" and device.index not in (None, 0):
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    return device


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def run_with_oom_fallback(fn: Callable[[torch.device], T], device: torch.device
                          ) -> tuple[T, torch.device, str | None]:
    """Run ``fn(device)``; if CUDA runs out of memory, free the cache and run it on the
    CPU. Returns ``(result, device_used, message or None)``."""
    try:
        return fn(device), device, None
    except Exception as exc:  # noqa: BLE001 - only OOM is handled, the rest re-raised
        if device.type != "cuda" or not is_oom(exc):
            raise
    torch.cuda.empty_cache()
    cpu = torch.device("cpu")
    return fn(cpu), cpu, "the GPU ran out of memory; this ran on the CPU instead"
