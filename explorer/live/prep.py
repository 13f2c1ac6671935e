"""Frames into network inputs on the compute device, and the one hook that keeps the
shown layer's output."""

from __future__ import annotations

import threading

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.core.network import Network
from explorer.core.trace import first_tensor


class FramePrep:
    """A host frame np.float32 [H, W, 3] in [0, 1] -> Tensor[1, C, h, w] on the device,
    the same picture :func:`explorer.core.network.preprocess` makes (shorter side resized,
    centre crop, grey when the network takes one channel, normalised).

    The frame crosses to the device first and is resized there, so a large camera frame
    costs the GPU, not the CPU. On CUDA the copy goes through two reused pinned buffers,
    so it runs asynchronously with no new page-locked allocation per frame; the live loop
    prepares frame n+1 while frame n runs, so a buffer is refilled only once the upload
    that last read it has finished (a CUDA event says so).
    """

    def __init__(self, network: Network, pin_memory: bool = True,
                 channels_last: bool = False) -> None:
        self.device = network.device
        self.size = tuple(network.input_size)
        self.in_channels = network.in_channels
        self.channels_last = channels_last
        self.mean = torch.tensor(network.mean, dtype=torch.float32,
                                 device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(network.std, dtype=torch.float32,
                                device=self.device).view(1, -1, 1, 1)
        self.pin = pin_memory and self.device.type == "cuda"
        self._staging: list[torch.Tensor] = []
        self._uploaded: list = [None, None]  # per buffer: the CUDA event of its last upload
        self._turn = 0

    def _upload(self, frame: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(frame, dtype=np.float32))
        if self.device.type == "cpu":
            return t
        if not self.pin:
            return t.to(self.device)
        if not self._staging or self._staging[0].shape != t.shape:
            self._staging = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
                             for _ in range(2)]
            self._uploaded = [None, None]
        turn, self._turn = self._turn, 1 - self._turn
        if self._uploaded[turn] is not None:
            self._uploaded[turn].synchronize()  # its previous frame has left the buffer
        staging = self._staging[turn]
        staging.copy_(t)
        x = staging.to(self.device, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        self._uploaded[turn] = event
        return x

    def __call__(self, frame: np.ndarray) -> torch.Tensor:
        h, w = self.size
        x = self._upload(frame).permute(2, 0, 1)[None]
        ih, iw = x.shape[-2:]
        scale = max(h / ih, w / iw)
        nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
        if (nh, nw) != (ih, iw):
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False,
                              antialias=True)
        top, left = (nh - h) // 2, (nw - w) // 2
        x = x[..., top:top + h, left:left + w].clamp(0, 1)
        if self.in_channels == 1:
            x = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
        x = (x - self.mean) / self.std
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous()


class LayerTap:
    """One forward hook on the shown layer: it keeps that layer's output of the latest
    pass (Tensor[C, H, W] or Tensor[K], batch dim removed, still on the device) and
    nothing else. Moving it to another layer re-registers one hook; frames register none.

    Only passes run by the thread that attached the tap are kept, so another thread
    running the same module (a trace in the main window) cannot slip its output in.
    """

    def __init__(self) -> None:
        self.name: str | None = None
        self.output: torch.Tensor | None = None
        self._handle = None
        self._thread: int | None = None

    def attach(self, module: nn.Module, name: str) -> None:
        modules = dict(module.named_modules())
        if name not in modules:
            raise KeyError(name)
        self.detach()
        self._handle = modules[name].register_forward_hook(self._keep)
        self._thread = threading.get_ident()
        self.name = name

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
        self._handle = None
        self.name = None
        self.output = None

    def arm(self) -> None:
        """Keep the passes of the calling thread (call before each forward)."""
        self._thread = threading.get_ident()
        self.output = None

    def _keep(self, _module, _inp, out) -> None:
        if threading.get_ident() != self._thread:
            return
        t = first_tensor(out)
        self.output = t[0] if t is not None else None

    def take(self) -> torch.Tensor | None:
        """The kept output, forgetting it (so a stale one is never shown twice)."""
        out, self.output = self.output, None
        return out


_LUTS: dict[str, np.ndarray] = {}


def colorize(image: np.ndarray, name: str = "viridis") -> np.ndarray:
    """A mosaic image (np.float32 [H, W] in [0, 1], NaN in the gaps) -> np.uint8
    [H, W, 4] RGBA through colour map `name`, gaps transparent.

    A GUI draws an RGBA image several times faster than a float image it has to scale and
    look up itself (measured 5-10 ms against 30-49 ms for ResNet-18's 903 x 903 conv1
    mosaic), so the live loop colours the mosaic on its own thread and the GUI thread
    only blits. Each RGBA pixel is looked up as one uint32 (faster than rows of 4 bytes).
    """
    from explorer.core import colormaps

    table = _LUTS.get(name)
    if table is None:
        rgba = np.zeros((257, 4), np.uint8)  # row 256: a gap, transparent
        rgba[:256, :3] = colormaps.lut(name)
        rgba[:256, 3] = 255
        table = _LUTS[name] = rgba.view(np.uint32).ravel()
    x = np.asarray(image, dtype=np.float32)
    # NaN -> 256/255 so that, scaled, a gap lands on row 256
    idx = np.rint(np.nan_to_num(x, nan=256 / 255).clip(0, 256 / 255) * 255).astype(np.intp)
    return table.take(idx).view(np.uint8).reshape(*x.shape, 4)


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """np.float32 [H, W, 3] in [0, 1] -> np.uint8 [H, W, 3] (rounded, clipped)."""
    x = torch.from_numpy(np.ascontiguousarray(frame, dtype=np.float32))
    return x.clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
