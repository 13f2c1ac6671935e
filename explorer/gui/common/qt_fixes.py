"""Work-arounds for bugs in the Qt bindings, applied once when ``explorer.gui`` is imported.

PySide6 6.12.0 (as installed here) hands back ``None`` from every void method
(``label.setText(...)``, ``widget.setVisible(...)``) and ``True`` from every
``signal.emit()`` without taking a reference to them. On Python 3.12+ those objects are
immortal and nothing happens; on Python 3.11 each call leaves them one reference short,
and after enough clicks and redraws the interpreter aborts with "Fatal Python error:
none_dealloc: deallocating None" (or bool_dealloc), at the latest while exiting after a
long session. The fix is what Python 3.12 itself did: give ``None``, ``True`` and
``False`` a reference count so large that no number of calls brings it to zero. It is
applied only when a probe shows the leak on this interpreter.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

#: references added to each pinned singleton: more than any session can leak
PIN = 1 << 40

_applied = False


class _Probe(QObject):
    ping = Signal()


def leaks_singletons() -> bool:
    """Whether calls into Qt lose references to None or True here (the PySide6 bug)."""
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(8):
        probe.setObjectName("probe")  # a void method: returns None
        probe.ping.emit()  # returns True
    return sys.getrefcount(None) < none_before or sys.getrefcount(True) < true_before


def pin_singletons() -> bool:
    """Make None/True/False effectively immortal if Qt calls leak their references.

    Returns True when the pin is in place (applied now or by an earlier call).
    """
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # immortal objects: the leak is harmless
    if not leaks_singletons():
        return False
    for value in (None, True, False):
        # ob_refcnt is the first field of every CPython object
        ctypes.c_ssize_t.from_address(id(value)).value += PIN
    _applied = True
    return True
