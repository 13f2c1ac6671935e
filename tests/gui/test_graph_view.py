"""The graph view in Explore: resnet18's graph with its 8 residual additions drawn, a click
on a box selects that layer (its mosaic shows), choosing a layer in the tree marks its
box, double-clicks close and open blocks, a network torch.fx cannot trace is a chain
with a note, and building googlenet's graph leaves the window's event loop running.
Random weights, offline."""

from __future__ import annotations

import time

import pytest
import torch
from PySide6.QtCore import Qt, QTimer

from explorer.app.networks import NetSpec
from explorer.gui.graph.graph_view import GraphView


def _visible_ops(view: GraphView, op: str) -> list:
    return [it for it in view.canvas.items_by_name.values()
            if it.node.op == op and it.isVisible() and it.scene() is view.canvas.scene()]


def _box_pos(view: GraphView, name: str):
    item = view.canvas.items_by_name[name]
    view.canvas.ensureVisible(item, 10, 10)
    return view.canvas.mapFromScene(item.sceneBoundingRect().center())


def _click(qtbot, view: GraphView, name: str, double: bool = False) -> None:
    pos = _box_pos(view, name)
    if double:
        qtbot.mouseDClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    else:
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def _node_of(view: GraphView, module: str) -> str:
    return next(n.name for n in view.graph.nodes if n.module == module)


@pytest.fixture
def resnet_window(window, qtbot):
    window.load(NetSpec("resnet18"), "sample:chelsea")
    assert window.wait(120) and window.network.name == "resnet18", window.errors
    assert window.network.random_weights  # offline: nothing was downloaded
    window.layer_tabs.setCurrentWidget(window.graph_view)
    view = window.graph_view
    qtbot.waitUntil(lambda: view.graph is not None and view.graph.name == "resnet18",
                    timeout=120_000)
    return window


def test_resnet18_graph_selects_and_is_selected(resnet_window, qtbot):
    window, view = resnet_window, resnet_window.graph_view
    assert view.graph.method == "fx" and view.collapsed == []
    assert len(_visible_ops(view, "add")) == 8
    # every edge's tensor is labelled: the first convolution's output among them
    labels = {it.text() for it in view.canvas.scene().items()
              if type(it).__name__ == "QGraphicsSimpleTextItem"}
    assert {"3×224×224", "64×112×112", "512×7×7", "1000"} <= labels
    # a click on a box selects its layer in the tree, and its mosaic shows
    _click(qtbot, view, _node_of(view, "layer2.0.conv1"))
    qtbot.waitUntil(lambda: window.layer_tree.current_name == "layer2.0.conv1", timeout=5000)
    assert window.wait(60)
    assert window.feature_view.layer == "layer2.0.conv1"
    assert window.feature_view.mosaic is not None
    assert view.canvas.highlighted == [_node_of(view, "layer2.0.conv1")]
    # an addition stands for the block it ends
    add = next(n for n in view.graph.nodes if n.op == "add" and n.block == "layer3.1")
    _click(qtbot, view, add.name)
    qtbot.waitUntil(lambda: window.layer_tree.current_name == "layer3.1", timeout=5000)
    # the tree's choice marks the box
    window.layer_tree.select("layer4.0.bn2")
    assert view.canvas.highlighted == [_node_of(view, "layer4.0.bn2")]
    window.wait(60)


