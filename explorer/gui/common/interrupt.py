"""Ctrl-C for commands that drive a window without an event loop of their own.

``tour --export`` (and anything else that pumps Qt's events from a Python loop) must not
let Python's default SIGINT handler raise KeyboardInterrupt wherever the main thread is:
raised inside a Qt event handler (a paint, a layout, a slot called from C++), the
exception unwinds through Qt's C++ frames and can leave it half-done; one run in four
of an interrupted export crashed with a segmentation fault in the next ``setText``.
Here the first Ctrl-C only raises a flag, and :func:`check` turns it into
KeyboardInterrupt at a point the caller chose, between events. A second Ctrl-C, for a
window stuck in one event, interrupts at once, as before.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_heard = threading.Event()


@contextmanager
def between_events() -> Iterator[None]:
    """Within the block, Ctrl-C is heard by :func:`check` (main thread only; elsewhere
    the block changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(_signum, _frame) -> None:
        if _heard.is_set():  # the second Ctrl-C: now
            raise KeyboardInterrupt
        _heard.set()

    _heard.clear()
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _heard.clear()


def heard() -> bool:
    """Whether Ctrl-C was pressed inside :func:`between_events` (the flag stays up)."""
    return _heard.is_set()


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed inside :func:`between_events`."""
    if _heard.is_set():
        _heard.clear()
        raise KeyboardInterrupt


__all__ = ["between_events", "heard", "check"]
