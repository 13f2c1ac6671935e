"""Page 8, the architecture gallery: LeNet-5, AlexNet, VGG16, an Inception module
(GoogLeNet's inception3a) and a ResNet block (ResNet18's layer1.0), each as a layer table
(name, kind, output shape, parameters, receptive field) with its total, beside its graph
as the lecture draws it (the Inception module's four branches meeting in one
concatenation, the residual block's skip meeting the convolutions in one addition).

The tables are :func:`explorer.core.trace.layer_table` of the registry's architectures
and the graphs :func:`explorer.graph.build_graph` of the same modules, built on the meta
device (shapes and counts without weights, nothing downloaded), in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QTabWidget, QVBoxLayout, QWidget

from explorer.gui.common.workers import JobContext, JobRunner
from explorer.gui.graph.graph_view import GraphView
from explorer.gui.lab import netpick
from explorer.gui.lab.common import LabPage, error_text, wrapped_label
from explorer.gui.lab.params_page import fill_rows, table_widget
from explorer.lab import rf

#: (title, registry name, input (C, H, W), module prefix or None for the whole network)
ENTRIES = (
    ("LeNet-5 (1998)", "lenet5-digits", (1, 32, 32), None),
    ("AlexNet (2012)", "alexnet", (3, 224, 224), None),
    ("VGG16 (2014)", "vgg16", (3, 224, 224), None),
    ("Inception module: GoogLeNet inception3a (2014)", "googlenet", (3, 224, 224),
     "inception3a"),
    ("Residual block: ResNet18 layer1.0 (2015)", "resnet18", (3, 224, 224), "layer1.0"),
)
#: the tab of each entry
TAB_TITLES = {title: short for (title, *_), short in zip(
    ENTRIES, ("LeNet-5", "AlexNet", "VGG16", "Inception", "ResNet block"))}
_SHOWN = {"Conv2d": "conv", "Linear": "FC", "MaxPool2d": "maxpool", "AvgPool2d": "avgpool",
          "AdaptiveAvgPool2d": "avgpool", "BatchNorm2d": "batchnorm",
          "LocalResponseNorm": "LRN"}
COLUMNS = ["layer", "kind", "output", "params", "RF"]


@dataclass
class GalleryTable:
    title: str
    rows: list[list[str]]
    total: int
    #: how many conv + FC layers (the "depth" the papers count)
    weight_layers: int
    #: the architecture (or the module) as a laid-out graph (explorer.graph)
    graph: object = None


def _kind(info) -> str:
    kind = _SHOWN[info.type]
    if info.kernel is not None and kind in ("conv", "maxpool", "avgpool"):
        k, s = info.kernel, info.stride or (1, 1)
        size = f"{k[0]}x{k[1]}" if k[0] != k[1] else f"{k[0]}x{k[0]}"
        kind += f" {size}" + (f" /{s[0]}" if s[0] != 1 else "")
    return kind


def gallery_graph(net, prefix: str | None):
    """`net`'s graph (or its block `prefix`'s), laid out top to bottom."""
    from explorer.graph import build_graph, layout_graph, subgraph

    graph = build_graph(net, layout=False)
    return subgraph(graph, prefix) if prefix else layout_graph(graph)


def gallery_table(title: str, name: str, shape: tuple[int, int, int],
                  prefix: str | None) -> GalleryTable:
    """The layer table of registry network `name` (or of its submodule `prefix`), and its
    graph."""
    from explorer.app.tracing import layers_of as layer_table
    from explorer.core.network import Network

    module = netpick.meta_module(name)
    net = Network(module, name, "classify", shape[1:], shape[0], device=torch.device("meta"))
    layers = layer_table(net)
    friendly = rf.FRIENDLY.get(name, {})
    rows, weight_layers = [], 0
    block = None
    for info in layers:
        if prefix is not None:
            if info.name == prefix:
                block = info
            if not info.name.startswith(prefix + "."):
                continue
        if not info.is_leaf or info.type not in _SHOWN:
            continue
        weight_layers += info.type in ("Conv2d", "Linear")
        label = info.name[len(prefix) + 1:] if prefix else friendly.get(info.name, info.name)
        rf_text = "all" if info.rf_global else (str(info.rf) if info.rf else "")
        rows.append([label, _kind(info), "x".join(map(str, info.out_shape)),
                     f"{info.params:,}", rf_text])
    if block is not None:
        total = block.params
        rows.append([f"= {prefix}", "concat" if "inception" in prefix else "add shortcut",
                     "x".join(map(str, block.out_shape)), f"{total:,}", str(block.rf or "")])
    else:
        total = sum(p.numel() for p in module.parameters())
    rows.append(["total", "", "", f"{total:,}", ""])
    return GalleryTable(title, rows, total, weight_layers, gallery_graph(net, prefix))


def gallery_job(ctx: JobContext) -> list[GalleryTable]:
    tables = []
    for i, (title, name, shape, prefix) in enumerate(ENTRIES):
        ctx.progress(i / len(ENTRIES), f"building {name}…")
        tables.append(gallery_table(title, name, shape, prefix))
        ctx.check()
    return tables


class GalleryPage(LabPage):
    title = "8  Architecture gallery"
    slide = "LeNet, AlexNet, VGG, Inception, ResNet"
    hint = ("Same building blocks since 1998: convolutions, pooling, fully connected layers. "
            "RF = receptive field in input pixels (\"all\": the layer sees the whole picture).")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tables: list[GalleryTable] = []
        #: (page, table, total label) per network, in ENTRIES' order
        self.widgets = []
        #: the graph beside each table
        self.graphs: list[GraphView] = []
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for title, *_rest in ENTRIES:
            page = QWidget()
            lay = QVBoxLayout(page)
            lay.setContentsMargins(0, 4, 0, 0)
            caption = wrapped_label(title, "hint")
            table = table_widget(COLUMNS)
            total = wrapped_label("building…")
            graph = GraphView(toolbar=False, orientation="vertical", compact=True)
            # drawn to the width it has: a drawing, never a sideways scroll
            graph.canvas.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            graph.canvas.min_fit = 0.15
            graph.setToolTip("The graph of the table beside it (Ctrl+wheel zooms)")
            self.graphs.append(graph)
            pair = QHBoxLayout()
            pair.addWidget(table, 1)
            pair.addWidget(graph, 1)
            lay.addWidget(caption)
            lay.addLayout(pair, 1)
            lay.addWidget(total)
            self.widgets.append((page, table, total))
            self.tabs.addTab(page, TAB_TITLES[title])
        self.summary = wrapped_label(rich=True)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        sbox = QGroupBox("Totals")
        QVBoxLayout(sbox).addWidget(self.summary)
        row = QHBoxLayout()
        row.addWidget(self.tabs, 4)  # the table and its graph side by side need the room
        row.addWidget(sbox, 1)
        self.body.addLayout(row, 1)
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._show)
        self.runner.failed.connect(lambda _e, m: self.summary.setText(error_text(m)))
        self.runner.submit(gallery_job)

    def _show(self, tables: list[GalleryTable]) -> None:
        self.tables = tables
        lines = []
        for (_box, table, total), graph, t in zip(self.widgets, self.graphs, tables):
            fill_rows(table, t.rows, bold_last=True)
            if t.graph is not None:
                graph.show_graph(t.graph)
            total.setText(f"<b>{t.total:,}</b> parameters, {t.weight_layers} weight layers")
            lines.append(f"{TAB_TITLES[t.title]}: <b>{t.total:,}</b>")
        ratio = tables[2].total / max(1, tables[0].total)
        self.summary.setText("<br>".join(lines) + f"<br><br>VGG16 has {ratio:,.0f} times "
                             "LeNet-5's parameters; Inception and residual blocks let later "
                             "networks grow deeper with far fewer parameters per layer.")

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def shutdown(self) -> None:
        self.runner.shutdown()
        for graph in self.graphs:
            graph.shutdown()
