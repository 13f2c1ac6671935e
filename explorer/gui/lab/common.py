"""Pieces every Lab page uses: the page base class, a numeric grid, a labelled image grid,
image choosers and small text helpers.

A page is a plain QWidget with a title, the slide it answers, and two hooks for the
presentation keys (:meth:`LabPage.step_forward` / :meth:`LabPage.step_back`): a page that
has steps (the convolution animation) consumes them, any other lets the panel turn the page.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.canvas import lookup_table, owning_popups

#: highlight colours, chosen to stay distinct on grey cells and for colour-blind viewers
WINDOW = QColor("#ffd60a")  # the kernel / pooling window
TARGET = QColor("#ff7f0e")  # the output cell being computed
SOURCE = QColor("#d62728")  # the cell a max/min came from
PADDED = QColor("#9ecae1")  # cells that padding adds
GOOD = QColor("#8fd18f")  # "unchanged"
BAD = QColor("#f28e8e")  # "changed"


class LabPage(QWidget):
    """Base of every Lab page.

    Subclasses set :attr:`title` (the list entry) and :attr:`slide` (the lecture slide
    it answers, shown as the page heading) and build their widgets under
    :attr:`body` (a QVBoxLayout below the heading).
    """

    title = "Lab page"
    slide = ""
    #: one sentence under the heading: what to look at
    hint = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 8)
        self.heading = QLabel(f"<b>{self.title}</b>" + (f" — {self.slide}" if self.slide else ""))
        self.heading.setObjectName("labHeading")
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        self.heading.setFont(font)
        outer.addWidget(self.heading)
        if self.hint:
            hint = QLabel(self.hint)
            hint.setWordWrap(True)
            hint.setObjectName("hint")
            outer.addWidget(hint)
        self.body = QVBoxLayout()
        outer.addLayout(self.body, 1)

    # -- presentation keys ------------------------------------------------------------
    def step_forward(self) -> bool:
        """Advance the page's own demonstration by one step; False: nothing to step."""
        return False

    def step_back(self) -> bool:
        """Go one step back; False: nothing to step back through."""
        return False

    # -- presentation -----------------------------------------------------------------
    def set_text_scale(self, scale: float) -> None:
        """Scale the text Qt's fonts do not reach: pyqtgraph axes and picture titles
        (widgets follow the panel's font by themselves)."""
        for plot in self.findChildren(pg.PlotWidget):
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                font = QFont(axis.label.font())
                font.setPointSizeF(11 * scale)
                axis.label.setFont(font)
                axis.setStyle(tickFont=font)
        for grid in self.findChildren(ImageGrid):
            grid.set_text_scale(scale)

    # -- lifetime ---------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop timers and workers (the panel calls it before the window closes)."""

    def wait(self, timeout: float = 60.0) -> bool:
        """Process events until background work is done (tests, screenshots)."""
        return True


def fmt(v: float, decimals: int = 2) -> str:
    """A number as a class reads it: integers without decimals, others rounded."""
    if abs(v - round(v)) < 1e-9:
        return str(int(round(v)))
    text = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def grey_color(v: float, lo: float, hi: float) -> QColor:
    """The cell colour of value `v` on a light grey ramp (dark = low) that keeps black text
    readable: the lightness runs from 55 % to 100 %."""
    t = 0.5 if hi <= lo else (v - lo) / (hi - lo)
    g = int(140 + 115 * min(1.0, max(0.0, t)))
    return QColor(g, g, g)


