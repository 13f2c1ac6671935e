"""The few places where the window asks the person something, kept in one module.

Errors are not here: they go to the window's non-modal banner and the status bar, so a
test (or a class watching the projector) is never stuck behind a modal box. Questions
that must block (confirm a download, pick a file) go through these functions, which the
window looks up at call time so tests can replace them with ``monkeypatch``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask a yes/no question; True for yes."""
    answer = QMessageBox.question(
        parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    )
    return answer == QMessageBox.StandardButton.Yes


def ask_open_file(parent: QWidget | None, title: str, file_filter: str) -> str | None:
    """Let the person pick one existing file; None if they cancel."""
    path, _ = QFileDialog.getOpenFileName(parent, title, "", file_filter)
    return path or None


def ask_save_file(parent: QWidget | None, title: str, file_filter: str, suggested: str = ""
                  ) -> str | None:
    """Let the person choose where to save; None if they cancel."""
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, file_filter)
    return path or None