def test_blocks_close_and_open_by_double_click(resnet_window, qtbot):
    window, view = resnet_window, resnet_window.graph_view
    window.layer_tree.select("layer1.0.conv2")
    _click(qtbot, view, _node_of(view, "layer1.0.conv1"), double=True)
    qtbot.waitUntil(lambda: "layer1.0" in view.collapsed, timeout=60_000)
    qtbot.waitUntil(lambda: any(n.kind == "block" for n in view.graph.nodes), timeout=5000)
    block = next(n for n in view.graph.nodes if n.kind == "block")
    assert (block.module, block.op, block.shape) == ("layer1.0", "BasicBlock", (64, 56, 56))
    assert len(_visible_ops(view, "add")) == 7
    assert not any(n.module == "layer1.0.conv1" for n in view.graph.nodes)
    # the chosen layer is inside the closed block: the block's box is marked
    assert view.canvas.highlighted == [block.name]
    _click(qtbot, view, block.name, double=True)
    qtbot.waitUntil(lambda: view.collapsed == [], timeout=60_000)
    qtbot.waitUntil(lambda: len(_visible_ops(view, "add")) == 8, timeout=5000)
    # one level at a time: closing everything at level 1 leaves layer1..layer4 and the
    # stem; opening layer2 shows its two blocks closed
    view.depth.setCurrentIndex(view.depth.findData(0))
    view._on_depth(view.depth.currentIndex())
    qtbot.waitUntil(lambda: "layer2" in view.collapsed, timeout=60_000)
    assert len(_visible_ops(view, "add")) == 0
    _click(qtbot, view, next(n.name for n in view.graph.nodes if n.module == "layer2"),
           double=True)
    qtbot.waitUntil(lambda: {"layer2.0", "layer2.1"} <= set(view.collapsed), timeout=60_000)
    assert "layer2" not in view.collapsed


def test_a_network_fx_cannot_trace_is_a_chain_with_a_note(window, qtbot, tmp_path):
    from explorer.nets.registry import load_network

    net = load_network("tinyvgg-shapes")
    path = tmp_path / "tinyvgg.ts"
    with torch.no_grad():
        torch.jit.save(torch.jit.script(net.module), str(path))
    # the name lends the file its input size and labels (a file says neither)
    window.load(NetSpec("tinyvgg-shapes", str(path)), "sample:shape-crop")
    assert window.wait(120) and window.network.weights_path == str(path), window.errors
    view = window.graph_view
    window.layer_tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.graph is not None and view.graph.method == "chain",
                    timeout=120_000)
    assert view.note.isVisible() and "could not trace" in view.note.text()
    assert len(_visible_ops(view, "Conv2d")) == 6


def test_googlenet_builds_in_a_worker(qtbot):
    """The window keeps drawing while googlenet's graph is traced and laid out: a timer
    on the GUI thread ticks during the build; the 9 Inception concatenations show."""
    from explorer.nets.registry import load_network

    view = GraphView()
    qtbot.addWidget(view, before_close_func=lambda v: v.shutdown())
    view.resize(900, 700)
    view.show()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()) if view.busy else None)
    timer.start(20)
    view.set_network(load_network("googlenet"))
    assert view.busy
    qtbot.waitUntil(lambda: view.graph is not None, timeout=180_000)
    timer.stop()
    assert len(ticks) >= 3
    assert len(_visible_ops(view, "cat")) == 9
    view.shutdown()


def test_the_gallery_draws_each_architecture_beside_its_table(qtbot):
    """LeNet-5, AlexNet and VGG16 as chains with one box per layer of the table, the
    Inception module's four branches meeting in one concatenation, the residual block's
    skip and convolutions meeting in one addition."""
    from explorer.gui.lab.gallery_page import GalleryPage

    page = GalleryPage()
    qtbot.addWidget(page, before_close_func=lambda p: p.shutdown())
    page.resize(1300, 620)
    page.show()
    assert page.wait(180)
    qtbot.waitUntil(lambda: all(g.graph is not None for g in page.graphs), timeout=10_000)
    by_tab = {t.title.split(" ")[0]: (t, g) for t, g in zip(page.tables, page.graphs)}
    lenet, view = by_tab["LeNet-5"]
    convs = [n for n in view.graph.nodes if n.op == "Conv2d"]
    assert len(convs) == sum(r[1].startswith("conv") for r in lenet.rows)
    assert view.graph.nodes[0].shape == (1, 32, 32) and view.graph.nodes[-1].shape == (10,)
    vgg, view = by_tab["VGG16"]
    assert sum(n.op in ("Conv2d", "Linear") for n in view.graph.nodes) == vgg.weight_layers
    _, view = by_tab["Inception"]
    cat = next(n for n in view.graph.nodes if n.op == "cat")
    assert len([e for e in view.graph.edges if e[1] == cat.name]) == 4 and cat.shape == (
        256, 28, 28)
    assert len({n.x for n in view.graph.nodes if n.op == "Conv2d" and n.y == 1}) >= 3
    resblock, view = page.tables[4], page.graphs[4]
    add = next(n for n in view.graph.nodes if n.op == "add")
    sources = [a for a, b in view.graph.edges if b == add.name]
    assert len(sources) == 2 and any(s.startswith("input:") for s in sources)
    assert resblock.total == sum(n.params for n in view.graph.nodes)
    for g in page.graphs:
        assert g.canvas.items_by_name and not g.canvas.horizontalScrollBar().isVisible()


