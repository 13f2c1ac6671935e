"""What the insight panels share: a worker per panel, one network at a time, pictures
with captions under them, plots in the theme's colours.

The section's panels all work on the section's network. The insight tools hook layers
(forward hooks, Grad-CAM's gradient hooks), so two panels must never run on the same
module at once: :func:`exclusive` serialises them (waiting cancellably), and long jobs
take a private copy under it (:func:`own_copy`) so a fine-tuning run does not hold up a
heat map.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from explorer.app.pictures import Image
from explorer.gui.common.workers import JobContext, JobRunner

#: Okabe-Ito: colour-blind-safe categorical colours, one per meaning in this section
COLOURS = {"head": "#0072B2", "full": "#D55E00", "cosine": "#009E73", "cka": "#E69F00"}
#: on the presentation theme's black, Okabe-Ito's blue is too dark: its sky blue instead
DARK_COLOURS = {**COLOURS, "head": "#56B4E9"}


def colour(meaning: str) -> str:
    """The colour of `meaning` ("head", "full", "cosine", "cka") on the current theme."""
    from explorer.gui.common import theme

    return (DARK_COLOURS if theme.current() is theme.PRESENTATION else COLOURS)[meaning]
#: lines a projector still shows
LINE_WIDTH = 3

_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


@contextmanager
def exclusive(network, ctx: JobContext) -> Iterator[object]:
    """Hold `network`'s module for this job alone; waiting for another panel's job is
    cancellable (``ctx.check()`` every 50 ms)."""
    with _GUARD:
        lock = _LOCKS.get(network.module)
        if lock is None:
            lock = _LOCKS[network.module] = threading.Lock()
    while not lock.acquire(timeout=0.05):
        ctx.check()
    try:
        yield network
    finally:
        lock.release()


def own_copy(network, ctx: JobContext):
    """A private copy of `network` (hooks left behind) for a long job, taken under
    :func:`exclusive`."""
    with exclusive(network, ctx):
        clone = copy.deepcopy(network.module)
    for m in clone.modules():
        for hooks in (m._forward_hooks, m._forward_pre_hooks, m._backward_hooks,
                      getattr(m, "_forward_hooks_with_kwargs", {}),
                      getattr(m, "_forward_pre_hooks_with_kwargs", {})):
            hooks.clear()
    return dataclasses.replace(network, module=clone)


def style_plot(plot) -> None:
    """A pyqtgraph PlotWidget in the theme's colours and the application's font:
    background, axes, tick numbers and their labels, legend text (never a hard-coded grey
    or black, never pyqtgraph's small default text)."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from explorer.gui.common import theme

    t = theme.current()
    font = QApplication.font()
    size = f"{max(font.pointSizeF(), 9.0):.0f}pt"
    plot.setBackground(t.base)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(t.text, width=1))
        axis.setTextPen(pg.mkPen(t.text))
        axis.setStyle(tickFont=font)
        axis.enableAutoSIPrefix(False)
        if axis.labelText:
            axis.setLabel(axis.labelText, units=axis.labelUnits, color=t.text,
                          **{"font-size": size})
    legend = plot.getPlotItem().legend
    if legend is not None:
        legend.setLabelTextColor(t.text)
        legend.setLabelTextSize(size)
        legend.setBrush(pg.mkBrush(t.base))
        legend.setPen(pg.mkPen(t.hint))
        for _sample, label in legend.items:
            label.setText(label.text, color=t.text, size=size)


