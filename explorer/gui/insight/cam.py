"""Class activation maps tab: which part of the picture made the network pick a class.

Method (Grad-CAM, Grad-CAM++, ...), the class (any of the top five) and the layer (the last
spatial one by default) are chosen here; the map is made in a worker by
:func:`explorer.insight.cam.class_activation_map`, the one the ``cam`` command uses. The
section asks for the top class's map as soon as its network and picture are there.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.canvas import ImageCanvas, lookup_table
from explorer.gui.common.flow import FlowRow, field
from explorer.gui.common.workers import JobContext
from explorer.gui.insight.common import InsightPanel, exclusive
from explorer.insight.cam import METHODS

#: what each view shows, in words, under it
CAPTIONS = ("the picture as the network sees it (its input size)",
            "the map: bright = the places that raised the class's score most",
            "the map over the picture")


class CamPanel(InsightPanel):
    """Picture, heat map and overlay side by side for one method, class and layer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = QComboBox()
        for name, (_cls, what) in METHODS.items():
            self.method.addItem(name, name)
            self.method.setItemData(self.method.count() - 1, what, Qt.ItemDataRole.ToolTipRole)
        self.method.setToolTip("how the maps of the layer are weighted")
        self.class_box = QComboBox()
        self.class_box.setToolTip("the class to explain: any of the top five")
        self.class_box.setMinimumContentsLength(12)
        self.class_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("the layer whose maps are weighted (last spatial one "
                                  "by default)")
        self.layer_box.setMinimumContentsLength(12)
        self.layer_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_button = QPushButton("Explain")
        self.run_button.clicked.connect(self.run)
        row = FlowRow()  # wrapping: one row was 1,070 px wide in presentation mode
        for label, widget in (("Method", self.method), ("Class", self.class_box),
                              ("Layer", self.layer_box)):
            row.add(field(label, widget), 1)
        row.add(self.run_button)
        row.add(self.cancel_button)
        self.picture_view = ImageCanvas()
        self.heat_view = ImageCanvas()
        self.overlay_view = ImageCanvas()
        grid = QGridLayout()
        for i, (title, view) in enumerate((("What the network sees", self.picture_view),
                                           ("Heat map", self.heat_view),
                                           ("Overlay", self.overlay_view))):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, i)
            grid.addWidget(view, 1, i)
            caption = QLabel(CAPTIONS[i])
            caption.setWordWrap(True)
            grid.addWidget(caption, 2, i)
            grid.setColumnStretch(i, 1)
        grid.setRowStretch(1, 1)
        self.readout = QLabel("")
        self.readout.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(row)
        layout.addLayout(grid, 1)
        layout.addWidget(self.readout)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.hint)
        self.method.currentIndexChanged.connect(self._rerun)
        self.class_box.activated.connect(self._rerun)
        self.layer_box.activated.connect(self._rerun)

    # -- choices ----------------------------------------------------------------------
    def network_changed(self) -> None:
        self.class_box.clear()
        self.layer_box.clear()
        if self.network is None:
            return
        from explorer.app.tracing import layers_of
        from explorer.errors import UserError
        from explorer.insight.layers import default_cam_layer, is_map

        try:
            layers = [lay.name for lay in layers_of(self.network) if is_map(lay)]
            default = default_cam_layer(self.network)
        except UserError as exc:  # a network without maps: say so
            self.show_error(str(exc).splitlines()[0])
            return
        self.layer_box.addItem(f"{default} (default)", default)
        for name in layers:
            if name != default:
                self.layer_box.addItem(name, name)

    def set_image(self, image) -> None:
        super().set_image(image)
        self.class_box.clear()  # the top five belong to the previous picture

    def clear_view(self) -> None:
        for view in (self.picture_view, self.heat_view, self.overlay_view):
            view.set_image(None)
        self.readout.setText("")

    # -- work -------------------------------------------------------------------------
    def _rerun(self, *_args) -> None:
        if self.result is not None:
            self.run()

    def run(self) -> int | None:
        """Make the map in a worker; returns the request id (None if nothing to do)."""
        if not self.ready():
            return None
        from explorer.insight.cam import class_activation_map

        network, image = self.network, self.image
        method = self.method.currentData()
        cls = self.class_box.currentData()
        layer = self.layer_box.currentData()

        def job(ctx: JobContext):
            ctx.progress(-1, f"{method} on {network.name}…")
            with exclusive(network, ctx) as net:
                ctx.check()
                return class_activation_map(net, image, method=method, class_index=cls,
                                            layer=layer)

        self.status.emit(f"{method}…")
        return self.runner.submit(job)

    def show_result(self, r) -> None:
        self.picture_view.set_image(r.picture)
        self.heat_view.set_image(r.heatmap, levels=(0.0, 1.0), lut=lookup_table("inferno"))
        self.overlay_view.set_image(r.overlay.astype("float32") / 255.0)
        chosen = r.class_index
        self.class_box.blockSignals(True)
        self.class_box.clear()
        for i, label, p in r.top:
            self.class_box.addItem(f"{label} ({p:.1%})", i)
        if chosen not in [i for i, _l, _p in r.top]:
            self.class_box.addItem(f"{r.class_name} ({r.probability:.1%})", chosen)
        self.class_box.setCurrentIndex(self.class_box.findData(chosen))
        self.class_box.blockSignals(False)
        self.readout.setText(
            f"{r.method} at <b>{r.layer}</b> ({'×'.join(map(str, r.layer_shape))}) for "
            f"<b>{r.class_name}</b> ({r.probability:.1%}); hottest pixel (y, x) = "
            f"{r.peak}; {r.seconds * 1000:.0f} ms.")
        self.status.emit(f"{r.method}: {r.class_name}")
