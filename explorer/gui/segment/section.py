"""The Segmentation tab: FCN, dilated FCN and U-Net (and torchvision's segmenters when
cached) on the same picture, side by side.

Panels show the input, each network's answer as a colour overlay, the ground truth when
there is one, and where two chosen networks disagree; a table scores every network.
Clicking a pixel on any panel draws, on each network's panel, that pixel's theoretical
receptive field (solid box), the box holding 95 % of its gradient (dashed) and the gradient
itself as a heat map: the lecture's "large context versus sharp boundaries" made visible.

All computing happens in :mod:`explorer.segment` through two
:class:`~explorer.gui.common.workers.JobRunner` s (runs, and clicked pixels): it only draws.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsRectItem,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.core import colormaps
from explorer.core.images import Image
from explorer.errors import UserError
from explorer.gui.common.canvas import ImageCanvas
from explorer.gui.common.section import SectionHost
from explorer.gui.common.workers import JobContext, JobRunner
from explorer.segment import colors
from explorer.segment.compare import (
    DISAGREE_COLOURS,
    Disagreement,
    disagreement,
    disagreement_image,
    evaluate,
    score_table,
)
from explorer.segment.run import (
    SHIPPED_SEGMENTERS,
    Picture,
    available_segmenters,
    load_segmenter,
    picture_from_image,
    sample_truth,
    scene_picture,
    segment,
)

#: colours of what a clicked pixel shows
THEORY_COLOUR = "#ffffff"
EFFECTIVE_COLOUR = "#00e5ff"
HELD_OUT_SCENES = 50
#: scenes per forward pass while scoring: a cancel waits for at most one pass, and 25
#: U-Net scenes took 1.2 s on two shared CPU cores (8 take about 0.4 s)
EVAL_BATCH = 8

STYLE = """
QLabel#segTitle { font-size: 13pt; font-weight: bold; }
QLabel#segCaption { color: #444444; }
QLabel#segHint { color: #555555; }
QLabel#segRandom { background: #ffd54f; color: #222222; padding: 2px 6px;
                   border-radius: 3px; font-weight: bold; }
"""


def _short(name: str) -> str:
    return name.replace("-shapes", "")


class _Panel(QWidget):
    """A title, an image canvas with field overlays, and a caption."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setObjectName("segTitle")
        self.canvas = ImageCanvas(background="#202020")
        self.canvas.setMinimumSize(200, 200)
        self.canvas.view.setMouseEnabled(x=False, y=False)
        self.caption = QLabel("")
        self.caption.setObjectName("segCaption")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        view = self.canvas.view
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(5)
        view.addItem(self.heat)
        self.effective = QGraphicsRectItem()
        pen = QPen(QColor(EFFECTIVE_COLOUR))
        pen.setWidth(3)
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        self.effective.setPen(pen)
        self.effective.setZValue(11)
        self.effective.setVisible(False)
        view.addItem(self.effective, ignoreBounds=True)
        self.theory = QGraphicsRectItem()
        pen = QPen(QColor(THEORY_COLOUR))
        pen.setWidth(3)
        pen.setCosmetic(True)
        self.theory.setPen(pen)
        self.theory.setZValue(10)
        self.theory.setVisible(False)
        view.addItem(self.theory, ignoreBounds=True)
        self.cross = pg.ScatterPlotItem(size=18, symbol="+", pen=pg.mkPen("#ff1744", width=3),
                                        brush=None)
        self.cross.setZValue(12)
        view.addItem(self.cross, ignoreBounds=True)

    def show_field(self, pixel: tuple[int, int] | None, box=None, effective=None,
                   heat: np.ndarray | None = None) -> None:
        """Mark `pixel` (y, x); outline `box` and `effective` (x1, y1, x2, y2); overlay
        `heat` (float [H, W] in [0, 1]) as a translucent heat map."""
        if pixel is None:
            self.cross.setData([])
        else:
            self.cross.setData([pixel[1] + 0.5], [pixel[0] + 0.5])
        for item, rect in ((self.theory, box), (self.effective, effective)):
            if rect is None:
                item.setVisible(False)
            else:
                x1, y1, x2, y2 = rect
                item.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
                item.setVisible(True)
        if heat is None:
            self.heat.clear()
        else:
            self.heat.setImage(heat_rgba(heat), levels=(0, 255))