class NumberGrid(QTableWidget):
    """A matrix shown as numbers in square cells shaded by value, with highlights.

    Rows and columns are numbered from 0 like the array. Emits ``cellPicked(row, col)``
    on a click.
    """

    cellPicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None, cell: int = 46, decimals: int = 2) -> None:
        super().__init__(parent)
        self.cell = cell
        self.decimals = decimals
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(cell)
            header.setMinimumSectionSize(10)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)
        self.cellClicked.connect(self.cellPicked.emit)
        self.values = np.zeros((0, 0))
        self._base: dict[tuple[int, int], QColor] = {}
        self._marked: set[tuple[int, int]] = set()
        self._italic: set[tuple[int, int]] = set()
        self._bold: set[tuple[int, int]] = set()
        self._base_cell = cell
        self._base_point = self.font().pointSizeF()
        #: row/col offset of the array's first cell in the labels (padding shows as -1, -2..)
        self.origin = (0, 0)

    def set_cell_size(self, cell: int) -> None:
        self.cell = cell
        self.verticalHeader().setDefaultSectionSize(cell)
        self._fit_columns()

    def _fit_columns(self) -> None:
        # columns as wide as the longest number (never narrower than square)
        metrics = QFontMetrics(self.font())
        widest = max((metrics.horizontalAdvance(self.item(r, c).text())
                      for r in range(self.rowCount()) for c in range(self.columnCount())
                      if self.item(r, c) is not None), default=0)
        self.col_width = max(self.cell, widest + 14)
        self.horizontalHeader().setDefaultSectionSize(self.col_width)
        self.updateGeometry()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        # presentation mode enlarges the font: the cells grow with it
        if event.type() == QEvent.Type.FontChange and self._base_point > 0:
            # cells grow slower than the font (columns still fit the widest number), so
            # the lecture's 10x10 table still fits on the screen at 1.6x
            scale = (self.font().pointSizeF() / self._base_point) ** 0.6
            self.set_cell_size(max(10, round(self._base_cell * scale)))
            self._apply_fonts(set(self._base))
        super().changeEvent(event)

    def _apply_fonts(self, cells) -> None:
        for cell in cells:
            item = self.item(*cell)
            if item is None:
                continue
            font = QFont(self.font())
            font.setBold(cell in self._bold)
            font.setItalic(cell in self._italic)
            item.setFont(font)

    def set_values(
        self,
        values: np.ndarray,
        origin: tuple[int, int] = (0, 0),
        shade: bool = True,
        special: np.ndarray | None = None,
        special_color: QColor = PADDED,
    ) -> None:
        """Show `values` (ndarray[H, W]); cells where `special` (bool[H, W]) is True get
        `special_color` (padding) instead of the grey shade. Row/column labels count from
        ``-origin`` so the original image keeps its indices when padding is shown."""
        values = np.asarray(values, dtype=np.float64)
        self.values = values
        self.origin = origin
        h, w = values.shape
        self.clear()
        self.setRowCount(h)
        self.setColumnCount(w)
        self.setHorizontalHeaderLabels([str(c - origin[1]) for c in range(w)])
        self.setVerticalHeaderLabels([str(r - origin[0]) for r in range(h)])
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self._base = {}
        self._marked = set()
        self._bold = set()
        self._italic = set()
        for r in range(h):
            for c in range(w):
                v = values[r, c]
                item = QTableWidgetItem(fmt(v, self.decimals) if np.isfinite(v) else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if special is not None and special[r, c]:
                    color = special_color
                    self._italic.add((r, c))
                elif shade:
                    color = grey_color(v, lo, hi)
                else:
                    color = QColor("#ffffff")
                item.setBackground(QBrush(color))
                item.setForeground(QBrush(QColor("#000000")))
                self._base[(r, c)] = color
                self.setItem(r, c, item)
        self._apply_fonts(self._italic)
        self._fit_columns()

    def highlight(self, groups: list[tuple[QColor, list[tuple[int, int]]]],
                  bold: list[tuple[int, int]] | None = None) -> None:
        """Colour the cells of each (colour, cells) group, later groups on top; every other
        cell returns to its value shade. Cells in `bold` get bold text."""
        todo = set(self._marked)
        for _, cells in groups:
            todo.update(cells)
        bold_set = set(bold or [])
        todo.update(bold_set)
        colours: dict[tuple[int, int], QColor] = {}
        for colour, cells in groups:
            for cell in cells:
                colours[cell] = colour
        self._bold = bold_set
        for cell in todo:
            item = self.item(*cell)
            if item is not None:
                item.setBackground(
                    QBrush(colours.get(cell, self._base.get(cell, QColor("white")))))
        self._apply_fonts(todo)
        self._marked = set(colours) | bold_set

    def sizeHint(self):  # noqa: N802 (Qt name)
        hint = super().sizeHint()
        w = (self.verticalHeader().sizeHint().width()
             + getattr(self, "col_width", self.cell) * max(1, self.columnCount()) + 4)
        h = self.horizontalHeader().sizeHint().height() + self.cell * max(1, self.rowCount()) + 4
        hint.setWidth(min(w, 900))
        hint.setHeight(min(h, 900))
        return hint

    def minimumSizeHint(self):  # noqa: N802 (Qt name)
        return self.sizeHint().boundedTo(super().minimumSizeHint().expandedTo(self.sizeHint()))

    def text_at(self, r: int, c: int) -> str:
        item = self.item(r, c)
        return item.text() if item is not None else ""


class ImageGrid(pg.GraphicsLayoutWidget):
    """Several labelled pictures in ONE graphics view (one ImageItem each, no widget per
    picture), laid out in rows: for a handful of named maps side by side."""

    def __init__(self, parent: QWidget | None = None, background: str = "w") -> None:
        super().__init__(parent)
        self.setBackground(background)
        self.ci.layout.setSpacing(4)
        self.views: dict[str, pg.ViewBox] = {}
        self.items: dict[str, pg.ImageItem] = {}
        self.labels: dict[str, pg.LabelItem] = {}
        self.text_scale = 1.0

    def set_text_scale(self, scale: float) -> None:
        """Titles at 12 pt times `scale` (presentation mode)."""
        self.text_scale = scale
        for label in self.labels.values():
            label.setText(label.text, size=f"{12 * scale:.0f}pt", color="k")

    def build(self, rows: list[list[str | None]]) -> None:
        """Lay out one picture per name; each row of names is one row of pictures
        (None leaves a cell empty)."""
        self.clear()
        self.views.clear()
        self.items.clear()
        self.labels.clear()
        for r, names in enumerate(rows):
            for c, name in enumerate(names):
                if name is None:  # an empty cell
                    continue
                label = pg.LabelItem(name, size=f"{12 * self.text_scale:.0f}pt", color="k")
                self.addItem(label, row=2 * r, col=c)
                with owning_popups(self):
                    view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
                view.setMouseEnabled(x=False, y=False)
                item = pg.ImageItem(axisOrder="row-major")
                view.addItem(item)
                self.addItem(view, row=2 * r + 1, col=c)
                self.views[name] = view
                self.items[name] = item
                self.labels[name] = label
        for c in range(max(len(names) for names in rows)):
            self.ci.layout.setColumnStretchFactor(c, 1)

    def set_image(self, name: str, image: np.ndarray, cmap: str = "grey",
                  levels: tuple[float, float] | None = None, title: str | None = None) -> None:
        """Show float [H, W] with colour map `cmap` (or RGB [H, W, 3] in [0, 1])."""
        item = self.items[name]
        if image.ndim == 2:
            item.setLookupTable(lookup_table(cmap))
            if levels is None:
                lo, hi = float(np.nanmin(image)), float(np.nanmax(image))
                levels = (lo, hi if hi > lo else lo + 1e-9)
        else:
            item.setLookupTable(None)
            levels = (0.0, 1.0)
        item.setImage(np.ascontiguousarray(image), levels=levels)
        self.views[name].autoRange(padding=0.02)
        if title is not None:
            self.labels[name].setText(title, size=f"{12 * self.text_scale:.0f}pt", color="k")


def signed_levels(image: np.ndarray, percentile: float = 99.5) -> tuple[float, float]:
    """Symmetric levels around zero for a signed map (white = 0 in coolwarm); the
    `percentile` of |values| rather than the maximum, so a few strong edges do not wash
    out the rest."""
    m = float(np.nanpercentile(np.abs(image), percentile)) if image.size else 1.0
    m = m if m > 0 else 1.0
    return -m, m


class SampleChooser(QComboBox):
    """A combo box of the offline sample images (plus "lecture table" where it makes
    sense, plus the main window's current image once the panel is given one)."""

    CURRENT = "current image"

    def __init__(self, with_table: bool = False, default: str = "camera",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from explorer.app.pictures import SAMPLE_NAMES

        if with_table:
            self.addItem("lecture table")
        for name in SAMPLE_NAMES:
            self.addItem(name)
        idx = self.findText(default)
        if idx >= 0:
            self.setCurrentIndex(idx)
        self.current_image = None

    def set_current_image(self, image) -> None:
        """Offer the main window's image (an explorer.core.images.Image) as a choice."""
        self.current_image = image
        if self.findText(self.CURRENT) < 0:
            self.addItem(self.CURRENT)

    def image(self):
        """The chosen picture as an Image, or None for the lecture table."""
        from explorer.app.pictures import open_sample as load_sample

        name = self.currentText()
        if name == "lecture table":
            return None
        if name == self.CURRENT and self.current_image is not None:
            return self.current_image
        return load_sample(name)


def grey_array(image, size: int | None = None) -> np.ndarray:
    """An Image as grey values 0..255 (ITU-R 601 luma, as the CLI's ``load_grey``),
    ndarray[H, W] float64; with `size`, the shorter side is resized to `size` first
    (area averaging, so single pixels stay meaningful)."""
    arr = np.asarray(image.array, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr[..., :3] @ np.array([0.299, 0.587, 0.114])
    if size is not None:
        import torch
        import torch.nn.functional as F

        h, w = arr.shape
        scale = size / min(h, w)
        shape = (max(1, round(h * scale)), max(1, round(w * scale)))
        t = torch.from_numpy(arr)[None, None]
        arr = F.interpolate(t, size=shape, mode="area" if scale < 1 else "bilinear")[0, 0]
        arr = arr.numpy()
    return np.round(arr * 255.0, 6)


def separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


def big_label(text: str = "", scale: float = 1.2) -> QLabel:
    """A QLabel in a larger font (results a class should read from the back row)."""
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def style_plot(plot: pg.PlotWidget) -> None:
    """Black axes and labels on white (pyqtgraph's grey is too faint for a projector)."""
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen("k"))
        axis.setTextPen(pg.mkPen("k"))
        axis.enableAutoSIPrefix(False)
        font = axis.label.font()
        font.setPointSizeF(11)
        axis.label.setFont(font)
