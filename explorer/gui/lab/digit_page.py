"""Page 7, draw a digit: paint with the mouse and watch LeNet-5 (registry "lenet5-digits")
respond live: its C1 and C3 feature maps as mosaics (:func:`explorer.core.mosaic.mosaic`)
and its ten class probabilities.

LeNet-5 on one 32x32 picture takes well under a millisecond on one CPU thread (measured:
about 1 ms forward, 6-30 ms for the whole update with mosaics and drawing on a busy
2-core machine), so it runs on the
GUI thread, at most once per 50 ms while the pen moves; the page shows the measured time.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from explorer.gui.common import theme
from explorer.gui.common.canvas import owning_popups
from explorer.gui.lab.common import SERIES, ImageGrid, LabPage, big_label, style_plot, wrapped_label
from explorer.gui.lab.digit_input import to_lenet_input

#: the drawing's resolution; the widget scales it to its size
SIDE = 280
#: pen width as a fraction of the side: about a sklearn digit's stroke
PEN = 0.085
THROTTLE_MS = 50
MODEL = "lenet5-digits"


class DrawingCanvas(QWidget):
    """A black square to paint on in white with a thick round pen. Emits ``changed``
    after every stroke segment."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage(SIDE, SIDE, QImage.Format.Format_Grayscale8)
        self.image.fill(0)
        self._last: QPointF | None = None
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(400, 400)

    # -- geometry: the square the drawing occupies inside the widget -------------------
    def _square(self) -> QRectF:
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def _to_image(self, pos: QPointF) -> QPointF:
        sq = self._square()
        return QPointF((pos.x() - sq.x()) * SIDE / sq.width(),
                       (pos.y() - sq.y()) * SIDE / sq.height())

    # -- drawing ----------------------------------------------------------------------
    def clear(self) -> None:
        self.image.fill(0)
        self.update()
        self.changed.emit()

    def draw_stroke(self, points: list[tuple[float, float]]) -> None:
        """Paint a stroke through `points` given in drawing pixels (0..SIDE)."""
        if not points:
            return
        painter = QPainter(self.image)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            pen = QPen(QColor("white"), PEN * SIDE, Qt.PenStyle.SolidLine,
                       Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            pts = [QPointF(*p) for p in points]
            if len(pts) == 1:
                painter.drawPoint(pts[0])
            for a, b in zip(pts, pts[1:]):
                painter.drawLine(a, b)
        finally:
            painter.end()
        self.update()
        self.changed.emit()

    def set_ink(self, ink: np.ndarray) -> None:
        """Replace the drawing by `ink` (ndarray[h, w] in [0, 1]), scaled to fill it."""
        t = torch.from_numpy(np.asarray(ink, np.float32))[None, None]
        big = torch.nn.functional.interpolate(t, size=(SIDE, SIDE), mode="bilinear",
                                              align_corners=False)[0, 0]
        arr = np.ascontiguousarray((big.clamp(0, 1).numpy() * 255).astype(np.uint8))
        self.image = QImage(arr.data, SIDE, SIDE, SIDE,
                            QImage.Format.Format_Grayscale8).copy()
        self.update()
        self.changed.emit()

    def ink(self) -> np.ndarray:
        """The drawing as ndarray[SIDE, SIDE] float32 in [0, 1] (1 = ink)."""
        ptr = self.image.constBits()
        arr = np.frombuffer(ptr, np.uint8, count=self.image.sizeInBytes())
        arr = arr.reshape(SIDE, self.image.bytesPerLine())[:, :SIDE]
        return arr.astype(np.float32) / 255.0

    # -- events -----------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = self._to_image(event.position())
            self.draw_stroke([(self._last.x(), self._last.y())])

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self._last is not None and event.buttons() & Qt.MouseButton.LeftButton:
            p = self._to_image(event.position())
            self.draw_stroke([(self._last.x(), self._last.y()), (p.x(), p.y())])
            self._last = p

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._last = None

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(theme.current().base))
        square = self._square()
        painter.drawImage(square, self.image)
        # the edge of the drawing, visible on a black presentation background too
        pen = QPen(QColor(theme.current().hint), 2)
        painter.setPen(pen)
        painter.drawRect(square.adjusted(1, 1, -1, -1))
        painter.end()


