"""Transfer-learning tab: retrain the head (trunk frozen) or the whole network on a small
task, watch the loss fall live, then compare: held-out accuracy, how far each layer's
weights moved, and how the current picture's activations changed
(:func:`explorer.insight.finetune.finetune`, the one the ``finetune`` command uses)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
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
    colour,
    own_copy,
    style_plot,
)
from explorer.insight.finetune import TASKS
from explorer.insight.settings import MAX_EPOCHS

FOLDER = "Folder…"
MODE_NAMES = {"head": "head only", "full": "whole network"}


class _Steps(QObject):
    """Lives in the GUI thread; the worker only emits (Qt queues the delivery)."""

    step = Signal(int, str, int, int, float)  # request id, mode, step, total, loss


class FinetunePanel(InsightPanel):
    """Task, mode and epochs; a live loss curve per mode; a before/after table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task_box = QComboBox()
        for name, what in TASKS.items():
            self.task_box.addItem(name, name)
            self.task_box.setItemData(self.task_box.count() - 1, what,
                                      Qt.ItemDataRole.ToolTipRole)
        self.task_box.addItem(FOLDER, None)
        self.task_box.activated.connect(self._on_task)
        self.mode_box = QComboBox()
        self.mode_box.addItem("head only vs whole network", "both")
        self.mode_box.addItem("head only (trunk frozen)", "head")
        self.mode_box.addItem("whole network", "full")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, min(50, MAX_EPOCHS))
        self.epochs.setValue(3)
        self.run_button = QPushButton("Fine-tune")
        self.run_button.clicked.connect(self.run)
        row = FlowRow()  # wrapping, on a narrow projector
        for label, widget in (("Task", self.task_box), ("Train", self.mode_box),
                              ("Epochs", self.epochs)):
            row.add(field(label, widget), 1 if widget is not self.epochs else 0)
        row.add(self.run_button)
        row.add(self.cancel_button)
        with owning_popups(self):
            self.loss_plot = pg.PlotWidget()
            self.change_plot = pg.PlotWidget()
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "training loss")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.change_plot.setLabel("left", "weight change ‖ΔW‖/‖W‖")
        self.change_plot.setLabel("bottom", "layer (input → output)")
        self.change_plot.addLegend(offset=(10, 10))
        self.plots = [self.loss_plot, self.change_plot]
        for plot in self.plots:
            plot.setMinimumHeight(140)
            style_plot(plot)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.losses: dict[str, list[float]] = {}
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["mode", "held-out before", "after",
                                              "first conv moved", "seconds"])
        self.table.verticalHeader().setVisible(False)
        for c in range(5):
            self.table.horizontalHeader().setSectionResizeMode(
                c, QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(110)
        self.probe_label = QLabel("")
        self.probe_label.setWordWrap(True)
        plots = QSplitter()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.change_plot)
        layout = QVBoxLayout(self)
        layout.addWidget(row)
        layout.addWidget(plots, 1)
        layout.addWidget(self.table)
        layout.addWidget(self.probe_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.hint)
        self._steps = _Steps(self)
        self._steps.step.connect(self._on_step)

    def _on_task(self, index: int) -> None:
        if self.task_box.itemText(index) != FOLDER:
            return
        path = QFileDialog.getExistingDirectory(self, "Folder with one subfolder per class")
        if path:
            self.set_folder(path)

    def set_folder(self, path: str) -> None:
        i = self.task_box.findText(FOLDER)
        self.task_box.setItemData(i, path)
        self.task_box.setCurrentIndex(i)

    def set_image(self, image) -> None:
        # a new picture only changes the probe; a fine-tuning run is not thrown away,
        # but what it said about the old picture is
        self.image = image
        self.probe_label.setText("")

    def clear_view(self) -> None:
        self.loss_plot.clear()
        self.change_plot.clear()
        self.curves, self.losses = {}, {}
        self.table.setRowCount(0)
        self.probe_label.setText("")

    def ready(self) -> bool:
        if self.network is None:
            self.show_error("The network is still loading.")
            return False
        if self.network.task != "classify":
            self.show_error(f"{self.network.name} is a {self.network.task} network; "
                            "fine-tuning here needs a classifier.")
            return False
        return True

    def run(self) -> int | None:
        if not self.ready():
            return None
        task = self.task_box.currentData()
        if task is None:
            self.show_error("Choose a folder with one subfolder per class first.")
            return None
        from explorer.insight.finetune import finetune, load_task

        mode = self.mode_box.currentData()
        modes = ["head", "full"] if mode == "both" else [mode]
        network, image, epochs = self.network, self.image, self.epochs.value()
        emit = self._steps.step.emit
        self.loss_plot.clear()
        self.curves, self.losses = {}, {}
        for m in modes:
            self.losses[m] = []
            self.curves[m] = self.loss_plot.plot(
                [], [], pen=pg.mkPen(colour(m), width=LINE_WIDTH), name=MODE_NAMES[m])
        style_plot(self.loss_plot)

        def job(ctx: JobContext):
            from explorer.core.tasks import sub_task

            ctx.progress(-1, f"preparing {task}…")
            data = load_task(task, task=sub_task(ctx, 0.0, 0.1))
            net = own_copy(network, ctx)  # minutes of training must not hold up the rest
            results = []
            for i, m in enumerate(modes):
                part = sub_task(ctx, 0.1 + 0.9 * i / len(modes),
                                0.1 + 0.9 * (i + 1) / len(modes))
                results.append(finetune(
                    net, data, mode=m, epochs=epochs, probe=image, task=part,
                    on_step=lambda s, t, loss, m=m: emit(ctx.request_id, m, s, t, loss)))
            return results

        self.status.emit("fine-tuning…")
        return self.runner.submit(job)

    def _on_step(self, request_id: int, mode: str, step: int, total: int, loss: float
                 ) -> None:
        if request_id != self.runner.latest_id or mode not in self.curves:
            return
        self.losses[mode].append(loss)
        ys = self.losses[mode]
        self.curves[mode].setData(np.arange(1, len(ys) + 1), np.asarray(ys))

    def show_result(self, results) -> None:
        self.table.setRowCount(len(results))
        self.change_plot.clear()
        width = 0.8 / max(1, len(results))
        for i, r in enumerate(results):
            moved = "–" if r.first_conv_change is None else f"{r.first_conv_change:.2%}"
            for j, text in enumerate((MODE_NAMES[r.mode],
                                      f"{r.accuracy_before:.1%}", f"{r.accuracy_after:.1%}",
                                      moved, f"{r.seconds:.1f}")):
                self.table.setItem(i, j, QTableWidgetItem(text))
            if r.layer_changes:
                x = np.arange(len(r.layer_changes)) + (i - (len(results) - 1) / 2) * width
                bars = pg.BarGraphItem(
                    x=x, height=[c.weight_change for c in r.layer_changes], width=width,
                    brush=colour(r.mode), pen=pg.mkPen(colour(r.mode)))
                self.change_plot.addItem(bars)
                legend = self.change_plot.getPlotItem().legend
                if legend is not None:
                    legend.addItem(bars, MODE_NAMES[r.mode])
            if r.mode in self.curves:
                self.curves[r.mode].setData(np.arange(1, len(r.losses) + 1),
                                            np.asarray(r.losses))
        if results and results[0].layer_changes:
            names = [c.name.split(".")[-1] for c in results[0].layer_changes]
            self.change_plot.getAxis("bottom").setTicks([list(enumerate(names))])
        style_plot(self.change_plot)
        last = results[-1] if results else None
        if last is not None and last.probe_after:
            before = ", ".join(f"{lab} {p:.0%}" for lab, p in last.probe_before[:3])
            after = "; ".join(
                f"{r.mode}: " + ", ".join(f"{lab} {p:.0%}" for lab, p in r.probe_after[:3])
                for r in results)
            self.probe_label.setText(f"This picture, before: {before}.  After: {after}.")
        self.status.emit("fine-tuning done")
