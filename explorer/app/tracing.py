"""Load and trace: the one use case behind ``predict``, ``features``, ``filters``,
``layers`` and the window's Explore section.

A request names a network and a picture (or keeps the ones already loaded); the job opens
what is new, runs ONE traced forward pass (on the CPU if the GPU runs out of memory) and
checks what came out. A network that cannot run on the picture, returns something that is
not a tensor, or computes NaN is described in one sentence, never a traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from explorer.app.networks import NetSpec, open_network
from explorer.app.pictures import Picture, describe, open_picture
from explorer.core.network import Network, preprocess, to_display
from explorer.core.tasks import NullTask, Task
from explorer.core.trace import LayerInfo, Trace, layer_table, script_note, trace
from explorer.errors import Cancelled, ModelError, UserError


@dataclass
class LoadRequest:
    """What should be loaded after the job; what is not replaced stays."""

    device: torch.device
    network: Network | None = None
    net_spec: NetSpec | None = None
    image: Picture | None = None
    #: a picture spec in the input grammar (explorer.app.pictures)
    image_spec: str | None = None


@dataclass
class LoadResult:
    network: Network
    image: Picture
    trace: Trace
    #: float32 [H, W, 3] in [0, 1]: the input as the network sees it
    picture: np.ndarray
    #: set when the GPU ran out of memory and the trace ran on the CPU
    note: str | None = None
    #: something a person must know about the result (NaN in the output, a TorchScript
    #: file whose inner layers cannot be reached), in one sentence
    warning: str | None = None

    @property
    def sample(self) -> str | None:
        """The sample's name when the picture is one, else None."""
        src = self.image.source
        return src.split(":", 1)[1] if src.startswith("sample:") else None


#: requests started early by :func:`prefetch`, by :func:`_prefetch_key`
_PREFETCHED: dict[tuple, Future] = {}
_PREFETCH_LOCK = threading.Lock()


def _prefetch_key(req: LoadRequest) -> tuple | None:
    """What makes two requests the same job: only a request that opens both a network
    and a picture by name can be done before the window asks."""
    if req.network is not None or req.image is not None or req.net_spec is None \
            or req.image_spec is None:
        return None
    return (repr(req.net_spec), req.image_spec, str(req.device))


def prefetch(req: LoadRequest) -> bool:
    """Start `req` at once on a plain thread; :func:`run_request` of an equal request
    later takes its answer (or, should it fail, runs again to report the failure).

    Why: the window's first network can load and trace while pyqtgraph is imported and
    the window is built; torch's kernels and file reads release the GIL, so on two cores
    the two overlap. Returns whether it started."""
    key = _prefetch_key(req)
    if key is None:
        return False
    future: Future = Future()

    def work() -> None:
        try:
            future.set_result(_run_request(req, NullTask()))
        except BaseException as exc:  # noqa: BLE001 - kept for the one who asks
            future.set_exception(exc)

    with _PREFETCH_LOCK:
        _PREFETCHED[key] = future
    threading.Thread(target=work, name="prefetch", daemon=True).start()
    return True


def drop_prefetches(timeout: float = 60.0) -> None:
    """Forget the prefetched requests nobody took, after waiting for their threads (a
    program that ends while one still loads and traces aborts in torch's teardown)."""
    from concurrent.futures import wait

    with _PREFETCH_LOCK:
        futures = list(_PREFETCHED.values())
        _PREFETCHED.clear()
    if futures:
        wait(futures, timeout=timeout)


def _take_prefetched(req: LoadRequest, task: Task) -> LoadResult | None:
    """The answer :func:`prefetch` computed for an equal request (waiting for it, with
    `task` checked meanwhile), or None: none started, or it failed."""
    key = _prefetch_key(req)
    with _PREFETCH_LOCK:
        future = _PREFETCHED.pop(key, None) if key is not None else None
    if future is None:
        return None
    while True:
        task.check()
        try:
            return future.result(timeout=0.02)
        except FutureTimeout:
            continue
        except Exception:  # noqa: BLE001 - run again: the failure is reported with `task`
            return None


def run_request(req: LoadRequest, task: Task | None = None) -> LoadResult:
    """Open what `req` asks for and trace the picture once (runs in a worker thread).

    Raises:
        UserError: one sentence for a bad picture, network or a network that cannot run.
        Cancelled: the task was cancelled.
    """
    task = task or NullTask()
    done = _take_prefetched(req, task)
    if done is not None:
        return done
    return _run_request(req, task)


