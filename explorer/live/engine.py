"""The live loop: the newest frame goes through the network once; the shown layer's mosaic
and the top-5 come back.

A small pipeline of plain :mod:`threading` threads (no Qt), so that the network is never
waiting for the rest (issue 17):

* a :class:`Grabber` reads the source and keeps only its newest frame: a frame the network
  had no time for is dropped, never queued, so what is shown is never late;
* ``live-prep`` takes the newest frame and prepares it (upload, resize, normalise on the
  device) while the network runs on the frame before it;
* the loop (:meth:`LiveEngine.run`, on the caller's thread, or :meth:`LiveEngine.start`'s
  own) runs the network once with one hook on the shown layer (:class:`~explorer.live.
  prep.LayerTap`), tiles that layer into a mosaic on the device and takes the top-5 there:
  only those leave the device;
* ``live-finish`` colours the mosaic and hands the result over (``on_result``: the window
  draws it) while the loop runs the next frame.

So frame n+1 is captured and prepared while the network runs on frame n and frame n-1 is
coloured and handed over. At most one frame waits between two stages and a waiting one
is replaced by a newer one, so the newest frame still wins. :meth:`LiveEngine.process`
does the same three steps one after another, on the caller's thread. Switching layer,
network or device is asked for from any thread and takes effect at the next frame.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.core import script_trace
from explorer.core.device import pick_device
from explorer.core.mosaic import Mosaic, mosaic
from explorer.core.network import Network
from explorer.core.tasks import FlagTask, NullTask, Task
from explorer.core.trace import LayerInfo, eager_module, layer_table
from explorer.errors import Cancelled, ModelError, UserError
from explorer.live.prep import FramePrep, LayerTap, colorize, first_tensor, to_uint8
from explorer.live.sources import Source


@dataclass
class LiveResult:
    """One processed frame.

    frame (np.float32 [H, W, 3]): the frame as the source gave it (it never went back
    from the device). mosaic: the shown layer's channels tiled into one image.
    topk: [(label, probability)], empty when the network is not a classifier.
    """

    index: int  # the frame's number from the source (gaps = dropped frames)
    frame: np.ndarray
    network: str
    layer: str
    shape: tuple[int, ...]  # the layer's output shape, without batch
    mosaic: Mosaic
    topk: list[tuple[str, float]]
    device: str
    seconds: float  # frame in -> mosaic and top-5 on the host
    fps: float  # results per second, moving average
    dropped: int  # frames dropped so far by the grabber
    timings: dict[str, float] = field(default_factory=dict)
    #: the mosaic coloured (np.uint8 [Hm, Wm, 4], gaps transparent) when the engine has a
    #: ``colormap``; None otherwise
    rgba: np.ndarray | None = None
    colormap: str | None = None
    #: the frame as np.uint8 [H, W, 3], made alongside ``rgba`` (ready to blit)
    frame8: np.ndarray | None = None
    #: with :attr:`LiveEngine.guided` on: guided backpropagation from the shown layer's
    #: most active channel, np.float32 [h, w] >= 0 at the network's input size
    guided: np.ndarray | None = None
    guided_channel: int | None = None


@dataclass
class _Prepared:
    """A frame on its way: read and, when the engine had a network, prepared."""

    index: int
    frame: np.ndarray
    t0: float  # when it was taken from the source
    x: torch.Tensor | None = None  # Tensor[1, C, h, w] on the device
    prep: FramePrep | None = None  # which preparation made `x` (a switch makes a new one)
    prep_s: float = 0.0


@dataclass
class _Computed:
    """A frame through the network: what is left to do is on the host."""

    prepared: _Prepared
    network: str
    layer: str
    shape: tuple[int, ...]
    act: torch.Tensor  # the shown layer's output, still on the device
    normalize: str
    topk: list[tuple[str, float]]
    prep_s: float
    forward_s: float
    topk_s: float
    guided: np.ndarray | None = None
    guided_channel: int | None = None
    guided_s: float = 0.0


class _Stage:
    """One pipeline stage: a thread running the jobs handed to it one at a time, in
    order, each answered by a :class:`~concurrent.futures.Future`.

    Not a ThreadPoolExecutor: that makes its threads without saying ``daemon`` and joins
    them, so ``threading`` looks up the calling thread, and a QThread (the window's live
    worker) is then registered for good as a dummy thread, which looks like a leak.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable, *args) -> Future:
        job: Future = Future()
        self._jobs.put((job, fn, args))
        return job

    def _serve(self) -> None:
        try:
            while (item := self._jobs.get()) is not None:
                job, fn, args = item
                if not job.set_running_or_notify_cancel():
                    continue  # cancelled before it started
                try:
                    job.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to its waiter
                    job.set_exception(exc)
        finally:
            self._finished.set()

    def shutdown(self) -> None:
        """Finish the job running now (queued ones that were cancelled are skipped) and
        end the thread. Waits on an event, not join(): join() registers a foreign caller
        thread with `threading` for good (as Grabber.stop says)."""
        self._jobs.put(None)
        self._finished.wait()


