"""Pieces every Lab page uses: the page base class, a numeric grid, a labelled image grid,
image choosers and small text helpers.

A page is a plain QWidget with a title, the slide it answers, and two hooks for the
presentation keys (:meth:`LabPage.step_forward` / :meth:`LabPage.step_back`): a page that
has steps (the convolution animation) consumes them, any other lets the panel turn the page.

Colours: every text takes the palette's colour or :func:`explorer.gui.common.theme.current`'s
(so the dark presentation theme keeps it readable); cells of a number grid pick black or
white text by contrast with their own background; categories use the Okabe-Ito colours,
and never colour alone (a mark, a frame or a word says the same).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common import theme
from explorer.gui.common.canvas import ImageCanvas, lookup_table, owning_popups

#: cell colours (Okabe-Ito, told apart by colour-blind viewers too)
WINDOW = QColor("#f0e442")  # yellow: the kernel / pooling window
TARGET = QColor("#e69f00")  # orange: the output cell being computed
SOURCE = QColor("#cc79a7")  # reddish purple, framed and bold: the cell a max/min came from
PADDED = QColor("#b3dcf5")  # a light sky blue, numbers in italics: cells that padding adds
UNCHANGED = QColor("#0072b2")  # blue, marked "=": moving it there leaves the output as it is
CHANGED = QColor("#e69f00")  # orange, marked "≠": moving it there changes the output
#: the marks drawn in the corner of those cells (the same meaning without colour)
UNCHANGED_MARK = "="
CHANGED_MARK = "≠"
# the old names
GOOD, BAD = UNCHANGED, CHANGED

#: line colours for plots: Okabe-Ito, each at least 3:1 against one of the two backgrounds
#: and given a symbol of its own where several share a plot
SERIES = ("#0072b2", "#d55e00", "#009e73", "#cc79a7")
SYMBOLS = ("o", "s", "t", "d")

BLACK, WHITE = QColor("#000000"), QColor("#ffffff")


def readable_text(background: QColor | str) -> QColor:
    """Black or white, whichever reads better on `background` (WCAG contrast)."""
    bg = QColor(background)
    return BLACK if theme.contrast(BLACK, bg) >= theme.contrast(WHITE, bg) else WHITE


def swatch(colour: QColor | str, text: str) -> str:
    """`text` on a patch of `colour` (HTML for a QLabel), its text black or white by
    contrast, so a legend stays readable in both themes."""
    bg = QColor(colour)
    return (f"<span style='background:{bg.name()};color:{readable_text(bg).name()}'>"
            f"&nbsp;{text}&nbsp;</span>")


def follow_theme(owner: QWidget, method: Callable[[theme.Theme, float], None]) -> None:
    """Call ``method(theme, text_scale)`` after every theme or zoom change while `owner`
    lives; the registration goes with the widget (only a weak reference is kept)."""
    ref = weakref.WeakMethod(method)
    remove: list[Callable[[], None]] = []

    def callback(current: theme.Theme, scale: float) -> None:
        bound = ref()
        if bound is None:
            if remove:
                remove[0]()
            return
        try:
            bound(current, scale)
        except RuntimeError:  # the C++ widget is gone already
            if remove:
                remove[0]()

    remove.append(theme.on_change(callback))
    owner.destroyed.connect(lambda *_: remove[0]())


def base_point_size() -> float:
    """The point size of ordinary text now (theme and zoom included)."""
    app = QApplication.instance()
    size = app.font().pointSizeF() if app is not None else -1.0
    return size if size > 0 else theme.BASE_POINT_SIZE * theme.text_scale()


def scale_font(widget: QWidget, relative: float, bold: bool | None = None) -> QWidget:
    """Give `widget` text `relative` times ordinary text, now and after every theme or
    zoom change (the page re-applies it; Qt would keep an explicit size forever)."""
    widget.setProperty("labFontScale", float(relative))
    if bold is not None:
        widget.setProperty("labFontBold", bool(bold))
    _apply_font(widget)
    return widget


def _apply_font(widget: QWidget) -> None:
    relative = widget.property("labFontScale")
    if relative is None:
        return
    font = QFont(widget.font())
    font.setPointSizeF(base_point_size() * float(relative))
    bold = widget.property("labFontBold")
    if bold is not None:
        font.setBold(bool(bold))
    widget.setFont(font)


def wrapped_label(text: str = "", name: str | None = None, rich: bool = False) -> QLabel:
    """A QLabel that wraps its words (never forces the page wider than the screen)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.AutoText)
    if name:
        label.setObjectName(name)
    return label


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
        # a click on the page's empty space takes the focus from a combo box or slider,
        # so space and the arrows step the demonstration again
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(4)
        slide = (f" <span style='font-weight:normal'>— {self.slide}</span>"
                 if self.slide else "")
        self.heading = wrapped_label(f"<b>{self.title}</b>{slide}", "labHeading", rich=True)
        scale_font(self.heading, 1.25)
        outer.addWidget(self.heading)
        self.hint_label = None
        if self.hint:
            self.hint_label = wrapped_label(self.hint, "hint")
            outer.addWidget(self.hint_label)
        self.body = QVBoxLayout()
        self.body.setSpacing(6)
        outer.addLayout(self.body, 1)
        self._applied: tuple[str, float] | None = None
        follow_theme(self, self.apply_theme)

    # -- presentation keys ------------------------------------------------------------
    def step_forward(self) -> bool:
        """Advance the page's own demonstration by one step; False: nothing to step."""
        return False

    def step_back(self) -> bool:
        """Go one step back; False: nothing to step back through."""
        return False

    # -- theme ------------------------------------------------------------------------
    def apply_theme(self, current: theme.Theme, scale: float) -> None:
        """Re-style what Qt's palette and fonts do not reach: explicitly sized fonts,
        plots, picture grids and canvases. Called after every theme or zoom change, and
        before the page is first shown."""
        self._applied = (current.name, scale)
        for widget in [self, *self.findChildren(QWidget)]:
            _apply_font(widget)
        for plot in self.findChildren(pg.PlotWidget):
            style_plot(plot)
        for grid in self.findChildren(ImageGrid):
            grid.apply_theme(current, scale)
        for canvas in self.findChildren(ImageCanvas):
            if not isinstance(canvas, ImageGrid):
                canvas.setBackground(current.base)
        for grid in self.findChildren(NumberGrid):
            grid.updateGeometry()
            grid.update()
        for table in self.findChildren(QTableWidget):
            if hasattr(table, "fit"):  # params_page.FitTable: text sized to the width
                table.fit()
        self.themed(current, scale)

    def themed(self, current: theme.Theme, scale: float) -> None:
        """A page's own re-styling after a theme change (legends, notes)."""

    def set_text_scale(self, scale: float) -> None:
        """Re-style for the current theme (`scale` is the theme's text scale)."""
        self.apply_theme(theme.current(), scale)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        now = (theme.current().name, theme.text_scale())
        if self._applied != now:
            self.apply_theme(theme.current(), now[1])
        super().showEvent(event)

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


