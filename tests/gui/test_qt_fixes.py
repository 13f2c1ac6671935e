"""The guard against PySide6 6.12's lost references to None/True on Python 3.11."""

import sys

from PySide6.QtWidgets import QLabel

from explorer.gui.common import qt_fixes


def test_leak_is_detected_and_pinned(qapp):
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(1000):
        label.setText("x")  # returns None
    leaked = before - sys.getrefcount(None)
    if sys.version_info < (3, 12) and leaked >= 1000:
        # the binding loses one reference per call: importing explorer.gui must have pinned
        assert qt_fixes.leaks_singletons()
        assert qt_fixes.pin_singletons() is True
        assert sys.getrefcount(None) > qt_fixes.PIN // 2
        assert sys.getrefcount(True) > qt_fixes.PIN // 2
    else:
        assert leaked <= 0
        assert not qt_fixes.leaks_singletons() or qt_fixes.pin_singletons()