class FpsMeter:
    """Events per second over the last `window` events (a moving average)."""

    def __init__(self, window: int = 30) -> None:
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, now: float | None = None) -> float:
        self._times.append(time.perf_counter() if now is None else now)
        return self.rate

    @property
    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()


class Grabber:
    """Reads `source` on its own thread and keeps only the newest frame.

    ``pace``: frames per second to read at (a video file or the synthetic source would
    otherwise race ahead and burn a core that the network needs); None reads as fast as
    ``read()`` returns (a camera blocks at its own rate).
    """

    def __init__(self, source: Source, pace: float | None = None) -> None:
        self.source = source
        self.pace = pace if pace and pace > 0 else None
        self._cond = threading.Condition()
        self._read_lock = threading.Lock()  # read() from the thread or a step, not both
        self._frame: np.ndarray | None = None
        self._seq = 0  # frames read so far
        self._taken = 0  # seq of the last frame handed out
        self.dropped = 0
        self.ended = False
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="live-grabber", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._running.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            # wait on an event, not join(): join() registers a foreign caller thread (a
            # QThread running the loop) with `threading` for good, which looks like a leak
            self._finished.wait(timeout)
            self._thread = None

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def grab_now(self) -> bool:
        """Read one frame on the calling thread (single-stepping while paused)."""
        return self._read_one()

    def _read_one(self) -> bool:
        try:
            with self._read_lock:
                frame = self.source.read()
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, which raises it
            frame, self.error = None, exc
        with self._cond:
            if frame is None:
                self.ended = True
            else:
                self._frame = frame
                self._seq += 1
            self._cond.notify_all()
        return frame is not None

    def _loop(self) -> None:
        try:
            self._read_all()
        finally:
            self._finished.set()

    def _read_all(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            self._running.wait()
            if self._stop.is_set() or not self._read_one():
                break
            if self.pace:
                next_at += 1.0 / self.pace
                delay = next_at - time.perf_counter()
                if delay <= 0:
                    next_at = time.perf_counter()  # fell behind: do not try to catch up
                # in slices: a wait past threading.TIMEOUT_MAX (a pace of 1e-300, a gap
                # of infinity) raises OverflowError; stop() still ends it at once
                while delay > 0 and not self._stop.is_set():
                    self._stop.wait(min(delay, 60.0))
                    delay = next_at - time.perf_counter()

    def take(self, timeout: float = 0.1) -> tuple[int, np.ndarray] | None:
        """The newest frame not yet handed out as (number, frame), or None if none came in
        `timeout` seconds. Frames read in between are counted in ``dropped``."""
        with self._cond:
            if self._seq == self._taken and not self.ended:
                self._cond.wait(timeout)
            if self._seq == self._taken:
                return None
            self.dropped += self._seq - self._taken - 1
            self._taken = self._seq
            frame, self._frame = self._frame, None
            return self._taken, frame

    @property
    def frames_read(self) -> int:
        return self._seq


def bf16_cpu() -> bool:
    """Whether this CPU runs bfloat16 natively (oneDNN says so)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def reduced_precision(device: torch.device, half: bool):
    """The autocast context for `half` on `device` (a no-op when off or unsupported)."""
    if half and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    if half and device.type == "cpu" and bf16_cpu():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def pipeline_threads(default: int, cores: int | None = None) -> int:
    """The most torch threads worth trying in the pipelined loop: all cores but one, which
    reading, preparing, colouring and drawing the frames around the network's pass need.
    Timed alone, two threads ran resnet18's batch-1 pass faster on 2 cores (56 against
    67 ms), but in the loop the pipeline's other threads then waited for a core, and the
    panel ran at 84 ms a frame against 62 ms with one thread."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, min(default, cores - 1))


