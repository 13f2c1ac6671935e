"""Ctrl-C for commands that drive a window without an event loop of their own.

``tour --export`` (and anything else that pumps Qt's events from a Python loop) must not
let Python's default SIGINT handler raise KeyboardInterrupt wherever the main thread is:
raised inside a Qt event handler (a paint, a layout, a slot called from C++), the
exception unwinds through Qt's C++ frames and can leave it half-done; one run in four
of an interrupted export crashed with a segmentation fault in the next ``setText``.
Here the first Ctrl-C only raises a flag, and :func:`check` turns it into
KeyboardInterrupt at a point the caller chose, between events. A second Ctrl-C, for a
window stuck in one event, ends the process at once (the system's default action: an
exception raised in a slot would only be printed by PySide and the loop would go on).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# A plain flag, not a threading.Event: the handler runs on the main thread between two
# bytecodes, possibly inside check() itself, where an Event's internal lock would already
# be held by that same thread (a deadlock). Only the main thread reads or writes it.
_heard = [False]


def _on_interrupt(_signum, _frame) -> None:
    _heard[0] = True
    # the next Ctrl-C is not deferred: a window stuck in one event can still be ended
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def between_events() -> Iterator[None]:
    """Within the block, Ctrl-C is heard by :func:`check` (main thread only; elsewhere
    the block changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _heard[0] = False
    previous = signal.signal(signal.SIGINT, _on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _heard[0] = False


def heard() -> bool:
    """Whether Ctrl-C was pressed inside :func:`between_events` (the flag stays up)."""
    return _heard[0]


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed inside :func:`between_events`."""
    if _heard[0]:
        raise KeyboardInterrupt


__all__ = ["between_events", "heard", "check"]
