"""The Detection tab: the lecture's detectors on one picture, and what each one looks at.

Methods: a sliding window (naive or shared/OverFeat) over an image pyramid, selective-search
proposals classified by R-CNN (warp + classifier) or Fast R-CNN (one trunk pass + RoIAlign),
and MTCNN for faces. Overlays: the windows or proposals, the class-score heat map of one
pyramid level, the final boxes with class and score, and the ground truth of a shapes scene.
"Watch it slide" replays the windows of one level one after another at a chosen speed, the
score map filling in behind them.

All computing is :class:`explorer.detect.pipeline.Detector`, run in a
:class:`~explorer.gui.common.workers.JobRunner`; this widget only draws.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.app.pictures import Image
from explorer.core import colormaps
from explorer.detect.boxes import Detections
from explorer.detect.draw import PALETTE
from explorer.errors import UserError
from explorer.gui.common.canvas import ImageCanvas
from explorer.gui.common.section import SectionHost
from explorer.gui.common.workers import Cancelled, JobContext, JobRunner

#: (label in the combo box, pipeline method, head)
METHODS = [
    ("Sliding window", "sliding", None),
    ("Proposals + R-CNN", "proposals", "rcnn"),
    ("Proposals + Fast R-CNN", "proposals", "fast-rcnn"),
    ("MTCNN (faces)", "mtcnn", None),
]
#: the network used when the window's own network cannot classify windows
FALLBACK_MODEL = "tinyvgg-shapes"
GT_COLOUR = "#ffffff"
WINDOW_COLOUR = "#00e5ff"


def _pen(colour, width: float = 2, dashed: bool = False) -> QPen:
    pen = QPen(QColor(colour))
    pen.setWidthF(width)
    pen.setCosmetic(True)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def rect_path(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outlines of boxes (np [N, 4]) as one polyline with NaN breaks (one plot item draws
    thousands of proposals quickly): (xs, ys) np [N * 6]."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = b.T
    nan = np.full(len(b), np.nan)
    xs = np.stack([x1, x2, x2, x1, x1, nan], 1).ravel()
    ys = np.stack([y1, y1, y2, y2, y1, nan], 1).ravel()
    return xs, ys


def heat_image(probs: np.ndarray, background: int | None, cls: int | None) -> np.ndarray:
    """probs np [K, H', W'] -> float [H', W']: one class's probability, or the best
    non-background class's when `cls` is None."""
    if cls is not None:
        return probs[cls]
    p = probs.copy()
    if background is not None:
        p[background] = 0
    return p.max(axis=0)


