"""Augmentation tab: the current picture turned, scaled, flipped, cropped and recoloured,
what the network says to each, and how far a layer's feature maps move
(:func:`explorer.insight.augment.augment_preview`)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.canvas import ImageCanvas
from explorer.gui.common.workers import JobContext
from explorer.gui.insight.common import InsightPanel, caption_sheet, private_copy

COLS = 6


class AugmentPanel(InsightPanel):
    """One sheet with every variant (one image item) and a table: prediction, distance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer_box = QComboBox()
        self.layer_box.setMinimumContentsLength(14)
        self.layer_box.setToolTip("the layer whose activations are compared with the "
                                  "original's")
        self.layer_box.activated.connect(self._rerun)
        self.run_button = QPushButton("Augment")
        self.run_button.clicked.connect(self.run)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer"))
        row.addWidget(self.layer_box, 1)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        self.sheet_view = ImageCanvas(background="#ffffff")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["variant", "prediction", "p", "distance"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        split = QSplitter()
        split.addWidget(self.sheet_view)
        split.addWidget(self.table)
        split.setSizes([600, 360])
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        layout.addWidget(QLabel("distance = ||a − a₀|| / ||a₀|| of the layer's activation: "
                                "turns and shifts move the maps even when the answer stays "
                                "(equivariance, not invariance)"))
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.hint)

    def network_changed(self) -> None:
        self.layer_box.clear()
        if self.network is None:
            return
        from explorer.app.tracing import layers_of as layer_table
        from explorer.insight.layers import default_cam_layer

        try:
            default = default_cam_layer(self.network)
            names = [lay.name for lay in layer_table(self.network) if lay.is_leaf]
        except Exception as exc:  # noqa: BLE001
            self.show_error(str(exc).splitlines()[0])
            return
        self.layer_box.addItem(f"{default} (default)", default)
        for name in names:
            self.layer_box.addItem(name, name)

    def _rerun(self, *_args) -> None:
        if self.result is not None:
            self.run()

    def run(self) -> int | None:
        if not self.ready():
            return None
        from explorer.insight.augment import augment_preview

        network, image, layer = self.network, self.image, self.layer_box.currentData()

        def job(ctx: JobContext):
            ctx.progress(-1, "augmenting…")
            return augment_preview(private_copy(network), image, layer=layer)

        self.status.emit("augmenting…")
        return self.runner.submit(job)

    def show_result(self, r) -> None:
        self.sheet_view.set_image(caption_sheet([v.picture for v in r.variants], COLS))
        self.table.setRowCount(len(r.variants))
        for i, v in enumerate(r.variants):
            for j, text in enumerate((v.name, v.label, f"{v.probability:.1%}",
                                      f"{v.distance:.3f}")):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.status.emit(f"{len(r.variants)} variants at {r.layer}")