def _run_request(req: LoadRequest, task: Task) -> LoadResult:
    network, image = req.network, req.image
    if req.image_spec is not None:
        task.progress(-1, f"Reading {describe(req.image_spec)}…")
        image = open_picture(req.image_spec)
        task.check()
    if req.net_spec is not None:
        network = open_network(req.net_spec, req.device, task)
        task.check()
    if network is None or image is None:
        raise ValueError("a load request needs a network and an image")
    task.progress(-1, "Forward pass…")
    tr, picture, note = trace_picture(network, image, task)
    return LoadResult(network, image, tr, picture, note, warning_of(tr))


def trace_picture(network: Network, image: Picture, task: Task | None = None
                  ) -> tuple[Trace, np.ndarray, str | None]:
    """One traced pass of `image` through `network`: (trace, the input as the network
    sees it as float32 [H, W, 3], a note when the GPU ran out of memory)."""
    from explorer.core.device import run_with_oom_fallback

    task = task or NullTask()

    def forward(device: torch.device) -> tuple[Trace, np.ndarray]:
        net = network.to(device)
        x = preprocess(net, image)
        with _checked_between_layers(net.module, task):
            return trace(net, x), to_display(net, x)

    with _as_model_error(network, f"a {network.input_size[0]} × {network.input_size[1]} "
                                  "picture"):
        (tr, picture), _device, note = run_with_oom_fallback(forward, network.device)
    task.check()
    _check_output(network, tr)
    return tr, picture, note


def layers_of(network: Network, input_size: tuple[int, int] | None = None
              ) -> list[LayerInfo]:
    """The layer table of `network` at `input_size` (default: its own), every failure
    one sentence."""
    h, w = input_size or network.input_size
    with _as_model_error(network, f"a {h} × {w} input"):
        return layer_table(network, input_size)


def network_note(network: Network) -> str | None:
    """One line when a TorchScript file hides some of its layers, else None."""
    return script_note(network)


def trace_tensor(network: Network, x: torch.Tensor) -> Trace:
    """One traced pass of x (Tensor[1, C, H, W], already prepared), every failure of the
    network one sentence."""
    with _as_model_error(network, f"a {'x'.join(map(str, x.shape))} input"):
        return trace(network, x)


def warning_of(tr: Trace) -> str | None:
    """What a person must be told about a trace, or None."""
    bad = nonfinite_from(tr)
    if bad is not None:
        return bad
    return getattr(tr, "note", None)


def nonfinite_from(tr: Trace) -> str | None:
    """"the network's output holds NaN from layer X on" when it does, else None."""
    out = tr.output
    if out is None or not out.is_floating_point() or bool(torch.isfinite(out).all()):
        return None
    what = "NaN" if bool(torch.isnan(out).any()) else "infinity"
    for layer in tr.layers:
        t = tr.outputs.get(layer.name)
        if t is not None and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return f"the network's output holds {what} from layer {layer.name} on"
    return f"the network's output holds {what}"


def _check_output(network: Network, tr: Trace) -> None:
    out = tr.output
    if out is None:
        raise ModelError(f"{network.name} returned something that is not a tensor; the "
                         "explorer needs a tensor (or a tuple or dict of tensors)")
    if out.numel() == 0:
        raise ModelError(f"{network.name} returned an empty tensor "
                         f"{list(out.shape)}; there is nothing to show")
    if out.is_complex():
        raise ModelError(f"{network.name} returned complex numbers; the explorer shows "
                         "real-valued outputs only")


@contextmanager
def _as_model_error(network: Network, what: str) -> Iterator[None]:
    """A network that cannot run on the input is the person's file, not a bug: one line.
    Networks the explorer ships or builds keep their traceback (that would be a bug)."""
    try:
        yield
    except (UserError, Cancelled):
        raise
    except Exception as exc:  # noqa: BLE001 - a user's module can raise anything
        if not isinstance(exc, RuntimeError) and network.weights_source != "file":
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first = first.split("(Could this error message be improved")[0].strip()
        raise ModelError(f"{network.name} could not run on {what}: "
                         f"{type(exc).__name__}: {first[:200]}") from exc


@contextmanager
def _checked_between_layers(module: torch.nn.Module, task: Task) -> Iterator[None]:
    """Call ``task.check()`` before every leaf layer while the block runs, so a cancelled
    trace of a big network (VGG-16: 1.7 s on two CPU cores) stops at the next layer instead
    of finishing. Only this thread is checked: the module may be shared with a section.
    TorchScript modules take no hooks; they are checked before and after only."""
    if isinstance(module, torch.jit.ScriptModule):
        yield
        return
    me = threading.get_ident()

    def check(_module, _inputs) -> None:
        if threading.get_ident() == me:
            task.check()

    handles = [m.register_forward_pre_hook(check) for m in module.modules()
               if next(m.children(), None) is None]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
