"""The Segmentation section: FCN, dilated FCN and U-Net (and torchvision's segmenters when
cached) on the same picture, side by side.

The section stands on its own: its own segmenters (check boxes), its own picture (a
held-out shapes scene, a sample, a file, or Explore's picture on request), computed on the
window's device. Panels show the input, each network's answer as a colour overlay, the
ground truth when there is one, and where two chosen networks disagree; a table scores
every network. Clicking a pixel draws, on each network's panel, that pixel's theoretical
receptive field (solid box), the box holding 95 % of its gradient (dashed) and the gradient
itself as a heat map: the lecture's "large context versus sharp boundaries" made visible.

All computing happens in :mod:`explorer.segment` through three
:class:`~explorer.gui.common.workers.JobRunner` s (runs and scoring, clicked pixels, the
upsampling page), each handing its :class:`~explorer.gui.common.workers.JobContext` to
the compute functions as their task: this module only draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGraphicsRectItem,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.app.pictures import MAX_SCENE, Image
from explorer.core import colormaps
from explorer.errors import UserError
from explorer.gui.common.canvas import ImageCanvas
from explorer.gui.common.flow import FlowRow, field
from explorer.gui.common.section import SectionHost
from explorer.gui.common.workers import JobContext, JobRunner
from explorer.segment import colors
from explorer.segment.compare import (
    Disagreement,
    disagreement,
    disagreement_image,
    evaluate,
    score_table,
)
from explorer.segment.run import (
    SHIPPED_SEGMENTERS,
    SegPicture,
    available_segmenters,
    load_segmenter,
    random_warning,
    seg_picture,
    shapes_warning,
)

#: colours of what a clicked pixel shows: solid white box, dashed cyan box, and a white
#: cross outlined in black (none of them a class's or the disagreement map's colour)
THEORY_COLOUR = "#ffffff"
EFFECTIVE_COLOUR = "#00e5ff"
HELD_OUT_SCENES = 50
#: scenes per forward pass while scoring: a cancel waits for at most one pass, and 25
#: U-Net scenes took 1.2 s on two shared CPU cores (8 take about 0.4 s)
EVAL_BATCH = 8
HINT = ("Click a pixel: white box = its receptive field, dashed cyan = 95 % of the "
        "gradient, heat = the gradient.")
#: the held-out scene shown first: four shapes of four classes
FIRST_SCENE = 6

# every text takes the application theme's colours and sizes (explorer.gui.common.theme)
# through these object names: "panelTitle", "caption", "hint", "warningBanner" and the
# "errorBanner" frame; nothing here sets a colour or a font size of its own


def _short(name: str) -> str:
    return name.replace("-shapes", "")


def best_columns(n: int, width: float, height: float,
                 chrome: float | Callable[[float], float] = 64.0,
                 gap: float = 6.0) -> tuple[int, float]:
    """(columns, side): how many columns make `n` square pictures largest in a `width` x
    `height` area when every row also needs `chrome` pixels for its title and caption (a
    number, or a function of the column's width: captions wrap), and the side of each
    picture then."""
    best, best_side = 1, -math.inf
    for cols in range(1, max(1, n) + 1):
        rows = math.ceil(n / cols)
        col_width = (width - gap * (cols - 1)) / cols
        extra = chrome(col_width) if callable(chrome) else chrome
        side = min(col_width, (height - gap * (rows - 1)) / rows - extra)
        if side > best_side + 0.5:
            best, best_side = cols, side
    return best, best_side


class PanelGrid(QWidget):
    """Panels reflowed into as many columns as the space allows (one row of six on a wide
    screen, two rows of three on a tall one), never wider than the window, with a footer
    (legend, scores) right under the last row.

    Pictures never shrink below `min_side` pixels: when the height runs out the grid asks
    for more (the window's scroll area then scrolls up and down, never sideways)."""

    def __init__(self, chrome: float = 64.0, min_side: int = 100,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(6)
        self._chrome = chrome
        self.min_side = min_side
        self._panels: list[QWidget] = []
        self._footer: QWidget | None = None
        self.columns = 0
        self.side = 0.0
        self._min_height = 160
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_panels(self, panels: list[QWidget]) -> None:
        for panel in self._panels:
            self._grid.removeWidget(panel)
        self._panels = list(panels)
        self.refresh()

    def set_footer(self, footer: QWidget) -> None:
        """A widget (legend, scores) right under the last row of panels, full width."""
        self._footer = footer
        self.refresh()

    def refresh(self) -> None:
        """Arrange again (the panels, their captions or the footer's height changed)."""
        self.columns = 0
        self._arrange()

    def chrome_at(self, col_width: float) -> float:
        """Height a panel needs besides its picture at this width: title and caption as
        they wrap, and the margins."""
        need = self._chrome
        w = max(40, int(col_width) - 4)
        for panel in self._panels:
            title, caption = getattr(panel, "title", None), getattr(panel, "caption", None)
            if title is None or caption is None:
                continue
            h = 12
            for label in (title, caption):
                if label.text():
                    hfw = label.heightForWidth(w)
                    h += hfw if hfw > 0 else label.sizeHint().height()
            need = max(need, h)
        return need

    def _footer_height(self) -> int:
        if self._footer is None:
            return 0
        hfw = self._footer.heightForWidth(max(1, self.width()))
        return (hfw if hfw > 0 else self._footer.sizeHint().height()) + self._grid.spacing()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(120, self._min_height)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(640, self._min_height)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt name)
        # the grid takes the height it is given; asking for more (its panels' captions
        # wrapped at its width) would make the window's scroll area taller than the
        # screen and push the scores below the fold
        return False

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        if not self._panels:
            return
        footer = self._footer_height()
        width = max(1, self.width())
        # a few pixels of slack: rounding must never push the footer out of the grid
        cols, side = best_columns(len(self._panels), width,
                                  max(1, self.height() - footer - 8), self.chrome_at,
                                  self._grid.spacing())
        col_width = (width - self._grid.spacing() * (cols - 1)) / cols
        # at least one row of pictures of min_side, and the footer, must fit
        wanted = int(footer + min(self.min_side, col_width) + self.chrome_at(col_width)) + 8
        if wanted != self._min_height:
            self._min_height = wanted
            self.updateGeometry()
        side = int(max(side, min(self.min_side, col_width)))
        self.side = side
        # every picture exactly `side` tall (it is about as wide): its caption sits right
        # under it, and the height left over stays below everything instead of framing
        # each picture in grey
        for panel in self._panels:
            canvas = getattr(panel, "canvas", None)
            if canvas is not None:
                canvas.setFixedHeight(max(60, side))
        if cols == self.columns:
            return
        self.columns = cols
        for panel in self._panels:
            self._grid.removeWidget(panel)
        if self._footer is not None:
            self._grid.removeWidget(self._footer)
        for c in range(self._grid.columnCount()):
            self._grid.setColumnStretch(c, 0)
        for r in range(self._grid.rowCount()):
            self._grid.setRowStretch(r, 0)
        for i, panel in enumerate(self._panels):
            self._grid.addWidget(panel, i // cols, i % cols)
            panel.show()
        for c in range(cols):
            self._grid.setColumnStretch(c, 1)
        rows = math.ceil(len(self._panels) / cols)
        if self._footer is not None:
            self._grid.addWidget(self._footer, rows, 0, 1, cols)
            rows += 1
        for r in range(rows):
            self._grid.setRowStretch(r, 0)
        self._grid.setRowStretch(rows, 1)  # the spare height, below everything


class Legend(QWidget):
    """Colour chips with their names, wrapped to the width there is; chips outlined and
    text drawn in the palette's text colour (readable on a dark palette too)."""

    CHIP = 16

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: list[tuple[str, tuple[int, int, int]]] = []
        # not Fixed: a fixed policy would hold it to the height of one line measured at
        # some earlier width, and a second line of chips would be cut off
        sp = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)

    def set_items(self, items: list[tuple[str, tuple[int, int, int]]]) -> None:
        self.items = [(name, tuple(int(v) for v in rgb)) for name, rgb in items]
        self.updateGeometry()
        self.update()

    def _layout(self, width: int) -> list[tuple[int, int, str, tuple]]:
        fm = QFontMetrics(self.font())
        line = max(self.CHIP, fm.height()) + 6
        x = y = 0
        out = []
        for name, rgb in self.items:
            w = self.CHIP + 6 + fm.horizontalAdvance(name) + 18
            if x > 0 and x + w > width:
                x, y = 0, y + line
            out.append((x, y, name, rgb))
            x += w
        return out

    def _line(self) -> int:
        return max(self.CHIP, QFontMetrics(self.font()).height()) + 6

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt name)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt name)
        spots = self._layout(width)
        return 0 if not spots else spots[-1][1] + self._line()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        width = max(200, self.width())
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(100, self.heightForWidth(max(100, self.width())))

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        fm = QFontMetrics(self.font())
        line = self._line()
        for x, y, name, rgb in self._layout(self.width()):
            top = y + (line - self.CHIP) // 2
            painter.setPen(QPen(text, 1))
            painter.setBrush(QColor(*rgb))
            painter.drawRect(x, top, self.CHIP, self.CHIP)
            painter.drawText(x + self.CHIP + 6, y + (line + fm.ascent() - fm.descent()) // 2,
                             name)
        painter.end()


