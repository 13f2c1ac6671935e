"""Augmentation tab: the picture turned, scaled, flipped, cropped and recoloured, and under
each variant what the network says to it and how far a layer's feature maps moved
(:func:`explorer.insight.augment.augment_preview`)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.flow import FlowRow, field
from explorer.gui.common.workers import JobContext
from explorer.gui.insight.common import InsightPanel, PictureGrid, exclusive


class AugmentPanel(InsightPanel):
    """Every variant with its caption: the change, the answer, the distance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer_box = QComboBox()
        self.layer_box.setMinimumContentsLength(12)
        self.layer_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_box.setToolTip("the layer whose activations are compared with the "
                                  "original's")
        self.layer_box.activated.connect(self._rerun)
        self.run_button = QPushButton("Augment")
        self.run_button.clicked.connect(self.run)
        row = FlowRow()  # wrapping, on a narrow projector
        row.add(field("Layer", self.layer_box), 1)
        row.add(self.run_button)
        row.add(self.cancel_button)
        self.grid = PictureGrid()
        legend = QLabel("Under each variant: what was done, what the network says, and d = "
                        "‖a − a₀‖ / ‖a₀‖, how far the layer's activation moved from the "
                        "original's. Turns and shifts move the maps even when the answer "
                        "stays (equivariance, not invariance).")
        legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(row)
        layout.addWidget(self.grid, 1)
        layout.addWidget(legend)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.hint)

    def network_changed(self) -> None:
        self.layer_box.clear()
        if self.network is None:
            return
        from explorer.app.tracing import layers_of
        from explorer.errors import UserError
        from explorer.insight.layers import default_cam_layer

        try:
            default = default_cam_layer(self.network)
            names = [lay.name for lay in layers_of(self.network) if lay.is_leaf]
        except UserError as exc:
            self.show_error(str(exc).splitlines()[0])
            return
        self.layer_box.addItem(f"{default} (default)", default)
        for name in names:
            self.layer_box.addItem(name, name)

    def clear_view(self) -> None:
        self.grid.clear()

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
            with exclusive(network, ctx) as net:
                return augment_preview(net, image, layer=layer, task=ctx)

        self.status.emit("augmenting…")
        return self.runner.submit(job)

    def show_result(self, r) -> None:
        self.grid.set_items([
            (v.picture, f"<b>{v.name}</b><br>{v.label} {v.probability:.0%}<br>"
                        f"d&nbsp;=&nbsp;{v.distance:.2f}") for v in r.variants])
        self.status.emit(f"{len(r.variants)} variants at {r.layer}")
