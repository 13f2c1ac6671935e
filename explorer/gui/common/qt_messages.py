"""Qt's own messages on stderr, less the ones known to be harmless.

The offscreen platform (``gui --screenshot``, ``tour --export``, the tests) warns "This
plugin does not support propagateSizeHints()" each time a window's size constraints
change: three or more lines on every run, which turned a one-line error into four and
buried a success's one line. :func:`install` drops such known noise and passes every
other message on exactly as Qt would print it (``QT_MESSAGE_PATTERN`` included).
"""

from __future__ import annotations

import atexit
import sys

from PySide6.QtCore import QMessageLogContext, QtMsgType, qFormatLogMessage, qInstallMessageHandler

#: texts (their start) Qt prints that say nothing a person could act on: a platform
#: without a window manager (offscreen, minimal) lacks what only a window manager does,
#: and QPlatformWindow's defaults say so on every call
HARMLESS = (
    "This plugin does not support propagateSizeHints()",
    "This plugin does not support raise()",
    "This plugin does not support lower()",
    "This plugin does not support grabbing the keyboard",
    "This plugin does not support grabbing the mouse",
    "This plugin does not support setting window opacity",
    "This plugin does not support setting window masks",
)

_installed: dict[str, object] = {}


def harmless(message: str) -> bool:
    """Whether `message` is one of the known harmless texts."""
    return message.startswith(HARMLESS)


def _handler(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    if harmless(message):
        return
    previous = _installed.get("previous")
    if callable(previous):  # a handler installed before (a test's log capture)
        previous(kind, context, message)
        return
    try:
        print(qFormatLogMessage(kind, context, message), file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed (a pipe gone): nothing can be said
        pass


def install() -> None:
    """Filter Qt's messages from now on (once per process; later calls do nothing)."""
    if "previous" not in _installed:
        _installed["previous"] = qInstallMessageHandler(_handler)
        # Qt objects destroyed while the interpreter shuts down may still say something;
        # Python code must not be called then, so Qt's own handler takes over at exit
        atexit.register(qInstallMessageHandler, None)
