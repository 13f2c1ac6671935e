"""The network's layers as a tree: blocks expand to their children.

Built from the trace's :class:`~explorer.core.trace.LayerInfo` list, in the order the
modules were registered. Next/previous step through that order (expanding blocks on the
way), so a class can walk the network layer by layer with the keyboard.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

NAME_ROLE = Qt.ItemDataRole.UserRole


def shape_text(shape: tuple[int, ...] | None) -> str:
    """`(64, 112, 112)` -> "64 × 112 × 112"."""
    if not shape:
        return "?"
    return " × ".join(str(s) for s in shape)


class LayerTree(QTreeWidget):
    """Columns: name, type, output shape. Emits the qualified layer name on selection."""

    layerSelected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHeaderLabels(["Layer", "Type", "Output shape"])
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        #: whether the Type column gives up width to the names (a narrow column)
        self._type_trimmed = False
        self._items: dict[str, QTreeWidgetItem] = {}
        self._order: list[str] = []
        self._signature: tuple | None = None
        self.currentItemChanged.connect(self._on_current)
        self.itemExpanded.connect(lambda _item: self._fit_columns())
        self.itemCollapsed.connect(lambda _item: self._fit_columns())

    @property
    def names(self) -> list[str]:
        """Layer names in stepping order."""
        return list(self._order)

    @property
    def current_name(self) -> str | None:
        item = self.currentItem()
        return None if item is None else item.data(0, NAME_ROLE)

    def set_layers(self, layers) -> bool:
        """Fill the tree from LayerInfo objects; keep it (and the selection) if unchanged.

        Returns True when the tree was rebuilt.
        """
        layers = [layer for layer in layers if layer.name]
        signature = tuple((la.name, la.type, tuple(la.out_shape or ())) for la in layers)
        if signature == self._signature:
            return False
        self._signature = signature
        self.blockSignals(True)
        self.clear()
        self._items.clear()
        self._order = []
        for layer in layers:
            parent = self._parent_item(layer.name)
            item = QTreeWidgetItem([layer.name.rsplit(".", 1)[-1] if parent else layer.name,
                                    layer.type, shape_text(layer.out_shape)])
            item.setData(0, NAME_ROLE, layer.name)
            item.setToolTip(0, layer.name)
            if parent is None:
                self.addTopLevelItem(item)
            else:
                parent.addChild(item)
            self._items[layer.name] = item
            self._order.append(layer.name)
        self.blockSignals(False)
        self._fit_columns()  # other names and types: other widths
        return True

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._fit_columns()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_columns()  # presentation mode's larger text

    def _fit_columns(self) -> None:
        """The layer names stay readable in a narrow tree (a 1024-wide projector showed
        "…" for every name): where the three columns do not fit, the Type column (the
        type is also in the mosaic's title) is the one cut short."""
        header = self.header()
        room = self.viewport().width()
        names = self.sizeHintForColumn(0) + self.indentation()
        types, shapes = self.sizeHintForColumn(1), self.sizeHintForColumn(2)
        trim = names + types + shapes > room and types > 0
        if trim:
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(1, max(40, min(types, room - names - shapes)))
        elif self._type_trimmed:
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._type_trimmed = trim

    def _parent_item(self, name: str) -> QTreeWidgetItem | None:
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            item = self._items.get(".".join(parts[:cut]))
            if item is not None:
                return item
        return None

    def select(self, name: str) -> bool:
        """Make `name` the current layer (expanding its parents); False if unknown."""
        item = self._items.get(name)
        if item is None:
            return False
        parent = item.parent()
        while parent is not None:
            parent.setExpanded(True)
            parent = parent.parent()
        self.setCurrentItem(item)
        self.scrollToItem(item)
        return True

    def step(self, delta: int) -> str | None:
        """Move `delta` layers forward (or back) in network order; returns the new name."""
        if not self._order:
            return None
        current = self.current_name
        index = self._order.index(current) if current in self._order else -1
        index = min(max(index + delta, 0), len(self._order) - 1)
        name = self._order[index]
        self.select(name)
        return name

    def _on_current(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is not None:
            self.layerSelected.emit(current.data(0, NAME_ROLE))
