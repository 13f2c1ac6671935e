"""The Detection section: the lecture's detectors on a picture of its own, and what each
one looks at.

Methods: a sliding window (naive or shared/OverFeat) over an image pyramid, selective-search
proposals classified by R-CNN (warp + classifier) or Fast R-CNN (one trunk pass + RoIAlign),
and MTCNN for faces. Each method offers only the networks that can do its job. Overlays: the
windows or proposals, the class-score heat map of one pyramid level, the final boxes with
class and score (labels placed so that none hides another or a box), and the ground truth
of a shapes scene. "Watch it slide" replays the windows of one level one after another
(15 seconds at the default speed), the score map filling in behind them.

The section stands on its own: its own picture (a sample, a held-out scene, a file, or
Explore's when asked) and network, computed on the window's device. A choice that cannot
give a meaningful answer says so above the picture, in words. All computing is
:class:`explorer.detect.pipeline.Detector`, run in a
:class:`~explorer.gui.common.workers.JobRunner`; this widget only draws.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QElapsedTimer, QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.app.pictures import MAX_SCENE, SAMPLE_NAMES, Image
from explorer.core import colormaps
from explorer.detect import advice
from explorer.detect.boxes import Detections
from explorer.detect.draw import (
    CURRENT_COLOUR,
    TRUTH_COLOURS,
    WINDOW_COLOUR,
    class_colour,
    label_text,
    leader,
    place_labels,
    text_on,
)
from explorer.errors import UserError
from explorer.gui.common.canvas import ImageCanvas
from explorer.gui.common.flow import FlowRow
from explorer.gui.common.section import SectionHost
from explorer.gui.common.workers import JobContext, JobRunner

#: (label in the combo box, pipeline method, head)
METHODS = [
    ("Sliding window", "sliding", None),
    ("Proposals + R-CNN", "proposals", "rcnn"),
    ("Proposals + Fast R-CNN", "proposals", "fast-rcnn"),
    ("MTCNN (faces)", "mtcnn", None),
    ("Faster R-CNN (photos)", "faster-rcnn", None),
]
#: shipped classifiers a window can be shown to, best suited first
SHIPPED_CLASSIFIERS = ("tinyvgg-shapes", "lenet5-digits", "mtcnn-pnet")
MTCNN = "mtcnn"
FAST_RCNN = "fast-rcnn-shapes"
#: torchvision's Faster R-CNNs as the network list names them
FASTER_LABELS = {"fasterrcnn_mobilenet_v3_large_320_fpn": "MobileNet-v3, 320 px",
                 "fasterrcnn_mobilenet_v3_large_fpn": "MobileNet-v3, 800 px",
                 "fasterrcnn_resnet50_fpn": "ResNet-50 FPN",
                 "fasterrcnn_resnet50_fpn_v2": "ResNet-50 FPN v2"}
DEFAULT_PICTURE = "sample:shapes"
#: "Watch it slide" at its default speed lasts this long, whatever the number of windows
SWEEP_SECONDS = 15.0
#: the speed slider runs from this slow (seconds for a whole sweep) to this fast
SWEEP_SLOWEST, SWEEP_FASTEST = 60.0, 2.0
#: room around the picture (a fraction of its side) for labels outside the boxes
MARGIN = 0.1

# text takes the palette's colours (a dark presentation palette stays readable); only the
# frames have a colour of their own, Okabe-Ito's vermillion
STYLE = """
QLabel#detTitle { font-weight: bold; }
QLabel#detNotice { border: 2px solid #D55E00; border-radius: 3px; padding: 4px 8px; }
QLabel#detError { border: 2px solid #D55E00; border-radius: 3px; padding: 4px 8px;
                  font-weight: bold; }
QLabel#detCaption { color: palette(text); }
"""


def _pen(colour, width: float = 3, dashed: bool = False) -> QPen:
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


def breakable(text: str, longest: int = 24) -> str:
    """`text` with a zero-width space after each "/", ".", "_" or "(" of a word longer than
    `longest`: a label wraps a path or a dotted name there instead of growing the column
    past the window (a QLabel breaks lines only at spaces)."""
    def split(word: str) -> str:
        if len(word) <= longest:
            return word
        return re.sub(r"([/._(])", "\\1\u200b", word)

    return " ".join(split(w) for w in text.split(" "))


def heat_image(probs: np.ndarray, background: int | None, cls: int | None) -> np.ndarray:
    """probs np [K, H', W'] -> float [H', W']: one class's probability, or the best
    non-background class's when `cls` is None."""
    if cls is not None:
        return probs[cls]
    p = probs.copy()
    if background is not None:
        p[background] = 0
    return p.max(axis=0)


def sweep_seconds_at(position: int) -> float:
    """Seconds a whole sweep lasts at speed-slider `position` (0 slow .. 100 fast)."""
    f = min(max(position, 0), 100) / 100
    return SWEEP_SLOWEST * (SWEEP_FASTEST / SWEEP_SLOWEST) ** f


#: the slider position whose sweep lasts SWEEP_SECONDS
DEFAULT_SPEED = round(100 * math.log(SWEEP_SECONDS / SWEEP_SLOWEST)
                      / math.log(SWEEP_FASTEST / SWEEP_SLOWEST))


@dataclass
class Run:
    """One detection as the view shows it."""

    det: Detections
    network: str
    random_weights: bool
    device: str
    picture: int  # the picture generation it was computed on


def _describe(image: Image) -> str:
    """"held-out shapes scene 5 (128x128)", "sample astronaut (512x512)", "cat.jpg (...)"."""
    h, w = image.array.shape[:2]
    source = image.source or image.name
    if source.startswith("scene:"):
        what = f"held-out shapes scene {source.split(':', 1)[1]}"
    elif source.startswith("sample:"):
        what = f"sample picture '{source.split(':', 1)[1]}'"
    else:
        what = image.name
    return f"{what} ({w}x{h})"


class _Column(QWidget):
    """The picture and its captions. The wrapped captions give its layout a height for
    each width, and the window's scroll area would then reserve their *preferred* height
    and scroll the whole section; saying "no height-for-width" lets the picture shrink
    instead (the captions still get the lines they need when the column is laid out)."""

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt name)
        return False


