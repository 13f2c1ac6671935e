"""Mosaics made off the GUI thread, kept while the trace lasts, and made ahead of need.

Tiling a large layer (VGG16's first convolution: 64 x 224 x 224 into a 1799 x 1799 image)
takes longer than a click may block the window (measured in
``benchmarks/layer_switch.py``), so every mosaic that is not cached is made in a pool
thread. The one the view is waiting for jumps the queue; after it, the next layers in
network order are made in the background, so stepping with the keyboard finds them ready.
Results belong to one trace: when a new trace arrives the cache and the queue are emptied
and late answers for the old one are thrown away.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal

from explorer.core.mosaic import Mosaic, mosaic
from explorer.gui.common.canvas import to_indexed


class MosaicKey(NamedTuple):
    """Which mosaic: trace generation, layer name, "channel" or "layer" normalisation."""

    generation: int
    layer: str
    normalize: str


@dataclass
class Tiles:
    """A mosaic and the uint8 picture of it that the view draws (gaps = 255)."""

    mosaic: Mosaic
    index: np.ndarray


class _Signals(QObject):
    done = Signal(object, object, float)  # key, Tiles, seconds
    failed = Signal(object, str)


class _MosaicJob(QRunnable):
    def __init__(self, key: MosaicKey, act: torch.Tensor, signals: _Signals) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._key, self._act, self._signals = key, act, signals

    def run(self) -> None:  # pool thread: tensors only, no Qt objects touched
        try:
            start = time.perf_counter()
            made = mosaic(self._act, normalize=self._key.normalize)
            result = Tiles(made, to_indexed(made.image))
            self._signals.done.emit(self._key, result, time.perf_counter() - start)
        except Exception as exc:  # a bug in tiling: report it, never kill the pool thread
            self._signals.failed.emit(self._key, f"{type(exc).__name__}: {exc}")


def _nbytes(tiles: Tiles) -> int:
    return tiles.mosaic.image.nbytes + tiles.index.nbytes


class MosaicService(QObject):
    """A cache of mosaics for the current trace, filled by one background job at a time."""

    #: (key, Tiles): a mosaic is ready
    ready = Signal(object, object)
    #: (key, message): making it failed
    failed = Signal(object, str)

    def __init__(self, budget_bytes: int = 384 << 20, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.budget_bytes = budget_bytes
        self.generation = 0
        self._cache: OrderedDict[MosaicKey, Tiles] = OrderedDict()
        self._queue: list[tuple[MosaicKey, torch.Tensor]] = []
        self._running: MosaicKey | None = None
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        #: seconds the last finished job took in its thread
        self.last_seconds = 0.0

    # -- state ------------------------------------------------------------------------
    def new_generation(self) -> int:
        """A new trace: forget every mosaic and queued job of the old one."""
        self.generation += 1
        self._cache.clear()
        self._queue.clear()
        return self.generation

    def key(self, layer: str, normalize: str) -> MosaicKey:
        return MosaicKey(self.generation, layer, normalize)

    def cached(self, key: MosaicKey) -> Tiles | None:
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return found

    @property
    def busy(self) -> bool:
        return self._running is not None or bool(self._queue)

    # -- requests ---------------------------------------------------------------------
    def request(self, key: MosaicKey, act: torch.Tensor) -> None:
        """Make the mosaic for `key` before anything else queued."""
        self._queue = [(k, a) for k, a in self._queue if k != key]
        if key != self._running:
            self._queue.insert(0, (key, act))
        self._start_next()

    def prefetch(self, key: MosaicKey, act: torch.Tensor) -> None:
        """Make it when nothing more urgent is waiting (no-op if cached or queued)."""
        if key in self._cache or key == self._running or any(k == key for k, _ in self._queue):
            return
        self._queue.append((key, act))
        self._start_next()

    def cancel_prefetch(self) -> None:
        """Drop everything queued (the running job still finishes)."""
        self._queue.clear()

    def wait(self, timeout: float = 30.0) -> bool:
        """Process events until no job runs or waits."""
        deadline = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() > deadline:
                return False
            QThreadPool.globalInstance().waitForDone(5)
            QCoreApplication.processEvents()
        return True

    def shutdown(self, timeout: float = 30.0) -> bool:
        self._queue.clear()
        return self.wait(timeout)

    # -- internals --------------------------------------------------------------------
    def _start_next(self) -> None:
        if self._running is not None or not self._queue:
            return
        key, act = self._queue.pop(0)
        if key.generation != self.generation:
            self._start_next()
            return
        self._running = key
        QThreadPool.globalInstance().start(_MosaicJob(key, act, self._signals))

    def _store(self, key: MosaicKey, result: Tiles) -> None:
        self._cache[key] = result
        self._cache.move_to_end(key)
        total = sum(_nbytes(t) for t in self._cache.values())
        while total > self.budget_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            total -= _nbytes(old)

    def _on_done(self, key: MosaicKey, result: Tiles, seconds: float) -> None:
        self._running = None
        self.last_seconds = seconds
        if key.generation == self.generation:
            self._store(key, result)
            self.ready.emit(key, result)
        self._start_next()

    def _on_failed(self, key: MosaicKey, message: str) -> None:
        self._running = None
        if key.generation == self.generation:
            self.failed.emit(key, message)
        self._start_next()
