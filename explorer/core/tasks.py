"""The one contract for long work: report progress, notice a cancel.

Every long job (a trace, detection, segmentation over a set, training, a sweep, a
feature visualisation) takes a :class:`Task`. It calls ``task.progress(fraction,
message)`` now and then and ``task.check()`` between units of work; ``check`` raises
:class:`~explorer.errors.Cancelled` once the person asked to stop, so at most one more
unit runs after a cancel. The window's worker and the command line's progress bar are
both Tasks; compute code never knows which.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from explorer.errors import Cancelled

__all__ = ["Cancelled", "Task", "NullTask", "FlagTask", "CallbackTask", "sub_task"]


@runtime_checkable
class Task(Protocol):
    """What a long job receives."""

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the job is: `fraction` in [0, 1], or a negative number for
        "busy, no estimate"."""

    def check(self) -> None:
        """Raise :class:`Cancelled` if the person asked to stop."""


class NullTask:
    """No progress shown and never cancelled: for tests and library calls."""

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def check(self) -> None:
        pass


class FlagTask:
    """A task cancelled by setting a :class:`threading.Event` (from any thread), with an
    optional progress callback ``report(fraction, message)``.

    ``checks`` counts the calls to :meth:`check`, so tests can count the work done after a
    cancel instead of timing it."""

    def __init__(self, report: Callable[[float, str], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self._report = report
        self.cancel_event = cancel or threading.Event()
        self.checks = 0

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def progress(self, fraction: float, message: str = "") -> None:
        if self._report is not None:
            self._report(float(fraction), message)

    def check(self) -> None:
        self.checks += 1
        if self.cancel_event.is_set():
            raise Cancelled


class CallbackTask(FlagTask):
    """A task whose cancel is a question asked at every check (``should_stop()``)."""

    def __init__(self, report: Callable[[float, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        super().__init__(report)
        self._should_stop = should_stop

    def check(self) -> None:
        if self._should_stop is not None and self._should_stop():
            self.cancel_event.set()
        super().check()


class _SubTask:
    def __init__(self, parent: Task, start: float, stop: float) -> None:
        self._parent, self._start, self._span = parent, start, stop - start

    def progress(self, fraction: float, message: str = "") -> None:
        if fraction < 0:
            self._parent.progress(fraction, message)
        else:
            self._parent.progress(self._start + self._span * min(fraction, 1.0), message)

    def check(self) -> None:
        self._parent.check()


def sub_task(task: Task | None, start: float, stop: float) -> Task:
    """The part [start, stop] of `task`'s progress, for a job made of stages."""
    return _SubTask(task or NullTask(), start, stop)
