"""Every Lab page fits a classroom screen and stays readable, in both themes.

For each page, in the normal and the presentation theme (text x1.5), at the page area of
a 1366x768 window (about 1340x640) and of a 1920x1080 one: no sideways scroll bar, no
control outside the visible area or squeezed below its size, no label whose text is cut,
every label's text at least 4.5:1 against what is behind it, every number of a grid
readable on its cell. Each page is also rendered to /tmp/lab_<page>_<mode>.png to look at.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QFontMetrics, QPalette, QTextDocument
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QFrame,
    QLabel,
    QLineEdit,
    QScrollArea,
    QScrollBar,
    QTableWidget,
    QWidget,
)

from explorer.gui.common import theme

#: the page area of a 1366x768 window (menu, tabs, status bar taken off) and of 1920x1080
SIZES = ((1340, 640), (1900, 950))
MODES = ("normal", "presentation")
KEYS = ("conv", "pool", "params", "equivariance", "rf", "hierarchy", "digit", "gallery")


@pytest.fixture
def lab(qtbot, qapp):
    """The Lab in a scroll area, as the window holds a section; the theme restored after."""
    from explorer.gui.lab import LabPanel

    theme.apply(qapp, presentation=False, zoom_to=1.0, remember=False)
    holder = QScrollArea()
    holder.setWidgetResizable(True)
    holder.setFrameShape(QFrame.Shape.NoFrame)
    panel = LabPanel()
    holder.setWidget(panel)
    qtbot.addWidget(holder, before_close_func=lambda _w: panel.shutdown())
    holder.resize(*SIZES[0])
    holder.show()
    yield holder, panel
    panel.shutdown()
    theme.apply(qapp, presentation=False)


def _settle(qapp, panel) -> None:
    assert panel.wait(120)
    for _ in range(6):
        qapp.processEvents()


def _shown(panel: QWidget, cls) -> list:
    return [w for w in panel.findChildren(cls) if w.isVisible()]


def _background(widget: QWidget):
    """The colour behind `widget`: the nearest ancestor that paints its own background,
    else the window's."""
    w = widget
    while w is not None:
        if w.autoFillBackground() or w.isWindow():
            return w.palette().color(w.backgroundRole())
        w = w.parentWidget()
    return widget.palette().color(QPalette.ColorRole.Window)


def _text_width(label: QLabel) -> float:
    text = label.text()
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(text))
    if rich:
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        return doc.idealWidth()
    metrics = QFontMetrics(label.font())
    return max((metrics.horizontalAdvance(line) for line in text.splitlines()), default=0)


def check_fits(holder: QScrollArea, panel: QWidget, where: str) -> None:
    problems = []
    # no sideways scroll bar anywhere (the window's holder included)
    bars = [holder.horizontalScrollBar(), *panel.findChildren(QScrollBar)]
    for bar in bars:
        if bar.orientation() == Qt.Orientation.Horizontal and bar.isVisible():
            problems.append(f"horizontal scroll bar in {bar.parentWidget()!r}")
    if holder.verticalScrollBar().isVisible():
        problems.append("the Lab is taller than the window: the window's scroll area scrolls")
    visible = panel.rect()
    for w in _shown(panel, QWidget):
        if not isinstance(w, (QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider,
                              QLabel, QLineEdit, QTableWidget)) and \
                type(w).__name__ not in ("NumberGrid", "KernelEditor", "ImageGrid",
                                         "ImageCanvas", "PlotWidget", "DrawingCanvas"):
            continue
        rect = QRect(w.mapTo(panel, QPoint(0, 0)), w.size())
        name = f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"[:90]
        if not visible.contains(rect):
            problems.append(f"{name} at {rect.getRect()} is outside the Lab's "
                            f"{visible.width()}x{visible.height()}")
        if isinstance(w, (QAbstractButton, QComboBox, QAbstractSpinBox)):
            hint = w.minimumSizeHint()
            if w.width() < hint.width() - 1 or w.height() < hint.height() - 1:
                problems.append(f"{name} squeezed to {w.width()}x{w.height()} "
                                f"(needs {hint.width()}x{hint.height()})")
        if isinstance(w, QLabel) and w.text():
            if w.wordWrap():
                if w.heightForWidth(w.width()) > w.height() + 1:
                    problems.append(f"{name}: wrapped text needs {w.heightForWidth(w.width())}"
                                    f" px, has {w.height()}")
            elif _text_width(w) > w.width() + 1:
                problems.append(f"{name}: text {_text_width(w):.0f} px wide, label "
                                f"{w.width()} px")
            fg = w.palette().color(w.foregroundRole())
            ratio = theme.contrast(fg, _background(w))
            if ratio < 4.5:
                problems.append(f"{name}: contrast {ratio:.1f} ({fg.name()} on "
                                f"{_background(w).name()})")
    from explorer.gui.lab.common import NumberGrid, readable_text

    for grid in _shown(panel, NumberGrid):
        for r in range(grid.rowCount()):
            for c in range(grid.columnCount()):
                bg = grid.colour_at(r, c)
                if theme.contrast(readable_text(bg), bg) < 4.5:
                    problems.append(f"grid cell ({r}, {c}) on {bg.name()} is hard to read")
        ratio = theme.contrast(theme.current().hint, theme.current().window)
        if ratio < 4.5:
            problems.append(f"grid row/column numbers: contrast {ratio:.1f}")
    assert not problems, f"{where}:\n" + "\n".join(problems)


