"""Page 4, translation equivariance and invariance: shift the picture by (dy, dx) and compare,
for a chosen layer, the features of the shifted picture f(T x) with the shifted features
T f(x); a curve gives the relative difference at every layer, and the top class before and
after the shift tells whether the prediction is invariant.

The per-layer numbers are :func:`explorer.lab.equivariance.equivariance`'s; the maps come
from two :func:`explorer.core.trace.trace` passes. All of it runs in a worker.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.canvas import owning_popups
from explorer.gui.common.workers import JobContext, JobRunner
from explorer.gui.lab import netpick
from explorer.gui.lab.common import (
    SERIES,
    ImageGrid,
    LabPage,
    SampleChooser,
    big_label,
    compact,
    style_plot,
    wrapped_label,
)


def _layer_mosaic(act: torch.Tensor, lo: float, hi: float, most: int = 16) -> np.ndarray:
    """The first `most` channels of act (Tensor[C, h, w]) tiled, scaled by one shared
    range (lo, hi) so two mosaics can be compared value for value; gaps are NaN."""
    from explorer.core.mosaic import as_maps

    maps = as_maps(act.detach().float().cpu())[:most]
    c, h, w = maps.shape
    cols = max(1, math.ceil(math.sqrt(c * h / max(w, 1))))
    rows = math.ceil(c / cols)
    pad = 1 if h > 1 or w > 1 else 0
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan, np.float32)
    scaled = ((maps - lo) / max(hi - lo, 1e-12)).numpy()
    for i in range(c):
        r, q = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = scaled[i]
    return out


def equivariance_job(name: str, image, dy: int, dx: int, mode: str, layer: str | None,
                     cache: dict):
    """Everything the page shows for one setting (runs in a pool thread)."""
    from explorer.app.tracing import trace_tensor as trace
    from explorer.core.network import preprocess, to_display
    from explorer.lab.equivariance import equivariance, shift

    def job(ctx: JobContext) -> dict:
        ctx.progress(-1, f"loading {name}…")
        net = netpick.load(name, cache)
        ctx.check()
        x = preprocess(net, image)
        layers = netpick.plot_layers(net.module)
        ctx.progress(-1, "comparing f(T x) with T f(x) at every layer…")
        result = equivariance(net.module, x, dy, dx, layers, mode)
        ctx.check()
        xs = shift(x, dy, dx, mode)
        ta, tb = trace(net, x), trace(net, xs)
        spatial = [r.name for r in result.layers if r.spatial]
        chosen = layer if layer in spatial else (spatial[0] if spatial else None)
        maps = None
        if chosen is not None:
            row = next(r for r in result.layers if r.name == chosen)
            a, b = ta.outputs[chosen], tb.outputs[chosen]
            ref = shift(a, row.compared_shift[0], row.compared_shift[1], mode)
            lo = float(min(ref.min(), b.min()))
            hi = float(max(ref.max(), b.max()))
            diff = (b - ref).abs()
            maps = {
                "f(T x)": _layer_mosaic(b, lo, hi),
                "T f(x)": _layer_mosaic(ref, lo, hi),
                "|difference|": _layer_mosaic(diff, 0.0, hi - lo),
                "row": row,
            }
        return {
            "name": name, "net": net, "result": result, "layers": spatial, "layer": chosen,
            "maps": maps, "input": to_display(net, x), "shifted": to_display(net, xs),
            "top_before": ta.topk(1), "top_after": tb.topk(1),
        }

    return job


class EquivariancePage(LabPage):
    title = "4  Translation equivariance"
    slide = "“Translation equivariance”, “Translation invariance”"
    hint = ("f(T x) = T f(x)? Convolutions shift their maps with the picture (difference ≈ 0 "
            "where the stride divides the shift); pooling and strides break it for other "
            "shifts; the class should not change at all (invariance).")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._show)
        self.runner.failed.connect(self._failed)
        self.runner.progress.connect(lambda m, _f: self.status.setText(m))
        self.cache: dict = {}
        self.data: dict | None = None
        self._build()
        self.request()

    def _build(self) -> None:
        box = QGroupBox("Setting")
        form = QFormLayout(box)
        self.net_combo = compact(QComboBox(), 10)
        for name in (*netpick.SHIPPED_CHOICES, *netpick.TORCHVISION_CHOICES[:2]):
            self.net_combo.addItem(netpick.menu_text(name), name)
        self.net_combo.setCurrentIndex(self.net_combo.findData(netpick.default_choice()))
        self.image_combo = SampleChooser(default=netpick.default_image(
            self.net_combo.currentData()))
        self.mode_combo = compact(QComboBox(), 10)
        self.mode_combo.addItem("roll (wrap around)", "roll")
        self.mode_combo.addItem("shift in zeros", "zeros")
        self.layer_combo = compact(QComboBox(), 10)
        self.dx_slider, self.dx_label = self._slider()
        self.dy_slider, self.dy_label = self._slider()
        self.dx_slider.setValue(4)
        form.addRow("network", self.net_combo)
        form.addRow("picture", self.image_combo)
        form.addRow("shift", self.mode_combo)
        form.addRow(self.dx_label, self.dx_slider)
        form.addRow(self.dy_label, self.dy_slider)
        form.addRow("layer", self.layer_combo)
        self.net_combo.currentIndexChanged.connect(self._net_changed)
        self.image_combo.currentIndexChanged.connect(self.request)
        self.mode_combo.currentIndexChanged.connect(self.request)
        self.layer_combo.activated.connect(lambda _i: self.request())
        self.status = wrapped_label(name="hint")
        self.prediction = big_label(scale=1.15)
        self.prediction.setTextFormat(Qt.TextFormat.RichText)
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(box)
        left.addWidget(self.prediction)
        left.addWidget(self.status)
        left.addStretch(1)
        lw = QWidget()
        lw.setLayout(left)

        self.grid = ImageGrid()
        self.grid.build([["x", "T x", "f(T x)", "T f(x)", "|difference|"]])
        self.maps_caption = wrapped_label(name="hint")
        with owning_popups(self):
            self.plot = pg.PlotWidget()
        self.plot.showGrid(y=True, alpha=0.3)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.setMinimumHeight(120)
        self.curve = self.plot.plot([], [], pen=pg.mkPen(SERIES[0], width=3), symbol="o",
                                    symbolSize=9, symbolBrush=SERIES[0],
                                    symbolPen=pg.mkPen(SERIES[0]))
        self.exact_points = pg.ScatterPlotItem(size=16, symbol="star",
                                               brush=pg.mkBrush(SERIES[2]))
        self.plot.addItem(self.exact_points)
        self.marker = pg.InfiniteLine(angle=90)
        self.plot.addItem(self.marker)
        style_plot(self.plot)
        self.legend_label = wrapped_label(
            "The relative difference ‖f(T x) − T f(x)‖ / ‖T f(x)‖ at every layer. Stars: "
            "the shift is a multiple of the layer's stride (exact equivariance possible); "
            "dashed line: the layer shown above.", "hint")
        right = QVBoxLayout()
        right.addWidget(self.grid, 3)
        right.addWidget(self.maps_caption)
        right.addWidget(self.plot, 3)
        right.addWidget(self.legend_label)
        main = QHBoxLayout()
        main.addWidget(lw, 2)
        main.addLayout(right, 5)
        self.body.addLayout(main, 1)

    def themed(self, current, scale: float) -> None:
        self.marker.setPen(pg.mkPen(current.text, width=2, style=Qt.PenStyle.DashLine))
        self.exact_points.setPen(pg.mkPen(current.text, width=1))
        if self.data is not None:
            self._set_ticks()

    def _slider(self) -> tuple[QSlider, QLabel]:
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(-16, 16)
        slider.setTickInterval(4)
        slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        label = QLabel("")
        slider.valueChanged.connect(self._shift_changed)
        return slider, label

    def _shift_changed(self) -> None:
        self.dx_label.setText(f"dx = {self.dx_slider.value():+d}")
        self.dy_label.setText(f"dy = {self.dy_slider.value():+d}")
        self.request()

    def _net_changed(self) -> None:
        self.layer_combo.clear()
        self.image_combo.setCurrentText(netpick.default_image(self.net_combo.currentData()))
        self.request()

    def set_current_image(self, image) -> None:
        self.image_combo.set_current_image(image)

    def set_shift(self, dy: int, dx: int) -> None:
        self.dy_slider.setValue(dy)
        self.dx_slider.setValue(dx)
        self.request()

    # -- work -------------------------------------------------------------------------
    def request(self) -> None:
        if not hasattr(self, "layer_combo"):
            return  # still building
        self.dx_label.setText(f"dx = {self.dx_slider.value():+d}")
        self.dy_label.setText(f"dy = {self.dy_slider.value():+d}")
        try:
            image = self.image_combo.image()
        except Exception as exc:  # ImageError: a sample that cannot be made here
            self.status.setText(str(exc))
            return
        self.runner.submit(equivariance_job(
            self.net_combo.currentData(), image, self.dy_slider.value(),
            self.dx_slider.value(), self.mode_combo.currentData(),
            self.layer_combo.currentText() or None, self.cache))

    def _failed(self, _exc, message: str) -> None:
        self.status.setText(f"Error: {message.splitlines()[0]}")

    def _show(self, data: dict) -> None:
        self.data = data
        result = data["result"]
        names = [r.name for r in result.layers]
        if [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())] != \
                data["layers"]:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(data["layers"])
            self.layer_combo.blockSignals(False)
        if data["layer"]:
            self.layer_combo.setCurrentText(data["layer"])
        self.grid.set_image("x", data["input"])
        self.grid.set_image("T x", data["shifted"])
        maps = data["maps"]
        if maps is not None:
            row = maps["row"]
            for key in ("f(T x)", "T f(x)"):
                self.grid.set_image(key, maps[key], cmap="viridis", levels=(0.0, 1.0))
            self.grid.set_image("|difference|", maps["|difference|"], cmap="inferno",
                                levels=(0.0, 1.0))
            self.grid.set_title("|difference|", f"|difference| {row.rel_diff:.1%}")
            self.maps_caption.setText(
                f"T x: x shifted by ({result.shift[0]}, {result.shift[1]}) px. f(T x): "
                f"{data['layer']} on T x (16 maps); T f(x): its maps of x shifted by "
                f"{row.compared_shift} cells.")
        else:
            self.maps_caption.setText("")
        ys = np.array([r.rel_diff for r in result.layers], dtype=float)
        xs = np.arange(len(ys), dtype=float)
        self.curve.setData(xs, np.nan_to_num(ys, nan=0.0))
        exact = [i for i, r in enumerate(result.layers) if r.spatial and r.exact]
        self.exact_points.setData(xs[exact], np.nan_to_num(ys[exact]))
        self._set_ticks()
        if data["layer"] in names:
            self.marker.setValue(names.index(data["layer"]))
        before, after = data["top_before"], data["top_after"]
        net = data["net"]
        weights = " (random weights: the classes mean nothing)" if net.random_weights else ""
        if before and after:
            same = before[0][0] == after[0][0]
            verdict = ("<b>✓ same class: invariant</b>" if same
                       else "<b>✗ the class changed</b>")
            self.prediction.setText(
                f"Top class<br>original: <b>{before[0][0]}</b> {before[0][1]:.1%}<br>"
                f"shifted: <b>{after[0][0]}</b> {after[0][1]:.1%}<br>{verdict}{weights}")
        else:
            self.prediction.setText("")
        self.status.setText(f"{net.name}: weights {net.weights_source}; shift "
                            f"({result.shift[0]}, {result.shift[1]}) px, {result.mode}")

    def _set_ticks(self) -> None:
        """Layer names under the curve, as many as fit side by side without overlapping
        (every n-th), the layer shown always among them."""
        names = [r.name for r in self.data["result"].layers]
        short = [n.split(".")[-1] for n in names]
        axis = self.plot.getAxis("bottom")
        metrics = QFontMetrics(axis.style.get("tickFont") or self.font())
        widest = max((metrics.horizontalAdvance(n) for n in short), default=1) + 12
        room = max(1.0, self.plot.getViewBox().width() or self.plot.width() * 0.85)
        every = max(1, int(np.ceil(widest * len(short) / room)))
        shown = {i for i in range(0, len(short), every)}
        if self.data["layer"] in names:
            chosen = names.index(self.data["layer"])
            shown = {i for i in shown if abs(i - chosen) >= every or i == chosen} | {chosen}
        axis.setTicks([[(i, short[i]) for i in sorted(shown)]])

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if self.data is not None:
            self._set_ticks()

    # -- lifetime ---------------------------------------------------------------------
    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def shutdown(self) -> None:
        self.runner.shutdown()