class NumberGrid(QWidget):
    """A matrix shown as numbers in square cells shaded by value, with highlights.

    Painted, not a table: the cells take the size the layout gives (never a scroll bar),
    from about 16 px up to 1.6 times their preferred size `cell` (times the text scale),
    and the numbers take the largest font that fits a cell. Rows and columns are numbered
    from 0 like the array (shifted by :attr:`origin` when padding is shown). Emits
    ``cellPicked(row, col)`` on a click.
    """

    cellPicked = Signal(int, int)

    #: smallest cell side in pixels before the grid stops shrinking
    MIN_CELL = 16

    def __init__(self, parent: QWidget | None = None, cell: int = 46, decimals: int = 2) -> None:
        super().__init__(parent)
        self.cell = cell
        self.decimals = decimals
        self.values = np.zeros((0, 0))
        self._texts: list[list[str]] = []
        #: unmarked colour per cell; None = the theme's base colour (an unshaded grid)
        self._base: dict[tuple[int, int], QColor | None] = {}
        self._colours: dict[tuple[int, int], QColor] = {}
        self._marks: dict[tuple[int, int], str] = {}
        self._marked: set[tuple[int, int]] = set()
        self._italic: set[tuple[int, int]] = set()
        self._bold: set[tuple[int, int]] = set()
        #: row/col offset of the array's first cell in the labels (padding shows as -1, -2..)
        self.origin = (0, 0)
        #: never taller than the width lets the cells be (see resizeEvent)
        self.fit_height = True
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)

    # -- the QTableWidget-like API the pages and tests use ----------------------------
    def rowCount(self) -> int:  # noqa: N802 (Qt-like name)
        return len(self._texts)

    def columnCount(self) -> int:  # noqa: N802 (Qt-like name)
        return len(self._texts[0]) if self._texts else 0

    def text_at(self, r: int, c: int) -> str:
        if 0 <= r < self.rowCount() and 0 <= c < self.columnCount():
            return self._texts[r][c]
        return ""

    def set_cell_size(self, cell: int) -> None:
        """The preferred cell side at ordinary text size."""
        self.cell = cell
        self.updateGeometry()
        self.update()

    def set_values(
        self,
        values: np.ndarray,
        origin: tuple[int, int] = (0, 0),
        shade: bool = True,
        special: np.ndarray | None = None,
        special_color: QColor = PADDED,
    ) -> None:
        """Show `values` (ndarray[H, W]); cells where `special` (bool[H, W]) is True get
        `special_color` (padding) and italic numbers instead of the grey shade. Row/column
        labels count from ``-origin`` so the original image keeps its indices when padding
        is shown."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            values = values.reshape(0, 0)
        self.values = values
        self.origin = origin
        h, w = values.shape
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self._texts = [[fmt(v, self.decimals) if np.isfinite(v) else "" for v in row]
                       for row in values]
        self._base = {}
        self._colours = {}
        self._marks = {}
        self._marked = set()
        self._bold = set()
        self._italic = set()
        for r in range(h):
            for c in range(w):
                if special is not None and special[r, c]:
                    self._base[(r, c)] = QColor(special_color)
                    self._italic.add((r, c))
                elif shade:
                    self._base[(r, c)] = grey_color(values[r, c], lo, hi)
                else:
                    self._base[(r, c)] = None
        if self.fit_height:
            self.setMaximumHeight(max(self.minimumSizeHint().height(),
                                      self.height_for(max(1, self.width()))))
        self.updateGeometry()
        self.update()

    def highlight(self, groups: list[tuple[QColor, list[tuple[int, int]]]],
                  bold: list[tuple[int, int]] | None = None,
                  marks: dict[tuple[int, int], str] | None = None) -> None:
        """Colour the cells of each (colour, cells) group, later groups on top; every other
        cell returns to its value shade. Cells in `bold` get bold numbers and a frame;
        `marks` puts a small sign in a cell's corner (the meaning without colour)."""
        colours: dict[tuple[int, int], QColor] = {}
        for colour, cells in groups:
            for cell in cells:
                colours[tuple(cell)] = QColor(colour)
        self._colours = colours
        self._bold = {tuple(c) for c in (bold or [])}
        self._marks = dict(marks or {})
        self._marked = set(colours) | self._bold
        self.update()

    def colour_at(self, r: int, c: int) -> QColor:
        """The background cell (r, c) is painted with now."""
        colour = self._colours.get((r, c)) or self._base.get((r, c))
        return QColor(colour) if colour is not None else QColor(theme.current().base)

    # -- geometry ---------------------------------------------------------------------
    def _scale(self) -> float:
        return max(0.5, self.font().pointSizeF() / theme.BASE_POINT_SIZE)

    def _header_font(self, side: float) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(6.0, min(self.font().pointSizeF() * 0.85, side * 0.33)))
        return font

    def _headers(self, side: float) -> tuple[float, float]:
        """(row header width, column header height) for cells of `side` pixels."""
        metrics = QFontMetricsF(self._header_font(side))
        labels = [str(r - self.origin[0]) for r in range(self.rowCount())] or ["0"]
        width = max(metrics.horizontalAdvance(t) for t in labels) + 6
        return width, metrics.height() + 4

    def cell_size(self) -> tuple[float, float]:
        """(width, height) of a cell in pixels at the widget's present size: square when
        space is short, wider (up to 1.8 times) when the numbers need it and there is room."""
        rows, cols = max(1, self.rowCount()), max(1, self.columnCount())
        preferred = self.cell * self._scale()
        height = preferred * 1.6
        for _ in range(2):  # the headers depend on the size a little
            hw, hh = self._headers(height)
            height = min(preferred * 1.6, (self.height() - hh - 2) / rows)
            width_room = (self.width() - hw - 2) / cols
            height = max(4.0, min(height, width_room))
        needed = self._widest(QFont(self.font())) + 10
        width = min(width_room, max(height, min(needed, 1.8 * height)))
        return max(4.0, width), height

    def height_for(self, width: int) -> int:
        """The height the grid fills at `width` (cells no larger than the width allows)."""
        rows, cols = max(1, self.rowCount()), max(1, self.columnCount())
        preferred = self.cell * self._scale()
        side = preferred * 1.6
        for _ in range(2):
            hw, hh = self._headers(side)
            side = max(4.0, min(preferred * 1.6, (width - hw - 2) / cols))
        return int(hh + rows * side) + 3

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        # no taller than the cells the width allows: the text below the grid stays close
        # (a layout gives the rest to a stretch)
        if self.fit_height:
            self.setMaximumHeight(max(self.minimumSizeHint().height(),
                                      self.height_for(self.width())))
        super().resizeEvent(event)

    def cell_side(self) -> float:
        """The height of a cell (its width is :meth:`cell_size`'s)."""
        return self.cell_size()[1]

    def _widest(self, font: QFont) -> float:
        bold = QFont(font)
        bold.setBold(True)
        metrics = QFontMetricsF(bold)
        return max((metrics.horizontalAdvance(t) for row in self._texts for t in row),
                   default=1.0) or 1.0

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        side = self.cell * self._scale()
        hw, hh = self._headers(side)
        width = max(side, min(self._widest(QFont(self.font())) + 10, 1.8 * side))
        return QSize(int(hw + width * max(1, self.columnCount())) + 3,
                     int(hh + side * max(1, self.rowCount())) + 3)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        side = self.MIN_CELL
        hw, hh = self._headers(side)
        return QSize(int(hw + side * max(1, self.columnCount())) + 3,
                     int(hh + side * max(1, self.rowCount())) + 3)

    def cell_rect(self, r: int, c: int) -> QRectF:
        width, height = self.cell_size()
        hw, hh = self._headers(height)
        return QRectF(hw + c * width, hh + r * height, width, height)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        width, height = self.cell_size()
        hw, hh = self._headers(height)
        c, r = int((x - hw) // width), int((y - hh) // height)
        if x >= hw and y >= hh and r < self.rowCount() and c < self.columnCount():
            return r, c
        return None

    def cell_font(self, size: tuple[float, float] | None = None) -> QFont:
        """The largest font (up to 1.25 times the text size) whose widest number fits a
        cell of `size` (width, height) pixels."""
        width, height = size or self.cell_size()
        font = QFont(self.font())
        base = self.font().pointSizeF()
        metrics = QFontMetricsF(font)
        # a cell with a mark in its corner keeps room for it beside the number
        widest = self._widest(font) * (1.45 if self._marks else 1.0)
        fit = min((width - 6) / widest, height * 0.6 / metrics.height())
        font.setPointSizeF(max(5.0, base * min(1.25, fit)))
        return font

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        rows, cols = self.rowCount(), self.columnCount()
        if not rows or not cols:
            return
        width, height = self.cell_size()
        hw, hh = self._headers(height)
        current = theme.current()
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            # column and row numbers in the secondary text colour
            painter.setFont(self._header_font(height))
            painter.setPen(QColor(current.hint))
            centre = Qt.AlignmentFlag.AlignCenter
            for c in range(cols):
                painter.drawText(QRectF(hw + c * width, 0, width, hh), centre,
                                 str(c - self.origin[1]))
            for r in range(rows):
                painter.drawText(QRectF(0, hh + r * height, hw - 4, height),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 str(r - self.origin[0]))
            font = self.cell_font((width, height))
            bold_font = QFont(font)
            bold_font.setBold(True)
            italic_font = QFont(font)
            italic_font.setItalic(True)
            mark_font = QFont(font)
            mark_font.setPointSizeF(max(5.0, font.pointSizeF() * 0.75))
            mark_font.setBold(True)
            grid_pen = QPen(QColor("#808080"))
            grid_pen.setWidth(1)
            for r in range(rows):
                for c in range(cols):
                    rect = QRectF(hw + c * width, hh + r * height, width, height)
                    bg = self.colour_at(r, c)
                    painter.fillRect(rect, bg)
                    painter.setPen(grid_pen)
                    painter.drawRect(rect)
                    painter.setPen(readable_text(bg))
                    cell = (r, c)
                    painter.setFont(bold_font if cell in self._bold else
                                    italic_font if cell in self._italic else font)
                    if cell in self._marks:
                        # the number left of centre, the mark in the top right corner
                        shift = width * 0.12
                        painter.drawText(rect.adjusted(0, 0, -2 * shift, 0), centre,
                                         self._texts[r][c])
                        painter.setFont(mark_font)
                        painter.drawText(rect.adjusted(0, 0, -3, 0),
                                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                                         self._marks[cell])
                    else:
                        painter.drawText(rect, centre, self._texts[r][c])
            # a frame around the cells a value came from (not colour alone)
            for r, c in self._bold:
                if r < rows and c < cols:
                    rect = QRectF(hw + c * width, hh + r * height, width, height)
                    pen = QPen(QColor(current.text))
                    pen.setWidthF(max(2.5, height / 12))
                    painter.setPen(pen)
                    w = pen.widthF() / 2
                    painter.drawRect(rect.adjusted(w, w, -w, -w))
        finally:
            painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        hit = self.cell_at(event.position().x(), event.position().y())
        if hit is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cellPicked.emit(*hit)
        super().mousePressEvent(event)


class ImageGrid(pg.GraphicsLayoutWidget):
    """Several labelled pictures in ONE graphics view (one ImageItem each, no widget per
    picture), laid out in rows: for a handful of named maps side by side. Titles are
    short (they cannot wrap); say the rest in a QLabel under the grid."""

    def __init__(self, parent: QWidget | None = None, background: str | None = None) -> None:
        super().__init__(parent)
        self.setBackground(background or theme.current().base)
        self.ci.layout.setSpacing(4)
        self.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.views: dict[str, pg.ViewBox] = {}
        self.items: dict[str, pg.ImageItem] = {}
        self.labels: dict[str, pg.LabelItem] = {}
        self.titles: dict[str, str] = {}
        self.text_scale = theme.text_scale()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 100)

    def _size(self) -> str:
        return f"{base_point_size():.1f}pt"

    def apply_theme(self, current: theme.Theme, scale: float) -> None:
        """Background and titles in the theme's colours and text size."""
        self.text_scale = scale
        self.setBackground(current.base)
        for name, label in self.labels.items():
            label.setText(self.titles[name], size=self._size(), color=current.text)

    def set_text_scale(self, scale: float) -> None:
        self.apply_theme(theme.current(), scale)

    def build(self, rows: list[list[str | None]]) -> None:
        """Lay out one picture per name; each row of names is one row of pictures
        (None leaves a cell empty)."""
        self.clear()
        self.views.clear()
        self.items.clear()
        self.labels.clear()
        self.titles.clear()
        colour = theme.current().text
        for r, names in enumerate(rows):
            for c, name in enumerate(names):
                if name is None:  # an empty cell
                    continue
                label = pg.LabelItem(name, size=self._size(), color=colour)
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
                self.titles[name] = name
        for c in range(max(len(names) for names in rows)):
            self.ci.layout.setColumnStretchFactor(c, 1)
        for r in range(len(rows)):
            self.ci.layout.setRowStretchFactor(2 * r + 1, 1)

    def set_title(self, name: str, title: str) -> None:
        """The title above picture `name` (short: one line; HTML allowed)."""
        self.titles[name] = title
        self.labels[name].setText(title, size=self._size(), color=theme.current().text)

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
            self.set_title(name, title)


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
        compact(self)

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


