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
    QHBoxLayout,
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
from explorer.gui.common.workers import JobContext
from explorer.gui.insight.common import InsightPanel, private_copy
from explorer.insight.finetune import TASKS

FOLDER = "Folder…"
COLOURS = {"head": "#1f77b4", "full": "#d62728"}


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
        self.epochs.setRange(1, 50)
        self.epochs.setValue(3)
        self.run_button = QPushButton("Fine-tune")
        self.run_button.clicked.connect(self.run)
        row = QHBoxLayout()
        for label, widget in (("Task", self.task_box), ("Train", self.mode_box),
                              ("Epochs", self.epochs)):
            row.addWidget(QLabel(label))
            row.addWidget(widget, 1 if widget is not self.epochs else 0)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        with owning_popups(self):
            self.loss_plot = pg.PlotWidget(background="w")
            self.change_plot = pg.PlotWidget(background="w")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "training loss")
        self.loss_plot.addLegend()
        self.change_plot.setLabel("left", "weight change ‖ΔW‖/‖W‖")
        self.change_plot.setLabel("bottom", "layer (input → output)")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.losses: dict[str, list[float]] = {}
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["mode", "held-out before", "after",
                                              "first conv moved", "seconds"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.probe_label = QLabel("")
        self.probe_label.setWordWrap(True)
        plots = QSplitter()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.change_plot)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
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

    def ready(self) -> bool:
        if self.network is None:
            self.show_error("Load a network first.")
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
            self.curves[m] = self.loss_plot.plot([], [], pen=pg.mkPen(COLOURS[m], width=2),
                                                 name=m)

        def job(ctx: JobContext):
            ctx.progress(-1, f"preparing {task}…")
            data = load_task(task)
            net = private_copy(network)
            results = []
            for m in modes:
                ctx.check()
                results.append(finetune(
                    net, data, mode=m, epochs=epochs, probe=image,
                    on_step=lambda s, t, loss, m=m: (
                        emit(ctx.request_id, m, s, t, loss),
                        ctx.progress(s / t, f"{m}: step {s}/{t}, loss {loss:.3f}")),
                    should_stop=lambda: ctx.cancelled))
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
            for j, text in enumerate((r.mode + (" (stopped)" if r.stopped else ""),
                                      f"{r.accuracy_before:.1%}", f"{r.accuracy_after:.1%}",
                                      moved, f"{r.seconds:.1f}")):
                self.table.setItem(i, j, QTableWidgetItem(text))
            if r.layer_changes:
                x = np.arange(len(r.layer_changes)) + (i - (len(results) - 1) / 2) * width
                self.change_plot.addItem(pg.BarGraphItem(
                    x=x, height=[c.weight_change for c in r.layer_changes], width=width,
                    brush=COLOURS[r.mode]))
            if r.mode in self.curves:
                self.curves[r.mode].setData(np.arange(1, len(r.losses) + 1),
                                            np.asarray(r.losses))
        if results and results[0].layer_changes:
            names = [c.name for c in results[0].layer_changes]
            self.change_plot.getAxis("bottom").setTicks([list(enumerate(names))])
        last = results[-1] if results else None
        if last is not None and last.probe_after:
            before = ", ".join(f"{lab} {p:.0%}" for lab, p in last.probe_before[:3])
            after = "; ".join(
                f"{r.mode}: " + ", ".join(f"{lab} {p:.0%}" for lab, p in r.probe_after[:3])
                for r in results)
            self.probe_label.setText(f"This picture, before: {before}.  After: {after}.")
        self.table.resizeColumnsToContents()
        self.status.emit("fine-tuning done")
