"""Running slow work (loading networks and images, forward passes) off the GUI thread.

The GUI thread only draws. A :class:`JobRunner` runs one job at a time on Qt's global
thread pool and keeps at most one more waiting: a newer request replaces the waiting one
and asks the running one to stop at its next checkpoint, because only the latest answer
is ever shown. Every request carries an id; an answer whose id is not the latest is
dropped. Jobs never touch a Qt object: they report through the signals of a small
``QObject`` that lives in the GUI thread, so Qt queues every report to that thread.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal

from explorer.errors import Cancelled, UserError

__all__ = ["Cancelled", "JobContext", "JobRunner"]


@dataclass
class JobContext:
    """What a job receives: an :class:`explorer.core.tasks.Task` (progress and the one
    :class:`~explorer.errors.Cancelled`), cancelled once a newer request replaces it."""

    request_id: int
    _cancel: threading.Event = field(default_factory=threading.Event)
    _report: Callable[[int, str, float], None] | None = None
    #: set when the job's pool thread has returned from it
    _returned: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` when a newer request has replaced this one."""
        if self._cancel.is_set():
            raise Cancelled

    def progress(self, fraction: float, message: str = "") -> None:
        """Report a stage (`fraction` in [0, 1], or -1 for "busy, no estimate")."""
        if self._report is not None:
            self._report(self.request_id, message, float(fraction))


Job = Callable[[JobContext], Any]


class _Signals(QObject):
    """Lives in the GUI thread; the worker thread only emits (Qt queues the delivery)."""

    progress = Signal(int, str, float)
    done = Signal(int, object)
    failed = Signal(int, object, str)


class _Runnable(QRunnable):
    def __init__(self, job: Job, ctx: JobContext, signals: _Signals) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job = job
        self._ctx = ctx
        self._signals = signals

    def run(self) -> None:  # runs in a pool thread: no Qt objects touched here
        try:
            result = self._job(self._ctx)
        except Cancelled:
            self._signals.failed.emit(self._ctx.request_id, None, "cancelled")
        except UserError as exc:
            self._signals.failed.emit(self._ctx.request_id, exc, str(exc))
        except Exception as exc:  # a bug: keep the traceback for the console
            tb = traceback.format_exc()
            self._signals.failed.emit(self._ctx.request_id, exc, f"{exc}\n{tb}")
        else:
            self._signals.done.emit(self._ctx.request_id, result)
        finally:
            self._ctx._returned.set()


class JobRunner(QObject):
    """Runs the latest requested job; older answers never reach the view.

    Signals carry no request id: by the time they are emitted the runner has already
    dropped anything stale.
    """

    #: (message, fraction in [0, 1] or -1)
    progress = Signal(str, float)
    #: the job's return value, for the latest request only
    finished = Signal(object)
    #: (exception, message) for the latest request only; UserError messages are one sentence
    failed = Signal(object, str)
    #: 1 while a job runs or waits, 0 when the last one ended. An int, not a bool: PySide6
    #: 6.12 on Python 3.11 drops a reference to True/False on every emit of a Python bool
    #: through a Python-defined signal, and the interpreter aborts when the count hits zero.
    busyChanged = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._signals = _Signals(self)
        self._signals.progress.connect(self._on_progress)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._next_id = 0
        self._latest = 0
        self._running: JobContext | None = None
        self._waiting: tuple[Job, JobContext] | None = None
        #: every job this runner started whose thread may not have returned yet
        self._started: list[JobContext] = []
        #: how many answers were dropped because a newer request had replaced them
        self.dropped = 0

    # -- requests ---------------------------------------------------------------------
    def submit(self, job: Job) -> int:
        """Queue `job` as the latest request and return its id; older requests are dropped."""
        self._next_id += 1
        ctx = JobContext(self._next_id, _report=self._signals.progress.emit)
        self._latest = ctx.request_id
        if self._running is not None:
            self._running._cancel.set()
        self._waiting = (job, ctx)
        if self._running is None:
            self._start_waiting()
        self.busyChanged.emit(1)
        return ctx.request_id

    def cancel(self) -> None:
        """Forget the waiting request and ask the running one to stop.

        The view is free at once (``busyChanged(0)``): a job inside a call that cannot be
        interrupted (one forward pass, selective search) ends in the background and its
        answer is dropped. ``busy`` stays True until it has returned."""
        self._latest = -1
        self._waiting = None
        if self._running is not None:
            self._running._cancel.set()
        self.busyChanged.emit(0)

    @property
    def busy(self) -> bool:
        return self._running is not None or self._waiting is not None

    @property
    def latest_id(self) -> int:
        return self._latest

    def wait(self, timeout: float = 30.0) -> bool:
        """Process events until no job of this runner runs or waits (used on close, in
        tests, headless). Only this runner's jobs: waiting for the whole thread pool made
        closing the window wait for every other section's work, an uninterruptible
        VGG-16 build in Explore included (8-13 s on the 2-core machine)."""
        deadline = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() > deadline:
                return False
            if self._running is not None:
                self._running._returned.wait(0.01)
            QCoreApplication.processEvents()
        # the answer can arrive a moment before its pool thread has returned
        for ctx in self._started:
            if not ctx._returned.wait(max(0.0, deadline - time.monotonic())):
                return False
        self._started.clear()
        QCoreApplication.processEvents()
        return True

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Cancel everything and wait for the running job to return."""
        self.cancel()
        return self.wait(timeout)

    # -- internals (GUI thread) -------------------------------------------------------
    def _start_waiting(self) -> None:
        assert self._waiting is not None
        job, ctx = self._waiting
        self._waiting = None
        self._running = ctx
        self._started = [c for c in self._started if not c._returned.is_set()] + [ctx]
        QThreadPool.globalInstance().start(_Runnable(job, ctx, self._signals))

    def _finish(self, request_id: int) -> bool:
        """Bookkeeping when a job returns; True if its answer is the one to show."""
        if self._running is not None and self._running.request_id == request_id:
            self._running = None
        if self._waiting is not None:
            self._start_waiting()
        current = request_id == self._latest
        if not current:
            self.dropped += 1
        if not self.busy:
            self.busyChanged.emit(0)
        return current

    def _on_progress(self, request_id: int, message: str, fraction: float) -> None:
        if request_id == self._latest:
            self.progress.emit(message, fraction)

    def _on_done(self, request_id: int, result: object) -> None:
        if self._finish(request_id):
            self.finished.emit(result)

    def _on_failed(self, request_id: int, exc: object, message: str) -> None:
        if self._finish(request_id) and exc is not None:
            self.failed.emit(exc, message)
