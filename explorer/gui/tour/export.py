"""``cnn-explorer tour --export DIR``: the tour as a slide deck, rendered offscreen.

One window plays the chosen steps as the tour does (presentation mode unless asked
otherwise); after each step it waits until every worker of the window is done and the
views have drawn, grabs the window as ``gui --screenshot`` does, and writes
``DIR/NN_id.png`` atomically (Ctrl-C leaves no half-written picture).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from explorer.tour.steps import STEPS, file_name

#: longest wait for one step's work (a detector sweep on the CPU is the slowest)
STEP_TIMEOUT = 300.0
#: the window must stay idle this long before it is grabbed (queued redraws, timers)
QUIET = 0.6


def busy(window) -> bool:
    """Whether anything in the window is still computing: Explore's loading and mosaics,
    or any section's or page's workers."""
    from explorer.gui.common.workers import JobRunner

    return window.busy or any(r.busy for r in window.findChildren(JobRunner))


def settle(window, timeout: float = STEP_TIMEOUT) -> bool:
    """Process events until the window has been idle for :data:`QUIET` seconds; False if
    it was still busy after `timeout`."""
    from PySide6.QtCore import QCoreApplication

    deadline = time.monotonic() + timeout
    quiet_since = None
    from explorer.gui.common import interrupt

    while time.monotonic() < deadline:
        interrupt.check()  # Ctrl-C is raised here, between events, never inside one
        QCoreApplication.processEvents()
        if busy(window):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET:
            return True
        time.sleep(0.02)
    return False


def grab_png(window, path: Path) -> Path:
    """Save the window as it looks now to `path`, atomically."""
    from explorer.app import checks
    from explorer.errors import UserError

    pixmap = window.grab()

    def write(tmp: Path) -> None:
        if not pixmap.save(str(tmp), "PNG"):
            raise UserError(f"{path}: the picture could not be written")

    return checks.write_atomic(path, write)


def export_steps(folder: Path, indexes: list[int], size: tuple[int, int],
                 presentation: bool, device: torch.device,
                 done: Callable[[int, Path], None] | None = None) -> list[str]:
    """Render tour steps `indexes` into `folder` (checked by the caller) at window `size`.

    Calls ``done(index, path)`` after each picture. Returns the problems met (a step still
    busy after :data:`STEP_TIMEOUT`, an error the window showed), one line each; the
    pictures are written regardless, showing what the window showed.
    """
    from explorer.gui.common import interrupt

    with interrupt.between_events():
        return _export(folder, indexes, size, presentation, device, done)


def _export(folder: Path, indexes: list[int], size: tuple[int, int], presentation: bool,
            device: torch.device, done: Callable[[int, Path], None] | None) -> list[str]:
    from explorer.gui.app import make_app
    from explorer.gui.common import interrupt, theme
    from explorer.gui.main_window import MainWindow

    app = make_app()
    window = MainWindow(device=device)
    problems: list[str] = []
    try:
        window.resize(*size)
        window.show()
        window.tour.start(indexes[0] if indexes else 0, full_screen=False)
        if not presentation:
            window.set_presentation(False)
        for index in indexes:
            interrupt.check()
            errors_before = len(window.errors)
            window.tour.go(index)
            step = STEPS[index]
            if not settle(window):
                problems.append(f"{step.id}: still busy after {STEP_TIMEOUT:.0f} s")
            for text in window.errors[errors_before:]:
                problems.append(f"{step.id}: {text}")
            path = grab_png(window, folder / file_name(index, step))
            if done is not None:
                done(index, path)
    finally:
        window.tour.leave()
        window.close()
        window.deleteLater()
        theme.apply(app, presentation=False)
        app.processEvents()
    return problems