class UpsamplingPage(QWidget):
    """The FCN's coarse score map for one class, and five ways of upsampling it 8x."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.network = QComboBox()
        self.network.addItems(["fcn-shapes", "fcn-dilated-shapes"])
        self.network.setToolTip("Whose coarse score map (and learned upsampler) to use")
        intro = QLabel(
            "A segmentation network must get from its coarse grid back to every pixel. "
            "<b>Transposed convolution</b> learns the upsampling kernel; <b>upsampling "
            "followed by convolution</b> interpolates first (bilinear) and then convolves. "
            "A transposed convolution whose kernel is not a multiple of its stride "
            "overlaps unevenly and paints a <b>checkerboard</b>; <i>ripple</i> measures it "
            "(how far the answer to a flat input is from flat).")
        intro.setWordWrap(True)
        intro.setObjectName("segHint")
        row = QHBoxLayout()
        row.addWidget(QLabel("Network:"))
        row.addWidget(self.network)
        row.addStretch(1)
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        self.panels: list[_Panel] = []
        for i in range(6):
            panel = _Panel("")
            panel.cross.setVisible(False)
            self.grid.addWidget(panel, i // 3, i % 3)
            self.panels.append(panel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(row)
        layout.addWidget(intro)
        layout.addLayout(self.grid, 1)
        self.demo = None

    def show_demo(self, demo) -> None:
        """Show an :class:`~explorer.segment.upsampling.UpsamplingDemo`."""
        self.demo = demo
        lut = colormaps.lut("inferno")
        first = self.panels[0]
        first.title.setText(f"Coarse '{demo.channel_name}' scores")
        first.canvas.set_image(demo.low, levels=(0.0, 1.0), lut=lut)
        first.caption.setText(f"{demo.low.shape[1]}×{demo.low.shape[0]}: the grid the "
                              f"network decides on, to be upsampled {demo.factor}×")
        for panel, p in zip(self.panels[1:], demo.panels):
            panel.title.setText(p.title)
            panel.canvas.set_image(p.channel, levels=(0.0, 1.0), lut=lut)
            panel.caption.setText(f"{p.note}  ·  ripple {p.ripple:.2f}")


def heat_rgba(heat: np.ndarray, top_percentile: float = 99.0) -> np.ndarray:
    """float [H, W] (>= 0) -> uint8 [H, W, 4]: inferno colours, transparent where the
    gradient is small so the prediction stays visible underneath.

    Scaled so the `top_percentile` value is full strength: a gradient map has a few very
    large pixels, and scaling by its maximum alone would leave the rest invisible."""
    heat = np.asarray(heat, np.float32)
    positive = heat[heat > 0]
    top = float(np.percentile(positive, top_percentile)) if positive.size else 1.0
    h = np.clip(heat / (top if top > 0 else 1.0), 0, 1) ** 0.5
    rgb = colormaps.apply(h, "inferno")
    alpha = np.round(h * 220).astype(np.uint8)
    return np.dstack([rgb, alpha])


class SegmentationTab(QWidget):
    """Compare segmenters on one picture. Call :meth:`set_image` with the window's current
    image; "New scene" gives a shapes scene with its ground truth."""

    #: one-line status for the window's status bar
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None, device: str = "cpu",
                 host: SectionHost | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(STYLE)
        self.host = host or SectionHost()
        self.device = str(host.device) if host is not None else device
        self.picture: Picture | None = None
        self.preds: dict = {}
        self.scores: dict = {}
        self.fields: dict = {}
        self.held_out: dict = {}
        self.dis: Disagreement | None = None
        self.pixel: tuple[int, int] | None = None
        self.errors: list[str] = []
        self._networks: dict = {}  # loaded networks, reused between runs
        self.runner = JobRunner(self)
        self.field_runner = JobRunner(self)
        self.up_runner = JobRunner(self)
        self._up_key: tuple | None = None
        self._pending = False  # a run is due when the tab is next shown
        self._source = None  # the image as given (a mask must match its size)
        self._build()
        self.up_runner.finished.connect(self._on_upsampling)
        self.up_runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_result)
        self.runner.failed.connect(self._on_failed)
        self.runner.busyChanged.connect(self._on_busy)
        self.field_runner.finished.connect(self._on_fields)
        self.field_runner.failed.connect(self._on_failed)

    # -- building ---------------------------------------------------------------------
    def _build(self) -> None:
        self.checks: dict[str, QCheckBox] = {}
        nets_row = QHBoxLayout()
        nets_row.addWidget(QLabel("Networks:"))
        for name, ok, source in available_segmenters():
            box = QCheckBox(_short(name))
            box.setChecked(name in SHIPPED_SEGMENTERS)
            if source == "hub cache" and not ok:
                box.setEnabled(False)
                box.setToolTip(f"{name}: its weights are not in the torch hub cache "
                               "(this tab never downloads them)")
            elif source == "shipped" and not ok:
                box.setToolTip(f"{name}: no trained weights yet, it runs with random ones")
            else:
                box.setToolTip(name)
            box.toggled.connect(self._on_checks)
            self.checks[name] = box
            nets_row.addWidget(box)
        nets_row.addSpacing(16)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the ticked networks on the picture")
        self.run_button.clicked.connect(self.run)
        nets_row.addWidget(self.run_button)
        nets_row.addStretch(1)
        nets_row.addWidget(QLabel("Shapes scene:"))
        self.scene_spin = QSpinBox()
        self.scene_spin.setRange(0, 999_999)
        self.scene_spin.setValue(5)
        self.scene_spin.setToolTip("Seed of a shapes scene; it comes with its ground truth")
        nets_row.addWidget(self.scene_spin)
        self.scene_button = QPushButton("Show scene")
        self.scene_button.clicked.connect(lambda: self.set_scene(self.scene_spin.value()))
        nets_row.addWidget(self.scene_button)
        self.mask_button = QPushButton("Open mask…")
        self.mask_button.setToolTip("A ground-truth PNG for this picture: pixel values are "
                                    "class indices, same size as the image")
        self.mask_button.clicked.connect(self.ask_mask)
        nets_row.addWidget(self.mask_button)
        self.eval_button = QPushButton(f"Score on {HELD_OUT_SCENES} held-out scenes")
        self.eval_button.setToolTip("mIoU, pixel accuracy and boundary F over scenes the "
                                    "networks never saw in training")
        self.eval_button.clicked.connect(self.evaluate_held_out)
        nets_row.addWidget(self.eval_button)

        view_row = QHBoxLayout()
        view_row.addWidget(QLabel("Overlay opacity:"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(70)
        self.opacity.setFixedWidth(160)
        self.opacity.valueChanged.connect(self._redraw_predictions)
        view_row.addWidget(self.opacity)
        view_row.addSpacing(20)
        view_row.addWidget(QLabel("Disagreement:"))
        self.combo_a = QComboBox()
        self.combo_b = QComboBox()
        for combo in (self.combo_a, self.combo_b):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(12)
        self.combo_a.currentIndexChanged.connect(self._update_disagreement)
        self.combo_b.currentIndexChanged.connect(self._update_disagreement)
        view_row.addWidget(self.combo_a)
        view_row.addWidget(QLabel("vs"))
        view_row.addWidget(self.combo_b)
        view_row.addSpacing(20)
        self.hint = QLabel("Click a pixel on any panel to see what it looks at.")
        self.hint.setObjectName("segHint")
        self.hint.setWordWrap(True)  # never let a long hint widen the tab
        view_row.addWidget(self.hint, 1)

        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        self.panels: dict[str, _Panel] = {}

        self.legend = QLabel("")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)

        self.field_label = QLabel("")
        self.field_label.setWordWrap(True)
        self.field_label.setTextFormat(Qt.TextFormat.RichText)

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)

        compare_page = QWidget()
        cl = QVBoxLayout(compare_page)
        cl.setContentsMargins(0, 4, 0, 0)
        cl.addLayout(view_row)
        cl.addWidget(self.grid_host, 1)  # the pictures get every spare pixel
        cl.addWidget(self.legend)
        cl.addWidget(self.field_label)
        cl.addWidget(self.table)
        self.upsampling = UpsamplingPage()
        self.upsampling.network.currentTextChanged.connect(self._update_upsampling)
        self.pages = QTabWidget()
        self.pages.addTab(compare_page, "Side by side")
        self.pages.addTab(self.upsampling, "Transposed conv vs upsampling")
        self.pages.currentChanged.connect(self._update_upsampling)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(nets_row)
        layout.addWidget(self.pages, 1)
        self._fill_table()

    # -- public -----------------------------------------------------------------------
    def set_device(self, device) -> None:
        """Compute on `device` from the next run on."""
        self.device = str(device)
        self._networks.clear()

    def set_picture(self, picture) -> None:
        self.set_image(picture)

    def set_image(self, image: Image | np.ndarray | None, gt_mask: np.ndarray | None = None,
                  gt_classes: tuple[str, ...] | None = None, run: bool = True) -> None:
        """Show `image` (an :class:`~explorer.core.images.Image` or float [H, W, 3]) and,
        with `run`, segment it (at once if the tab is visible, else when it is next shown).
        `gt_mask` (int [H, W] class indices at the image's size) scores the networks; the
        "shapes" sample gets its own ground truth."""
        if image is None:
            return
        if gt_mask is None and isinstance(image, Image):
            gt_mask, gt_classes = sample_truth(image) or (None, None)
        try:
            picture = picture_from_image(image, gt=gt_mask, gt_classes=gt_classes)
        except UserError as exc:
            self.show_error(str(exc))
            return
        self._source = image
        self._set_picture(picture, run)

    def ask_mask(self) -> None:
        """Ask for a ground-truth mask PNG for the current picture and score against it."""
        from explorer.gui.common import messages
        from explorer.segment.run import load_mask

        if self._source is None:
            return
        path = messages.ask_open_file(self, "Open a ground-truth mask",
                                      "Masks (*.png *.bmp *.tif *.tiff);;All files (*)")
        if not path:
            return
        source = self._source
        size = source.size if isinstance(source, Image) else tuple(np.shape(source)[:2])
        try:
            mask = load_mask(path, size)
        except UserError as exc:
            self.show_error(str(exc))
            return
        self.set_image(source, gt_mask=mask)

    def set_scene(self, seed: int, run: bool = True) -> None:
        """Shapes scene `seed` with its ground truth."""
        self.scene_spin.setValue(int(seed))
        picture = scene_picture(int(seed))
        self._source = picture.image
        self._set_picture(picture, run)

    def selected(self) -> list[str]:
        return [n for n, b in self.checks.items() if b.isChecked() and b.isEnabled()]

    def run(self) -> int | None:
        """Segment the picture with the ticked networks in a worker; returns the request id."""
        if self.picture is None:
            return None
        names = self.selected()
        if not names:
            self.show_error("Tick at least one network.")
            return None
        picture, device, cache = self.picture, self.device, self._networks

        def job(ctx: JobContext):
            preds = {}
            for i, name in enumerate(names):
                ctx.check()
                ctx.progress(i / len(names), f"running {name}")
                if name not in cache:
                    cache[name] = load_segmenter(name, device)
                preds[name] = segment(cache[name], picture)
            scores = score_table(preds, picture) if picture.gt is not None else {}
            return picture, preds, scores

        self.status.emit("segmenting…")
        return self.runner.submit(job)

    def click(self, y: float, x: float) -> int | None:
        """What a click on pixel (y, x) does: find each network's fields for it."""
        if not self.preds or self.picture is None:
            return None
        h, w = self.picture.size
        yi, xi = int(np.clip(y, 0, h - 1)), int(np.clip(x, 0, w - 1))
        self.pixel = (yi, xi)
        preds, picture = dict(self.preds), self.picture
        for panel in self.panels.values():
            panel.show_field(self.pixel)

        def job(ctx: JobContext):
            from explorer.segment.fields import pixel_field

            out = {}
            for name, p in preds.items():
                ctx.check()
                out[name] = pixel_field(p, picture, yi, xi)
            return (picture, (yi, xi), out)

        return self.field_runner.submit(job)

    def evaluate_held_out(self) -> int | None:
        """Score the ticked shapes networks on held-out scenes, in a worker."""
        names = [n for n in self.selected() if n in SHIPPED_SEGMENTERS]
        if not names:
            self.show_error("Tick at least one shapes network to score on held-out scenes.")
            return None
        device, cache = self.device, self._networks

        def job(ctx: JobContext):
            def progress(frac, msg):
                ctx.check()
                ctx.progress(frac, msg)

            return ("held-out", evaluate(names, HELD_OUT_SCENES, device=device, batch=EVAL_BATCH,
                                         progress=progress, networks=cache))

        self.status.emit(f"scoring on {HELD_OUT_SCENES} held-out scenes…")
        return self.runner.submit(job)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop both workers (call before the window closes)."""
        return all([r.shutdown(timeout) for r in (self.runner, self.field_runner,
                                                   self.up_runner)])

    def show_error(self, text: str) -> None:
        self.errors.append(text)
        self.hint.setText(f"<span style='color:#c62828'><b>{text}</b></span>")
        self.status.emit(text)

    # -- internals --------------------------------------------------------------------
    def _set_picture(self, picture: Picture, run: bool) -> None:
        self.picture = picture
        self.preds, self.scores, self.fields, self.dis, self.pixel = {}, {}, {}, None, None
        self._rebuild_panels([])
        self._fill_table()
        self.field_label.setText("")
        self._up_key = None
        self._update_upsampling()
        # a hidden tab waits until it is shown: the window may hand it every image it loads
        self._pending = run and not self.isVisible()
        if run and self.isVisible():
            self.run()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._pending and self.picture is not None:
            self._pending = False
            self.run()

    def _update_upsampling(self) -> int | None:
        """Make the upsampling page's figures (in a worker) when it shows and is stale."""
        if self.pages.currentWidget() is not self.upsampling or self.picture is None:
            return None
        name = self.upsampling.network.currentText()
        key = (id(self.picture), name)
        if key == self._up_key:
            return None
        self._up_key = key
        picture, device, cache = self.picture, self.device, self._networks

        def job(ctx: JobContext):
            from explorer.segment.upsampling import upsampling_demo

            if name not in cache:
                cache[name] = load_segmenter(name, device)
            ctx.check()
            return picture, upsampling_demo(cache[name], picture)

        return self.up_runner.submit(job)

    def _on_upsampling(self, result) -> None:
        picture, demo = result
        if picture is self.picture:
            self.upsampling.show_demo(demo)

    def _on_checks(self) -> None:
        if self.picture is not None and not self.runner.busy:
            self.run()

    def _on_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.eval_button.setEnabled(not busy)

    def _on_failed(self, exc: object, message: str) -> None:
        self.show_error(message.splitlines()[0] if message else str(exc))

    def _on_result(self, result) -> None:
        if isinstance(result, tuple) and result and result[0] == "held-out":
            self.held_out = result[1]
            self._fill_table()
            self.status.emit(f"scored on {HELD_OUT_SCENES} held-out scenes")
            return
        picture, preds, scores = result
        if picture is not self.picture:
            return  # the picture changed while this ran
        self.preds, self.scores, self.fields = preds, scores, {}
        self._rebuild_panels(list(preds))
        self._redraw_predictions()
        self._fill_combos()
        self._update_disagreement()
        self._fill_table()
        self._fill_legend()
        self.hint.setText("Click a pixel on any panel to see what it looks at: white box = "
                          "theoretical receptive field, dashed = 95 % of the gradient.")
        self.status.emit("  ".join(f"{_short(n)} {p.seconds * 1000:.0f} ms"
                                   for n, p in preds.items()))
        if self.pixel is not None:
            self.click(*self.pixel)

    def _on_fields(self, result) -> None:
        picture, pixel, fields = result
        if picture is not self.picture or pixel != self.pixel:
            return
        self.fields = fields
        lines = [f"<b>Pixel (row {pixel[0]}, column {pixel[1]})</b>"]
        for name, panel in self.panels.items():
            f = fields.get(name)
            if f is None:
                panel.show_field(pixel)
                continue
            panel.show_field(pixel, f.box, f.mass_box, f.heat)
            th = f"{f.rf_size[1]:.0f}×{f.rf_size[0]:.0f}" if f.rf_size else "?"
            eff = "?"
            if f.mass_box:
                x1, y1, x2, y2 = f.mass_box
                eff = f"{x2 - x1:.0f}×{y2 - y1:.0f}"
            lines.append(f"<b>{_short(name)}</b> says <i>{f.class_name}</i>: theoretical "
                         f"field {th} px, 95 % of the gradient within {eff} px")
        self.field_label.setText("&nbsp;&nbsp;·&nbsp;&nbsp;".join(lines))

    def _panel_names(self, nets: list[str]) -> list[str]:
        names = ["input"] + nets
        if self.picture is not None and self.picture.gt is not None:
            names.append("truth")
        if len(nets) >= 2:
            names.append("disagreement")
        return names

    def _rebuild_panels(self, nets: list[str]) -> None:
        wanted = self._panel_names(nets)
        if list(self.panels) != wanted:
            for panel in self.panels.values():
                self.grid.removeWidget(panel)
                panel.setParent(None)
                panel.deleteLater()
            self.panels = {}
            cols = len(wanted) if len(wanted) <= 4 else (len(wanted) + 1) // 2
            for i, key in enumerate(wanted):
                title = {"input": "Input", "truth": "Ground truth",
                         "disagreement": "Disagreement"}.get(key, key)
                panel = _Panel(title)
                panel.canvas.clicked.connect(self.click)
                self.grid.addWidget(panel, i // cols, i % cols)
                self.panels[key] = panel
        pic = self.picture
        if pic is None:
            return
        inp = self.panels["input"]
        inp.canvas.set_image(pic.image)
        inp.caption.setText(f"{pic.name}  {pic.size[1]}×{pic.size[0]}"
                            + ("" if pic.gt is not None else "  (no ground truth)"))
        if "truth" in self.panels:
            names = list(pic.gt_classes) if pic.gt_classes else (
                next(iter(self.preds.values())).class_names if self.preds else
                [str(i) for i in range(int(pic.gt.max()) + 1)])
            self.panels["truth"].canvas.set_image(
                colors.overlay(pic.image, pic.gt, colors.palette_for(names), 0.7) / 255.0)
            self.panels["truth"].caption.setText(
                ", ".join(names[i] for i in np.unique(pic.gt) if i < len(names) and i))

    def _redraw_predictions(self) -> None:
        if self.picture is None:
            return
        a = self.opacity.value() / 100.0
        for name, p in self.preds.items():
            panel = self.panels.get(name)
            if panel is None:
                continue
            rgb = colors.overlay(self.picture.image, p.classes,
                                 colors.palette_for(p.class_names), a)
            panel.canvas.set_image(rgb / 255.0, autorange=False)
            cap = f"{p.seconds * 1000:.0f} ms"
            s = self.scores.get(name)
            if s is not None:
                cap += f"  ·  mIoU {s.mean_iou:.2f}  ·  boundary F {s.boundary_f:.2f}"
            if p.weights_source == "random":
                cap += "  ·  <span style='background:#ffd54f'><b>random weights</b></span>"
            panel.caption.setText(cap)

    def _fill_combos(self) -> None:
        names = list(self.preds)
        a, b = self.combo_a.currentText(), self.combo_b.currentText()
        if not (a in names and b in names and a != b):
            if "fcn-shapes" in names and "unet-shapes" in names:
                a, b = "fcn-shapes", "unet-shapes"  # the lecture's contrast first
            else:
                a, b = names[0], names[min(1, len(names) - 1)]
        for combo, value in ((self.combo_a, a), (self.combo_b, b)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.setCurrentText(value)
            combo.blockSignals(False)

    def _update_disagreement(self) -> None:
        panel = self.panels.get("disagreement")
        a, b = self.combo_a.currentText(), self.combo_b.currentText()
        if panel is None or a not in self.preds or b not in self.preds or self.picture is None:
            self.dis = None
            return
        pic = self.picture
        panel.title.setText(f"{_short(a)} vs {_short(b)}")
        if self.preds[a].class_names != self.preds[b].class_names:
            self.dis = None
            panel.canvas.set_image(None)
            panel.caption.setText("different label sets: nothing to compare pixel by pixel")
            self._fill_legend()
            return
        gt = pic.gt if (a in self.scores and b in self.scores) else None
        pa, pb = self.preds[a].classes, self.preds[b].classes
        self.dis = disagreement(pa, pb, gt, (a, b))
        panel.canvas.set_image(disagreement_image(pic.image, self.dis, gt, pa, pb) / 255.0,
                               autorange=False)
        cap = f"{self.dis.fraction:.1%} of pixels differ"
        if self.dis.a_right is not None:
            cap += f"  ·  {_short(a)} right on {self.dis.a_right}, {_short(b)} on " \
                   f"{self.dis.b_right}"
        panel.caption.setText(cap)
        self._fill_legend()

    def _fill_legend(self) -> None:
        chips = []
        seen: set[str] = set()
        for p in self.preds.values():  # every label set in use, each class once
            pal = colors.palette_for(p.class_names)
            present = set(np.unique(p.classes).tolist())
            pic = self.picture
            if pic is not None and pic.gt is not None and (
                    pic.gt_classes is None or tuple(pic.gt_classes) == tuple(p.class_names)):
                present |= set(np.unique(pic.gt).tolist())
            for i in sorted(present):
                if i < len(p.class_names) and p.class_names[i] not in seen:
                    seen.add(p.class_names[i])
                    chips.append((p.class_names[i], pal[i]))
        if self.dis is not None:
            a, b = _short(self.dis.a), _short(self.dis.b)
            keys = ([(f"only {a} right", "first right"), (f"only {b} right", "second right"),
                     ("both wrong", "both wrong")] if self.dis.a_right is not None
                    else [("networks differ", "differ")])
            chips += [(label, np.round(np.array(DISAGREE_COLOURS[k]) * 255))
                      for label, k in keys]
        html = []
        for name, rgb in chips:
            hexc = "#" + "".join(f"{int(v):02x}" for v in rgb)
            html.append(f"<span style='background:{hexc}'>&nbsp;&nbsp;&nbsp;&nbsp;</span>"
                        f"&nbsp;{name}")
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(html))

    def _fill_table(self) -> None:
        names = list(self.preds) or [n for n in self.held_out]
        class_names: list[str] = []
        for s in self.scores.values():
            class_names = [c for c in s.iou]
            break
        cols = ["network", "weights", "ms", "mIoU", "pixel acc", "boundary F"]
        cols += [f"IoU {c}" for c in class_names]
        if self.held_out:
            cols += [f"held-out {k}" for k in ("mIoU", "pixel acc", "boundary F")]
            names += [n for n in self.held_out if n not in names]
        self.table.clear()
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        self.table.setRowCount(len(names))
        for r, name in enumerate(names):
            p = self.preds.get(name)
            s = self.scores.get(name)
            ho = self.held_out.get(name)
            vals = [name, p.weights_source if p else (ho["weights"] if ho else ""),
                    f"{p.seconds * 1000:.0f}" if p else ""]
            if s is not None:
                vals += [_fmt(s.mean_iou), _fmt(s.pixel_accuracy), _fmt(s.boundary_f)]
                vals += [_fmt(s.iou.get(c, float("nan"))) for c in class_names]
            else:
                vals += ["—", "—", "—"] + ["—"] * len(class_names)
            if self.held_out:
                vals += [_fmt(ho[k]) if ho else "" for k in
                         ("mean_iou", "pixel_accuracy", "boundary_f_score")]
            for c, v in enumerate(vals):
                item = QTableWidgetItem(v)
                if c >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight |
                                          Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # exactly as tall as its rows: the pictures above keep the rest
        height = header.sizeHint().height() + 2 * self.table.frameWidth() + sum(
            self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(max(height, header.sizeHint().height() + 30))
        if not self.scores and self.preds:
            self.table.setToolTip("No ground truth for this picture: open a shapes scene "
                                  "(or give a mask) to score the networks.")


def _fmt(v: float) -> str:
    return "—" if v is None or v != v else f"{v:.3f}"