def default_layer(layers: list[LayerInfo]) -> str | None:
    """The first leaf layer with 2-D maps (what a live view opens on)."""
    for info in layers:
        if info.spatial and info.is_leaf:
            return info.name
    return layers[0].name if layers else None


class LiveEngine:
    """Runs frames through one network, keeping one layer's output.

    Args:
        network: the network to run (it can be set later with :meth:`set_network`).
        layer: the layer to show; default the first leaf layer with feature maps.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        half: reduced precision through autocast: float16 on CUDA, bfloat16 on a CPU
            that has native bfloat16 (AVX512-BF16/AMX; else ignored). On such a CPU
            ResNet-18 measured 1.8x faster, TinyVGG 2.5x slower (casts cost more than
            its few small convolutions), so it is off unless asked for.
        pin_memory: upload frames through a pinned buffer on CUDA.
        channels_last: run convolutions in NHWC layout (None: yes, which measured up to
            3x faster for TinyVGG on the CPU and no slower for ResNet-18).
        copy_network: run a private copy of the network's module, so moving it to another
            device, its layout and the engine's hook never touch the caller's (the window
            shares its network with the engine); False runs the module as given.
        normalize: the mosaic's scaling ("channel" or "layer").
        colormap: also colour the mosaic (``LiveResult.rgba``) on the loop's thread, so a
            GUI only has to blit it; None leaves that to the viewer. Can be changed at
            any time.
        topk: how many classes to report.
        threads: torch's CPU threads while :meth:`run` runs (restored after; torch's
            setting is process-wide). None leaves torch's default; "auto" times a few
            frames with 1 thread and with torch's default when the loop starts and when
            the network changes, and keeps the faster. On a machine whose cores are busy
            with other work, 1 thread was measured up to 8x faster than 2.

    ``show_interval`` (seconds, None by default) is set by a viewer that cannot show
    results faster than its screen refreshes: :meth:`run` then tiles, colours and hands
    over a frame only when that long has passed since the last one it handed over (and
    always while paused, and the last frame of a source that ends). Every frame still
    goes through the network and counts in :attr:`frames` and the rate; the others' maps
    are never tiled, as nobody would see them (tinyvgg-shapes on two cores ran 140
    frames a second for a 60 Hz screen: more than half the tiling was thrown away).
    """

    def __init__(self, network: Network | None = None, layer: str | None = None, *,
                 device: str | torch.device | None = "auto", half: bool = False,
                 pin_memory: bool = True, channels_last: bool | None = None,
                 copy_network: bool = True, normalize: str = "channel", topk: int = 5,
                 colormap: str | None = None,
                 threads: int | str | None = None) -> None:
        self.device = pick_device(device) if not isinstance(device, torch.device) else device
        self.half = half
        self.pin_memory = pin_memory
        self.channels_last = True if channels_last is None else channels_last
        self.copy_network = copy_network
        self.normalize = normalize
        self.colormap = colormap
        self.k = topk
        if threads not in (None, "auto") and not (isinstance(threads, int) and threads >= 1):
            raise UserError(f"threads must be a positive number or 'auto', not {threads!r}")
        self.threads = threads
        #: what "auto" chose: {network name: threads}
        self.tuned_threads: dict[str, int] = {}
        self.network: Network | None = None
        self.layers: list[LayerInfo] = []
        self.tap = LayerTap()
        self._prep: FramePrep | None = None
        self._lock = threading.Lock()  # guards the requests below
        self._want_network: Network | None = network
        self._want_layer: str | None = layer
        self._want_device: torch.device | None = None
        self._source_module = None  # the caller's module behind self.network
        self.fps_meter = FpsMeter()
        self.frames = 0  # frames processed
        self.latest: LiveResult | None = None
        self.error: BaseException | None = None
        self._grabber: Grabber | None = None
        self._dropped = 0
        self._discarded = 0  # frames read and prepared ahead, then not run (a pause)
        self._paused = threading.Event()
        self._step = threading.Event()
        self._task: FlagTask | None = None  # the task of start()'s loop, cancelled by stop()
        #: guided backpropagation on every frame from the shown layer's most active
        #: channel (explorer.units.live_guided); read by the loop each frame
        self.guided = False
        self._guided = None  # the LiveGuided of (network, layer) the loop uses
        self._thread: threading.Thread | None = None
        #: see the class docstring: hand over at most one result per this many seconds
        self.show_interval: float | None = None
        self._shown_at = -float("inf")  # when run() last handed a result over

    # -- requests (any thread; applied at the next frame) -----------------------------
    def set_network(self, network: Network, layer: str | None = None) -> None:
        """Run `network` from the next frame on, showing `layer` (default: the same layer
        name if the new network has it, else its first feature-map layer). The network
        the engine runs already (the same module, weights unchanged) is not copied again."""
        with self._lock:
            if network.module is self._source_module and self._want_network is None:
                self._want_layer = layer or self._want_layer
                return
            self._want_network = network
            self._want_layer = layer or self._want_layer or self.tap.name

    def set_layer(self, name: str) -> None:
        """Show layer `name` from the next frame on.

        Raises:
            UserError: the current network has no layer of that name.
        """
        with self._lock:
            if self._want_network is None and self.layers and \
                    name not in {info.name for info in self.layers}:
                raise UserError(f"{self.network.name} has no layer {name!r}")
            self._want_layer = name

    def set_device(self, device: str | torch.device) -> None:
        """Move the network to `device` (e.g. "cpu", "cuda") before the next frame."""
        dev = device if isinstance(device, torch.device) else pick_device(device)
        with self._lock:
            self._want_device = dev

    @property
    def layer(self) -> str | None:
        """The layer shown now (a pending switch is not counted)."""
        return self.tap.name

    @property
    def fps(self) -> float:
        return self.fps_meter.rate

    def _apply_requests(self) -> None:
        with self._lock:
            net, layer, dev = self._want_network, self._want_layer, self._want_device
            self._want_network = self._want_layer = self._want_device = None
        if dev is not None and dev != self.device:
            self.device = dev
            if net is None and self.network is not None:
                self.network.to(dev)
                layer = layer or self.tap.name
                self._rebuild(layer)
        if net is not None:
            self._install(net, layer)
        elif layer is not None and layer != self.tap.name and self.network is not None:
            self._attach(layer)

    def _install(self, network: Network, layer: str | None) -> None:
        previous = self.tap.name
        self.tap.detach()
        module = network.module
        if self.copy_network:
            module = copy.deepcopy(module)
            # a copy made while someone's trace ran would keep that trace's hooks for good
            for m in module.modules():
                for hooks in ("_forward_hooks", "_forward_pre_hooks",
                              "_forward_hooks_with_kwargs", "_forward_hooks_always_called"):
                    getattr(m, hooks, {}).clear()
        with self._lock:
            self._source_module = network.module
        net = dataclasses.replace(network, module=module)
        module.eval()
        net.to(self.device)
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        self.network = net
        self._rebuild(layer or previous)

    def _rebuild(self, layer: str | None) -> None:
        net = self.network
        self.layers = layer_table(net)
        self._prep = FramePrep(net, self.pin_memory, self.channels_last)
        names = {info.name for info in self.layers}
        self._attach(layer if layer in names else default_layer(self.layers))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # one input size all along: tune once

    def _attach(self, name: str | None) -> None:
        if name is None:
            self.tap.detach()
            return
        if name not in {info.name for info in self.layers}:
            return  # asked for with an older network in mind; keep what is shown
        # a TorchScript file takes no hooks: its eager stand-in (same layer names, output
        # checked against the file's own every frame) does; for others, the module
        self.tap.attach(eager_module(self.network), name)

    # -- one frame ----------------------------------------------------------------------
    def process(self, frame: np.ndarray, index: int = -1) -> LiveResult:
        """Run one frame (np.float32 [H, W, 3] in [0, 1]) and return what to show: the
        pipeline's three steps one after another, on the calling thread."""
        return self._finish(self._compute(self._prepare(frame, index)))

    def _prepare(self, frame: np.ndarray, index: int) -> _Prepared:
        """Upload and preprocess `frame` for the network installed now (none yet: the
        loop prepares it). Runs on ``live-prep`` while the loop runs the frame before."""
        t0 = time.perf_counter()
        prep = self._prep
        if prep is None:
            return _Prepared(index, frame, t0)
        with torch.inference_mode():
            x = prep(frame)
        return _Prepared(index, frame, t0, x, prep, time.perf_counter() - t0)

    def _compute(self, item: _Prepared) -> _Computed:
        """The network's pass and the top-5 (on the loop); the mosaic is made in _finish."""
        self._apply_requests()
        if self.network is None:
            raise UserError("no network to run: choose one first")
        net = self.network
        t1 = time.perf_counter()
        prep_s = item.prep_s
        self.tap.arm()
        autocast = reduced_precision(self.device, self.half)
        with torch.inference_mode():
            x = item.x
            if x is None or item.prep is not self._prep:  # prepared for another network
                x = self._prep(item.frame)
                prep_s = time.perf_counter() - t1
                t1 = time.perf_counter()
            with autocast:
                out = eager_module(net)(x)
            t2 = time.perf_counter()
            act = self.tap.take()
            if act is not None and script_trace.is_script(net.module) and \
                    not script_trace.verified(self.tap.name):
                act = None  # this frame's replay of the block around it was not used
            scores = self._output_tensor(out)
            if act is None:
                raise UserError(f"layer {self.tap.name!r} did not run for this input")
            finite = torch.isfinite(scores).all() if scores.is_floating_point() else None
            topk = self._topk(scores)  # its small copy back waits for the pass anyway
            if finite is not None and not bool(finite):
                raise self._nonfinite(scores, act)
        t3 = time.perf_counter()
        guided = channel = None
        if self.guided:
            guided, channel = self._guided_map(x)
        return _Computed(item, net.name, self.tap.name, tuple(act.shape), act,
                         self.normalize, topk, prep_s, t2 - t1, t3 - t2, guided, channel,
                         time.perf_counter() - t3)

    def _guided_map(self, x: torch.Tensor) -> tuple[np.ndarray | None, int | None]:
        """Guided backprop of frame `x` from the shown layer's most active channel; its
        guided copy of the network is made once per (network, layer). A network the copy
        cannot be made for (a TorchScript file) gives no map, and the frame still shows."""
        from explorer.units.live_guided import LiveGuided

        net, layer = self.network, self.tap.name
        g = self._guided
        if g is None or g[0] is not net or g[1] != layer:
            try:
                helper = LiveGuided(net, layer)
            except Exception:  # noqa: BLE001 - no guided view for this network
                helper = None
            self._guided = g = (net, layer, helper)
        if g[2] is None:
            return None, None
        # outside inference mode: autograd cannot record through an inference tensor
        return g[2](x.clone())

    def _finish(self, done: _Computed, counted: bool = False) -> LiveResult:
        """Tile and colour the shown layer and make the result (on ``live-finish`` in the
        loop); `counted`: the frame is already in the count (handed over late). The
        tiling is here, not beside the network's pass: on two cores the loop thread then
        runs little but the network (the tiles are still made on the device, one copy
        back)."""
        t3 = time.perf_counter()
        with torch.inference_mode():
            tiles = mosaic(done.act, normalize=done.normalize)
        t_tiles = time.perf_counter()
        frame = done.prepared.frame
        cmap = self.colormap  # read once: the GUI may change it meanwhile
        rgba = colorize(tiles.image, cmap) if cmap else None
        frame8 = to_uint8(frame) if cmap else None
        t4 = time.perf_counter()
        fps = self.fps_meter.rate if counted else self._count(t4)
        grabber = self._grabber
        result = LiveResult(
            index=done.prepared.index, frame=frame, network=done.network, layer=done.layer,
            shape=done.shape, mosaic=tiles, topk=done.topk, device=str(self.device),
            seconds=t4 - done.prepared.t0, fps=fps,
            dropped=(grabber.dropped if grabber else 0) + self._discarded,
            # on CUDA the kernels run asynchronously: the copy back holds the wait
            timings={"prep": done.prep_s, "forward": done.forward_s,
                     "mosaic+topk": done.topk_s + t_tiles - t3, "colour": t4 - t_tiles},
            rgba=rgba, colormap=cmap, frame8=frame8,
            guided=done.guided, guided_channel=done.guided_channel,
        )
        if done.guided is not None:
            result.timings["guided"] = done.guided_s
        self.latest = result
        return result

    def _count(self, now: float) -> float:
        """One more frame through the network; the rate so far."""
        self.frames += 1
        return self.fps_meter.tick(now)

    def _unseen(self, now: float) -> bool:
        """Whether a frame finished `now` would never be seen: handed over less than
        ``show_interval`` after the last one, while running (a step is always shown)."""
        gap = self.show_interval
        return bool(gap) and not self._paused.is_set() and now - self._shown_at < gap

    def _output_tensor(self, out) -> torch.Tensor:
        """The tensor in the network's output, or one sentence saying it gave none."""
        t = first_tensor(out)
        if t is None:
            kind = "nothing" if out is None else f"a {type(out).__name__}"
            raise ModelError(f"{self.network.name} returned {kind}, not a tensor of scores "
                             "or feature maps, so Live has nothing to show")
        return t

    def _nonfinite(self, scores: torch.Tensor, act: torch.Tensor) -> ModelError:
        what = "NaN (not a number)" if bool(torch.isnan(scores).any()) else "infinity"
        where = (f", already at layer {self.tap.name}" if act.is_floating_point()
                 and not bool(torch.isfinite(act).all()) else "")
        return ModelError(f"{self.network.name}'s output holds {what}{where}: its numbers "
                          "overflow, so neither its maps nor its top-5 mean anything")

    def _topk(self, out: torch.Tensor | None) -> list[tuple[str, float]]:
        net = self.network
        if out is None or net.task not in ("classify", "detect-stage"):
            return []
        scores = out.flatten(1) if out.dim() == 4 and out.shape[-2:] == (1, 1) else out
        k = len(net.class_names)
        if scores.dim() != 2 or (k and scores.shape[1] != k):
            return []
        scores = scores[0].float()
        probs = scores if net.extra.get("output_is_probability") else scores.softmax(0)
        p, i = probs.topk(min(self.k, probs.numel()))
        both = torch.cat([p, i.float()]).cpu().tolist()  # one small copy to the host
        n = len(p)
        names = net.class_names
        return [(names[int(j)] if int(j) < len(names) else f"class {int(j)}", float(q))
                for q, j in zip(both[:n], both[n:])]

    # -- the loop ------------------------------------------------------------------------
    def pause(self) -> None:
        self._paused.set()
        if self._grabber is not None:
            self._grabber.pause()  # a video file waits too, rather than playing on unseen

    def resume(self) -> None:
        self._paused.clear()
        self.fps_meter.reset()  # the pause is not a slow frame
        if self._grabber is not None:
            self._grabber.resume()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def step(self) -> None:
        """While paused: read and process exactly one more frame."""
        self._step.set()

    def run(self, source: Source, on_result: Callable[[LiveResult], None] | None = None,
            *, pace: float | None = None, max_frames: int | None = None,
            seconds: float | None = None, task: Task | None = None) -> int:
        """Process the newest frame of `source` over and over until the end of the source,
        `max_frames` results or `seconds` after the first result (start-up and thread
        tuning not counted); returns how many frames were processed. Blocks the calling
        thread.

        `task` (:class:`explorer.core.tasks.Task`) is checked before every frame (and
        while paused): its cancel raises :class:`~explorer.errors.Cancelled` out of here
        with at most one more frame processed, the grabber stopped and the source closed.

        ``pace``: read the source at this rate (default: its ``fps_hint``, or as fast as
        it gives frames for a camera); 0 reads as fast as possible.
        """
        task = task or NullTask()
        if pace is None and not isinstance(source, _realtime_sources()):
            pace = source.fps_hint
        source.open()
        grabber = Grabber(source, pace)
        self._grabber = grabber
        if self._paused.is_set():
            grabber.pause()
        self.fps_meter.reset()
        self._shown_at = -float("inf")  # the first frame is always shown
        done = 0
        threads_before = torch.get_num_threads()
        if self.threads not in (None, "auto"):
            torch.set_num_threads(int(self.threads))
        tuned_for = None
        first_at: float | None = None
        computed = delivered = 0
        self._discarded = 0
        prep_pool = _Stage("live-prep")
        finish_pool = _Stage("live-finish")
        ahead: Future | None = None  # the next frame, being read and prepared
        finishing: Future | None = None  # the frame before, being coloured and handed over

        def take_and_prepare() -> _Prepared | None:
            item = grabber.take(0.05)
            return None if item is None else self._prepare(item[1], item[0])

        unshown: list[_Computed] = []  # the newest frame not handed over, if any

        def finish(done: _Computed) -> None:
            now = time.perf_counter()
            if self._unseen(now):
                self._count(now)
                unshown[:] = [done]
                return
            unshown.clear()
            self._shown_at = now
            result = self._finish(done)
            if on_result is not None:
                on_result(result)

        def handed_over() -> None:
            """Wait until the frame before is handed over (its errors are raised here)."""
            nonlocal finishing, delivered, first_at
            if finishing is not None:
                job, finishing = finishing, None
                job.result()
                delivered += 1
                first_at = time.perf_counter() if first_at is None else first_at

        grabber.start()
        try:
            while max_frames is None or computed < max_frames:
                task.check()  # one unit of work = one frame
                if seconds is not None and first_at is not None and \
                        time.perf_counter() - first_at >= seconds:
                    break
                if self._paused.is_set():
                    if ahead is not None:  # read before the pause: a step shows the next
                        self._discarded += ahead.result() is not None
                        ahead = None
                    handed_over()
                    if not self._step.wait(0.05):
                        continue
                    self._step.clear()
                    task.check()  # a wake-up sent by a cancel is not a step
                    grabber.grab_now()
                if ahead is None:
                    ahead = prep_pool.submit(take_and_prepare)
                item, ahead = ahead.result(), None
                if grabber.error is not None:
                    raise grabber.error
                if item is None:
                    if grabber.ended:
                        break
                    # no new frame yet (a slow --fps): hand the last one over now, so
                    # the `seconds` clock starts at the first frame shown, not when a
                    # second frame comes (a frame every 1000 s never ended the run)
                    handed_over()
                    continue
                if self.threads == "auto" and self.device.type == "cpu":
                    self._apply_requests()
                    if self.network is not None and tuned_for is not self.network:
                        handed_over()
                        tuned_for = self.network
                        self._tune_threads(item.frame, pipeline_threads(threads_before))
                # frame n+1 is read and prepared while the network runs on frame n ...
                if not self._paused.is_set() and (max_frames is None
                                                  or computed + 1 < max_frames):
                    ahead = prep_pool.submit(take_and_prepare)
                done = self._compute(item)
                # ... and frame n-1 was coloured and handed over meanwhile
                handed_over()
                task.check()  # a cancel heard while n-1 was handed over: n is not shown
                computed += 1
                finishing = finish_pool.submit(finish, done)
            handed_over()
            task.check()  # stopped meanwhile: the late frame is not shown either
            if unshown:
                # the source ended (or the frame count was reached) on a frame that was
                # not shown: the last picture a person sees is the last frame
                result = self._finish(unshown.pop(), counted=True)
                if on_result is not None:
                    on_result(result)
        finally:
            # no stage outlives the loop: the frame being handed over arrives, the one
            # being prepared is not run
            if ahead is not None:
                ahead.cancel()
            prep_pool.shutdown()
            finish_pool.shutdown()
            grabber.stop()
            source.close()
            torch.set_num_threads(threads_before)
            self._step.clear()  # a wake-up sent to stop a paused loop is not a step
            self._dropped = grabber.dropped + self._discarded
            self._grabber = None
        return delivered

    def _tune_threads(self, frame: np.ndarray, default: int) -> int:
        """Time `frame` with 1 thread and with `default` threads; keep the faster."""
        frames, best = self.frames, None
        for n in sorted({1, default}):
            torch.set_num_threads(n)
            times = sorted(self.process(frame).seconds for _ in range(3))[:2]
            if best is None or sum(times) < best[0]:
                best = (sum(times), n)
        torch.set_num_threads(best[1])
        self.frames = frames  # trial runs are not shown frames
        self.fps_meter.reset()
        self.tuned_threads[self.network.name] = best[1]
        return best[1]

    def start(self, source: Source, on_result: Callable[[LiveResult], None] | None = None,
              **kwargs) -> None:
        """:meth:`run` on a thread of its own; :meth:`stop` ends it. An exception ends
        the loop and is kept in ``error``."""
        if self._thread is not None:
            raise RuntimeError("the live loop is already running")
        task = self._task = FlagTask()
        self.error = None

        def loop() -> None:
            try:
                self.run(source, on_result, task=task, **kwargs)
            except Cancelled:
                pass  # stop() asked for it
            except BaseException as exc:  # noqa: BLE001 - kept for the caller
                self.error = exc

        self._thread = threading.Thread(target=loop, name="live-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop (and its grabber) and wait for the thread to return."""
        if self._task is not None:
            self._task.cancel()
        self._step.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._step.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def dropped(self) -> int:
        """Frames the current (or last) run read and did not show."""
        grabber = self._grabber
        return grabber.dropped + self._discarded if grabber is not None else self._dropped


def _realtime_sources() -> tuple[type, ...]:
    from explorer.live.sources import CameraSource

    return (CameraSource,)
