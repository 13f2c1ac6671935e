"""A row of controls that wraps onto a second line when the window is narrow.

A section's row of choices (network, picture, method, class, buttons) laid out with a
QHBoxLayout is as wide as all of them together: in presentation mode that was 1,100 to
1,300 px, so on a 1024-wide projector the section scrolled sideways and its right-hand
buttons were out of sight. :class:`FlowLayout` (after Qt's flow layout example) puts
the items left to right and starts a new line where the next one does not fit; it is
only as wide, at least, as its widest item. :func:`field` keeps a label with its widget.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QSizePolicy,
    QStyle,
    QWidget,
)


class FlowLayout(QLayout):
    """Items left to right, wrapping. Each item gets its size hint; what a line has to
    spare goes to its items added with a stretch, as in a QHBoxLayout."""

    def __init__(self, parent: QWidget | None = None, spacing: int = -1) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._stretch: list[int] = []
        self._spacing = spacing
        #: called with the height each layout pass needed (FlowRow follows it)
        self.placed: Callable[[int], None] | None = None
        self.setContentsMargins(0, 0, 0, 0)

    def add(self, widget: QWidget, stretch: int = 0) -> None:
        """Add `widget`; with a `stretch`, it widens into what its line has to spare."""
        self.addWidget(widget)
        self._stretch[-1] = max(0, int(stretch))

    # -- QLayout's item list -----------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt name)
        self._items.append(item)
        self._stretch.append(0)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt name)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt name)
        if not 0 <= index < len(self._items):
            return None
        self._stretch.pop(index)
        return self._items.pop(index)

    # -- sizes -------------------------------------------------------------------------
    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 (Qt name)
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt name)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt name)
        return self._place(QRect(0, 0, width, 0), move=False)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        # everything on one line, as a QHBoxLayout would ask for
        m = self.contentsMargins()
        shown = [item.sizeHint() for item in self._visible()]
        width = sum(s.width() for s in shown) + self._gap() * max(0, len(shown) - 1)
        height = max((s.height() for s in shown), default=0)
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt name)
        # the widest item alone: a narrower window puts one item on each line
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize().expandedTo(item.sizeHint()))
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt name)
        super().setGeometry(rect)
        height = self._place(rect, move=True)
        if self.placed is not None:
            self.placed(height)

    # -- placing -----------------------------------------------------------------------
    def _visible(self) -> list[QLayoutItem]:
        return [item for item, _s in self._shown()]

    def _shown(self) -> list[tuple[QLayoutItem, int]]:
        """(item, stretch) of the items that take room (hidden widgets do not)."""
        return [(item, stretch) for item, stretch in zip(self._items, self._stretch,
                                                         strict=True)
                if not (item.widget() is not None and item.widget().isHidden())]

    def _gap(self) -> int:
        if self._spacing >= 0:
            return self._spacing
        parent = self.parentWidget()
        if parent is None:
            return 6
        style = parent.style()
        gap = style.pixelMetric(QStyle.PixelMetric.PM_LayoutHorizontalSpacing, None, parent)
        return gap if gap >= 0 else 6

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the items out in `rect` (only measure unless `move`); returns the height."""
        m: QMargins = self.contentsMargins()
        area = rect.marginsRemoved(m)
        x, y, line = area.x(), area.y(), 0
        gap = self._gap()
        rows: list[list[tuple[QLayoutItem, QSize, int]]] = [[]]
        for item, stretch in self._shown():
            hint = item.sizeHint().expandedTo(item.minimumSize())
            hint = QSize(min(hint.width(), max(area.width(), 1)), hint.height())
            if rows[-1] and x + hint.width() > area.right() + 1:
                x, y, line = area.x(), y + line + gap, 0
                rows.append([])
            rows[-1].append((item, hint, stretch))
            x += hint.width() + gap
            line = max(line, hint.height())
        if move:  # each line's items centred on the line, as a row's widgets are
            top = area.y()
            for row in rows:
                height = max((h.height() for _i, h, _s in row), default=0)
                used = sum(h.width() for _i, h, _s in row) + gap * max(0, len(row) - 1)
                spare = max(0, area.width() - used)
                stretches = sum(s for _i, _h, s in row)
                left = area.x()
                for item, hint, stretch in row:
                    width = hint.width()
                    if stretches:
                        width = min(width + spare * stretch // stretches,
                                    item.maximumSize().width())
                    dy = (height - hint.height()) // 2
                    item.setGeometry(QRect(QPoint(left, top + dy),
                                           QSize(width, hint.height())))
                    left += width + gap
                top += height + gap
        return y + line - rect.y() + m.bottom()


def field(label: str | None, *widgets: QWidget) -> QWidget:
    """`label` and `widgets` side by side as one item of a :class:`FlowLayout`: they
    wrap together, so a label never ends a line with its widget on the next. Given a
    stretch in the flow, the first widget takes the room."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    if label:
        row.addWidget(QLabel(label))
    for i, widget in enumerate(widgets):
        row.addWidget(widget, 1 if i == 0 else 0)
    box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return box


class FlowRow(QWidget):
    """A :class:`FlowLayout` as a widget that tells its parent layout how tall it is now
    rather than a height for each width.

    A height-for-width item makes a section's layout ask the window's scroll area for
    its *preferred* height, and the whole section then scrolled (explorer.gui.detect's
    ``_Column`` says the same of wrapped captions). This row reports the height its
    current width needs and asks for a new layout when that changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = FlowLayout(self)
        self.flow.placed = self._follow
        self._height: int | None = None

    def add(self, widget: QWidget, stretch: int = 0) -> None:
        """Add `widget`; with a `stretch`, it widens into what its line has to spare."""
        self.flow.add(widget, stretch)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt name)
        return False

    def _needed(self) -> int:
        if self._height is None:  # not laid out yet: one line
            return self.flow.sizeHint().height()
        return self._height

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(self.flow.sizeHint().width(), self._needed())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(self.flow.minimumSize().width(), self._needed())

    def _follow(self, height: int) -> None:
        # each layout pass: after a resize, and after an item's size changed (a larger
        # font in presentation mode wraps a row that the same width held on one line)
        if height != self._height:
            self._height = height
            self.updateGeometry()  # the parent lays out again with this height
