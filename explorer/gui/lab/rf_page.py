"""Page 5, receptive fields: click a unit in a layer's map to see, on the input, its
theoretical field (the box of :meth:`explorer.core.trace.LayerInfo.field_box`) and its
effective field (the gradient of that unit with respect to the input,
:func:`explorer.lab.rf.effective_rf`); below, the field's growth layer by layer for
LeNet-5, AlexNet, VGG16 and ResNet18 (:func:`explorer.lab.rf.rf_table`, the numbers
``cnn-explorer lab rf`` prints).

Networks, traces and gradients run in a worker; torchvision networks have random weights
here (the geometry of a field does not depend on them).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common import theme
from explorer.gui.common.canvas import ImageCanvas, lookup_table, owning_popups
from explorer.gui.common.workers import JobContext, JobRunner
from explorer.gui.lab import netpick
from explorer.gui.lab.common import (
    SERIES,
    SYMBOLS,
    TARGET,
    WINDOW,
    LabPage,
    SampleChooser,
    big_label,
    compact,
    style_plot,
    wrapped_label,
)
from explorer.lab import rf

#: lab model name -> registry name
REGISTRY = {"lenet5": "lenet5-digits", "alexnet": "alexnet", "vgg16": "vgg16",
            "resnet18": "resnet18"}
#: each network's curve: an Okabe-Ito colour and a symbol of its own
CURVE_COLOURS = dict(zip(("lenet5", "alexnet", "vgg16", "resnet18"), SERIES))
CURVE_SYMBOLS = dict(zip(("lenet5", "alexnet", "vgg16", "resnet18"), SYMBOLS))
#: the same symbols as characters, for the legend under the plot
SYMBOL_GLYPHS = {"o": "●", "s": "■", "t": "▼", "d": "◆"}
_FIELD_TYPES = ("Conv2d", "MaxPool2d", "AvgPool2d")


def field_layers(layers) -> list:
    """The conv / pooling layers whose units have a (non-global) field."""
    return [info for info in layers
            if info.type in _FIELD_TYPES and info.spatial and info.rf_hw is not None
            and not info.rf_global]


def rf_job(model: str, image, layer: str | None, unit: tuple[int, int] | None,
           channel: int | None, cache: dict):
    """Trace (cached per network and picture) and one unit's gradient map."""
    from explorer.app.tracing import trace_tensor as trace
    from explorer.core.network import preprocess, to_display

    def job(ctx: JobContext) -> dict:
        name = REGISTRY[model]
        ctx.progress(-1, f"building {name}…")
        net = netpick.load(name, cache.setdefault("nets", {}))
        key = (name, id(image))
        traced = cache.get("trace")
        if traced is None or traced[0] != key:
            ctx.progress(-1, "running it on the picture…")
            x = preprocess(net, image)
            traced = (key, x, trace(net, x))
            cache["trace"] = traced
        ctx.check()
        _, x, tr = traced
        infos = field_layers(tr.layers)
        info = next((i for i in infos if i.name == layer), None) or infos[len(infos) // 2]
        act = tr.outputs[info.name].float().cpu()
        fmap = (act.mean(0) if channel is None else act[min(channel, act.shape[0] - 1)]).numpy()
        h, w = fmap.shape
        y, xx = unit if unit is not None and unit[0] < h and unit[1] < w else (h // 2, w // 2)
        ctx.progress(-1, "following the gradient back to the input…")
        grad = rf.effective_rf(net.module, info.name, x, y, xx, channel)
        return {"model": model, "net": net, "layers": [i.name for i in infos], "info": info,
                "map": fmap, "unit": (y, xx), "grad": grad, "input": to_display(net, x),
                "channels": act.shape[0]}

    return job


def heat_overlay(grad: np.ndarray) -> np.ndarray:
    """Gradient magnitude as a translucent red layer (float RGBA [H, W, 4] in [0, 1]);
    the square root lets the weak tails of the effective field show."""
    g = np.sqrt(grad / max(float(grad.max()), 1e-30))
    rgba = np.zeros((*grad.shape, 4), np.float32)
    rgba[..., 0] = 1.0
    rgba[..., 1] = 0.15
    rgba[..., 3] = 0.85 * g
    return rgba


def effective_extent(grad: np.ndarray, mass: float = 0.9) -> int:
    """Side (pixels) of the smallest centred square around the gradient's peak holding
    `mass` of the gradient: how wide the field effectively is."""
    total = float(grad.sum())
    if total <= 0:
        return 0
    cy, cx = np.unravel_index(int(np.argmax(grad)), grad.shape)
    for r in range(max(grad.shape)):
        box = grad[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1]
        if box.sum() >= mass * total:
            return 2 * r + 1
    return max(grad.shape)


class ReceptiveFieldPage(LabPage):
    title = "5  Receptive fields"
    slide = "“Progressively aggregating spatial information”"
    hint = ("Click a unit in the layer's map (right). On the picture: the yellow box is its "
            "theoretical receptive field, the red glow where its gradient actually is "
            "(its effective field).")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._show)
        self.runner.failed.connect(lambda _e, m: self.status.setText(f"Error: {m.splitlines()[0]}"))
        self.runner.progress.connect(lambda m, _f: self.status.setText(m))
        self.cache: dict = {}
        self.data: dict | None = None
        self._build()
        self._plot_growth()
        self.request()

    def _build(self) -> None:
        box = QGroupBox("Setting")
        form = QFormLayout(box)
        self.model_combo = compact(QComboBox(), 8)
        for name in rf.MODEL_NAMES:
            self.model_combo.addItem(name)
        self.model_combo.setCurrentText("alexnet")
        self.image_combo = SampleChooser(default="chelsea")
        self.layer_combo = compact(QComboBox(), 8)
        self.channel_spin = QSpinBox()
        self.channel_spin.setRange(-1, 4095)
        self.channel_spin.setSpecialValueText("all (mean)")
        self.channel_spin.setValue(-1)
        form.addRow("network", self.model_combo)
        form.addRow("picture", self.image_combo)
        form.addRow("layer", self.layer_combo)
        form.addRow("channel", self.channel_spin)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.image_combo.currentIndexChanged.connect(lambda _i: self.request())
        self.layer_combo.activated.connect(lambda _i: self.request())
        self.channel_spin.valueChanged.connect(lambda _v: self.request(self._unit()))
        self.info_label = big_label(scale=1.1)
        self.info_label.setTextFormat(Qt.TextFormat.RichText)
        self.status = wrapped_label(name="hint")
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(box)
        left.addWidget(self.info_label)
        left.addWidget(self.status)
        left.addStretch(1)
        lw = QWidget()
        lw.setLayout(left)

        self.input_canvas = ImageCanvas(background=theme.current().base)
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setZValue(5)
        self.input_canvas.view.addItem(self.overlay)
        self.input_canvas._marker.setPen(pg.mkPen(WINDOW, width=3, cosmetic=True))
        self.map_canvas = ImageCanvas(background=theme.current().base)
        self.map_canvas._marker.setPen(pg.mkPen(TARGET, width=3, cosmetic=True))
        self.map_canvas.clicked.connect(self._clicked)
        self.map_canvas.setCursor(Qt.CursorShape.PointingHandCursor)
        self.input_title = wrapped_label("<b>input</b>", rich=True)
        self.map_title = wrapped_label("<b>layer map</b> (click a unit)", rich=True)
        pics = QHBoxLayout()
        for title, canvas in ((self.input_title, self.input_canvas),
                              (self.map_title, self.map_canvas)):
            col = QVBoxLayout()
            col.addWidget(title)
            col.addWidget(canvas, 1)
            pics.addLayout(col, 1)
        with owning_popups(self):
            self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.setMinimumHeight(120)
        self.legend_label = wrapped_label(rich=True)
        self.plot_caption = wrapped_label(
            "Receptive field in input pixels of each conv / pooling layer along the main "
            "path; dashed: 224 px, the whole ImageNet input.", "hint")
        right = QVBoxLayout()
        right.addLayout(pics, 4)
        right.addWidget(self.plot, 3)
        right.addWidget(self.legend_label)
        right.addWidget(self.plot_caption)
        main = QHBoxLayout()
        main.addWidget(lw, 2)
        main.addLayout(right, 5)
        self.body.addLayout(main, 1)

    def _plot_growth(self) -> None:
        self.growth: dict[str, list[rf.RFLayer]] = {}
        entries = []
        for name in rf.MODEL_NAMES:
            table = rf.rf_table(name)
            self.growth[name] = table
            xs = np.arange(1, len(table) + 1)
            colour = CURVE_COLOURS[name]
            self.plot.plot(xs, [r.rf for r in table], pen=pg.mkPen(colour, width=3),
                           symbol=CURVE_SYMBOLS[name], symbolSize=9, symbolBrush=colour,
                           symbolPen=pg.mkPen(colour))
            glyph = SYMBOL_GLYPHS[CURVE_SYMBOLS[name]]
            entries.append(f"<span style='color:{colour}'>━{glyph}━</span>&nbsp;{name} "
                           f"(last {table[-1].rf} px)")
        self.legend_label.setText(" &nbsp; ".join(entries))
        self.full_line = self.plot.addLine(y=224)
        style_plot(self.plot)

    def themed(self, current, scale: float) -> None:
        self.full_line.setPen(pg.mkPen(current.hint, width=2, style=Qt.PenStyle.DashLine))

    # -- requests ---------------------------------------------------------------------
    def _model_changed(self) -> None:
        self.layer_combo.clear()
        model = self.model_combo.currentText()
        if model == "lenet5" and self.image_combo.currentText() != "digit":
            self.image_combo.setCurrentText("digit")
            return  # the image change requests
        self.request()

    def _unit(self) -> tuple[int, int] | None:
        return self.data["unit"] if self.data else None

    def _clicked(self, y: float, x: float) -> None:
        self.request((int(y), int(x)))

    def request(self, unit: tuple[int, int] | None = None) -> None:
        if not hasattr(self, "plot"):
            return
        try:
            image = self.image_combo.image()
        except Exception as exc:  # ImageError
            self.status.setText(str(exc))
            return
        channel = self.channel_spin.value()
        self.runner.submit(rf_job(self.model_combo.currentText(), image,
                                  self.layer_combo.currentText() or None, unit,
                                  None if channel < 0 else channel, self.cache))

    def click_unit(self, y: int, x: int) -> None:
        """Pick unit (y, x) of the current layer (what a click on the map does)."""
        self.request((y, x))

    def set_current_image(self, image) -> None:
        self.image_combo.set_current_image(image)

    # -- showing ----------------------------------------------------------------------
    def _show(self, data: dict) -> None:
        self.data = data
        info = data["info"]
        if [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())] != \
                data["layers"]:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(data["layers"])
            self.layer_combo.blockSignals(False)
        self.layer_combo.setCurrentText(info.name)
        self.channel_spin.blockSignals(True)
        self.channel_spin.setMaximum(data["channels"] - 1)
        self.channel_spin.blockSignals(False)
        image = data["input"]
        self.input_canvas.set_image(image)
        self.overlay.setImage(heat_overlay(data["grad"]), levels=(0.0, 1.0))
        y, x = data["unit"]
        box = info.field_box(y, x)
        h, w = image.shape[:2]
        if box is not None:
            x1, y1, x2, y2 = box
            # clip to the picture: the part outside is padding
            self.input_canvas.set_marker((max(0.0, x1), max(0.0, y1), min(w, x2), min(h, y2)))
        self.map_canvas.set_image(data["map"].astype(np.float32), levels=None,
                                  lut=lookup_table("viridis"))
        self.map_canvas.set_marker((x, y, x + 1, y + 1))
        friendly = rf.FRIENDLY.get(data["model"], {}).get(info.name, "")
        label = f"{info.name}" + (f" ({friendly})" if friendly else "")
        mh, mw = data["map"].shape
        self.map_title.setText(f"<b>{label}</b>: {mh}x{mw} map, unit ({y}, {x}); click another")
        self.input_title.setText(f"<b>input</b> {w}x{h}: field of unit ({y}, {x})")
        rh, rw = info.rf_hw
        eff = effective_extent(data["grad"])
        self.info_label.setText(
            f"<b>{label}</b><br>theoretical field: <b>{rh:g}x{rw:g}</b> px"
            f"<br>jump between units: {info.jump_hw[0]:g} px"
            f"<br>90% of the gradient within: <b>{eff}x{eff}</b> px"
            + ("<br><i>(the box is cut by the picture's border)</i>"
               if box and (box[0] < 0 or box[1] < 0 or box[2] > w or box[3] > h) else ""))
        net = data["net"]
        self.status.setText(f"{net.name}: weights {net.weights_source}")

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def shutdown(self) -> None:
        self.runner.shutdown()
