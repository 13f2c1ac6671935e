"""What a load request does in the worker: network, image, preprocessing, ONE trace.

Nothing here imports Qt: :func:`run_request` is a plain function the
:class:`~explorer.gui.workers.JobRunner` runs in a pool thread, with checkpoints so a
newer request can stop it between stages.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.core.device import run_with_oom_fallback
from explorer.core.images import Image, load_image
from explorer.core.network import Network, preprocess, to_display
from explorer.core.trace import Trace, trace
from explorer.data.samples import SAMPLE_NAMES, load_sample
from explorer.errors import UserError
from explorer.nets.registry import load_network


@dataclass(frozen=True)
class NetSpec:
    """Which network to load: a registry name, or "file" with a whole-model file."""

    name: str
    weights: str | None = None
    trust_pickle: bool = False
    download: bool = False


@dataclass(frozen=True)
class ImageSpec:
    """Which picture to load: a sample name or a path."""

    sample: str | None = None
    path: str | None = None

    @staticmethod
    def parse(text: str) -> ImageSpec:
        """A sample name unless a file of that name exists."""
        if text in SAMPLE_NAMES and not Path(text).exists():
            return ImageSpec(sample=text)
        return ImageSpec(path=text)

    @property
    def label(self) -> str:
        return self.sample or Path(self.path or "").name


@dataclass
class LoadRequest:
    """The state wanted after the job: keep what is loaded unless a spec replaces it."""

    device: torch.device
    network: Network | None = None
    net_spec: NetSpec | None = None
    image: Image | None = None
    image_spec: ImageSpec | None = None
    sample: str | None = None


@dataclass
class LoadResult:
    network: Network
    image: Image
    #: the sample name, or None for a file the person opened
    sample: str | None
    trace: Trace
    #: float32 [H, W, 3] in [0, 1]: the input as the network sees it
    picture: np.ndarray
    #: set when the GPU ran out of memory and the trace ran on the CPU
    note: str | None = None


def run_request(req: LoadRequest, ctx) -> LoadResult:
    """Load what `req` asks for and trace the image once (runs in a worker thread).

    `ctx` is a :class:`~explorer.gui.workers.JobContext`: progress and cancellation.
    Raises UserError (ImageError / ModelError) with one sentence for bad input.
    """
    network, image, sample = req.network, req.image, req.sample
    if req.image_spec is not None:
        spec = req.image_spec
        ctx.progress(f"Reading {spec.label}…")
        image = load_sample(spec.sample) if spec.sample else load_image(spec.path)
        sample = spec.sample
        ctx.check()
    if req.net_spec is not None:
        spec = req.net_spec
        ctx.progress(f"Loading {spec.name if spec.name != 'file' else spec.weights}…")
        network = load_network(
            spec.name,
            spec.weights,
            download=spec.download,
            trust_pickle=spec.trust_pickle,
            device=req.device,
            progress=lambda fraction, message: ctx.progress(message, fraction),
        )
        ctx.check()
    if network is None or image is None:
        raise ValueError("a load request needs a network and an image")
    ctx.progress("Forward pass…")

    def forward(device: torch.device) -> tuple[Trace, np.ndarray]:
        net = network.to(device)
        x = preprocess(net, image)
        with _checked_between_layers(net.module, ctx):
            return trace(net, x), to_display(net, x)

    try:
        (tr, picture), _device, note = run_with_oom_fallback(forward, network.device)
    except RuntimeError as exc:
        # a network from a file carries no input size: a wrong guess fails here, and that
        # is the person's file, not a bug
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        h, w = network.input_size
        raise UserError(f"{network.name} could not run on a {h} × {w} image: {first}") from exc
    ctx.check()
    return LoadResult(network, image, sample, tr, picture, note)


@contextmanager
def _checked_between_layers(module: torch.nn.Module, ctx) -> Iterator[None]:
    """Call ``ctx.check()`` before every leaf layer while the block runs, so a cancelled
    trace of a big network (VGG-16: 1.7 s on two CPU cores) stops at the next layer instead
    of finishing. Only this thread is checked: the module may be shared with a section."""
    me = threading.get_ident()

    def check(_module, _inputs) -> None:
        if threading.get_ident() == me:
            ctx.check()

    handles = [m.register_forward_pre_hook(check) for m in module.modules()
               if next(m.children(), None) is None]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
