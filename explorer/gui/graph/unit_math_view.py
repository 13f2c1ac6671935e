"""The arithmetic of one unit, in the window: a click on a unit of a convolution's
enlarged channel lays out a_{l,k} = Σ_j w_{l,kj} * h_{l-1,j} + b_{l,k} for it, one row per
input channel j (the sum of products of the kernel slice and the patch under it), then
the bias and the total, beside the activation the trace recorded.

The numbers come from :func:`explorer.graph.unit_math.unit_math` (what ``cnn-explorer
unit-math`` prints), computed in a worker: it runs the network up to the layer to read
what the layer received.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.graph.unit_math import FORMULA, unit_math
from explorer.gui.common.workers import JobContext, JobRunner


class _Number(QTableWidgetItem):
    """A cell that sorts by its value, not its text."""

    def __init__(self, value: float, text: str):
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other) -> bool:  # noqa: D105
        return self.value < getattr(other, "value", 0.0)


class UnitMathView(QWidget):
    """Formula, the unit's place and the layer's stride/padding, one row per input
    channel (sortable: which channels push the unit up or down most), and the total."""

    #: the sum for (layer, channel, y, x) is on show
    shown = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Click a unit of a convolution layer's channel to see its sum.")
        self.title.setWordWrap(True)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setObjectName("hint")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["j", "Σ w·h", "share"])
        self.table.horizontalHeaderItem(0).setToolTip("input channel j")
        self.table.horizontalHeaderItem(2).setToolTip("|Σ w·h| as a share of all terms")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSortingEnabled(True)
        self.total = QLabel("")
        self.total.setWordWrap(True)
        self.total.setObjectName("readout")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.detail)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.total)
        #: the last answer (unit_math's dict), for tests and export
        self.result: dict | None = None
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._show)
        self.runner.failed.connect(lambda _e, m: self.title.setText(m.splitlines()[0]))

    def show_unit(self, network, trace, layer: str, channel: int, y: int, x: int) -> int:
        """Work out unit (channel, y, x) of Conv2d `layer` in a worker; returns the
        request id (a newer click drops this one's answer)."""
        self.title.setText(f"{layer}, channel {channel}, unit (row {y}, col {x}): working…")

        def job(ctx: JobContext) -> dict:
            ctx.progress(-1, f"the sum of unit ({channel}, {y}, {x}) of {layer}…")
            return unit_math(network, trace, layer, channel, y, x)

        return self.runner.submit(job)

    def explain_not_conv(self, layer: str, kind: str) -> None:
        self.result = None
        self.table.setRowCount(0)
        article = "an" if kind[:1].lower() in "aeiou" else "a"  # an AvgPool2d
        self.title.setText(f"{layer} is {article} {kind}: only a convolution's unit is a sum of "
                           "kernel times patch. Choose a Conv2d layer.")
        self.detail.setText("")
        self.total.setText("")

    def _show(self, r: dict) -> None:
        self.result = r
        channel, y, x = r["unit"]
        self.title.setText(f"<b>{r['layer']}</b>, channel k = {channel}, unit (row {y}, "
                           f"col {x}):  {FORMULA}")
        pad = r["padding"]
        self.detail.setText(
            f"kernel {'×'.join(map(str, r['kernel_size']))}, stride "
            f"{'×'.join(map(str, r['stride']))}, padding {pad['top']}/{pad['left']} "
            f"({pad['mode']}), dilation {'×'.join(map(str, r['dilation']))}, groups "
            f"{r['groups']}; the kernel covers input rows {r['rows'][0]}…{r['rows'][-1]}, "
            f"columns {r['cols'][0]}…{r['cols'][-1]} of all "
            f"{len(r['terms'])} input channels{' of its group' if r['groups'] > 1 else ''}.")
        total = sum(abs(t["sum"]) for t in r["terms"]) or 1.0
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(r["terms"]))
        for row, t in enumerate(r["terms"]):
            self.table.setItem(row, 0, _Number(t["input_channel"], str(t["input_channel"])))
            self.table.setItem(row, 1, _Number(t["sum"], f"{t['sum']:+.5f}"))
            share = abs(t["sum"]) / total
            self.table.setItem(row, 2, _Number(share, f"{share:.1%}"))
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, Qt.SortOrder.AscendingOrder)  # j = 0, 1, 2, … first
        self.total.setText(
            f"Σ_j = {r['sum']:+.5f}\n+ b = {r['bias']:+.5f}\n= {r['total']:+.5f}; "
            f"the activation is {r['output']:+.5f} (difference {r['difference']:.1e})")
        self.shown.emit()

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def shutdown(self) -> None:
        self.runner.shutdown()


def attach_unit_math(window) -> UnitMathView:
    """A "Unit sum" tab beside Predictions, Layer and Kernels; a click on a unit of the
    enlarged channel (which also opens the unit card) fills it for a convolution layer."""
    from torch import nn

    view = UnitMathView()
    window.tabs.addTab(view, "Unit sum")
    window.unit_math_view = view
    cv = window.channel_view

    def on_unit(y: int, x: int) -> None:
        layer, channel = cv.layer, cv.channel
        if window.trace is None or layer is None or channel is None:
            return
        module = window._modules.get(layer)
        if not isinstance(module, nn.Conv2d):
            view.explain_not_conv(layer, type(module).__name__ if module else "block")
            return
        view.show_unit(window.network, window.trace, layer, channel, y, x)
        window.tabs.setCurrentWidget(view)

    cv.unitClicked.connect(on_unit)
    return view