class _Panel(QWidget):
    """A title, an image canvas with field overlays, and a caption under the picture."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setObjectName("panelTitle")
        self.title.setWordWrap(True)
        self.canvas = ImageCanvas(background="#202020")
        self.canvas.setMinimumWidth(110)
        self.canvas.view.setMouseEnabled(x=False, y=False)
        self.caption = QLabel("")
        self.caption.setObjectName("caption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        layout.addStretch(0)
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
        self.cross = pg.ScatterPlotItem(size=20, symbol="+", pen=pg.mkPen("#000000", width=1.5),
                                        brush=pg.mkBrush("#ffffff"))
        self.cross.setZValue(12)
        view.addItem(self.cross, ignoreBounds=True)

    def clear(self, caption: str = "") -> None:
        self.canvas.set_image(None)
        self.show_field(None)
        self.caption.setText(caption)

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
        intro.setObjectName("hint")
        row = QHBoxLayout()
        row.addWidget(QLabel("Network:"))
        row.addWidget(self.network)
        row.addWidget(intro, 1)
        self.grid = PanelGrid(chrome=70)
        self.panels: list[_Panel] = []
        for _ in range(6):
            panel = _Panel("")
            panel.cross.setVisible(False)
            self.panels.append(panel)
        self.grid.set_panels(self.panels)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.grid, 1)
        self.demo = None

    def clear(self) -> None:
        """Forget the figures (the picture or the network changed)."""
        self.demo = None
        for panel in self.panels:
            panel.title.setText("")
            panel.clear()

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
    """Compare segmenters on one picture of the section's own choosing."""

    #: one-line status for the window's status bar
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None, host: SectionHost | None = None
                 ) -> None:
        super().__init__(parent)
        self.host = host or SectionHost()
        self.device = torch.device(self.host.device)
        self.image: Image | None = None  # the picture as opened (a mask must fit it)
        self.picture: SegPicture | None = None
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
        self._busy: dict[int, bool] = {}
        self._up_key: tuple | None = None
        self._pending = False  # a run is due when the section is next shown
        self._build()
        for runner in (self.runner, self.field_runner, self.up_runner):
            runner.failed.connect(self._on_failed)
            runner.progress.connect(self._on_progress)
            runner.busyChanged.connect(lambda busy, r=runner: self._on_busy(r, busy))
        self.up_runner.finished.connect(self._on_upsampling)
        self.runner.finished.connect(self._on_result)
        self.field_runner.finished.connect(self._on_fields)
        self.set_scene(FIRST_SCENE)

    # -- building ---------------------------------------------------------------------
    def _build(self) -> None:
        from explorer.app.pictures import SAMPLE_NAMES

        # the picture: a held-out scene, a sample, a file, or Explore's
        # rows that wrap: in one line each they were 1,300 px wide in presentation mode
        pic_row = FlowRow()
        self.scene_spin = QSpinBox()
        self.scene_spin.setRange(0, MAX_SCENE)
        self.scene_spin.setValue(FIRST_SCENE)
        self.scene_spin.setKeyboardTracking(False)  # typing 123 opens scene 123, not 1, 12
        self.scene_spin.setToolTip("Held-out shapes scene N (never trained on), with its "
                                   "ground truth: the same scene:N as in Detection and "
                                   "`segment --eval`")
        self.scene_spin.valueChanged.connect(lambda n: self.set_scene(n))
        pic_row.add(field("Picture:", QLabel("held-out scene"), self.scene_spin))
        self.sample_box = QComboBox()
        self.sample_box.addItem("sample…")
        self.sample_box.addItems(SAMPLE_NAMES)
        self.sample_box.setToolTip("A picture that ships with the program")
        self.sample_box.activated.connect(self._on_sample)
        pic_row.add(self.sample_box)
        self.open_button = QPushButton("Open image…")
        self.open_button.clicked.connect(self.ask_image)
        pic_row.add(self.open_button)
        self.explore_button = QPushButton("Use Explore's picture")
        self.explore_button.setToolTip("Segment the picture shown in Explore")
        self.explore_button.clicked.connect(self.use_explore)
        pic_row.add(self.explore_button)
        self.mask_button = QPushButton("Open mask…")
        self.mask_button.setToolTip("A ground-truth PNG for this picture: pixel values are "
                                    "class indices of the first ticked network, same size "
                                    "as the picture")
        self.mask_button.clicked.connect(self.ask_mask)
        pic_row.add(self.mask_button)

        # the segmenters
        self.checks: dict[str, QCheckBox] = {}
        nets_row = FlowRow()
        nets_row.add(QLabel("Networks:"))
        for name, ok, source in available_segmenters():
            box = QCheckBox(_short(name))
            box.setChecked(name in SHIPPED_SEGMENTERS)
            if source == "hub cache" and not ok:
                box.setEnabled(False)
                box.setChecked(False)
                box.setToolTip(f"{name}: its weights are not in the torch hub cache "
                               "(this section never downloads them)")
            elif source == "shipped" and not ok:
                box.setToolTip(f"{name}: no trained weights yet, it runs with random ones")
            else:
                box.setToolTip(name)
            box.toggled.connect(self._on_checks)
            self.checks[name] = box
            nets_row.add(box)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the ticked networks on the picture")
        self.run_button.clicked.connect(self.run)
        nets_row.add(self.run_button)
        self.eval_button = QPushButton(f"Score on {HELD_OUT_SCENES} held-out scenes")
        self.eval_button.setToolTip("mIoU, pixel accuracy and boundary F over scenes the "
                                    "networks never saw in training")
        self.eval_button.clicked.connect(self.evaluate_held_out)
        nets_row.add(self.eval_button)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 1000)
        self.busy_bar.setMaximumWidth(140)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setVisible(False)
        nets_row.add(self.busy_bar)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the work under way (nothing half-done is shown)")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        nets_row.add(self.cancel_button)

        # what the person must know about the answers, and errors, in words
        self.warning = QLabel("")
        self.warning.setObjectName("warningBanner")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        self.error_frame = QFrame()
        self.error_frame.setObjectName("errorBanner")
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        el = QHBoxLayout(self.error_frame)
        el.setContentsMargins(8, 4, 8, 4)
        el.addWidget(self.error_label)
        self.error_frame.setVisible(False)

        view_row = FlowRow()
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(colors.DEFAULT_OPACITY * 100))
        self.opacity.setMaximumWidth(140)
        self.opacity.setMinimumWidth(60)
        self.opacity.valueChanged.connect(self._redraw_predictions)
        view_row.add(field("Overlay opacity:", self.opacity))
        self.combo_a = QComboBox()
        self.combo_b = QComboBox()
        for combo in (self.combo_a, self.combo_b):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo_a.currentIndexChanged.connect(self._update_disagreement)
        self.combo_b.currentIndexChanged.connect(self._update_disagreement)
        view_row.add(field("Disagreement:", self.combo_a, QLabel("vs"), self.combo_b))
        self.hint = QLabel(HINT)
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)  # never let a long hint widen the section

        self.grid = PanelGrid()
        self.panels: dict[str, _Panel] = {}

        self.legend = Legend()
        self.field_label = QLabel("")
        self.field_label.setWordWrap(True)
        self.field_label.setTextFormat(Qt.TextFormat.RichText)
        self.field_label.setVisible(False)

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

        # legend, clicked pixel and scores sit right under the pictures
        footer = QWidget()
        fl = QVBoxLayout(footer)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.setSpacing(4)
        fl.addWidget(self.legend)
        fl.addWidget(self.hint)
        fl.addWidget(self.field_label)
        fl.addWidget(self.table)
        self.grid.set_footer(footer)

        compare_page = QWidget()
        cl = QVBoxLayout(compare_page)
        cl.setContentsMargins(0, 4, 0, 0)
        cl.setSpacing(4)
        cl.addWidget(view_row)
        cl.addWidget(self.grid, 1)  # the pictures get every spare pixel
        self.upsampling = UpsamplingPage()
        self.upsampling.network.currentTextChanged.connect(self._update_upsampling)
        self.pages = QTabWidget()
        self.pages.addTab(compare_page, "Side by side")
        self.pages.addTab(self.upsampling, "Transposed conv vs upsampling")
        from explorer.gui.segment.curves import LearningCurves

        self.curves = LearningCurves()  # the cards' learning curves and what they show
        self.pages.addTab(self.curves, "How they were trained")
        self.pages.currentChanged.connect(self._update_upsampling)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(pic_row)
        layout.addWidget(nets_row)
        layout.addWidget(self.error_frame)
        layout.addWidget(self.warning)
        layout.addWidget(self.pages, 1)
        self._fill_table()

    # -- the Section protocol ---------------------------------------------------------
    def set_device(self, device) -> None:
        """Compute on `device` from now on (networks reload there; results so far go)."""
        device = torch.device(device)
        if device == self.device:
            return
        self.device = device
        self._networks.clear()
        self.held_out = {}
        self._input_changed()

    def set_picture(self, picture: Image | np.ndarray | None) -> None:
        """Segment `picture` (an :class:`~explorer.core.images.Image`, as
        :func:`explorer.app.pictures.open_picture` returns; a shapes scene brings its
        ground truth), at once if the section is shown, else when it is next shown."""
        if picture is None:
            return
        if not isinstance(picture, Image):
            from explorer.app.pictures import picture_from_array

            picture = picture_from_array(np.asarray(picture), name="array")
        self._use(picture, seg_picture(picture))

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop every worker (called once when the window closes)."""
        return all([r.shutdown(timeout) for r in (self.runner, self.field_runner,
                                                   self.up_runner)])

    # -- choosing the picture -------------------------------------------------------
    def set_scene(self, index: int) -> None:
        """Held-out shapes scene `index` (``scene:index``) with its ground truth."""
        from explorer.app.pictures import open_scene

        try:
            image = open_scene(int(index))
        except UserError as exc:
            self.show_error(str(exc))
            return
        self.set_picture(image)

    def set_sample(self, name: str) -> None:
        from explorer.app.pictures import open_sample

        try:
            self.set_picture(open_sample(name))
        except UserError as exc:
            self.show_error(str(exc))

    def _on_sample(self, index: int) -> None:
        if index > 0:
            self.set_sample(self.sample_box.itemText(index))
        self.sample_box.setCurrentIndex(0)

    def open_file(self, path: str) -> bool:
        """Open the picture at `path` (checked first: one sentence if it cannot be)."""
        from explorer.app.pictures import open_picture

        try:
            image = open_picture(path)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.set_picture(image)
        return True

    def ask_image(self) -> None:
        from explorer.app.pictures import IMAGE_FILTER
        from explorer.gui.common import messages

        path = messages.ask_open_file(self, "Open a picture to segment",
                                      IMAGE_FILTER)
        if path:
            self.open_file(path)

    def use_explore(self) -> bool:
        """Segment the picture Explore shows."""
        _network, image = self.host.explore()
        if image is None:
            self.show_error("Explore has no picture yet; open one there first.")
            return False
        self.set_picture(image)
        return True

    def ask_mask(self) -> None:
        """Ask for a ground-truth mask PNG for the current picture and score against it."""
        from explorer.gui.common import messages

        if self.image is None:
            return
        path = messages.ask_open_file(self, "Open a ground-truth mask",
                                      "Masks (*.png *.bmp *.tif *.tiff);;All files (*)")
        if path:
            self.open_mask(path)

    def open_mask(self, path: str) -> bool:
        """Score against the mask at `path`: class indices of the first ticked network."""
        from explorer.segment.run import load_mask, segmenter_classes

        if self.image is None:
            return False
        names = self.selected() or list(SHIPPED_SEGMENTERS)
        try:
            classes = segmenter_classes(names[0])
            mask = load_mask(path, self.image.size, classes, names[0])
            picture = seg_picture(self.image, mask, classes)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self._use(self.image, picture)
        return True

    # -- work ---------------------------------------------------------------------------
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
            from explorer.segment.run import run_segmenters

            preds = run_segmenters(names, picture, device, cache, task=ctx)
            ctx.check()
            scores = score_table(preds, picture) if picture.gt is not None else {}
            return picture, preds, scores

        self._clear_error()
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
            from explorer.segment.fields import pixel_fields

            return (picture, (yi, xi), pixel_fields(preds, picture, yi, xi, task=ctx))

        return self.field_runner.submit(job)

    def evaluate_held_out(self) -> int | None:
        """Score the ticked shapes networks on held-out scenes, in a worker."""
        names = [n for n in self.selected() if n in SHIPPED_SEGMENTERS]
        if not names:
            self.show_error("Tick at least one shapes network to score on held-out scenes.")
            return None
        device, cache, scenes = self.device, self._networks, HELD_OUT_SCENES

        def job(ctx: JobContext):
            return ("held-out", names, evaluate(names, scenes, device=device,
                                                batch=EVAL_BATCH, task=ctx, networks=cache))

        self._clear_error()
        self.status.emit(f"scoring on {scenes} held-out scenes…")
        return self.runner.submit(job)

    def cancel(self) -> None:
        """Stop everything under way; what it would have shown is dropped."""
        for runner in (self.runner, self.field_runner, self.up_runner):
            runner.cancel()
        self.status.emit("cancelled")

    def show_error(self, text: str) -> None:
        """One sentence on the section and in the window's banner."""
        self.errors.append(text)
        self.error_label.setText(text)
        self.error_frame.setVisible(True)
        self.status.emit(text)
        self.host.show_error(text)

    def _clear_error(self) -> None:
        self.error_frame.setVisible(False)
        self.error_label.setText("")

    # -- internals --------------------------------------------------------------------
    def _use(self, image: Image, picture: SegPicture) -> None:
        self.image = image
        self.picture = picture
        source = str(image.source or "")
        if source.startswith("scene:") and source[6:].isdigit():
            # the spin box shows the scene on screen, wherever it was chosen
            self.scene_spin.blockSignals(True)
            self.scene_spin.setValue(min(int(source[6:]), self.scene_spin.maximum()))
            self.scene_spin.blockSignals(False)
        self._clear_error()
        self._input_changed()

    def _input_changed(self) -> None:
        """The picture, the networks or the device changed: every answer on screen is
        stale, so it goes at once; then the new one is asked for."""
        self.preds, self.scores, self.fields, self.dis, self.pixel = {}, {}, {}, None, None
        for runner in (self.runner, self.field_runner, self.up_runner):
            if runner.busy:
                runner.cancel()
        self._rebuild_panels([])
        self._fill_combos()
        self._fill_legend()
        self._fill_table()
        self._set_warnings()
        self.field_label.setText("")
        self.field_label.setVisible(False)
        self.hint.setVisible(True)
        self._up_key = None
        self.upsampling.clear()
        self._update_upsampling()
        # a hidden section waits until it is shown
        self._pending = not self.isVisible()
        if self.isVisible() and self.picture is not None:
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
        key = (id(self.picture), name, str(self.device))
        if key == self._up_key:
            return None
        self._up_key = key
        self.upsampling.clear()
        picture, device, cache = self.picture, self.device, self._networks

        def job(ctx: JobContext):
            from explorer.segment.upsampling import upsampling_demo

            if name not in cache:
                cache[name] = load_segmenter(name, device, ctx)
            return picture, upsampling_demo(cache[name], picture, task=ctx)

        return self.up_runner.submit(job)

    def _on_upsampling(self, result) -> None:
        picture, demo = result
        if picture is self.picture:
            self.upsampling.show_demo(demo)

    def _on_checks(self) -> None:
        shown = set(self.selected())
        self.held_out = {k: v for k, v in self.held_out.items() if k in shown}
        self._input_changed()

    def _on_busy(self, runner: JobRunner, busy: int) -> None:
        self._busy[id(runner)] = bool(busy)
        any_busy = any(self._busy.values())
        main_busy = self._busy.get(id(self.runner), False)
        self.run_button.setEnabled(not main_busy)
        self.eval_button.setEnabled(not main_busy)
        self.cancel_button.setVisible(any_busy)
        self.busy_bar.setVisible(any_busy)
        if not any_busy:
            self.busy_bar.setRange(0, 1000)
            self.busy_bar.setValue(0)

    def _on_progress(self, message: str, fraction: float) -> None:
        if fraction < 0:
            self.busy_bar.setRange(0, 0)
        else:
            self.busy_bar.setRange(0, 1000)
            self.busy_bar.setValue(round(min(fraction, 1.0) * 1000))
        if message:
            self.status.emit(message)

    def _on_failed(self, exc: object, message: str) -> None:
        self.show_error(message.splitlines()[0] if message else str(exc))

    def _on_result(self, result) -> None:
        if isinstance(result, tuple) and result and result[0] == "held-out":
            _tag, names, scores = result
            if set(names) <= set(self.selected()):
                self.held_out.update(scores)
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
        self._set_warnings()
        self.status.emit("  ".join(f"{_short(n)} {p.seconds * 1000:.0f} ms"
                                   for n, p in preds.items()))
        if self.pixel is not None:
            self.click(*self.pixel)

    def _set_warnings(self) -> None:
        """Say, in words, when an answer cannot mean much."""
        pic = self.picture
        lines = []
        if pic is not None:
            if self.preds:
                lines += [shapes_warning(self.preds, pic), random_warning(self.preds)]
                if pic.gt is not None:
                    other = [n for n in self.preds if n not in self.scores]
                    if other:
                        lines.append(f"{', '.join(other)} label other classes than this "
                                     "picture's ground truth, so they are not scored")
            else:
                lines.append(shapes_warning(self.selected(), pic))
        text = "  ".join(f"⚠ {line}." for line in lines if line)
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

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
        self.field_label.setText("&nbsp;&nbsp;·&nbsp;&nbsp; ".join(lines))
        self.field_label.setVisible(True)
        self.hint.setVisible(False)
        self.grid.refresh()

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
                panel.setParent(None)
                panel.deleteLater()
            self.panels = {}
            for key in wanted:
                title = {"input": "Input", "truth": "Ground truth",
                         "disagreement": "Disagreement"}.get(key, _short(key))
                panel = _Panel(title)
                panel.title.setToolTip(key if key in self.preds else "")
                panel.canvas.clicked.connect(self.click)
                self.panels[key] = panel
            self.grid.set_panels(list(self.panels.values()))
        pic = self.picture
        if pic is None:
            return
        inp = self.panels["input"]
        inp.canvas.set_image(pic.image)
        inp.show_field(None)
        inp.caption.setText(f"{pic.name}  ·  {pic.size[1]}×{pic.size[0]}"
                            + ("  ·  with ground truth" if pic.gt is not None else
                               "  ·  no ground truth"))
        if "truth" in self.panels:
            names = self._truth_names()
            self.panels["truth"].canvas.set_image(
                colors.overlay(pic.image, pic.gt, colors.palette_for(names)) / 255.0)
            present = [names[i] for i in np.unique(pic.gt) if 0 < i < len(names)]
            self.panels["truth"].caption.setText(
                ", ".join(present) if present else "background only")

    def _truth_names(self) -> list[str]:
        pic = self.picture
        if pic is None or pic.gt is None:
            return []
        if pic.gt_classes:
            return list(pic.gt_classes)
        if self.preds:
            return list(next(iter(self.preds.values())).class_names)
        return [str(i) for i in range(int(pic.gt.max()) + 1)]

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
            cap = [f"{p.seconds * 1000:.0f} ms"]
            s = self.scores.get(name)
            if s is not None:
                cap.append(f"mIoU {s.mean_iou:.2f}")
                cap.append(f"boundary F {s.boundary_f:.2f}")
            if p.weights_source == "random":
                cap.append("<b>random weights</b>")
            if p.shapes_trained and not self.picture.shapes_world:
                cap.append("<b>trained on shapes only</b>")
            panel.caption.setText("  ·  ".join(cap))

    def _fill_combos(self) -> None:
        names = list(self.preds)
        a, b = self.combo_a.currentText(), self.combo_b.currentText()
        if names and not (a in names and b in names and a != b):
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
        for combo in (self.combo_a, self.combo_b):
            combo.setEnabled(len(names) >= 2)

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
        if self.dis.a_right is not None:  # short: it must not push the scores off screen
            cap += (f"; right alone: {_short(a)} {self.dis.a_right}, "
                    f"{_short(b)} {self.dis.b_right}")
        panel.caption.setText(cap)
        self._fill_legend()

    def legend_items(self) -> list[tuple[str, tuple[int, int, int]]]:
        """(name, RGB) of every colour on the panels: classes, then the disagreement map's."""
        chips = []
        seen: set[str] = set()
        pic = self.picture
        for p in self.preds.values():  # every label set in use, each class once
            pal = colors.palette_for(p.class_names)
            present = set(np.unique(p.classes).tolist())
            if pic is not None and pic.gt is not None and (
                    pic.gt_classes is None or tuple(pic.gt_classes) == tuple(p.class_names)):
                present |= set(np.unique(pic.gt).tolist())
            for i in sorted(present):
                if i < len(p.class_names) and p.class_names[i] not in seen:
                    seen.add(p.class_names[i])
                    label = p.class_names[i]
                    if i == 0 and label in ("background", "__background__"):
                        label = "background"  # drawn as the darkened picture
                    chips.append((label, tuple(int(v) for v in pal[i])))
        if self.dis is not None:
            a, b = _short(self.dis.a), _short(self.dis.b)
            keys = ([(f"only {a} right", "first right"), (f"only {b} right", "second right"),
                     ("both wrong", "both wrong")] if self.dis.a_right is not None
                    else [("networks differ", "differ")])
            chips += [(label, colors.DISAGREE[k]) for label, k in keys]
        return chips

    def _fill_legend(self) -> None:
        self.legend.set_items(self.legend_items())
        self.grid.refresh()

    def table_rows(self) -> list[tuple[str, str, str, dict | None]]:
        """(network, what it was scored on, ms, scores) for each row of the scores table:
        this picture's answer and, once scored, the held-out scenes' under it."""
        shown = set(self.selected())
        held = {n: v for n, v in self.held_out.items() if n in shown}
        rows = []
        for name in dict.fromkeys(list(self.preds) + list(held)):
            p = self.preds.get(name)
            if p is not None:
                s = self.scores.get(name)
                on = "this picture" if s is not None else (
                    "no ground truth" if self.picture is None or self.picture.gt is None
                    else "other classes")
                rows.append((name, on, f"{p.seconds * 1000:.0f}", None if s is None
                             else {"mIoU": s.mean_iou, "pixel acc": s.pixel_accuracy,
                                   "boundary F": s.boundary_f, "iou": s.iou}))
            h = held.get(name)
            if h is not None:
                rows.append((name, f"{h['scenes']} held-out scenes",
                             f"{h['seconds_per_scene'] * 1000:.0f}",
                             {"mIoU": h["mean_iou"], "pixel acc": h["pixel_accuracy"],
                              "boundary F": h["boundary_f_score"],
                              "iou": h["iou_per_class"]}))
        return rows

    def _fill_table(self) -> None:
        rows = self.table_rows()
        class_names: list[str] = []
        for *_, sc in rows:
            if sc is not None:
                class_names = list(sc["iou"])
                break
        # short headers on two lines and two decimals: the table fits a 1366-pixel screen
        # in presentation mode too, with no scroll bar of its own
        cols = ["network", "scored on", "ms", "mIoU", "pixel\nacc", "boundary\nF"]
        cols += ["IoU\n" + ("backgr." if c == "background" else c) for c in class_names]
        self.table.clear()
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        self.table.setRowCount(len(rows))
        for r, (name, on, ms, sc) in enumerate(rows):
            p = self.preds.get(name)
            weights = p.weights_source if p is not None else (
                self.held_out.get(name, {}).get("weights", ""))
            label = _short(name) + (" (random weights)" if weights == "random" else "")
            vals = [label, on, ms]
            if sc is not None:
                vals += [_fmt(sc["mIoU"]), _fmt(sc["pixel acc"]), _fmt(sc["boundary F"])]
                vals += [_fmt(sc["iou"].get(c)) for c in class_names]
            else:
                vals += ["—"] * (3 + len(class_names))
            for c, v in enumerate(vals):
                item = QTableWidgetItem(v)
                if c == 0:
                    item.setToolTip(f"{name}: {weights} weights")
                if c >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight |
                                          Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        if class_names:
            self.table.horizontalHeaderItem(6).setToolTip(
                "IoU per class: intersection over union of that class's pixels")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._fit_table()
        self.table.setToolTip("" if self.scores or not self.preds else
                              "No ground truth for this picture: open a held-out scene (or "
                              "a mask) to score the networks.")


    def _fit_table(self) -> None:
        """The score table exactly as tall as its rows (the pictures above keep the
        rest), again whenever the text size changes (F11, zoom): rows must never hide
        behind a scroll bar."""
        self.table.resizeRowsToContents()
        heights = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        header = self.table.horizontalHeader()
        self.table.setFixedHeight(header.sizeHint().height() + 2 * self.table.frameWidth()
                                  + max(heights, 24) + 2)
        self.grid.refresh()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange) and \
                hasattr(self, "table"):
            # after the children have taken the new font too
            QTimer.singleShot(0, self, self._fit_table)


def _fmt(v: float | None) -> str:
    return "—" if v is None or v != v else f"{v:.2f}"