class DetectionTab(QWidget):
    """Run a detector on the section's own picture and show how it got there.

    Built by the window as ``DetectionTab(host=SectionHost(...))``; it computes on
    ``host.device`` (:meth:`set_device` changes it), starts on ``sample:shapes`` with
    tinyvgg-shapes, and uses Explore's picture only when "Use Explore's picture" is
    pressed. ``status`` carries one-line messages for the window's status bar.
    """

    status = Signal(str)
    #: emitted with the Detections when a run finishes
    detected = Signal(object)

    def __init__(self, parent: QWidget | None = None, host: SectionHost | None = None,
                 run_when_shown: bool = True) -> None:
        super().__init__(parent)
        self.host = host or SectionHost()
        #: detect in the default picture the first time the section is shown
        self.run_when_shown = run_when_shown
        self.device = torch.device(self.host.device)
        self.picture: Image | None = None
        self.run_result: Run | None = None
        self.errors: list[str] = []
        self._networks: dict[tuple[str, str], object] = {}
        self._available = self._availability()
        self._generation = 0
        self._anim_i = 0
        self._anim_start = 0
        self._anim_clock = QElapsedTimer()
        self._replay_after_run = False
        self._shown = False
        # a theme or zoom change sends a font, a style and a palette change to every
        # widget, and fitting the columns each time made F11 0.5 s slower: fit once
        # after the last (a child timer: it goes with the section)
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(0)
        self._refit.timeout.connect(self._fit_controls)
        self._refit.timeout.connect(self._redraw_labels)
        self._box_items: list = []
        self._labels: list = []
        self._halos: list = []
        self._leaders: list = []
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._on_result)
        self.runner.failed.connect(self._on_failed)
        self.runner.progress.connect(self._on_progress)
        self.runner.busyChanged.connect(self._on_busy)
        self.timer = QTimer(self)
        self.timer.setInterval(40)
        self.timer.timeout.connect(self._tick)
        self._relabel = QTimer(self)
        self._relabel.setSingleShot(True)
        self._relabel.setInterval(0)
        self._relabel.timeout.connect(self._place_labels)
        self.setStyleSheet(STYLE)
        self._build()
        self._on_method()
        self.open_spec(DEFAULT_PICTURE)

    # -- compatibility -------------------------------------------------------------------
    @property
    def result(self) -> Detections | None:
        return self.run_result.det if self.run_result is not None else None

    @property
    def image(self) -> np.ndarray | None:
        return self.picture.array if self.picture is not None else None

    @property
    def gt(self) -> tuple[np.ndarray, list[str]] | None:
        truth = self.picture.truth if self.picture is not None else None
        return (truth.boxes, truth.names) if truth is not None else None

    # -- building ---------------------------------------------------------------------
    def _build(self) -> None:
        # two columns of controls beside the picture: what to detect with on the left,
        # what to show (and the replay) on the right, so that at 1366x768 in presentation
        # mode every control is on screen without scrolling
        self.controls = self._column(self._title("Picture"), self._picture_controls(),
                                     self._rule(), self._title("Detector"),
                                     self._detector_controls())
        show = self._show_controls()

        self.notice = QLabel("")
        self.notice.setObjectName("detNotice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.error_label = QLabel("")
        self.error_label.setObjectName("detError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)

        self.canvas = ImageCanvas(background=self.palette().color(QPalette.ColorRole.Base))
        self.canvas.setMinimumSize(240, 200)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        view = self.canvas.view
        view.sigTransformChanged.connect(lambda *_: self._relabel.start())
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(5)
        self.heat.setOpacity(0.8)
        view.addItem(self.heat)
        window_pen = pg.mkPen(WINDOW_COLOUR, width=2)
        self.windows_item = pg.PlotCurveItem(pen=window_pen, connect="finite")
        self.windows_item.setZValue(6)
        view.addItem(self.windows_item, ignoreBounds=True)
        # ground truth: white dashes over a black line, readable on any picture
        self.gt_under = pg.PlotCurveItem(pen=pg.mkPen(TRUTH_COLOURS[1], width=4),
                                         connect="finite")
        self.gt_item = pg.PlotCurveItem(pen=pg.mkPen(TRUTH_COLOURS[0], width=2,
                                                     style=Qt.PenStyle.DashLine),
                                        connect="finite")
        for z, item in enumerate((self.gt_under, self.gt_item)):
            item.setZValue(7 + z * 0.1)
            view.addItem(item, ignoreBounds=True)
        self.current = QGraphicsRectItem()
        self.current.setPen(_pen(CURRENT_COLOUR, 4))
        self.current.setZValue(12)
        self.current.setVisible(False)
        view.addItem(self.current, ignoreBounds=True)

        self.caption = QLabel("")
        self.caption.setObjectName("detCaption")
        self.caption.setWordWrap(True)
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.timings = QLabel("")
        self.timings.setWordWrap(True)

        column = _Column()
        right = QVBoxLayout(column)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.error_label)
        right.addWidget(self.notice)
        right.addWidget(self.canvas, 1)
        right.addWidget(self.caption)
        # the key to the colours, what was found and how long it took beside the
        # picture, under the replay controls: the picture keeps the height (in
        # presentation mode at 1366x768 it was left a third of it)
        self.show_panel = self._column(self._title("Show"), show, self._rule(),
                                       self.legend, self.info, self.timings)
        self._fit_controls()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.controls)
        layout.addWidget(column, 1)
        layout.addWidget(self.show_panel)

    @staticmethod
    def _column(*parts) -> QScrollArea:
        """A column of controls (widgets and layouts) in a scroll area that never scrolls
        sideways (a safety net for a very large zoom; at classroom sizes it never scrolls)."""
        controls = QWidget()
        side = QVBoxLayout(controls)
        side.setContentsMargins(4, 4, 4, 4)
        for part in parts:
            if isinstance(part, QWidget):
                side.addWidget(part)
            else:
                side.addLayout(part)
        side.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        return scroll

    #: each column of controls may take this share of the section's width (if it needs
    #: it), the picture at least the rest
    COLUMN_SHARE = 0.275

    def _fit_controls(self) -> None:
        """Each column as wide as its controls' text needs (larger in presentation mode),
        so nothing is clipped and nothing scrolls sideways; the picture takes the rest.
        Rows of buttons and check boxes wrap (FlowRow): in a narrow window (a 1024-wide
        projector) a column is only as wide as its widest control, in a wide one it takes
        up to :attr:`COLUMN_SHARE` of the width and its rows wrap less."""
        share = int(max(0, self.width() - 12) * self.COLUMN_SHARE)
        for scroll in (self.controls, self.show_panel):
            inner = scroll.widget()
            inner.adjustSize()
            bar = scroll.verticalScrollBar().sizeHint().width()
            least = inner.minimumSizeHint().width() + bar + 4
            ample = inner.sizeHint().width() + bar + 4
            width = max(least, min(ample, share))
            if (scroll.minimumWidth(), scroll.maximumWidth()) != (width, width):
                scroll.setFixedWidth(width)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if hasattr(self, "show_panel"):
            self._fit_controls()

    def _redraw_labels(self) -> None:
        """The boxes' labels in the text size of now: after F11 or a zoom they kept the
        size they were drawn in (small on a projector) until the next detection."""
        if self._labels:
            self._redraw()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        kind = event.type()
        if kind in (QEvent.Type.FontChange, QEvent.Type.StyleChange,
                    QEvent.Type.PaletteChange):
            if hasattr(self, "show_panel"):
                self._refit.start()
            if hasattr(self, "canvas"):
                self.canvas.setBackground(self.palette().color(QPalette.ColorRole.Base))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """The first time the section is shown it detects in its own picture, as the other
        sections do: a class sees boxes at once; Detect is for what they change."""
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            if self.run_when_shown:
                QTimer.singleShot(0, self._first_run)

    def _first_run(self) -> None:
        if self.run_result is None and not self.runner.busy and self.picture is not None:
            self.run()

    @staticmethod
    def _title(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("detTitle")
        return label

    @staticmethod
    def _rule() -> QFrame:
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        return line

    @staticmethod
    def _form() -> QFormLayout:
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        return form

    @staticmethod
    def _combo() -> QComboBox:
        box = QComboBox()
        # long names must not widen the column (no sideways scrolling)
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(8)
        return box

    def _picture_controls(self) -> QVBoxLayout:
        box = QVBoxLayout()
        form = self._form()
        self.sample = self._combo()
        self.sample.addItems(SAMPLE_NAMES)
        self.sample.setPlaceholderText("(another picture)")
        self.sample.setCurrentText("shapes")
        self.sample.setToolTip("a picture that ships with the explorer; 'shapes' has its "
                               "ground truth")
        self.sample.activated.connect(
            lambda _i: self.open_spec(f"sample:{self.sample.currentText()}"))
        form.addRow("Sample:", self.sample)
        scene_row = QHBoxLayout()
        self.scene_spin = QSpinBox()
        self.scene_spin.setRange(0, MAX_SCENE)
        self.scene_spin.setValue(5)
        self.scene_spin.setToolTip("held-out shapes scene N (scene:N on the command line), "
                                   "with its ground truth; never seen in training")
        scene_row.addWidget(self.scene_spin, 1)
        self.scene_button = QPushButton("Show")
        self.scene_button.clicked.connect(lambda: self.set_scene(self.scene_spin.value()))
        scene_row.addWidget(self.scene_button)
        form.addRow("Scene:", scene_row)
        box.addLayout(form)
        buttons = FlowRow()  # wrapping: side by side they widened the column
        self.open_button = QPushButton("Open file…")
        self.open_button.clicked.connect(self.ask_image)
        buttons.add(self.open_button)
        self.explore_button = QPushButton("Use Explore's picture")
        self.explore_button.clicked.connect(self.use_explore)
        buttons.add(self.explore_button)
        box.addWidget(buttons)
        return box

    def _detector_controls(self) -> QVBoxLayout:
        box = QVBoxLayout()
        form = self._form()
        self.method = self._combo()
        for label, _m, _h in METHODS:
            self.method.addItem(label)
        self.method.currentIndexChanged.connect(self._on_method)
        form.addRow("Method:", self.method)
        self.network = self._combo()
        self.network.setToolTip("the networks that can do this method's job")
        self.network.currentIndexChanged.connect(self._input_changed)
        form.addRow("Network:", self.network)
        self.impl = self._combo()
        self.impl.addItems(["auto", "shared", "naive"])
        self.impl.setToolTip("shared: the classifier runs as convolutions once over each "
                             "level (OverFeat); naive: every window is cut out and "
                             "classified; auto: shared where the network allows it")
        self.impl_label = QLabel("Windows:")
        form.addRow(self.impl_label, self.impl)
        self.window_spin = QSpinBox()
        self.window_spin.setRange(0, 4096)
        self.window_spin.setSpecialValueText("auto")
        self.window_spin.setToolTip("window side in pyramid pixels (auto: the network's input)")
        self.window_label = QLabel("Window:")
        self.stride_label = QLabel("stride:")
        self.size_row = QWidget()
        pair = QHBoxLayout(self.size_row)
        pair.setContentsMargins(0, 0, 0, 0)
        pair.addWidget(self.window_spin, 1)
        pair.addWidget(self.stride_label)
        self.stride_spin = QSpinBox()
        self.stride_spin.setRange(0, 4096)
        self.stride_spin.setSpecialValueText("auto")
        self.stride_spin.setToolTip("pixels between windows (auto: the network's own step)")
        pair.addWidget(self.stride_spin, 1)
        form.addRow(self.window_label, self.size_row)
        self.scales_edit = QLineEdit("")
        self.scales_edit.setPlaceholderText("auto, e.g. 2,1.6,1.25,1,0.8")
        self.scales_edit.setToolTip("pyramid levels as factors of the picture's size")
        self.scales_label = QLabel("Scales:")
        form.addRow(self.scales_label, self.scales_edit)
        self.mode = self._combo()
        self.mode.addItems(["fast", "quality"])
        self.mode.setToolTip("selective search: fast (fewer strategies) or quality")
        self.mode_label = QLabel("Proposals:")
        form.addRow(self.mode_label, self.mode)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.5)
        self.threshold.setToolTip("least class probability for a box (MTCNN: O-Net's)")
        cut = QHBoxLayout()
        cut.addWidget(self.threshold, 1)
        cut.addWidget(QLabel("NMS IoU:"))
        self.iou = QDoubleSpinBox()
        self.iou.setRange(0.05, 1.0)
        self.iou.setSingleStep(0.05)
        self.iou.setValue(0.3)
        self.iou.setToolTip("non-maximum suppression: a box overlapping a better one of "
                            "the same class by more than this is dropped")
        cut.addWidget(self.iou, 1)
        form.addRow("Threshold:", cut)
        for w in (self.impl, self.mode):
            w.currentIndexChanged.connect(self._input_changed)
        for w in (self.window_spin, self.stride_spin):
            w.valueChanged.connect(self._input_changed)
        for w in (self.threshold, self.iou):
            w.valueChanged.connect(self._input_changed)
        self.scales_edit.textChanged.connect(self._input_changed)
        box.addLayout(form)
        run = FlowRow()  # wrapping: the bar goes under the buttons in a narrow column
        self.run_button = QPushButton("Detect")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        run.add(self.run_button)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        run.add(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        run.add(self.progress, 1)
        box.addWidget(run)
        return box

    def _show_controls(self) -> QVBoxLayout:
        box = QVBoxLayout()
        grid = FlowRow()  # wrapping: two abreast they widened the column
        self.show_windows = QCheckBox("windows / proposals")
        self.show_heat = QCheckBox("heat map")
        self.show_heat.setToolTip("where the chosen class fires: every pyramid level at "
                                  "once, scaled to its own peak")
        self.show_boxes = QCheckBox("boxes")
        self.show_gt = QCheckBox("ground truth")
        for check in (self.show_boxes, self.show_gt, self.show_heat, self.show_windows):
            check.setChecked(check is not self.show_windows)  # hundreds of windows hide all
            check.toggled.connect(self._redraw)
            grid.add(check)
        box.addWidget(grid)
        form = self._form()
        self.level = self._combo()
        self.level.setToolTip("the pyramid level whose windows are shown and replayed: "
                              "its scale, windows across x down, and the window's side")
        self.level.setPlaceholderText("(after Detect)")
        self.level.currentIndexChanged.connect(self._on_level)
        self.level_label = QLabel("Level:")
        form.addRow(self.level_label, self.level)
        self.heat_class = self._combo()
        self.heat_class.setToolTip("the class whose probability the heat map shows")
        self.heat_class.setPlaceholderText("(after Detect)")
        self.heat_class.currentIndexChanged.connect(self._redraw)
        self.heat_label = QLabel("Heat of:")
        form.addRow(self.heat_label, self.heat_class)
        box.addLayout(form)
        self.slide_button = QPushButton("Watch it slide")
        self.slide_button.setCheckable(True)
        self.slide_button.setToolTip("replay the windows (or proposals) of the last run one "
                                     "after another")
        self.slide_button.toggled.connect(self._on_animate)
        box.addWidget(self.slide_button)
        speed = QHBoxLayout()
        speed.addWidget(QLabel("Speed: slow"))
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(0, 100)
        self.speed.setValue(DEFAULT_SPEED)
        self.speed.setToolTip("how fast the replay goes (a whole sweep takes "
                              f"{SWEEP_SLOWEST:.0f} s at slow, {SWEEP_FASTEST:.0f} s at fast)")
        self.speed.valueChanged.connect(self._on_speed)
        speed.addWidget(self.speed, 1)
        speed.addWidget(QLabel("fast"))
        box.addLayout(speed)
        self.speed_label = QLabel("")
        self.speed_label.setWordWrap(True)
        box.addWidget(self.speed_label)
        return box

    # -- the Section protocol -----------------------------------------------------------
    def set_device(self, device) -> None:
        """Compute on `device` from the next run on (networks are opened there again)."""
        self.device = torch.device(device)
        self._networks.clear()
        self.status.emit(f"Detection computes on {self.device}")

    def set_picture(self, picture: Image | None) -> None:
        """Detect in `picture` (an :class:`~explorer.core.images.Image`) from now on; the
        old result is cleared at once."""
        if picture is None:
            return
        if not isinstance(picture, Image):
            raise TypeError("set_picture takes an explorer Image (see explorer.app.pictures)")
        self.picture = picture
        source = picture.source or ""
        self.sample.blockSignals(True)
        if source.startswith("sample:"):
            self.sample.setCurrentText(source.split(":", 1)[1])
        else:
            self.sample.setCurrentIndex(-1)  # shows "other picture"
        self.sample.blockSignals(False)
        if source.startswith("scene:"):
            self.scene_spin.setValue(int(source.split(":", 1)[1]))
        self._clear_result()
        self.canvas.set_image(np.ascontiguousarray(picture.array, np.float32))
        self._frame_view()
        self._redraw()

    def shutdown(self) -> None:
        self._stop_animation()
        self.timer.stop()
        self._relabel.stop()
        self.runner.shutdown()

    # -- pictures -----------------------------------------------------------------------
    def open_spec(self, spec: str) -> bool:
        """Open a picture by spec (a path, ``sample:NAME``, ``scene:N``); one sentence on
        the view if it cannot be."""
        from explorer.app.pictures import open_picture

        try:
            picture = open_picture(spec)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.set_picture(picture)
        return True

    def set_scene(self, index: int) -> bool:
        """Held-out shapes scene `index` (``scene:N``) with its ground truth."""
        from explorer.app.pictures import open_scene

        self.scene_spin.setValue(int(index))
        try:
            picture = open_scene(int(index))
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.set_picture(picture)
        return True

    def ask_image(self) -> None:
        from explorer.app.pictures import IMAGE_FILTER
        from explorer.gui.common import messages

        path = messages.ask_open_file(self, "Open a picture to detect in",
                                      IMAGE_FILTER)
        if path:
            self.open_spec(path)

    def use_explore(self) -> bool:
        """Detect in the picture Explore shows (its network is not used)."""
        _network, image = self.host.explore()
        if image is None:
            self.show_error("Explore has no picture yet; open one there first.")
            return False
        self.set_picture(image)
        return True

    # -- settings -----------------------------------------------------------------------
    def _availability(self) -> dict[str, bool]:
        from explorer.app.networks import list_models
        from explorer.detect import faster_rcnn

        out = {e.name: e.available for e in list_models()
               if e.family == "torchvision" or e.name in (*SHIPPED_CLASSIFIERS, FAST_RCNN)}
        return {**out, **dict(faster_rcnn.available())}

    def networks_for(self, method: str, head: str | None) -> list[str]:
        """The networks that can do `method`'s job, the default first."""
        if method == "mtcnn":
            return [MTCNN]
        from explorer.detect.faster_rcnn import FASTER_RCNNS

        if method == "proposals" and head == "fast-rcnn":
            return [FAST_RCNN]
        if method == "faster-rcnn":
            # those whose weights are here first, the smallest first
            return sorted(FASTER_RCNNS, key=lambda n: not self._available.get(n, False))
        shipped = [n for n in SHIPPED_CLASSIFIERS if n in self._available]
        torchvision = sorted(n for n in self._available if n not in (
            *SHIPPED_CLASSIFIERS, FAST_RCNN, *FASTER_RCNNS))
        return shipped + torchvision

    def network_name(self) -> str:
        return self.network.currentData() or MTCNN

    def _fill_networks(self) -> None:
        _label, method, head = METHODS[self.method.currentIndex()]
        keep = self.network.currentData()
        self.network.blockSignals(True)
        self.network.clear()
        for name in self.networks_for(method, head):
            if name == MTCNN:
                label = "MTCNN cascade: P-Net, R-Net, O-Net"
            elif method == "faster-rcnn":
                # short: the combo is narrow in presentation mode; the name is the tip
                label = FASTER_LABELS.get(name, name)
            elif not self._available.get(name, True):
                label = f"{name} (random weights)"
            else:
                label = name
            self.network.addItem(label, name)
            self.network.setItemData(self.network.count() - 1, name,
                                     Qt.ItemDataRole.ToolTipRole)
        index = self.network.findData(keep)
        self.network.setCurrentIndex(max(index, 0))
        self.network.blockSignals(False)

    def config(self):
        """The settings as a validated :class:`~explorer.detect.pipeline.DetectConfig`
        (one sentence for a bad one: the same check the command line makes)."""
        from explorer.detect.pipeline import DetectConfig

        _label, method, head = METHODS[self.method.currentIndex()]
        name = self.network_name()
        return DetectConfig(
            method=method, model=name if name not in (MTCNN, FAST_RCNN) else "tinyvgg-shapes",
            impl=self.impl.currentText(), head=head or "fast-rcnn",
            window=self.window_spin.value() or None, stride=self.stride_spin.value() or None,
            scales=self.scales_edit.text(), threshold=self.threshold.value(),
            iou=self.iou.value(), mode=self.mode.currentText(), device=str(self.device),
        ).check()

    def warnings(self) -> list[str]:
        """What the view says about the current choice before it runs."""
        if self.picture is None:
            return []
        from explorer.detect import settings
        from explorer.detect.pipeline import SHAPES_SCALES

        _label, method, _head = METHODS[self.method.currentIndex()]
        name = self.network_name()
        if method == "faster-rcnn":
            if self._available.get(name, False):
                return advice.before_run(name, self.picture, method=method)
            return [f"{FASTER_LABELS.get(name, name)}: its COCO weights are not on this "
                    "computer. Faster R-CNN uses torchvision's weights file from the torch "
                    "hub cache; the explorer never downloads it."]
        try:
            scales = settings.scales(self.scales_edit.text())
        except UserError:
            scales = None
        if scales is None:
            scales = SHAPES_SCALES if name == "tinyvgg-shapes" else (1.0,)
        random = not self._available.get(name, True)
        return advice.before_run(name, self.picture, random_weights=random,
                                 window=self.window_spin.value() or None, scales=scales,
                                 method=method)

    # -- running ------------------------------------------------------------------------
    def run(self) -> int | None:
        """Detect in a worker; returns the request id (None when there is nothing to do)."""
        self._clear_error()
        if self.picture is None:
            self.show_error("Open a picture first.")
            return None
        name = self.network_name()
        if METHODS[self.method.currentIndex()][1] == "faster-rcnn" and \
                not self._available.get(name, False):
            # the notice above says where the file must be; the error stays short
            self.show_error(f"No COCO weights for {FASTER_LABELS.get(name, name)} on this "
                            "computer: Faster R-CNN cannot run.")
            return None
        try:
            cfg = self.config()
        except UserError as exc:
            self.show_error(str(exc))
            return None
        from explorer.app import networks
        from explorer.detect.pipeline import Detector

        self._stop_animation()
        self._clear_result(keep_replay=True)
        picture, name, device = self.picture, self.network_name(), self.device
        cache, generation = self._networks, self._generation

        def job(ctx: JobContext) -> Run:
            net = None
            if cfg.method == "faster-rcnn":
                from explorer.detect import faster_rcnn

                key = (name, str(device))
                net = cache.get(key)
                if net is None:
                    ctx.progress(-1, f"Loading {name}…")
                    net = faster_rcnn.load(name, device)
                    cache[key] = net
                ctx.check()
                det = Detector(cfg, net)(picture.array, ctx)
                return Run(det, name, False, str(device), generation)
            if name != MTCNN:
                key = (name, str(device))
                net = cache.get(key)
                if net is None:
                    net = networks.open_network(networks.NetSpec(name), device, ctx)
                    cache[key] = net
            detector = Detector(cfg, net)
            detector.plan(picture.size)
            det = detector(picture.array, ctx)
            return Run(det, name, bool(net is not None and net.random_weights),
                       str(device), generation)

        self.status.emit(f"detecting on {device}…")
        return self.runner.submit(job)

    def cancel(self) -> None:
        self._replay_after_run = False
        self.runner.cancel()
        self.status.emit("cancelled")

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def show_error(self, message: str) -> None:
        self.errors.append(message)
        self.error_label.setText(breakable(message))
        self.error_label.setVisible(True)
        self.status.emit(message)

    def _clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.setVisible(False)

    # -- reacting -----------------------------------------------------------------------
    def _on_method(self, *_args) -> None:
        method = METHODS[self.method.currentIndex()][1]
        sliding = method == "sliding"
        self._fill_networks()
        self.network.setEnabled(self.network.count() > 1)
        for w in (self.impl, self.impl_label, self.window_label, self.size_row,
                  self.scales_label, self.scales_edit):
            w.setVisible(sliding)
        for w in (self.mode_label, self.mode):
            w.setVisible(method == "proposals")
        for w in (self.level, self.level_label, self.heat_class, self.heat_label,
                  self.show_heat):
            w.setVisible(sliding)
        from explorer.detect.pipeline import default_threshold

        # the sliding window's 0.9 with containment: few false boxes (detect_false_boxes)
        self.threshold.setValue(default_threshold(method))
        self._input_changed()

    def _input_changed(self, *_args) -> None:
        """A setting changed: the drawn result no longer answers it."""
        self._clear_error()
        if self.run_result is not None or self.runner.busy:
            self._clear_result()
        self._update_notice()

    def _clear_result(self, keep_replay: bool = False) -> None:
        """Forget the result (and any run still going) the moment the input changes."""
        self._generation += 1
        if self.runner.busy:
            self.runner.cancel()
        if not keep_replay:
            self._replay_after_run = False
        self._stop_animation(redraw=False)
        self.run_result = None
        self.progress.setValue(0)
        self.level.blockSignals(True)
        self.heat_class.blockSignals(True)
        self.level.clear()
        self.heat_class.clear()
        self.level.blockSignals(False)
        self.heat_class.blockSignals(False)
        self.info.clear()
        self.timings.clear()
        self._update_notice()
        self._update_caption()
        self._update_speed_label()
        self._redraw()

    def _update_notice(self) -> None:
        lines = self.warnings()
        det = self.result
        if det is not None:
            if self.run_result.random_weights and not any("random" in w for w in lines):
                lines.insert(0, advice.before_run(self.run_result.network, None,
                                                  random_weights=True, method="none")[0])
            why = advice.why_no_boxes(det)
            if why:
                lines.append(why)
        self.notice.setText("\n".join(lines))
        self.notice.setVisible(bool(lines))

    def _update_caption(self) -> None:
        if self.picture is None:
            self.caption.setText("No picture: choose a sample, a scene or a file.")
            return
        text = f"Picture: {_describe(self.picture)}"
        if self.picture.truth is not None:
            n = len(self.picture.truth.boxes)
            text += f", with its ground truth ({n} object{'s' if n != 1 else ''})"
        det, run = self.result, self.run_result
        if det is None:
            text += ". Press Detect."
        else:
            if "windows" in det.extra:
                looked = f"{det.extra['windows']:,} windows"
            elif det.method == "mtcnn":
                looked = f"{len(det.proposals):,} P-Net candidate windows"
            elif det.proposals is not None:
                looked = f"{len(det.proposals):,} proposals"
            else:
                looked = "the picture"
            who = "the MTCNN cascade" if run.network == MTCNN else run.network
            text += (f". {METHODS[self.method.currentIndex()][0]} with {who} on "
                     f"{run.device}: {len(det)} box(es) from {looked} in "
                     f"{det.timings.get('total', 0):.2f} s.")
        self.caption.setText(text)
        self._update_legend()

    def _update_legend(self) -> None:
        def swatch(colour: str, text: str, mark: str = "■") -> str:
            # the mark takes the colour; the words keep the palette's text colour
            return f"<span style='color:{colour}'>{mark}</span>&nbsp;{text}"

        items = []
        det = self.result
        if det is not None:
            seen = []
            for lab in det.labels.tolist():
                if lab not in seen:
                    seen.append(lab)
            items += [swatch(class_colour(lab, det.class_names), det.class_names[lab])
                      for lab in seen[:8]]
        if self.picture is not None and self.picture.truth is not None:
            # box-drawing dashes and no-break spaces: the swatch and its words wrap as one
            # piece (after a hyphen-minus a line may break even before a no-break space)
            items.append(f"<span style='color:{TRUTH_COLOURS[0]};background:"
                         f"{TRUTH_COLOURS[1]}'>&nbsp;╌╌&nbsp;</span>"
                         "&nbsp;ground&nbsp;truth")
        items.append(swatch(WINDOW_COLOUR, "windows / proposals looked at", "▭"))
        items.append(swatch(CURRENT_COLOUR, "replayed window", "▭"))
        self.legend.setText("&nbsp;&nbsp; ".join(items))

    def _on_busy(self, busy: int) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(bool(busy))
        if not busy:
            self.progress.setValue(100 if self.run_result is not None else 0)

    def _on_progress(self, message: str, fraction: float) -> None:
        if fraction >= 0:
            self.progress.setValue(int(round(fraction * 100)))
        self.status.emit(message)

    def _on_failed(self, exc, message: str) -> None:
        self._replay_after_run = False
        if isinstance(exc, UserError):
            self.show_error(message)
        else:
            self.show_error(message.splitlines()[0] if message else "detection failed")

    def _on_result(self, run: Run) -> None:
        if run.picture != self._generation:
            return  # computed for a picture or settings that have changed since
        self.run_result = run
        det = run.det
        self.progress.setValue(100)
        maps = det.extra.get("maps") or []
        self.level.blockSignals(True)
        self.heat_class.blockSignals(True)
        self.level.clear()
        for m in maps:
            nh, nw = m.probs.shape[-2:]
            # short, so that the menu shows it whole: scale, windows across x down, side
            self.level.addItem(f"x{m.scale:g}: {nw}x{nh} of {m.window[1]:.0f} px")
        self.heat_class.clear()
        self.heat_class.addItem("best object class")
        for name in det.class_names:
            self.heat_class.addItem(name)
        # with a placeholder, a filled combo box stays on "no item" until told
        self.level.setCurrentIndex(0 if maps else -1)
        self.heat_class.setCurrentIndex(0)
        self.level.blockSignals(False)
        self.heat_class.blockSignals(False)
        found = ", ".join(f"{n} {s:.2f}" for n, s in zip(det.names[:8], det.scores.tolist()))
        self.info.setText(f"Found: {found}." if found else "")
        self.timings.setText("Time: " + ", ".join(f"{k} {v * 1e3:.0f} ms"
                                                  for k, v in det.timings.items()))
        self.status.emit(f"{len(det)} detection(s) in {det.timings.get('total', 0):.2f} s "
                         f"on {run.device}")
        self._update_notice()
        self._update_caption()
        self._update_speed_label()
        self._redraw()
        self.detected.emit(det)
        if self._replay_after_run:
            self._replay_after_run = False
            self.slide_button.setChecked(True)

    def _on_level(self, *_args) -> None:
        if self.timer.isActive():
            self._start_animation()
        self._update_speed_label()
        self._redraw()

    # -- drawing ----------------------------------------------------------------------
    def _frame_view(self) -> None:
        """Show the picture with a margin all round, so labels outside boxes at the
        border stay in view."""
        if self.picture is None:
            return
        h, w = self.picture.array.shape[:2]
        m = MARGIN * max(h, w)
        self.canvas.view.setRange(QRectF(-m, -m, w + 2 * m, h + 2 * m), padding=0)

    def _current_map(self):
        if self.result is None:
            return None
        maps = self.result.extra.get("maps") or []
        i = self.level.currentIndex()
        return maps[i] if 0 <= i < len(maps) else None

    def _heat(self, m, upto: int | None = None) -> None:
        """Tint the picture where the chosen class fires.

        At rest: every pyramid level at once, in picture pixels, each level's cells over
        the centres of their windows and the levels combined by their maximum
        (:func:`~explorer.detect.heat.class_heat`), scaled to its own peak so the hot spot
        shows even where the best window scores 0.3. During a replay: level `m` alone,
        filled in window order up to cell `upto`."""
        from explorer.detect.heat import class_heat, contrast

        det = self.result
        k = self.heat_class.currentIndex()
        bg = 0 if det.class_names and det.class_names[0] in ("background", "not face") else None
        cls = k - 1 if k > 0 else None
        if upto is None:
            maps = det.extra.get("maps") or [m]
            h, w = self.picture.array.shape[:2]
            img = contrast(class_heat(maps, cls, (h, w), background=bg))
            rect = QRectF(0, 0, w, h)
        else:  # the animation fills one level's map in window order
            img = heat_image(m.probs.numpy(), bg, cls)
            flat = img.ravel().copy()
            flat[upto:] = np.nan
            img = flat.reshape(img.shape)
            nh, nw = img.shape
            # cell (i, j) is drawn over the centre of window (i, j), one stride wide
            x0 = m.origin[0] + m.window[1] / 2 - m.step / 2
            y0 = m.origin[1] + m.window[0] / 2 - m.step / 2
            rect = QRectF(x0, y0, nw * m.step, nh * m.step)
        rgba = np.zeros(img.shape + (4,), np.uint8)
        ok = np.isfinite(img)
        rgba[ok, :3] = colormaps.apply(np.clip(img[ok], 0, 1)[None], "inferno")[0]
        # mostly transparent where no object is seen, so the picture shows through, yet
        # every scored window is tinted (the animation's fill-in stays visible)
        # (during a replay more strongly, so the swept part stands out)
        floor = 25 if upto is None else 80
        rgba[ok, 3] = np.round(floor + np.sqrt(np.clip(img[ok], 0, 1)) * (215 - floor)
                               ).astype(np.uint8)
        self.heat.setImage(rgba, levels=(0, 255))
        self.heat.setRect(rect)
        self.heat.setVisible(True)

    def _clear_boxes(self) -> None:
        for item in self._box_items + self._labels + self._halos + self._leaders:
            self.canvas.view.removeItem(item)
        self._box_items, self._labels, self._halos, self._leaders = [], [], [], []

    def _redraw(self, *_args) -> None:
        self._clear_boxes()
        self.heat.setVisible(False)
        self.windows_item.setData([], [])
        self.gt_item.setData([], [])
        self.gt_under.setData([], [])
        if self.picture is None:
            return
        truth = self.picture.truth
        if truth is not None and self.show_gt.isChecked() and len(truth.boxes):
            path = rect_path(truth.boxes)
            self.gt_under.setData(*path)
            self.gt_item.setData(*path)
        det = self.result
        if det is None:
            return
        replaying = self.timer.isActive()
        m = self._current_map()
        if m is not None and self.show_heat.isChecked() and not replaying:
            self._heat(m)
        if self.show_windows.isChecked() and not replaying:
            if m is not None:
                boxes = m.boxes().numpy()
                step = max(1, len(boxes) // 400)  # a readable sample of the windows
                self.windows_item.setData(*rect_path(boxes[::step]))
            elif det.proposals is not None:
                self.windows_item.setData(*rect_path(det.proposals.numpy()[:2000]))
        if self.show_boxes.isChecked() and not replaying:
            font = QFont(self.font())
            font.setBold(True)
            for i, (b, lab) in enumerate(zip(det.boxes.tolist(), det.labels.tolist())):
                colour = class_colour(lab, det.class_names)
                # a black line under the colour keeps every box visible on any picture
                halo = QGraphicsRectItem(QRectF(b[0], b[1], b[2] - b[0], b[3] - b[1]))
                halo.setPen(_pen("#000000", 5))
                halo.setZValue(9.5)
                self.canvas.view.addItem(halo, ignoreBounds=True)
                self._halos.append(halo)
                rect = QGraphicsRectItem(QRectF(b[0], b[1], b[2] - b[0], b[3] - b[1]))
                rect.setPen(_pen(colour, 3))
                rect.setZValue(10)
                text = pg.TextItem(label_text(det, i), color=text_on(colour),
                                   fill=pg.mkBrush(colour), border=pg.mkPen("#000000"),
                                   anchor=(0, 0))
                text.setFont(font)
                text.setZValue(11)
                self.canvas.view.addItem(rect, ignoreBounds=True)
                self.canvas.view.addItem(text, ignoreBounds=True)
                self._box_items.append(rect)
                self._labels.append(text)
            self._place_labels()

    def _place_labels(self) -> None:
        """Put every label where it hides no other label and no other box
        (:func:`explorer.detect.draw.place_labels`, in screen pixels)."""
        det = self.result
        if det is None or not self._labels:
            return
        view = self.canvas.view
        scene_boxes, sizes = [], []
        for b, label in zip(det.boxes.tolist(), self._labels):
            p1 = view.mapViewToScene(QPointF(b[0], b[1]))
            p2 = view.mapViewToScene(QPointF(b[2], b[3]))
            scene_boxes.append([min(p1.x(), p2.x()), min(p1.y(), p2.y()),
                                max(p1.x(), p2.x()), max(p1.y(), p2.y())])
            r = label.textItem.boundingRect()
            sizes.append([r.width(), r.height()])
        area = view.sceneBoundingRect()
        h, w = self.picture.array.shape[:2]
        p1, p2 = view.mapViewToScene(QPointF(0, 0)), view.mapViewToScene(QPointF(w, h))
        picture = (min(p1.x(), p2.x()), min(p1.y(), p2.y()), max(p1.x(), p2.x()),
                   max(p1.y(), p2.y()))
        corners = place_labels(np.asarray(scene_boxes), np.asarray(sizes),
                               (area.left(), area.top(), area.right(), area.bottom()),
                               picture=picture)
        for item in self._leaders:
            view.removeItem(item)
        self._leaders = []
        for (x, y), (lw, lh), box, label, lab in zip(corners.tolist(), sizes, scene_boxes,
                                                     self._labels, det.labels.tolist()):
            label.setPos(view.mapSceneToView(QPointF(x, y)))
            line = leader((x, y, x + lw, y + lh), tuple(box))
            if line is not None:  # a label beside the picture: a line to its box
                a = view.mapSceneToView(QPointF(line[0], line[1]))
                b = view.mapSceneToView(QPointF(line[2], line[3]))
                item = pg.PlotCurveItem([a.x(), b.x()], [a.y(), b.y()],
                                        pen=pg.mkPen(class_colour(lab, det.class_names),
                                                     width=2))
                item.setZValue(10.5)
                view.addItem(item, ignoreBounds=True)
                self._leaders.append(item)

    def label_rects(self) -> list[tuple[float, float, float, float]]:
        """Where the labels are drawn, in scene pixels (x1, y1, x2, y2), for tests."""
        out = []
        for label in self._labels:
            r = label.mapRectToScene(label.boundingRect())
            out.append((r.left(), r.top(), r.right(), r.bottom()))
        return out

    def box_rects(self) -> list[tuple[float, float, float, float]]:
        out = []
        for rect in self._box_items:
            r = rect.mapRectToScene(rect.rect())
            out.append((r.left(), r.top(), r.right(), r.bottom()))
        return out

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

    def sweep_seconds(self) -> float:
        """How long a whole replay lasts at the current speed."""
        return sweep_seconds_at(self.speed.value())

    def windows_per_second(self) -> float:
        boxes = self._anim_boxes()
        n = len(boxes) if boxes is not None else 0
        return n / self.sweep_seconds()

    def _update_speed_label(self, *_args) -> None:
        boxes = self._anim_boxes()
        what = "windows" if self._current_map() is not None else "proposals"
        if boxes is None or not len(boxes):
            self.speed_label.setText(f"A whole replay takes {self.sweep_seconds():.0f} s.")
            return
        self.speed_label.setText(f"{self.windows_per_second():,.1f} {what}/s: "
                                 f"{self.sweep_seconds():.0f} s for all {len(boxes):,}")

    def _on_speed(self, *_args) -> None:
        if self.timer.isActive():
            # keep the place: restart the clock from the window shown now
            self._anim_start = self._anim_i
            self._anim_clock.restart()
        self._update_speed_label()

    def _on_animate(self, on: bool) -> None:
        if not on:
            self._stop_animation()
            return
        boxes = self._anim_boxes()
        if boxes is None or not len(boxes):
            # nothing to replay yet: detect first, then replay
            self.slide_button.blockSignals(True)
            self.slide_button.setChecked(False)
            self.slide_button.blockSignals(False)
            if self.runner.busy:
                self._replay_after_run = True
            elif self.run() is not None:
                self._replay_after_run = True
            return
        self._start_animation()

    def _start_animation(self) -> None:
        self._anim_i = 0
        self._anim_start = 0
        self._anim_clock.start()
        self.timer.start()
        self._update_speed_label()
        self._redraw()  # the final boxes wait until the replay ends

    def _stop_animation(self, redraw: bool = True) -> None:
        was = self.timer.isActive()
        self.timer.stop()
        self.current.setVisible(False)
        if self.slide_button.isChecked():
            self.slide_button.blockSignals(True)
            self.slide_button.setChecked(False)
            self.slide_button.blockSignals(False)
        if redraw and was:
            self._redraw()

    def _tick(self, elapsed: float | None = None) -> None:
        """Show the window the replay has reached after `elapsed` seconds (default: the
        time since it started), at :meth:`windows_per_second`."""
        boxes = self._anim_boxes()
        if boxes is None or self._anim_i >= len(boxes):
            self._stop_animation()
            return
        if elapsed is None:
            elapsed = self._anim_clock.elapsed() / 1000
        target = self._anim_start + int(elapsed * self.windows_per_second()) + 1
        self._anim_i = min(len(boxes), max(self._anim_i, target))
        x1, y1, x2, y2 = boxes[self._anim_i - 1]
        self.current.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        self.current.setVisible(True)
        m = self._current_map()
        det = self.result
        if m is not None:
            if self.show_heat.isChecked():
                self._heat(m, upto=self._anim_i)
            p = m.probs.flatten(1)[:, self._anim_i - 1]
            best = int(p.argmax())
            self.info.setText(f"Window {self._anim_i:,} of {len(boxes):,} at scale "
                              f"{m.scale:g}: {det.class_names[best]} {float(p[best]):.2f}")
        else:
            probs = det.extra.get("region_probs")
            msg = f"Proposal {self._anim_i:,} of {len(boxes):,}"
            if probs is not None and len(probs) >= self._anim_i:
                p = probs[self._anim_i - 1]
                best = int(p.argmax())
                msg += f": {det.class_names[best]} {float(p[best]):.2f}"
            self.info.setText(msg)
            start = max(0, self._anim_i - 50)  # a trail of the last proposals
            self.windows_item.setData(*rect_path(boxes[start:self._anim_i]))
        if self._anim_i >= len(boxes):
            self._stop_animation()
