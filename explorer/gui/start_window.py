"""The window's first frame: its layout and a progress line, on screen before PyTorch is
imported.

Importing torch takes about two seconds, pyqtgraph and the views a few tenths more; a
person who starts the program sees this frame within a second instead (issue 17). It
imports nothing but Qt's widgets: :func:`explorer.gui.app.run_gui` shows it, imports the
rest in a :class:`HeavyImports` thread while this frame keeps answering, then puts the
real :class:`~explorer.gui.main_window.MainWindow` in its place, with the same geometry.
tests/core/test_startup_imports.py checks that showing it imports no torch, torchvision
or pyqtgraph.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QTabBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

#: what the window needs beyond Qt, in the order the progress line names them:
#: (module, what the person reads meanwhile)
HEAVY_MODULES = (
    ("torch", "Starting: importing PyTorch…"),
    ("explorer.app.tracing", "Starting: importing the views…"),
    ("pyqtgraph", "Starting: importing the views…"),
    ("explorer.gui.main_window", "Starting: building the window…"),
)


#: the main window's section tabs (explorer.gui.common.section.SECTIONS after Explore;
#: a test keeps the two lists equal)
SECTION_TITLES = ("Explore", "Detection", "Segmentation", "Lab", "Live", "Why && training")


class HeavyImports:
    """Import :data:`HEAVY_MODULES` on a plain thread (no Qt objects are made there).

    Python's import lock makes the main thread wait if it imports one of them meanwhile,
    so the window only polls :attr:`done` and :attr:`stage` until the thread ends.
    """

    def __init__(self, modules: tuple[tuple[str, str], ...] = HEAVY_MODULES,
                 after: dict[str, Callable[[], None]] | None = None) -> None:
        #: module name -> what to call on this thread once it is imported (the first
        #: network's load starts after explorer.app.tracing, before pyqtgraph)
        self.after = dict(after or {})
        self.modules = modules
        self.stage = modules[0][1] if modules else ""
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, name="heavy-imports", daemon=True)

    def start(self) -> HeavyImports:
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        start = time.perf_counter()
        try:
            for name, stage in self.modules:
                self.stage = stage
                importlib.import_module(name)
                if name in self.after:
                    self.after[name]()
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread to raise
            self.error = exc
        self.seconds = time.perf_counter() - start

    def wait(self, on_stage=None, poll_ms: int = 15) -> None:
        """Answer events until the imports are done; `on_stage(text)` hears each stage."""
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(poll_ms)
        shown: list[str] = []

        def poll() -> None:
            if on_stage is not None and (not shown or shown[-1] != self.stage):
                shown.append(self.stage)
                on_stage(self.stage)
            if self.done:
                loop.quit()

        timer.timeout.connect(poll)
        timer.start()
        poll()
        if not self.done:
            loop.exec()
        timer.stop()
        self._thread.join()


def _placeholder(title: str) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 10, 6, 6)
    label = QLabel("…")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setEnabled(False)  # greyed: nothing to use yet
    layout.addWidget(label)
    return box


class StartWindow(QMainWindow):
    """The main window's frame (same menus, columns and status bar), empty, with a
    progress line; it closes when the real window takes its place."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("CNN Explorer")
        self.resize(1400, 900)  # the main window's size, so nothing jumps
        for title in ("&File", "&View", "&Layer", "&Help"):
            self.menuBar().addMenu(title).setEnabled(False)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(_placeholder("Network"))
        left_layout.addWidget(_placeholder("Input: what it sees"), 1)
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(_placeholder("Layers  (PgUp / PgDown)"))  # as the main window
        centre.addWidget(_placeholder("Feature maps"))
        centre.setSizes([250, 610])
        tabs = QTabWidget()
        for title in ("Predictions", "Layer", "Kernels"):
            tabs.addTab(QWidget(), title)
        tabs.setEnabled(False)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(_placeholder("Channel"))
        right.addWidget(tabs)
        right.setSizes([430, 430])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (left, centre, right):
            splitter.addWidget(widget)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([340, 680, 380])
        self.section_bar = QTabBar()
        self.section_bar.setDocumentMode(True)
        for title in SECTION_TITLES:
            self.section_bar.addTab(title)
        self.section_bar.setEnabled(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(0)
        layout.addWidget(self.section_bar)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        self.busy_bar = QProgressBar()
        self.busy_bar.setMaximumWidth(200)
        self.busy_bar.setRange(0, 0)  # busy: how long an import takes is not known
        self.statusBar().addPermanentWidget(self.busy_bar)
        #: True once the person closed this frame (the program then stops starting)
        self.closed = False

    @property
    def progress_text(self) -> str:
        return self.statusBar().currentMessage()

    def set_progress(self, text: str) -> None:
        self.statusBar().showMessage(text)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.closed = True
        super().closeEvent(event)
