"""Wiring the graph view into Explore: a "Graph" tab beside the layer tree, the two kept
on the same layer, and the graph drawn for every network the window opens. Also the
network panel's "timm network by name" request, which opens through the same load."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QSplitter, QTabWidget

from explorer.app.networks import NetSpec
from explorer.gui.graph.graph_view import GraphView


def attach_graph_view(window) -> GraphView:
    """Give `window` (the MainWindow) its graph view; returns it (``window.graph_view``).

    The layer tree's box gets two tabs, "Tree" and "Graph"; the graph is built (in a
    worker) only while its tab is on screen, once per network. A click on a box selects
    that layer in the tree, which shows its mosaic; choosing a layer in the tree marks
    its box.
    """
    view = GraphView()
    tree = window.layer_tree
    box = tree.parentWidget()
    tabs = QTabWidget()
    tabs.setDocumentMode(True)
    if isinstance(box, QGroupBox) and box.layout() is not None:
        layout = box.layout()
        index = layout.indexOf(tree)
        layout.removeWidget(tree)
        tabs.addTab(tree, "Tree")
        tabs.addTab(view, "Graph")
        layout.insertWidget(max(index, 0), tabs)
    else:  # the tree sits elsewhere: the graph gets a tab of its own beside the mosaic
        tabs.addTab(view, "Graph")
        window.tabs.addTab(tabs, "Graph")
    window.graph_view = view
    window.layer_tabs = tabs

    def on_layer(name: str) -> None:
        view.select_layer(name)

    def on_box(name: str) -> None:
        if not tree.select(name):
            window.statusBar().showMessage(f"{name} has no output of its own to show", 5000)

    def on_loaded(_result) -> None:
        if window.network is not None:
            view.set_network(window.network)
            if tree.current_name:
                view.select_layer(tree.current_name, reveal=False)

    splitter = box.parentWidget() if isinstance(box, QGroupBox) else None

    def on_tab(index: int) -> None:
        # the tree reads fine in a short pane, a graph does not: give it up to half the
        # column while it is shown (a splitter the person dragged wider stays as it is)
        if not isinstance(splitter, QSplitter) or splitter.count() != 2:
            return
        sizes = splitter.sizes()
        total = sum(sizes)
        if tabs.widget(index) is view and sizes[0] < total * 0.45:
            window._tree_sizes = sizes
            splitter.setSizes([int(total * 0.45), total - int(total * 0.45)])
        elif tabs.widget(index) is tree and getattr(window, "_tree_sizes", None):
            splitter.setSizes(window._tree_sizes)
            window._tree_sizes = None

    def on_shown() -> None:
        graph = view.graph
        if graph is not None:
            window.statusBar().showMessage(
                f"Graph of {graph.name}: {len(graph.nodes)} boxes"
                + (f", {len(view.collapsed)} blocks closed" if view.collapsed else "")
                + " (double-click a box to close or open its block)", 8000)

    tabs.currentChanged.connect(on_tab)
    view.graphShown.connect(on_shown)
    tree.layerSelected.connect(on_layer)
    view.layerSelected.connect(on_box)
    # connected after the window's own slot, so window.network is the new one here
    window.runner.finished.connect(on_loaded)
    view.runner.progress.connect(lambda message, _f: window.statusBar().showMessage(message))
    # a click on a unit of a convolution's channel: its sum of products (Unit sum tab)
    from explorer.gui.graph.unit_math_view import attach_unit_math

    attach_unit_math(window)
    panel = window.network_panel
    if hasattr(panel, "timmRequested"):
        panel.timmRequested.connect(lambda name: window.load(NetSpec(name)))
    return view