def _pixmap(picture: np.ndarray) -> QPixmap:
    """float [h, w, 3] in [0, 1] -> QPixmap."""
    arr = np.ascontiguousarray(np.round(np.clip(picture[..., :3], 0, 1) * 255).astype(np.uint8))
    h, w = arr.shape[:2]
    image = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class PictureGrid(QWidget):
    """Pictures in a grid, each with its caption in words under it, as large as the space
    allows (the number of columns is chosen for the largest pictures); pixels stay crisp
    when enlarged."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._grid = QGridLayout(self)
        # the cells are sized from the grid's size, never the other way round: a grid
        # that asked for its cells' width would push the section into sideways scrolling
        self._grid.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(6)
        self._items: list[tuple[QPixmap, str]] = []
        self._cells: list[QWidget] = []
        self.pictures: list[QLabel] = []
        self.captions: list[QLabel] = []
        self._cols = 1
        self._probe = QLabel(self)  # measures captions; never shown
        self._probe.setWordWrap(True)
        self._probe.hide()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(64, 64)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(320, 240)

    def set_items(self, items: list[tuple[np.ndarray, str]]) -> None:
        """(picture float [h, w, 3] in [0, 1], caption: rich text) for each cell."""
        self.clear()
        self._items = [(_pixmap(p), text) for p, text in items]
        for _pix, text in self._items:
            cell = QWidget(self)
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(2)
            picture = QLabel(cell)
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption = QLabel(text, cell)
            caption.setWordWrap(True)
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            box.addWidget(picture)
            box.addWidget(caption, 1)
            self._cells.append(cell)
            self.pictures.append(picture)
            self.captions.append(caption)
        self._relayout()

    def clear(self) -> None:
        while self._grid.count():
            self._grid.takeAt(0)
        for cell in self._cells:
            cell.hide()
            cell.deleteLater()
        self._items, self._cells, self.pictures, self.captions = [], [], [], []

    @property
    def columns(self) -> int:
        return self._cols

    def _widest_word(self) -> int:
        """Pixels of the widest word of any caption (bold where the caption is bold): no
        word may be cut."""
        import html
        import re

        from PySide6.QtGui import QFontMetrics

        bold_font = self.font()
        bold_font.setBold(True)
        plain, bold = QFontMetrics(self.font()), QFontMetrics(bold_font)

        def words(text: str) -> list[str]:
            # a line breaks at plain spaces only (&nbsp; keeps "d = 0.28" together)
            text = html.unescape(re.sub(r"<[^>]+>", " ", text))
            return [w for w in re.split(r"[ \t\n]+", text) if w]

        widest = 0
        for _pix, text in self._items:
            strong = " ".join(re.findall(r"<b>(.*?)</b>", text))
            rest = re.sub(r"<b>.*?</b>", " ", text)
            widest = max([widest] + [bold.horizontalAdvance(w) for w in words(strong)]
                         + [plain.horizontalAdvance(w) for w in words(rest)])
        return widest + 4

    def _caption_height(self, text: str, width: int) -> int:
        # measured on a label of its own: a caption whose size is fixed answers
        # heightForWidth with its fixed height, whatever the width
        self._probe.setFont(self.font())
        self._probe.setText(text)
        return self._probe.heightForWidth(width) + 2

    def _plan(self, cols: int) -> tuple[int, int, int]:
        """(picture side, cell width, caption height) with `cols` columns; side 0 when a
        caption's longest word would not fit in the cell."""
        n = len(self._items)
        rows = -(-n // cols)
        cell_w = int((self.width() - cols * self._grid.horizontalSpacing()) / cols) - 1
        if cell_w < self._widest_word() and cols > 1:
            return 0, cell_w, 0
        caption_h = max(self._caption_height(text, cell_w) for _pix, text in self._items)
        h = (self.height() - rows * (caption_h + 2)
             - (rows - 1) * self._grid.verticalSpacing()) / rows
        return max(0, int(min(cell_w, h))), cell_w, caption_h

    def _relayout(self) -> None:
        n = len(self._items)
        if not n:
            return
        cols = max(range(1, n + 1), key=lambda c: (self._plan(c)[0], -c))
        side, cell_w, caption_h = self._plan(cols)
        side = max(16, side)
        self._cols = cols
        while self._grid.count():  # the cells stay; only their places change
            self._grid.takeAt(0)
        for k, (cell, (pix, _text)) in enumerate(zip(self._cells, self._items)):
            mode = (Qt.TransformationMode.FastTransformation if side >= pix.width()
                    else Qt.TransformationMode.SmoothTransformation)
            self.pictures[k].setPixmap(pix.scaled(side, side,
                                                  Qt.AspectRatioMode.KeepAspectRatio, mode))
            self.pictures[k].setFixedSize(max(side, cell_w), side)
            self.captions[k].setFixedSize(max(side, cell_w), max(caption_h, 1))
            self._grid.addWidget(cell, k // cols, k % cols,
                                 Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        # empty columns and rows take the rest, so the cells stay packed at the top left
        for c in range(self._grid.columnCount()):
            self._grid.setColumnStretch(c, 0)
        for r in range(self._grid.rowCount()):
            self._grid.setRowStretch(r, 0)
        self._grid.setColumnStretch(cols, 1)
        self._grid.setRowStretch(-(-len(self._items) // cols), 1)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._relayout()


class InsightPanel(QWidget):
    """Base of the insight panels: ``set_network``, ``set_image``, ``run``, ``shutdown``.

    A new network or picture clears the last answer at once (and drops one still being
    computed). ``status`` carries one-line messages for the window's status bar;
    ``errors`` keeps the messages shown (tests read it); ``result`` is the last answer.
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
        self.cancel_button.clicked.connect(self.cancel)
        #: pyqtgraph plots that follow the theme (normal / presentation)
        self.plots: list = []
        from explorer.gui.common import theme

        me = weakref.ref(self)

        def restyle(_theme, _scale) -> None:
            panel = me()
            if panel is None:
                return
            try:
                for plot in panel.plots:
                    style_plot(plot)
            except RuntimeError:  # the widgets are gone already
                pass

        self._stop_restyle = theme.on_change(restyle)

    # -- public -----------------------------------------------------------------------
    def set_network(self, network) -> None:
        """The section's network (a :class:`~explorer.core.network.Network`)."""
        self.network = network
        self.discard()
        self.network_changed()

    def set_image(self, image: Image | None) -> None:
        """The section's picture."""
        self.image = image
        self.discard()

    def network_changed(self) -> None:
        """Subclasses refresh their choices (layers, classes) here."""

    def discard(self) -> None:
        """Forget the answer (and the job computing one): the input changed."""
        if self.runner.busy:
            self.runner.cancel()
        self.result = None
        self.errors.clear()
        self.hint.setText("")
        self.clear_view()

    def clear_view(self) -> None:
        """Subclasses empty their pictures, tables and plots here."""

    def cancel(self) -> None:
        self.runner.cancel()
        self.status.emit("cancelled")

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop the worker (call before the window closes)."""
        self._stop_restyle()
        return self.runner.shutdown(timeout)

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def show_error(self, text: str) -> None:
        self.errors.append(text)
        self.hint.setText(f"<b>{text}</b>")
        self.status.emit(text)

    def ready(self) -> bool:
        """Whether there is a network and a picture to work on (else say so)."""
        if self.network is None or self.image is None:
            self.show_error("The network or the picture is still loading.")
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
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(fraction * 1000))
        else:
            self.progress_bar.setRange(0, 0)  # busy, no estimate

    def _busy(self, busy: int) -> None:
        self.progress_bar.setVisible(bool(busy))
        self.cancel_button.setVisible(bool(busy))
        if busy:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(0)
