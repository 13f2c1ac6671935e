"""The segmenters' learning curves (validation mIoU and training loss against the step)
and what they show, read from the model cards (:mod:`explorer.segment.fair_training`).

Drawn once from the cards in pretrained/: no training runs here. Colours follow the
theme: axes, ticks and legend in the theme's text colour, one Okabe-Ito colour per
network (sky blue for the U-Net on the presentation theme's black, where blue is too dark).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from explorer.segment.colors import OKABE_ITO
from explorer.segment.fair_training import curves, explain, load_cards

COLOURS = {"fcn-shapes": OKABE_ITO["vermillion"], "fcn-dilated-shapes":
           OKABE_ITO["bluish green"], "unet-shapes": OKABE_ITO["blue"]}
DARK_COLOURS = {**COLOURS, "unet-shapes": OKABE_ITO["sky blue"]}


def _colour(name: str) -> str:
    from explorer.gui.common import theme

    table = DARK_COLOURS if theme.current() is theme.PRESENTATION else COLOURS
    return table.get(name, OKABE_ITO["orange"])


class LearningCurves(QWidget):
    """Two plots (validation mIoU; training loss) of every card that holds a curve, one
    above the other, and beside them the lines of
    :func:`~explorer.segment.fair_training.explain`: beside, not below, so that at
    1366 x 768 the verdict is read whole without scrolling (below the plots it was cut
    after its first line)."""

    def __init__(self, cards: dict[str, dict] | None = None, facts: dict | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from explorer.gui.insight.common import style_plot

        self.cards = load_cards() if cards is None else cards
        from explorer.gui.common.canvas import owning_popups

        # pyqtgraph makes its plots' context menus without a parent: give them to us
        with owning_popups(self):
            self.miou_plot = pg.PlotWidget()
            self.loss_plot = pg.PlotWidget()
        self.miou_plot.setLabel("left", "validation mIoU")
        self.loss_plot.setLabel("left", "training loss")
        for plot in (self.miou_plot, self.loss_plot):
            plot.setLabel("bottom", "step")
            plot.addLegend(offset=(-10, -10) if plot is self.miou_plot else (-10, 10))
            plot.setMinimumHeight(120)
            style_plot(plot)
        self.items: dict[str, tuple] = {}
        for name, c in curves(self.cards).items():
            pen = pg.mkPen(_colour(name), width=3)
            a = self.miou_plot.plot(c.steps, c.val_mean_iou, pen=pen, name=name)
            b = self.loss_plot.plot(c.steps, c.train_loss, pen=pen, name=name)
            self.items[name] = (a, b)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.miou_plot)
        plots.addWidget(self.loss_plot)
        self.facts = facts
        self.lines: list[str] = []
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        words = QScrollArea()  # a large font may still need it; the plots never scroll
        words.setWidgetResizable(True)
        words.setFrameShape(QScrollArea.Shape.NoFrame)
        words.setWidget(self.text)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(plots)
        self.splitter.addWidget(words)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        # the plots' size hints would leave the words a sliver: share 58/42 once the page
        # has a width (and again when the theme's font changes), then the person decides
        self._shared = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter, 1)
        if facts is not None:
            self.explain()

    def explain(self) -> list[str]:
        """Fill in the explanation (architecture facts are worked out on first use: three
        small networks built and traced once, a fraction of a second)."""
        if not self.lines:
            self.lines = explain(self.cards, self.facts) if self.cards else []
            if not self.items:
                self.lines.insert(0, "No learning curve in the cards: these weights were "
                                     "trained for a fixed budget of steps.")
            self.text.setText("\n".join(self.lines))
        return self.lines

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.explain()
        super().showEvent(event)
        self._share()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._share()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.FontChange:
            self._shared = False
            self._share()
        super().changeEvent(event)

    def _share(self) -> None:
        width = self.splitter.width()
        if self._shared or width < 200:
            return
        self._shared = True
        words = int(width * 0.42)
        self.splitter.setSizes([width - words, words])