@pytest.mark.parametrize("key", KEYS)
def test_page_fits_and_reads_in_both_themes(lab, qapp, key):
    holder, panel = lab
    page = panel.show_page(key)
    _settle(qapp, panel)
    for mode in MODES:
        theme.apply(qapp, presentation=mode == "presentation")
        for width, height in SIZES:
            holder.resize(width, height)
            _settle(qapp, panel)
            check_fits(holder, panel, f"{key}, {mode}, {width}x{height}")
            if (width, height) == SIZES[0]:
                assert holder.grab().save(f"/tmp/lab_{key}_{mode}.png")
        # the page's own colours follow the theme: plots, picture titles, canvases
        current = theme.current()
        import pyqtgraph as pg

        for plot in page.findChildren(pg.PlotWidget):
            assert plot.backgroundBrush().color().name() == current.base
            axis = plot.getAxis("left")
            assert axis.textPen().color().name() == current.text
        from explorer.gui.lab.common import ImageGrid

        for grid in page.findChildren(ImageGrid):
            assert grid.backgroundBrush().color().name() == current.base
            for label in grid.labels.values():
                assert label.opts["color"] == current.text


def test_colours_are_colour_blind_safe_and_readable():
    from explorer.gui.lab import common

    okabe_ito = {"#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00",
                 "#cc79a7", "#000000"}
    for colour in (common.WINDOW, common.TARGET, common.SOURCE, common.UNCHANGED,
                   common.CHANGED, common.PADDED):
        assert theme.contrast(common.readable_text(colour), colour) >= 4.5
    # the pooling map's pair is Okabe-Ito blue against orange, each with its own mark
    assert {common.UNCHANGED.name(), common.CHANGED.name()} == {"#0072b2", "#e69f00"}
    assert common.UNCHANGED_MARK != common.CHANGED_MARK
    assert set(common.SERIES) <= okabe_ito and len(set(common.SYMBOLS)) == len(common.SYMBOLS)


def test_pool_map_marks_every_cell_not_by_colour_alone(qtbot):
    from explorer.gui.lab import common
    from explorer.gui.lab.pool_page import PoolPage

    page = PoolPage()
    qtbot.addWidget(page)
    page.map_check.setChecked(True)
    grid = page.input_grid
    marks = grid._marks
    assert len(marks) == grid.rowCount() * grid.columnCount()
    assert set(marks.values()) == {common.UNCHANGED_MARK, common.CHANGED_MARK}
    for (r, c), mark in marks.items():
        if (r, c) in grid._bold:
            continue  # the maxima themselves: framed
        expected = common.UNCHANGED if mark == common.UNCHANGED_MARK else common.CHANGED
        assert grid.colour_at(r, c).name() == expected.name()
    assert page.step_forward() and page.step_forward()  # across the border: it changed
    assert set(page.output_grid._marks.values()) == {common.CHANGED_MARK}
    assert "≠ output changed" in page.verdict.text()


def test_pages_follow_theme_changes_and_let_go(qtbot, qapp):
    """A page re-styles on every theme change and unregisters when it is destroyed."""
    from explorer.gui.lab.hierarchy_page import HierarchyPage

    theme.apply(qapp, presentation=False, zoom_to=1.0, remember=False)
    listeners = len(theme._listeners)
    page = HierarchyPage()
    page.show()
    qtbot.waitExposed(page)
    assert len(theme._listeners) == listeners + 1
    size = page.heading.font().pointSizeF()
    try:
        theme.apply(qapp, presentation=True)
        assert page.heading.font().pointSizeF() == pytest.approx(
            size * theme.PRESENTATION_SCALE)
        assert page.grid.labels["x+"].opts["color"] == theme.PRESENTATION.text
        theme.apply(qapp, zoom_to=1.25, remember=False)
        assert page.heading.font().pointSizeF() == pytest.approx(
            size * theme.PRESENTATION_SCALE * 1.25)
    finally:
        theme.apply(qapp, presentation=False, zoom_to=1.0, remember=False)
    assert page.heading.font().pointSizeF() == pytest.approx(size)
    page.close()
    page.deleteLater()
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    del page
    import gc

    gc.collect()
    theme.apply(qapp, presentation=False)  # a dead page's listener removes itself
    assert len(theme._listeners) == listeners
