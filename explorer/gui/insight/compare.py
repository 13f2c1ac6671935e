"""Side-by-side tab: the section's network against a second one (another classifier, or
the section's network after fine-tuning) on the same picture, layer by layer: matched
layers, their shapes, and how alike their activations are (cosine, linear CKA), from
:func:`explorer.insight.compare.compare_networks`. The table takes the whole width (no
column is cut); the curve sits under it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.canvas import owning_popups
from explorer.gui.common.flow import FlowRow, field
from explorer.gui.common.workers import JobContext
from explorer.gui.insight.common import (
    LINE_WIDTH,
    InsightPanel,
    exclusive,
    style_plot,
)
from explorer.gui.insight.common import colour as colour_of


class ComparePanel(InsightPanel):
    """Second network chooser, a table of matched layers and a similarity curve."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.other_box = QComboBox()
        self.other_box.setMinimumContentsLength(16)
        self.other_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.other_box.setMaxVisibleItems(20)
        self.other_box.setToolTip("the network to put beside the section's")
        #: extra networks offered first (e.g. fine-tuned copies): label -> Network
        self.extra: dict[str, object] = {}
        self.run_button = QPushButton("Compare")
        self.run_button.clicked.connect(self.run)
        row = FlowRow()  # wrapping, on a narrow projector
        row.add(field("Beside it", self.other_box), 1)
        row.add(self.run_button)
        row.add(self.cancel_button)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["layer A", "layer B", "shape A", "shape B",
                                              "cosine", "CKA"])
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for c in range(4):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Stretch)
        for c in (4, 5):  # the numbers: always wide enough to read
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        with owning_popups(self):
            self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "matched layer (input → output)")
        self.plot.setLabel("left", "similarity")
        self.plot.setYRange(-0.05, 1.05)
        self.plot.addLegend(offset=(10, 10))
        self.plot.setMinimumHeight(120)
        self.plots = [self.plot]
        style_plot(self.plot)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setSizes([300, 200])
        layout = QVBoxLayout(self)
        layout.addWidget(row)
        layout.addWidget(split, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.hint)
        self._fill()

    def _fill(self) -> None:
        from explorer.app.networks import list_models

        current = self.other_box.currentText()
        self.other_box.clear()
        for label in self.extra:
            self.other_box.addItem(label, f"extra:{label}")
        for entry in list_models():
            if entry.task == "classify":
                state = "trained" if entry.available else "random weights"
                self.other_box.addItem(f"{entry.name} ({state})", f"registry:{entry.name}")
        i = self.other_box.findText(current)
        if i >= 0:
            self.other_box.setCurrentIndex(i)

    def add_network(self, label: str, network) -> None:
        """Offer `network` (e.g. the window's network after fine-tuning) as the second."""
        self.extra[label] = network
        self._fill()
        self.other_box.setCurrentIndex(self.other_box.findText(label))

    def clear_view(self) -> None:
        self.table.setRowCount(0)
        self.plot.clear()
        self.summary.setText("")

    def network_changed(self) -> None:
        if self.network is not None:
            i = self.other_box.findData(f"registry:{self.network.name}")
            if i >= 0 and not self.extra:
                self.other_box.setCurrentIndex(i)

    def run(self) -> int | None:
        if not self.ready():
            return None
        choice = self.other_box.currentData()
        if choice is None:
            self.show_error("Choose a second network.")
            return None
        from explorer.insight.compare import compare_networks

        kind, key = choice.split(":", 1)
        network, image = self.network, self.image
        other = self.extra.get(key) if kind == "extra" else None
        device = network.device

        def job(ctx: JobContext):
            from explorer.app.networks import NetSpec, open_network

            ctx.progress(-1, "comparing…")
            b = other if other is not None else open_network(NetSpec(key), device, ctx)
            with exclusive(network, ctx) as a:
                if b.module is a.module:
                    return compare_networks(a, b, image, task=ctx)
                with exclusive(b, ctx):
                    b.to(a.device)
                    return compare_networks(a, b, image, task=ctx)

        self.status.emit("comparing…")
        return self.runner.submit(job)

    def show_result(self, c) -> None:
        def num(v):
            return "–" if v is None else f"{v:.3f}"

        self.table.setRowCount(len(c.pairs))
        for i, p in enumerate(c.pairs):
            for j, text in enumerate((p.name_a, p.name_b, "×".join(map(str, p.shape_a)),
                                      "×".join(map(str, p.shape_b)), num(p.cosine),
                                      num(p.cka))):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.plot.clear()
        x = np.arange(len(c.pairs), dtype=float)
        for key, name, symbol in (("cosine", "cosine", "o"), ("cka", "CKA", "s")):
            colour = colour_of(key)
            ys = np.array([np.nan if getattr(p, key) is None else getattr(p, key)
                           for p in c.pairs], float)
            keep = np.isfinite(ys)
            if keep.any():
                self.plot.plot(x[keep], ys[keep], pen=pg.mkPen(colour, width=LINE_WIDTH),
                               symbol=symbol, symbolSize=8, symbolBrush=colour,
                               symbolPen=pg.mkPen(colour), name=name)
        # one tick per matched layer, named as in network A (every few when there are many)
        every = max(1, len(c.pairs) // 12)
        self.plot.getAxis("bottom").setTicks([[(i, p.name_a.split(".")[-1])
                                               for i, p in enumerate(c.pairs)
                                               if i % every == 0]])
        self.plot.setXRange(-0.5, max(0.5, len(c.pairs) - 0.5), padding=0)
        style_plot(self.plot)
        top_a = c.top_a[0][0] if c.top_a else "–"
        top_b = c.top_b[0][0] if c.top_b else "–"
        # the section's banner speaks for network A; this line for both
        warn = " ".join(c.caveats)
        self.summary.setText(f"{c.name_a} says <b>{top_a}</b>, {c.name_b} says "
                             f"<b>{top_b}</b>; {len(c.pairs)} layers matched by "
                             f"{c.matched_by}." + (f" <b>{warn}</b>" if warn else ""))
        self.status.emit(f"compared with {c.name_b}")
