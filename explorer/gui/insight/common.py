"""What the insight panels share: the window's network and image, a worker, a status line.

Each panel runs its work in its own :class:`~explorer.gui.common.workers.JobRunner` on a private
copy of the network: the insight tools hook layers (forward hooks, Grad-CAM's gradient
hooks), and a trace the main window runs at the same moment on the same module would
otherwise feed those hooks too.
"""

from __future__ import annotations

import copy
import dataclasses
import weakref

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QWidget

from explorer.app.pictures import Image
from explorer.gui.common.workers import JobRunner

_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def private_copy(network):
    """A copy of `network` whose module no other thread uses; one per module, kept while
    the original lives. Called in workers."""
    module = network.module
    held = _COPIES.get(module)
    if held is None:
        clone = copy.deepcopy(module)
        # hooks come along with a deep copy: a trace running on the original right now
        # would keep receiving the copy's outputs
        for m in clone.modules():
            for hooks in (m._forward_hooks, m._forward_pre_hooks, m._backward_hooks,
                          getattr(m, "_forward_hooks_with_kwargs", {}),
                          getattr(m, "_forward_pre_hooks_with_kwargs", {})):
                hooks.clear()
        held = dataclasses.replace(network, module=clone)
        _COPIES[module] = held
    return held


class InsightPanel(QWidget):
    """Base of the insight panels: ``set_network``, ``set_image``, ``run``, ``shutdown``.

    ``status`` carries one-line messages for the window's status bar; ``errors`` keeps the
    messages shown (tests read it); ``result`` is the last answer.
    """

    status = Signal(str)
    #: emitted with the result object when a run finishes
    done = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.network = None
        self.image: Image | None = None
        self.result = None
        self.errors: list[str] = []
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._finished)
        self.runner.failed.connect(self._failed)
        self.runner.progress.connect(self._progress)
        self.runner.busyChanged.connect(self._busy)
        self.hint = QLabel("")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.runner.cancel)

    # -- public -----------------------------------------------------------------------
    def set_network(self, network) -> None:
        """The window's current network (a :class:`~explorer.core.network.Network`)."""
        self.network = network
        self.network_changed()

    def set_image(self, image: Image | np.ndarray | None) -> None:
        """The window's current image (an Image or float [H, W, 3] in [0, 1])."""
        if isinstance(image, np.ndarray):
            image = Image(image.astype(np.float32), "picture", None, "")
        self.image = image

    def network_changed(self) -> None:
        """Subclasses refresh their choices (layers, classes) here."""

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop the worker (call before the window closes)."""
        return self.runner.shutdown(timeout)

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def show_error(self, text: str) -> None:
        self.errors.append(text)
        self.hint.setText(f"<span style='color:#c62828'><b>{text}</b></span>")
        self.status.emit(text)

    def ready(self) -> bool:
        """Whether there is a network and an image to work on (else say so)."""
        if self.network is None or self.image is None:
            self.show_error("Load a network and an image first.")
            return False
        if self.network.task != "classify":
            self.show_error(f"{self.network.name} is a {self.network.task} network; "
                            "these tools need a classifier.")
            return False
        return True

    # -- worker answers (GUI thread) ---------------------------------------------------
    def show_result(self, result) -> None:
        """Subclasses draw `result` here."""

    def _finished(self, result) -> None:
        self.result = result
        self.hint.setText("")
        self.show_result(result)
        self.done.emit(result)

    def _failed(self, _exc, message: str) -> None:
        self.show_error(message.splitlines()[0] if message else "failed")

    def _progress(self, message: str, fraction: float) -> None:
        self.status.emit(message)
        if fraction >= 0:
            self.progress_bar.setValue(round(fraction * 1000))

    def _busy(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress_bar.setValue(0)


def caption_sheet(pictures: list[np.ndarray], cols: int, pad: int = 4) -> np.ndarray:
    """Pictures (float [h, w, 3] in [0, 1], any sizes) on one white sheet, in a grid of
    equal cells (the largest picture's size): float [H, W, 3]. One image item draws them."""
    if not pictures:
        return np.ones((1, 1, 3), np.float32)
    ch = max(p.shape[0] for p in pictures)
    cw = max(p.shape[1] for p in pictures)
    rows = -(-len(pictures) // cols)
    sheet = np.ones((rows * (ch + pad) + pad, cols * (cw + pad) + pad, 3), np.float32)
    for k, p in enumerate(pictures):
        y = pad + (k // cols) * (ch + pad)
        x = pad + (k % cols) * (cw + pad)
        sheet[y:y + p.shape[0], x:x + p.shape[1]] = p[..., :3]
    return sheet