def compact(combo: QComboBox, chars: int = 8) -> QComboBox:
    """A combo box that may be narrower than its longest entry (the open list still
    shows every entry in full): it never forces the page wider than the screen."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return combo


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
    """A word-wrapped QLabel in a larger font (results a class should read from the back
    row); the size follows the theme and zoom."""
    label = wrapped_label(text)
    scale_font(label, scale)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def error_text(message: str) -> str:
    """A one-line error for a page's result label: a sign and bold words in the text
    colour (readable in both themes, not colour alone)."""
    from html import escape

    return f"<b>⚠ {escape(message)}</b>"


def style_plot(plot: pg.PlotWidget) -> None:
    """Axes, ticks and labels in the theme's text colour on its base colour, at the
    current text size (pyqtgraph's grey is too faint for a projector)."""
    current = theme.current()
    plot.setBackground(current.base)
    size = base_point_size()
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(current.text))
        axis.setTextPen(pg.mkPen(current.text))
        axis.enableAutoSIPrefix(False)
        # pyqtgraph 0.14's enableAutoSIPrefix(False) still picks a prefix for the present
        # range (0.6 would read 600): numbers as they are
        axis.autoSIPrefixScale = 1.0
        axis.labelUnitPrefix = ""
        axis.picture = None
        font = QFont(axis.label.font())
        font.setPointSizeF(size)
        axis.label.setFont(font)
        tick = QFont(font)
        tick.setPointSizeF(size * 0.9)
        axis.setStyle(tickFont=tick)
        axis.labelStyle["font-size"] = f"{size:.1f}pt"
        axis._updateLabel()
        if name == "bottom":  # room for the tick labels (and the title) at this size
            line = QFontMetricsF(tick).height()
            label = QFontMetricsF(font).height() + 4 if axis.label.isVisible() else 0
            axis.setHeight(int(line + 14 + label))
    legend = plot.getPlotItem().legend
    if legend is not None:
        legend.setLabelTextColor(current.text)
        legend.setLabelTextSize(f"{size * 0.9:.1f}pt")
        legend.setBrush(pg.mkBrush(QColor(current.base)))
        legend.setPen(pg.mkPen(current.hint))
        for _sample, label in legend.items:
            label.setText(label.text)
