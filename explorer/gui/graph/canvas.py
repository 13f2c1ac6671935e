"""Drawing a laid-out :class:`explorer.graph.Graph` with QGraphicsScene items.

The layout (rows and positions) comes from :func:`explorer.graph.layout_graph` (igraph's
Sugiyama layout); this module only turns layout units into pixels, in either direction:
top to bottom where the view is taller than wide, left to right otherwise, so that a
network's long chain runs along the view's long side. Boxes, text and edge labels follow
the window's theme and text scale (presentation mode), and are redrawn when either
changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from explorer.graph.structure import Graph, Node
from explorer.gui.common import theme

#: role of the data that names a node on its box
NODE_KEY = 0

#: Okabe-Ito colours by what a node does (fill in the light theme, frame in the dark one)
KIND_COLOURS = {
    "conv": "#56b4e9",  # sky blue: convolutions
    "pool": "#009e73",  # bluish green: pooling
    "merge": "#e69f00",  # orange: additions and concatenations, where branches meet
    "block": "#cc79a7",  # reddish purple: a collapsed block
    "linear": "#0072b2",  # blue: fully connected
    "other": "#999999",  # grey: activations, norms, reshapes
    "end": "#f0e442",  # yellow: input and output
}
_MERGES = {"add", "cat", "concat", "iadd", "mul", "sum", "Add", "Concat", "Mul", "stack"}


def node_kind(node: Node) -> str:
    """The colour family of `node` (a key of :data:`KIND_COLOURS`)."""
    op = node.op
    if node.kind in ("input", "output"):
        return "end"
    if node.kind == "block":
        return "block"
    if op in _MERGES or op.startswith(("add", "cat")):
        return "merge"
    if "conv" in op.lower():
        return "conv"
    if "pool" in op.lower():
        return "pool"
    if op in ("Linear", "linear", "addmm", "Gemm"):
        return "linear"
    return "other"


def shape_text(shape: tuple[int, ...] | None) -> str:
    """`(64, 56, 56)` -> "64×56×56"; "?" where unknown."""
    if shape is None:
        return "?"
    return "×".join(map(str, shape)) or "scalar"


def node_lines(node: Node, compact: bool = False) -> tuple[str, str]:
    """What a box says: its type (and name; with `compact` only the name's last part),
    then its parameters and receptive field."""
    short = node.module or node.name
    if compact:
        short = short.rsplit(".", 1)[-1]
    title = node.op + (" ⊞" if node.kind == "block" else "")
    if node.kind not in ("input", "output") and short and short != node.op:
        title += f"  {short}"
    parts = []
    if node.params:
        parts.append(f"{node.params:,} params")
    if node.rf_global:
        parts.append("RF all")
    elif node.rf:
        parts.append(f"RF {node.rf}")
    if node.kind in ("input", "output"):
        parts = [shape_text(node.shape)]
    return title, ", ".join(parts) or "no parameters"


def node_tooltip(node: Node) -> str:
    rows = [f"<b>{node.op}</b> {node.module or node.name}",
            f"output {shape_text(node.shape)}", f"{node.params:,} parameters"]
    if node.rf_global:
        rows.append("receptive field: the whole picture")
    elif node.rf:
        rows.append(f"receptive field {node.rf} px, jump {node.jump:g}" if node.jump
                    else f"receptive field {node.rf} px")
    if node.block:
        rows.append(f"in block {node.block}")
    rows.append("<i>double-click: expand this block</i>" if node.kind == "block" else
                "<i>double-click: collapse its block</i>" if node.block else "")
    return "<br>".join(r for r in rows if r)


@dataclass
class _Metrics:
    """Sizes in pixels at the current text scale."""

    font: QFont
    bold: QFont
    small: QFont
    box_w: float
    box_h: float
    gap_x: float  # one layout unit across a row
    gap_y: float  # one row
    label_w: float  # the widest shape label


def _metrics(scale: float, graph: Graph, compact: bool = False) -> _Metrics:
    size = theme.BASE_POINT_SIZE * scale * 0.85
    font = QFont()
    font.setPointSizeF(size)
    bold = QFont(font)
    bold.setBold(True)
    small = QFont(font)
    small.setPointSizeF(size * 0.9)
    fm, fb = QFontMetricsF(font), QFontMetricsF(bold)
    # boxes as wide as the widest text (up to a limit: long names are elided)
    lines = [node_lines(n, compact) for n in graph.nodes]
    widest = max([fb.horizontalAdvance(a) for a, _ in lines]
                 + [fm.horizontalAdvance(b) for _, b in lines] + [80.0])
    box_w = min(widest, fm.averageCharWidth() * 30) + 16
    box_h = fb.height() + fm.height() + 10
    fs = QFontMetricsF(small)
    label_w = max([fs.horizontalAdvance(shape_text(n.shape)) for n in graph.nodes] + [20.0])
    return _Metrics(font, bold, small, box_w, box_h, box_w + fm.averageCharWidth() * 3,
                    box_h + fs.height() * 2.2, label_w)


class NodeItem(QGraphicsRectItem):
    """One node: a rounded box with two lines of text."""

    def __init__(self, node: Node, rect: QRectF, m: _Metrics, current: theme.Theme,
                 compact: bool = False):
        super().__init__(rect)
        self.node = node
        self.setData(NODE_KEY, node.name)
        self.setToolTip(node_tooltip(node))
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        colour = QColor(KIND_COLOURS[node_kind(node)])
        dark = current is theme.PRESENTATION
        self._frame = QPen(colour if dark else colour.darker(160), 2.0 if dark else 1.2)
        self._highlight = QPen(QColor(current.highlight), 4.0)
        self.setPen(self._frame)
        fill = QColor(current.base) if dark else colour.lighter(135)
        if not dark:
            fill.setAlpha(255)
        self.setBrush(QBrush(fill))
        self.setZValue(2)
        text_colour = QColor(current.text)
        title, detail = node_lines(node, compact)
        for i, (text, font) in enumerate(((title, m.bold), (detail, m.font))):
            fm = QFontMetricsF(font)
            elided = fm.elidedText(text, Qt.TextElideMode.ElideMiddle, rect.width() - 10)
            item = QGraphicsSimpleTextItem(elided, self)
            item.setFont(font)
            item.setBrush(text_colour)
            y = rect.top() + 4 + (0 if i == 0 else QFontMetricsF(m.bold).height() + 1)
            item.setPos(rect.center().x() - fm.horizontalAdvance(elided) / 2, y)
        self.highlighted = False

    def set_highlighted(self, on: bool) -> None:
        self.highlighted = on
        self.setPen(self._highlight if on else self._frame)
        self.setZValue(3 if on else 2)

    def paint(self, painter: QPainter, option, widget=None) -> None:  # noqa: D102
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(self.pen())
        painter.setBrush(self.brush())
        painter.drawRoundedRect(self.rect(), 6, 6)


class GraphCanvas(QGraphicsView):
    """The graph, drawn; a click names a node, a double click asks to (un)collapse."""

    #: a node's name was clicked
    nodeClicked = Signal(str)
    #: a node's name was double-clicked
    nodeDoubleClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, orientation: str = "auto",
                 compact: bool = False) -> None:
        super().__init__(parent)
        #: boxes name only the last part of a layer's path (small drawings)
        self.compact = compact
        #: the least zoom fitting may choose: below about 0.7 the boxes' text is too small
        #: to read in a room, so a wide graph scrolls instead (the gallery fits it whole)
        self.min_fit = 0.7
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        #: "auto" (along the view's long side), "vertical" or "horizontal"
        self.orientation = orientation
        self.graph: Graph | None = None
        self.items_by_name: dict[str, NodeItem] = {}
        self._drawn_as: str | None = None
        self._zoom = 1.0
        self._forget_theme = theme.on_change(lambda _t, _s: self.redraw())
        self.destroyed.connect(lambda *_: self._forget_theme())

    # -- drawing ----------------------------------------------------------------------
    def show_graph(self, graph: Graph | None) -> None:
        """Draw `graph` (laid out), keeping what was highlighted."""
        self.graph = graph
        self.redraw(fit=True)

    @property
    def vertical(self) -> bool:
        if self.orientation != "auto":
            return self.orientation == "vertical"
        size = self.viewport().size()
        return size.height() >= size.width()

    def redraw(self, fit: bool = False) -> None:
        highlighted = [n for n, it in self.items_by_name.items() if it.highlighted]
        scene = self.scene()
        scene.clear()
        self.items_by_name = {}
        graph = self.graph
        if graph is None or not graph.nodes or graph.nodes[0].x is None:
            self._drawn_as = None
            return
        current = theme.current()
        self.setBackgroundBrush(QColor(current.base))
        m = _metrics(theme.text_scale(), graph, self.compact)
        vertical = self.vertical
        self._drawn_as = "vertical" if vertical else "horizontal"

        def place(x: float, y: float) -> QPointF:
            # layout units -> pixels; the layout's rows run down, or across when turned
            if vertical:
                return QPointF(x * m.gap_x, y * m.gap_y)
            # turned: a row is a column, as wide as a box plus the shape label after it
            return QPointF(y * (m.box_w + m.label_w + 16), x * (m.box_h + 30))

        centres = {}
        for node in graph.nodes:
            c = place(node.x or 0.0, node.y or 0.0)
            centres[node.name] = c
            rect = QRectF(c.x() - m.box_w / 2, c.y() - m.box_h / 2, m.box_w, m.box_h)
            item = NodeItem(node, rect, m, current, self.compact)
            scene.addItem(item)
            self.items_by_name[node.name] = item
        edge_pen = QPen(QColor(current.hint), 1.3)
        long_pen = QPen(QColor(current.hint), 1.0, Qt.PenStyle.DashLine)
        labelled: set[str] = set()
        routes = graph.routes or [[] for _ in graph.edges]
        routed = graph.routed or [True] * len(graph.edges)
        for (a, b), bends, placed in zip(graph.edges, routes, routed):
            start, end = centres[a], centres[b]
            points = [start] + [place(x, y) for x, y in bends] + [end]
            # leave and enter the boxes at their edges, not their centres
            if vertical:
                points[0] = QPointF(start.x(), start.y() + m.box_h / 2)
                points[-1] = QPointF(end.x(), end.y() - m.box_h / 2)
            else:
                points[0] = QPointF(start.x() + m.box_w / 2, start.y())
                points[-1] = QPointF(end.x() - m.box_w / 2, end.y())
            path = QPainterPath(points[0])
            for p in points[1:]:
                path.lineTo(p)
            edge = QGraphicsPathItem(path)
            edge.setPen(edge_pen if placed else long_pen)
            edge.setZValue(1)
            scene.addItem(edge)
            if a not in labelled:  # one shape per tensor: by the edge it first leaves on
                labelled.add(a)
                self._edge_label(scene, graph.node(a).shape, points, vertical, m, current)
        for name in highlighted:
            if name in self.items_by_name:
                self.items_by_name[name].set_highlighted(True)
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-20, -20, 20, 20))
        if fit:
            self.fit_width()

    @staticmethod
    def _edge_label(scene, shape, points, vertical: bool, m: _Metrics, current) -> None:
        label = QGraphicsSimpleTextItem(shape_text(shape))
        label.setFont(m.small)
        label.setBrush(QColor(current.text))
        label.setZValue(4)
        p0, p1 = points[0], points[1]
        if vertical:  # beside the edge, halfway down to the next row
            label.setPos(p0.x() + 4, p0.y() + min(abs(p1.y() - p0.y()), m.gap_y) * 0.15)
        else:  # above the edge, in the gap after the box
            label.setPos(p0.x() + 5, p0.y() - QFontMetricsF(m.small).height() - 1)
        back = QGraphicsRectItem(label.boundingRect().translated(label.pos()).adjusted(-2, 0, 2, 0))
        back.setBrush(QColor(current.base))
        back.setPen(QPen(Qt.PenStyle.NoPen))
        back.setZValue(3.5)
        scene.addItem(back)
        scene.addItem(label)

    # -- view -------------------------------------------------------------------------
    def fit_width(self) -> None:
        """Scale so the graph's narrow side fits the view (never above 100 %), and show
        its start (the input)."""
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        view = self.viewport().size()
        if self.vertical:
            k = view.width() / rect.width()
        else:
            k = view.height() / rect.height()
        self.set_zoom(max(self.min_fit, min(1.0, k)))
        self.centerOn(rect.center().x() if self.vertical else rect.left(),
                      rect.top() if self.vertical else rect.center().y())
        if self.vertical:
            self.verticalScrollBar().setValue(self.verticalScrollBar().minimum())
        else:
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())
        marked = [it for it in self.items_by_name.values() if it.highlighted]
        if marked:
            self.ensureVisible(marked[0], 40, 40)

    def fit_all(self) -> None:
        """The whole graph in view."""
        rect = self.scene().sceneRect()
        if not rect.isEmpty():
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
            self._zoom = self.transform().m11()

    def set_zoom(self, k: float) -> None:
        self._zoom = k
        self.resetTransform()
        self.scale(k, k)

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            step = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
            self.set_zoom(max(0.05, min(4.0, self._zoom * step)))
            event.accept()
            return
        super().wheelEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        # turned on its side when the view's long side changes (a splitter dragged)
        if self._drawn_as is not None and self.orientation == "auto" and (
                (self._drawn_as == "vertical") != self.vertical):
            self.redraw(fit=True)

    # -- nodes ------------------------------------------------------------------------
    def node_at(self, pos) -> str | None:
        for item in self.items(pos):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if isinstance(item, NodeItem):
                return item.node.name
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        name = self.node_at(event.position().toPoint())
        if name is not None and event.button() == Qt.MouseButton.LeftButton:
            self.nodeClicked.emit(name)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt name)
        name = self.node_at(event.position().toPoint())
        if name is not None:
            self.nodeDoubleClicked.emit(name)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def highlight(self, names: list[str], *, reveal: bool = True) -> None:
        """Mark the boxes of `names` (and nothing else); scroll the first into view."""
        wanted = set(names)
        for name, item in self.items_by_name.items():
            item.set_highlighted(name in wanted)
        first = next((self.items_by_name[n] for n in names if n in self.items_by_name), None)
        if first is not None and reveal:
            self.ensureVisible(first, 40, 40)

    @property
    def highlighted(self) -> list[str]:
        return [n for n, it in self.items_by_name.items() if it.highlighted]

    def node_items(self) -> list[QGraphicsItem]:
        return list(self.items_by_name.values())
