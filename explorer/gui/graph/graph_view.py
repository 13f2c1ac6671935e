"""The network as a graph, in the window: built and laid out in a worker, blocks that
collapse and expand by double-clicking, and a selection shared with the layer tree.

A click on a box selects its layer (an addition or concatenation selects the block it
ends, whose output it is); :meth:`GraphView.select_layer` marks the box of a layer
chosen elsewhere. Large networks open with their blocks collapsed at the deepest level
that keeps the drawing readable; the Blocks menu and double-clicks change that.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from explorer.graph import blocks_at_depth, build_graph, collapse, layout_graph
from explorer.graph.structure import Graph, Node
from explorer.gui.common.workers import JobContext, JobRunner
from explorer.gui.graph.canvas import GraphCanvas

#: more nodes than this and the graph opens with blocks collapsed
READABLE_NODES = 160


def default_collapse(graph: Graph, limit: int = READABLE_NODES) -> list[str]:
    """The blocks to collapse so that `graph` shows at most `limit` nodes: those of the
    deepest level that does (none when the whole graph is small enough)."""
    if len(graph.nodes) <= limit:
        return []
    depths = sorted({b.depth for b in graph.blocks.values()}, reverse=True)
    for depth in depths:
        chosen = blocks_at_depth(graph, depth)
        if len(collapse(graph, chosen, layout=False).nodes) <= limit:
            return chosen
    return blocks_at_depth(graph, 0)


def laid_out(graph: Graph, chosen: list[str]) -> Graph:
    """`graph` with `chosen` collapsed, laid out (runs in a worker)."""
    if chosen:
        return collapse(graph, chosen)
    return layout_graph(graph)


def layer_of(node: Node) -> str | None:
    """The layer a box stands for: its module, or the block an addition or concatenation
    ends; None for the input and output."""
    if node.kind in ("input", "output"):
        return None
    return node.module or node.block or None


class GraphView(QWidget):
    """Toolbar (blocks, fit), the note of a graph that is only a chain, and the canvas."""

    #: a layer (``named_modules`` name) was chosen by clicking its box
    layerSelected = Signal(str)
    #: the graph on show changed (built, collapsed or expanded)
    graphShown = Signal()

    def __init__(self, parent: QWidget | None = None, *, toolbar: bool = True,
                 orientation: str = "auto", compact: bool = False) -> None:
        super().__init__(parent)
        self.canvas = GraphCanvas(orientation=orientation, compact=compact)
        self.network = None
        #: the whole graph, the one on show, and its collapsed blocks
        self.full: Graph | None = None
        self.graph: Graph | None = None
        self.collapsed: list[str] = []
        self._built_for = None
        self._selected: str | None = None
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("hint")
        self.note.setVisible(False)
        self.depth = QComboBox(self)
        self.depth.setToolTip("Draw the blocks of one level as single boxes "
                              "(double-click a box to open or close its block)")
        self.depth.activated.connect(self._on_depth)
        fit = QPushButton("Whole graph", self)
        fit.setToolTip("Fit the whole graph in view (Ctrl+wheel zooms)")
        fit.clicked.connect(self.canvas.fit_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if toolbar:
            row = QHBoxLayout()
            row.addWidget(self.depth, 1)
            row.addWidget(fit)
            layout.addLayout(row)
        else:
            self.depth.hide()
            fit.hide()
        layout.addWidget(self.note)
        layout.addWidget(self.canvas, 1)
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._on_built)
        self.runner.failed.connect(self._on_failed)
        self.canvas.nodeClicked.connect(self._on_click)
        self.canvas.nodeDoubleClicked.connect(self.toggle)

    # -- what to draw -----------------------------------------------------------------
    def set_network(self, network) -> None:
        """Draw `network`'s graph: now if the view is on screen, else when it is shown."""
        self.network = network
        if self.isVisible():
            self._build()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self._build()

    def _build(self) -> None:
        net = self.network
        if net is None or net is self._built_for:
            return
        self._built_for = net
        self.note.setText(f"Building the graph of {net.name}…")
        self.note.setVisible(True)

        def job(ctx: JobContext):
            ctx.progress(-1, f"tracing {net.name}'s graph…")
            full = build_graph(net, layout=False)
            ctx.check()
            chosen = default_collapse(full)
            ctx.progress(-1, "laying it out…")
            return full, laid_out(full, chosen), chosen

        self.runner.submit(job)

    def show_graph(self, graph: Graph, collapsed: list[str] | None = None) -> None:
        """Draw an already built (and laid out) graph."""
        self._on_built((graph, graph, list(collapsed or graph.collapsed)))

    # -- collapsing -------------------------------------------------------------------
    def toggle(self, name: str) -> None:
        """Double-click on box `name`: a collapsed block opens (its own blocks one level
        down stay closed, so a big block opens a step at a time); any other box closes
        the block it is in."""
        if self.graph is None or self.full is None:
            return
        node = self.graph.node(name)
        chosen = list(self.collapsed)
        if node.kind == "block" and node.module in chosen:
            block = node.module
            chosen.remove(block)
            chosen += [p for p, b in self.full.blocks.items()
                       if b.parent == block and p not in chosen]
        elif node.block and node.block in self.full.blocks:
            chosen.append(node.block)
        else:
            return
        self.set_collapsed(chosen)

    def set_collapsed(self, chosen: list[str]) -> None:
        """Show the graph with exactly the blocks `chosen` collapsed (laid out in a
        worker)."""
        full = self.full
        if full is None:
            return
        chosen = list(dict.fromkeys(chosen))
        self.runner.submit(lambda ctx: (full, laid_out(full, chosen), chosen))

    def _on_depth(self, index: int) -> None:
        depth = self.depth.itemData(index)
        if self.full is None or depth is None:
            return
        self.set_collapsed([] if depth < 0 else blocks_at_depth(self.full, depth))

    def _fill_depths(self) -> None:
        self.depth.clear()
        self.depth.addItem("Blocks: every layer shown", -1)
        full = self.full
        if full is None:
            return
        for depth in sorted({b.depth for b in full.blocks.values()}):
            paths = blocks_at_depth(full, depth)
            example = ", ".join(paths[:2]) + (" …" if len(paths) > 2 else "")
            self.depth.addItem(f"Blocks: {len(paths)} closed at level {depth + 1} "
                               f"({example})", depth)

    # -- answers ----------------------------------------------------------------------
    def _on_built(self, answer) -> None:
        full, graph, chosen = answer
        new = full is not self.full
        self.full, self.graph, self.collapsed = full, graph, list(chosen)
        if new:
            self._fill_depths()
        # the Blocks menu says which level is closed, when one whole level is
        level = next((i for i in range(1, self.depth.count())
                      if set(blocks_at_depth(full, self.depth.itemData(i))) == set(chosen)),
                     0 if not chosen else -1)
        self.depth.setCurrentIndex(level)
        self.note.setText(graph.note or "")
        self.note.setVisible(bool(graph.note))
        self.canvas.show_graph(graph)
        if self._selected is not None:
            self.select_layer(self._selected, reveal=False)
        self.graphShown.emit()

    def _on_failed(self, _exc, message: str) -> None:
        self._built_for = None
        self.note.setText(f"The graph could not be drawn: {message.splitlines()[0]}")
        self.note.setVisible(True)

    # -- selection --------------------------------------------------------------------
    def _on_click(self, name: str) -> None:
        if self.graph is None:
            return
        layer = layer_of(self.graph.node(name))
        if layer is None:
            return
        self._selected = layer
        self.canvas.highlight(self.nodes_for(layer), reveal=False)
        self.layerSelected.emit(layer)

    def nodes_for(self, layer: str) -> list[str]:
        """The boxes that show `layer`: its own; else the collapsed block holding it;
        else, for a block that is open, the box where it ends."""
        graph = self.graph
        if graph is None:
            return []
        own = [n.name for n in graph.nodes if n.module == layer]
        if own:
            return own
        holder = [n.name for n in graph.nodes if n.kind == "block" and n.module
                  and layer.startswith(n.module + ".")]
        if holder:
            return holder
        inside = [n for n in graph.nodes if n.block == layer or
                  (n.block or "").startswith(layer + ".")]
        return [inside[-1].name] if inside else []

    def select_layer(self, layer: str, reveal: bool = True) -> list[str]:
        """Mark the boxes of `layer` (chosen in the layer tree); returns their names."""
        self._selected = layer
        names = self.nodes_for(layer)
        self.canvas.highlight(names, reveal=reveal)
        return names

    # -- life -------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.runner.busy

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def shutdown(self, timeout: float = 60.0) -> None:
        self.runner.shutdown(timeout)