class DigitPage(LabPage):
    title = "7  Draw a digit"
    slide = "LeNet-5 (LeCun et al. 1998)"
    hint = ("Draw a digit with the mouse, big and centred. LeNet-5's first (C1) and second "
            "(C3) convolution layers and its guess change as you draw.")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from explorer.app.networks import load_network

        self.network = load_network(MODEL, device="cpu")
        self.x: torch.Tensor | None = None
        self.probs: np.ndarray | None = None
        self.seconds = 0.0
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(THROTTLE_MS)
        self.timer.timeout.connect(self.update_prediction)
        self._example = 0
        self._build()
        self.canvas.changed.connect(self._changed)
        self.update_prediction()  # the first pass also builds the layer table: warm up
        self.update_prediction()

    def _build(self) -> None:
        self.canvas = DrawingCanvas()
        clear = QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        example = QPushButton("A digit from the data")
        example.setToolTip("Paint the next held-out digit of scikit-learn's set")
        example.clicked.connect(self.show_example)
        for b in (clear, example):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        buttons = QHBoxLayout()
        buttons.addWidget(clear)
        buttons.addWidget(example)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addLayout(buttons)
        self.weights_note = wrapped_label(name="hint")
        left.addWidget(self.weights_note)

        self.grid = ImageGrid()
        self.grid.build([["input", "C1", "C3"]])
        self.guess = big_label(scale=2.0)
        self.guess.setAlignment(Qt.AlignmentFlag.AlignCenter)
        with owning_popups(self):
            self.plot = pg.PlotWidget()
        style_plot(self.plot)
        self.plot.setLabel("left", "probability")
        self.plot.setYRange(0, 1)
        self.plot.setXRange(-0.6, 9.6)
        self.plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(10)]])
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=0.7,
                                    brush=SERIES[0])
        self.plot.addItem(self.bars)
        self.timing = wrapped_label(name="hint")
        right = QVBoxLayout()
        right.addWidget(self.grid, 3)
        right.addWidget(self.guess)
        right.addWidget(self.plot, 2)
        right.addWidget(self.timing)
        main = QHBoxLayout()
        main.addLayout(left, 2)
        main.addLayout(right, 3)
        self.body.addLayout(main, 1)
        if self.network.random_weights:
            self.weights_note.setText(
                "<b>Random weights</b>: LeNet-5 has not been trained on this machine "
                "(no pretrained/lenet5-digits.pt), so its guesses mean nothing yet; "
                "the feature maps still show what random 5x5 filters do.")
        else:
            self.weights_note.setText(f"LeNet-5 trained on scikit-learn's digits "
                                      f"({self.network.weights_path}).")

    def _changed(self) -> None:
        if not self.timer.isActive():
            self.timer.start()

    def show_example(self) -> None:
        """Paint the next held-out digit of scikit-learn's set (ink = its grey values)."""
        from explorer.data.digits import digits_split

        _, _, xte, yte = digits_split()
        i = self._example % len(yte)
        self._example += 1
        self.canvas.set_ink(xte[i, 0].numpy())

    def update_prediction(self) -> None:
        """Run LeNet-5 on the drawing and redraw the maps and bars."""
        from explorer.app.tracing import trace_tensor as trace
        from explorer.core.mosaic import mosaic

        begin = time.perf_counter()
        ink = self.canvas.ink()
        self.x = to_lenet_input(ink)
        # one thread: a 1 ms network gains nothing from more, and on a busy machine the
        # thread pool's hand-offs cost 10-100x the arithmetic (measured on this page)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            start = time.perf_counter()
            tr = trace(self.network, self.x)
            self.seconds = time.perf_counter() - start
        finally:
            torch.set_num_threads(threads)
        empty = not (ink > 0.1).any()
        self.probs = tr.probs.numpy() if tr.probs is not None else np.zeros(10)
        seen = self.x[0, 0].numpy()
        self.grid.set_image("input", seen, "grey", title="what LeNet-5 sees (32x32)")
        for key, layer, what in (("C1", "conv1", "C1: 6 maps 28x28"),
                                 ("C3", "conv2", "C3: 16 maps 10x10")):
            m = mosaic(tr.outputs[layer], normalize="layer")
            self.grid.set_image(key, m.image, "viridis", (0.0, 1.0), title=what)
        top = int(np.argmax(self.probs))
        # the guess in vermillion, the rest in blue (a pair colour-blind viewers tell
        # apart; the guess is also written above the bars)
        brushes = [SERIES[1] if i == top and not empty else SERIES[0] for i in range(10)]
        self.bars.setOpts(height=self.probs, brushes=brushes)
        self.guess.setText("draw a digit" if empty else
                           f"LeNet-5 says <b>{top}</b> ({self.probs[top]:.0%})")
        self.update_seconds = time.perf_counter() - begin
        self.timing.setText(f"forward pass {self.seconds * 1000:.1f} ms, whole update "
                            f"{self.update_seconds * 1000:.1f} ms")
        self.timing.setToolTip(f"on the GUI thread, at most every {THROTTLE_MS} ms while "
                               "drawing")

    def shutdown(self) -> None:
        self.timer.stop()