def test_a_click_on_a_conv_unit_shows_its_sum(window, qtbot, tmp_path, monkeypatch):
    """The enlarged channel of tinyvgg-shapes' features.conv2: a click on a unit lays out
    one term per input channel, and their sum plus the bias is the activation (1e-4)."""
    from PySide6.QtCore import QPointF

    import explorer.gui.explore.unit_card as unit_card

    # the same click opens the unit card: keep its work small and its cache private
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(unit_card, "DEFAULT_STEPS", 8)
    window.layer_tree.select("features.conv2")
    assert window.wait(60)
    window.feature_view.select_channel(5)
    cv = window.channel_view
    qtbot.waitUntil(lambda: cv.channel == 5 and cv.values is not None, timeout=10_000)
    canvas = cv.canvas
    scene = canvas.view.mapViewToScene(QPointF(12.5, 7.5))  # row 7, column 12
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=canvas.mapFromScene(scene))
    view = window.unit_math_view
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)
    r = view.result
    assert r["layer"] == "features.conv2" and r["unit"] == [5, 7, 12]
    assert view.table.rowCount() == len(r["terms"]) == 16
    assert abs(sum(t["sum"] for t in r["terms"]) + r["bias"] - float(cv.values[7, 12])) < 1e-4
    assert window.tabs.currentWidget() is view and "activation" in view.total.text()
    # a unit of a layer that is not a convolution: said in words, nothing computed
    window.layer_tree.select("features.relu2")
    assert window.wait(60)
    qtbot.waitUntil(lambda: cv.layer == "features.relu2" and cv.values is not None,
                    timeout=10_000)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=canvas.mapFromScene(canvas.view.mapViewToScene(QPointF(3.5, 3.5))))
    qtbot.waitUntil(lambda: view.result is None, timeout=10_000)
    assert "only a convolution" in view.title.text()
    card = getattr(window, "_unit_card", None)
    if card is not None:
        card.shutdown()


def test_networks_a_person_brings_open_in_the_window(window, qtbot, tmp_path):
    """A dropped .onnx export of tinyvgg-shapes opens and is traced; a .onnx that is
    text, and a timm name that is not a CNN, are one banner line each and leave the
    loaded network in place."""
    import warnings

    from explorer.nets.registry import load_network

    original = load_network("tinyvgg-shapes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(original.module, (torch.zeros(1, 3, 64, 64),),
                          str(tmp_path / "tv.onnx"), dynamo=False)
    window.open_path(str(tmp_path / "tv.onnx"))
    assert window.wait(120) and window.network.name == "tv", window.errors
    assert window.network.description.startswith("ONNX file")
    assert any(lay.type == "Conv2d" for lay in window.trace.layers)
    (tmp_path / "text.onnx").write_text("not a network")
    window.open_path(str(tmp_path / "text.onnx"))
    assert window.wait(60)
    assert window.errors[-1].startswith("text.onnx: not an ONNX file")
    assert window.error_banner.isVisible() and window.network.name == "tv"
    assert window.network_panel.request_timm("timm:vit_base_patch16_224")
    assert window.wait(120)
    assert "not one of timm's convolutional networks" in window.errors[-1]
    assert window.network.name == "tv"
    assert not window.network_panel.request_timm("  ")