class DetectionTab(QWidget):
    """Run a detector on the picture and show how it got there.

    Wiring: ``tab = DetectionTab(parent)``; call :meth:`set_image` with the window's
    :class:`~explorer.core.images.Image` and :meth:`set_network` with its
    :class:`~explorer.core.network.Network` (a classifier is slid / used by R-CNN;
    anything else falls back to tinyvgg-shapes). ``status`` carries one-line messages.
    """

    status = Signal(str)
    #: emitted with the Detections when a run finishes
    detected = Signal(object)

    def __init__(self, parent: QWidget | None = None, device: str = "cpu",
                 host: SectionHost | None = None) -> None:
        super().__init__(parent)
        self.host = host or SectionHost()
        self.device = str(host.device) if host is not None else device
        self.image: np.ndarray | None = None
        self.image_name = ""
        self.gt: tuple[np.ndarray, list[str]] | None = None
        self.network = None
        self.result: Detections | None = None
        self.errors: list[str] = []
        self._networks: dict = {}
        self._anim_i = 0
        self._box_items: list = []
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._on_result)
        self.runner.failed.connect(self._on_failed)
        self.runner.progress.connect(self._on_progress)
        self.runner.busyChanged.connect(self._on_busy)
        self.timer = QTimer(self)
        self.timer.setInterval(30)
        self.timer.timeout.connect(self._tick)
        self._build()
        self._on_method()

    # -- building ---------------------------------------------------------------------
    def _build(self) -> None:
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Method:"))
        self.method = QComboBox()
        for label, _m, _h in METHODS:
            self.method.addItem(label)
        self.method.currentIndexChanged.connect(self._on_method)
        row1.addWidget(self.method)
        self.impl = QComboBox()
        self.impl.addItems(["auto", "shared", "naive"])
        self.impl.setToolTip("shared: the classifier runs as convolutions once over each "
                             "level (OverFeat); naive: every window is cut out and "
                             "classified; auto: shared where the network allows it")
        row1.addWidget(self.impl)
        self.window_label = QLabel("window")
        row1.addWidget(self.window_label)
        self.window_spin = QSpinBox()
        self.window_spin.setRange(0, 1024)
        self.window_spin.setSpecialValueText("auto")
        self.window_spin.setToolTip("window side in pyramid pixels (auto: the network's input)")
        row1.addWidget(self.window_spin)
        self.stride_label = QLabel("stride")
        row1.addWidget(self.stride_label)
        self.stride_spin = QSpinBox()
        self.stride_spin.setRange(0, 512)
        self.stride_spin.setSpecialValueText("auto")
        row1.addWidget(self.stride_spin)
        self.scales_label = QLabel("scales")
        row1.addWidget(self.scales_label)
        self.scales_edit = QLineEdit("")
        self.scales_edit.setPlaceholderText("auto (e.g. 2,1.6,1.25,1,0.8)")
        self.scales_edit.setMinimumWidth(150)
        row1.addWidget(self.scales_edit)
        self.mode_label = QLabel("proposals")
        row1.addWidget(self.mode_label)
        self.mode = QComboBox()
        self.mode.addItems(["fast", "quality"])
        self.mode.setToolTip("selective search: fast (fewer strategies) or quality")
        row1.addWidget(self.mode)
        row1.addWidget(QLabel("threshold"))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.5)
        row1.addWidget(self.threshold)
        row1.addWidget(QLabel("NMS IoU"))
        self.iou = QDoubleSpinBox()
        self.iou.setRange(0.05, 1.0)
        self.iou.setSingleStep(0.05)
        self.iou.setValue(0.3)
        row1.addWidget(self.iou)
        row1.addStretch(1)

        row2 = QHBoxLayout()
        self.run_button = QPushButton("Detect")
        self.run_button.clicked.connect(self.run)
        row2.addWidget(self.run_button)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row2.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(220)
        row2.addWidget(self.progress)
        self.scene_spin = QSpinBox()
        self.scene_spin.setRange(0, 999_999)
        self.scene_spin.setValue(7)
        self.scene_spin.setToolTip("seed of a held-out shapes scene (it has ground truth)")
        row2.addWidget(QLabel("scene"))
        row2.addWidget(self.scene_spin)
        self.scene_button = QPushButton("Show scene")
        self.scene_button.clicked.connect(lambda: self.set_scene(self.scene_spin.value()))
        row2.addWidget(self.scene_button)
        row2.addSpacing(16)
        self.slide_button = QPushButton("Watch it slide")
        self.slide_button.setCheckable(True)
        self.slide_button.toggled.connect(self._on_animate)
        row2.addWidget(self.slide_button)
        row2.addWidget(QLabel("speed"))
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(1, 200)
        self.speed.setValue(20)
        self.speed.setFixedWidth(120)
        self.speed.setToolTip("windows (or proposals) shown per frame")
        row2.addWidget(self.speed)
        row2.addStretch(1)

        row3 = QHBoxLayout()
        self.show_windows = QCheckBox("windows / proposals")
        self.show_heat = QCheckBox("heat map")
        self.show_boxes = QCheckBox("boxes")
        self.show_gt = QCheckBox("ground truth")
        for box in (self.show_windows, self.show_heat, self.show_boxes, self.show_gt):
            box.setChecked(box is not self.show_windows)  # hundreds of windows hide all
            box.toggled.connect(self._redraw)
            row3.addWidget(box)
        row3.addWidget(QLabel("level"))
        self.level = QComboBox()
        self.level.currentIndexChanged.connect(self._redraw)
        row3.addWidget(self.level)
        row3.addWidget(QLabel("class"))
        self.heat_class = QComboBox()
        self.heat_class.currentIndexChanged.connect(self._redraw)
        row3.addWidget(self.heat_class)
        row3.addStretch(1)

        self.canvas = ImageCanvas(background="#202020")
        self.canvas.setMinimumSize(320, 320)
        view = self.canvas.view
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(5)
        self.heat.setOpacity(0.8)
        view.addItem(self.heat)
        self.windows_item = pg.PlotCurveItem(pen=pg.mkPen(WINDOW_COLOUR, width=1),
                                             connect="finite")
        self.windows_item.setZValue(6)
        view.addItem(self.windows_item, ignoreBounds=True)
        self.gt_item = pg.PlotCurveItem(pen=pg.mkPen(GT_COLOUR, width=2,
                                                     style=Qt.PenStyle.DashLine),
                                        connect="finite")
        self.gt_item.setZValue(7)
        view.addItem(self.gt_item, ignoreBounds=True)
        self.current = QGraphicsRectItem()
        self.current.setPen(_pen("#ffea00", 3))
        self.current.setZValue(12)
        self.current.setVisible(False)
        view.addItem(self.current, ignoreBounds=True)

        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.timings = QLabel("")
        self.timings.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addLayout(row3)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.info)
        layout.addWidget(self.timings)

    # -- public -----------------------------------------------------------------------
    def set_image(self, image: Image | np.ndarray | None, gt=None) -> None:
        """Show `image` (Image or float [H, W, 3] in [0, 1]); `gt` = (boxes np [G, 4],
        names) draws the ground truth. The "shapes" sample gets its own."""
        if image is None:
            return
        if isinstance(image, Image):
            self.image_name = image.name
            if gt is None and image.name == "shapes":
                from explorer.data.shapes import CLASSES, make_scene

                scene = make_scene(7, size=(128, 128))  # what the sample draws
                gt = (scene.boxes, [CLASSES[i] for i in scene.labels])
            array = image.array
        else:
            self.image_name = "picture"
            array = np.asarray(image, np.float32)
        self.image = np.ascontiguousarray(array, np.float32)
        self.gt = gt
        self.result = None
        self._stop_animation()
        self.canvas.set_image(self.image)
        self._redraw()

    def set_scene(self, seed: int) -> None:
        """A held-out shapes scene with its ground truth."""
        from explorer.data.shapes import CLASSES, TEST_SEED, make_scene

        self.scene_spin.setValue(int(seed))
        scene = make_scene(np.random.default_rng((TEST_SEED, int(seed))), (128, 128))
        self.set_image(scene.image, gt=(scene.boxes, [CLASSES[i] for i in scene.labels]))
        self.image_name = f"held-out scene {seed}"

    def set_device(self, device) -> None:
        """Compute on `device` from the next run on."""
        self.device = str(device)

    def set_picture(self, picture) -> None:
        self.set_image(picture)

    def set_network(self, network) -> None:
        """The window's network: slid or used for R-CNN when it is a classifier."""
        self.network = network

    def config(self):
        from explorer.detect.pipeline import DetectConfig
        from explorer.detect.sliding import parse_scales

        _label, method, head = METHODS[self.method.currentIndex()]
        text = self.scales_edit.text().strip()
        scales = tuple(parse_scales(text)) if text else None
        net = self._classifier_network()
        return DetectConfig(method=method, model=net.name if net else FALLBACK_MODEL,
                            impl=self.impl.currentText(), head=head or "fast-rcnn",
                            window=self.window_spin.value() or None,
                            stride=self.stride_spin.value() or None, scales=scales,
                            threshold=self.threshold.value(), iou=self.iou.value(),
                            mode=self.mode.currentText(), device=self.device)

    def run(self) -> int | None:
        """Detect in a worker; returns the request id (None when there is nothing to do)."""
        if self.image is None:
            self.show_error("Open a picture first.")
            return None
        try:
            cfg = self.config()
        except UserError as exc:
            self.show_error(str(exc))
            return None
        from explorer.detect.pipeline import Detector

        image, network, cache = self.image, self._classifier_network(), self._networks
        self._stop_animation()

        def job(ctx: JobContext):
            from explorer.detect.mtcnn import DetectionCancelled

            key = (cfg.method, cfg.head, cfg.model)
            det = cache.get(key)
            if det is None or det.config != cfg:
                old = det
                det = Detector(cfg, network)
                if old is not None:  # keep networks already loaded
                    det._network, det._classifier, det._fast = (
                        old._network, old._classifier, old._fast)
                cache[key] = det
            try:
                return det(image, should_stop=lambda: ctx.cancelled,
                           progress=ctx.progress)
            except DetectionCancelled:
                raise Cancelled from None

        self.status.emit("detecting…")
        return self.runner.submit(job)

    def cancel(self) -> None:
        self.runner.cancel()
        self.status.emit("cancelled")

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def shutdown(self) -> None:
        self._stop_animation()
        self.runner.shutdown()

    def show_error(self, message: str) -> None:
        self.errors.append(message)
        self.info.setText(f"<span style='color:#c62828'>{message}</span>")
        self.status.emit(message)

    # -- internals --------------------------------------------------------------------
    def _classifier_network(self):
        net = self.network
        if net is not None and getattr(net, "task", "") in ("classify", "detect-stage") \
                and net.name != "fast-rcnn-shapes":
            return net
        return None

    def _on_method(self, *_args) -> None:
        method = METHODS[self.method.currentIndex()][1]
        sliding = method == "sliding"
        for w in (self.impl, self.window_label, self.window_spin, self.stride_label,
                  self.stride_spin, self.scales_label, self.scales_edit):
            w.setVisible(sliding)
        for w in (self.mode_label, self.mode):
            w.setVisible(method == "proposals")
        self.level.setEnabled(sliding)
        self.heat_class.setEnabled(sliding)

    def _on_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(bool(busy))
        if not busy:
            self.progress.setValue(100 if self.result is not None else 0)

    def _on_progress(self, message: str, fraction: float) -> None:
        if fraction >= 0:
            self.progress.setValue(int(round(fraction * 100)))
        self.status.emit(message)

    def _on_failed(self, exc, message: str) -> None:
        if isinstance(exc, UserError):
            self.show_error(message)
        else:
            self.show_error(message.splitlines()[0] if message else "detection failed")

    def _on_result(self, det: Detections) -> None:
        self.result = det
        self.progress.setValue(100)
        maps = det.extra.get("maps") or []
        self.level.blockSignals(True)
        self.heat_class.blockSignals(True)
        self.level.clear()
        for m in maps:
            nh, nw = m.probs.shape[-2:]
            self.level.addItem(f"x{m.scale:g} ({nw}x{nh} windows of {m.window[1]:.0f} px)")
        self.heat_class.clear()
        self.heat_class.addItem("best object class")
        for name in det.class_names:
            self.heat_class.addItem(name)
        self.level.blockSignals(False)
        self.heat_class.blockSignals(False)
        found = ", ".join(f"{n} {s:.2f}" for n, s in zip(det.names[:8], det.scores.tolist()))
        looked = (f"{det.extra['windows']} windows" if "windows" in det.extra else
                  f"{len(det.proposals)} proposals" if det.proposals is not None else "")
        self.info.setText(f"{det.method}: {len(det)} box(es) from {looked}"
                          + (f": {found}" if found else ""))
        self.timings.setText("time: " + ", ".join(f"{k} {v * 1e3:.0f} ms"
                                                  for k, v in det.timings.items()))
        self.status.emit(f"{len(det)} detection(s) in {det.timings.get('total', 0):.2f} s")
        self._redraw()
        self.detected.emit(det)

    # -- drawing ----------------------------------------------------------------------
    def _current_map(self):
        if self.result is None:
            return None
        maps = self.result.extra.get("maps") or []
        i = self.level.currentIndex()
        return maps[i] if 0 <= i < len(maps) else None

    def _heat(self, m, upto: int | None = None) -> None:
        det = self.result
        probs = m.probs.numpy()
        k = self.heat_class.currentIndex()
        bg = 0 if det.class_names and det.class_names[0] in ("background", "not face") else None
        img = heat_image(probs, bg, k - 1 if k > 0 else None)
        if upto is not None:  # the animation fills the map in window order
            flat = img.ravel().copy()
            flat[upto:] = np.nan
            img = flat.reshape(img.shape)
        rgba = np.zeros(img.shape + (4,), np.uint8)
        ok = np.isfinite(img)
        rgba[ok, :3] = colormaps.apply(np.clip(img[ok], 0, 1)[None], "inferno")[0]
        # mostly transparent where no object is seen, so the picture shows through, yet
        # every scored window is tinted (the animation's fill-in stays visible)
        rgba[ok, 3] = np.round(50 + np.sqrt(np.clip(img[ok], 0, 1)) * 170).astype(np.uint8)
        self.heat.setImage(rgba, levels=(0, 255))
        nh, nw = img.shape
        # cell (i, j) is drawn over the centre of window (i, j), one stride wide
        x0 = m.origin[0] + m.window[1] / 2 - m.step / 2
        y0 = m.origin[1] + m.window[0] / 2 - m.step / 2
        self.heat.setRect(QRectF(x0, y0, nw * m.step, nh * m.step))
        self.heat.setVisible(True)

    def _clear_boxes(self) -> None:
        for item in self._box_items:
            self.canvas.view.removeItem(item)
        self._box_items = []

    def _redraw(self, *_args) -> None:
        self._clear_boxes()
        self.heat.setVisible(False)
        self.windows_item.setData([], [])
        self.gt_item.setData([], [])
        if self.image is None:
            return
        if self.gt is not None and self.show_gt.isChecked() and len(self.gt[0]):
            self.gt_item.setData(*rect_path(self.gt[0]))
        det = self.result
        if det is None:
            return
        m = self._current_map()
        if m is not None and self.show_heat.isChecked() and not self.timer.isActive():
            self._heat(m)
        if self.show_windows.isChecked() and not self.timer.isActive():
            if m is not None:
                boxes = m.boxes().numpy()
                step = max(1, len(boxes) // 400)  # a readable sample of the windows
                self.windows_item.setData(*rect_path(boxes[::step]))
            elif det.proposals is not None:
                self.windows_item.setData(*rect_path(det.proposals.numpy()[:2000]))
        if self.show_boxes.isChecked() and not self.timer.isActive():
            for b, s, lab in zip(det.boxes.tolist(), det.scores.tolist(), det.labels.tolist()):
                colour = PALETTE[int(lab) % len(PALETTE)]
                rect = QGraphicsRectItem(QRectF(b[0], b[1], b[2] - b[0], b[3] - b[1]))
                rect.setPen(_pen(QColor(*colour), 3))
                rect.setZValue(10)
                text = pg.TextItem(f"{det.class_names[lab]} {s:.2f}", color=(0, 0, 0),
                                   fill=pg.mkBrush(*colour), anchor=(0, 1))
                text.setPos(b[0], b[1])
                text.setZValue(11)
                for item in (rect, text):
                    self.canvas.view.addItem(item, ignoreBounds=True)
                    self._box_items.append(item)

    # -- animation --------------------------------------------------------------------
    def _anim_boxes(self) -> np.ndarray | None:
        if self.result is None:
            return None
        m = self._current_map()
        if m is not None:
            return m.boxes().numpy()
        if self.result.proposals is not None:
            return self.result.proposals.numpy()
        return None

    def _on_animate(self, on: bool) -> None:
        if on:
            if self._anim_boxes() is None or not len(self._anim_boxes()):
                self.slide_button.setChecked(False)
                self.show_error("Detect first: the animation replays the windows or "
                                "proposals of the last run.")
                return
            self._anim_i = 0
            self.timer.start()
            self._redraw()  # final boxes wait until the replay ends
        else:
            self._stop_animation()

    def _stop_animation(self) -> None:
        self.timer.stop()
        self.current.setVisible(False)
        if self.slide_button.isChecked():
            self.slide_button.blockSignals(True)
            self.slide_button.setChecked(False)
            self.slide_button.blockSignals(False)
        self._redraw()

    def _tick(self) -> None:
        boxes = self._anim_boxes()
        if boxes is None or self._anim_i >= len(boxes):
            self._stop_animation()
            return
        self._anim_i = min(len(boxes), self._anim_i + self.speed.value())
        x1, y1, x2, y2 = boxes[self._anim_i - 1]
        self.current.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        self.current.setVisible(True)
        m = self._current_map()
        if m is not None:
            if self.show_heat.isChecked():
                self._heat(m, upto=self._anim_i)
            p = m.probs.flatten(1)[:, self._anim_i - 1]
            best = int(p.argmax())
            self.info.setText(f"window {self._anim_i}/{len(boxes)}: "
                              f"{self.result.class_names[best]} {float(p[best]):.2f}")
        else:
            probs = self.result.extra.get("region_probs")
            msg = f"proposal {self._anim_i}/{len(boxes)}"
            if probs is not None and len(probs) >= self._anim_i:
                p = probs[self._anim_i - 1]
                best = int(p.argmax())
                msg += f": {self.result.class_names[best]} {float(p[best]):.2f}"
            self.info.setText(msg)
            start = max(0, self._anim_i - 50)  # a trail of the last proposals
            self.windows_item.setData(*rect_path(boxes[start:self._anim_i]))
