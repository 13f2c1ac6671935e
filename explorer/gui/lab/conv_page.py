"""Page 1, the convolution playground: the lecture's 10x10 table (or a picture), a kernel
editor with presets, padding / stride / dilation, the output with the lecture's size
formula filled in, and an animated window showing each sum of products.

The two ways up of the lecture's FCN slides step the same way: a *transposed convolution*
(each input cell, in orange, scatters the kernel scaled by its value into the yellow output
cells, which add up cell after cell) and *up-sampling followed by convolution* (the input
made `factor` times larger, bilinear or nearest, then the forward steps on it).

Every number comes from :mod:`explorer.lab.conv` (the same calls ``cnn-explorer lab conv``
makes); this module only lays them out.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.errors import UserError
from explorer.gui.common import theme
from explorer.gui.common.canvas import ImageCanvas, lookup_table
from explorer.gui.lab.common import (
    PADDED,
    TARGET,
    WINDOW,
    LabPage,
    NumberGrid,
    SampleChooser,
    big_label,
    compact,
    error_text,
    fmt,
    grey_array,
    swatch,
    wrapped_label,
)
from explorer.lab import conv
from explorer.lab.table import lecture_table

#: largest input shown as numbers; bigger ones are drawn as a picture
MAX_NUMERIC = 16
IMAGE_SIZES = (16, 32, 64)
#: a small input for the up-sampling operations (its outputs still read as numbers)
CORNER = "table corner 4x4"
#: (key, menu text) of the operations the page steps through
OPERATIONS = (
    ("convolution", "convolution"),
    # short: at 1366x768 in presentation mode the box shows about 17 characters
    ("transposed", "transposed conv"),
    ("upsample-bilinear", "bilinear up, conv"),
    ("upsample-nearest", "nearest up, conv"),
)
#: what to look at, for the operations that read differently from the page's hint
OPERATION_HINTS = {
    "transposed": "The orange input cell scatters the kernel, scaled by its value, into the "
                  "yellow output cells, where the copies add up. Space / → steps.",
    "upsample": "The input is up-sampled first; then the yellow window, multiplied with the "
                "kernel and summed, gives the orange output cell. Space / → steps.",
}
#: the stride slide's chain: 5x5 valid kernels, stride 2, from 128 (its last number is a
#: slip: floor((29 - 5) / 2) + 1 is 13); the page says so when it shows that chain
SLIDE_CHAIN = ((5, 2), (128, 62, 29, 12))
#: where the chain of repeated layers starts (the slide's input size)
CHAIN_START = 128


class KernelEditor(NumberGrid):
    """The kernel w as a grid of numbers; a click on a cell opens a spin box over it to
    type the weight (Enter or a click elsewhere keeps it). Calls `on_change` after an
    edit."""

    def __init__(self, on_change, parent: QWidget | None = None) -> None:
        super().__init__(parent, cell=46, decimals=3)
        self._on_change = on_change
        self._w = np.zeros((3, 3))
        self._editing: tuple[int, int] | None = None
        self.spin = QDoubleSpinBox(self)
        self.spin.setRange(-99.0, 99.0)
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.1)
        self.spin.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.spin.hide()
        self.spin.editingFinished.connect(self._finish)
        self.cellPicked.connect(self.start_edit)
        self.setToolTip("Click a weight to type a new one.")
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_kernel(self, w: np.ndarray) -> None:
        self._w = np.array(w, dtype=np.float64)
        self.set_values(self._w, shade=False)

    def kernel(self) -> np.ndarray:
        """ndarray[k, k] float64 as typed (typed weights are rounded to 3 decimals)."""
        return self._w.copy()

    def set_weight(self, r: int, c: int, value: float) -> None:
        """Type `value` into cell (r, c) (what an edit does)."""
        self._w[r, c] = round(float(value), 3)
        self.set_values(self._w, shade=False)
        self._on_change()

    def start_edit(self, r: int, c: int) -> None:
        self._editing = (r, c)
        self.spin.setFont(self.cell_font())
        self.spin.setGeometry(self.cell_rect(r, c).toRect())
        self.spin.setValue(float(self._w[r, c]))
        self.spin.show()
        self.spin.setFocus()
        self.spin.selectAll()

    def _finish(self) -> None:
        cell, self._editing = self._editing, None
        self.spin.hide()
        if cell is not None and round(self.spin.value(), 3) != round(self._w[cell], 3):
            self.set_weight(*cell, self.spin.value())


class MatrixOrPicture(QStackedWidget):
    """A :class:`NumberGrid` for small arrays, an :class:`ImageCanvas` for larger ones."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = NumberGrid()
        self.canvas = ImageCanvas(background=theme.current().base)
        self.addWidget(self.grid)
        self.addWidget(self.canvas)
        self.numeric = True

    def sizeHint(self):  # noqa: N802 (Qt name)
        return self.grid.sizeHint() if self.numeric else self.canvas.sizeHint()

    def _fit_height(self) -> None:
        # as tall as the numbers need at this width (a picture takes what it is given)
        limit = (max(self.grid.minimumSizeHint().height(), self.grid.height_for(self.width()))
                 if self.numeric else 16777215)
        if self.maximumHeight() != limit:
            self.setMaximumHeight(limit)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._fit_height()
        super().resizeEvent(event)

    def set_values(self, values: np.ndarray, origin=(0, 0), special=None,
                   cmap: str = "grey") -> None:
        self.numeric = max(values.shape) <= MAX_NUMERIC
        if self.numeric:
            self.grid.set_values(values, origin, special=special)
            self.setCurrentWidget(self.grid)
        else:
            shown = values.astype(np.float32)
            self.canvas.set_image(shown, levels=None, lut=lookup_table(cmap))
            self.canvas.set_marker(None)
            self.setCurrentWidget(self.canvas)
        self._fit_height()

    def mark(self, cells: list[tuple[int, int]], target: bool = False) -> None:
        """Highlight `cells` (the window, or the one output cell)."""
        if self.numeric:
            self.grid.highlight([(TARGET if target else WINDOW, cells)])
        elif cells:
            rows = [r for r, _ in cells]
            cols = [c for _, c in cells]
            self.canvas.set_marker((min(cols), min(rows), max(cols) + 1, max(rows) + 1))
        else:
            self.canvas.set_marker(None)


def size_formula(axis: str, m: int, k: int, s: int, pads: tuple[int, int], d: int) -> str:
    """The lecture's output-size formula with the numbers filled in (HTML).

    Valid padding without dilation uses the lecture's form ``M_l = floor((M_{l-1} - k)/s) + 1``;
    anything else the general form of :func:`explorer.lab.conv.formula`.
    """
    sym = "M" if axis == "rows" else "N"
    n = conv.output_size(m + pads[0] + pads[1], k, s, 0, d)
    if pads == (0, 0) and d == 1:
        return (f"{axis}: {sym}<sub>l</sub> = ⌊({sym}<sub>l−1</sub> − k) / s⌋ + 1 "
                f"= ⌊({m} − {k}) / {s}⌋ + 1 = <b>{n}</b>")
    # the same arithmetic as explorer.lab.conv.formula, typeset
    return (f"{axis}: {sym}<sub>l</sub> = ⌊({sym}<sub>l−1</sub> + p<sub>before</sub> + "
            f"p<sub>after</sub> − d(k−1) − 1) / s⌋ + 1 = ⌊({m} + {pads[0]} + {pads[1]} − "
            f"{d}·({k}−1) − 1) / {s}⌋ + 1 = <b>{n}</b>")


def upsample_formula(axis: str, m: int, f: int, k: int, pads: tuple[int, int], d: int) -> str:
    """Up-sampling by `f`, then the lecture's size formula on the larger input, with the
    numbers filled in (HTML, short enough for the presentation theme)."""
    big = m * f
    n = conv.output_size(big + pads[0] + pads[1], k, 1, 0, d)
    if pads == (0, 0) and d == 1:
        return f"{axis}: {m}·{f} = {big}, ⌊({big} − {k}) / 1⌋ + 1 = <b>{n}</b>"
    return (f"{axis}: {m}·{f} = {big}, ⌊({big} + {pads[0]} + {pads[1]} − {d}·({k}−1) − 1)"
            f" / 1⌋ + 1 = <b>{n}</b>")


def _term(v: float, w: float) -> str:
    a, b = fmt(v), fmt(w, 3)
    return f"{a if v >= 0 else f'({a})'}·{b if w >= 0 else f'({b})'}"


class ConvPage(LabPage):
    title = "1  Convolution"
    slide = "“Remember convolution w * x”, padding, strides"
    hint = ("The yellow window, multiplied cell by cell with the kernel and summed, gives "
            "the orange output cell. Space / → steps; click a weight to change it.")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x = lecture_table()
        self.source = "lecture table"
        self.output = np.zeros((0, 0))
        self.steps: list[conv.Step] = []
        self.step_index = -1
        #: the transposed convolution's scatter steps (``steps`` is empty then)
        self.scatter: list[conv.ScatterStep] = []
        #: the up-sampled input, while the operation up-samples first
        self.upsampled: np.ndarray | None = None
        #: the repeated-layer chain shown under the sizes ([] when none is shown)
        self.chain: list[int] = []
        self.error = ""
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._build()
        self.set_preset("box", 3)

    # -- construction -----------------------------------------------------------------
    def _build(self) -> None:
        src = QGroupBox("Input x")
        form = QFormLayout(src)
        self.input_combo = SampleChooser(with_table=True, default="lecture table")
        self.input_combo.insertItem(1, CORNER)
        self.input_combo.currentIndexChanged.connect(self._input_changed)
        self.size_combo = compact(QComboBox(), 5)
        self.size_combo.setToolTip("the picture's shorter side, in pixels")
        for s in IMAGE_SIZES:
            self.size_combo.addItem(f"{s} px", s)
        self.size_combo.setCurrentIndex(len(IMAGE_SIZES) - 1)
        self.size_combo.currentIndexChanged.connect(self._input_changed)
        self.size_combo.setEnabled(False)
        form.addRow("picture", self.input_combo)
        form.addRow("size", self.size_combo)

        kbox = QGroupBox("Kernel w")
        kform = QVBoxLayout(kbox)
        row = QHBoxLayout()
        self.preset_combo = compact(QComboBox(), 9)
        for name in conv.kernel_names():
            self.preset_combo.addItem(name)
        self.preset_combo.addItem("custom")
        self.ksize_combo = QComboBox()
        self.ksize_combo.addItems(["3x3", "5x5"])
        self.preset_combo.activated.connect(lambda _i: self._preset_chosen())
        self.ksize_combo.activated.connect(lambda _i: self._preset_chosen())
        row.addWidget(self.preset_combo, 1)
        row.addWidget(self.ksize_combo)
        kform.addLayout(row)
        self.flip_check = QCheckBox("flip it (true convolution)")
        self.flip_check.setChecked(True)
        self.flip_check.setToolTip("Unchecked: correlation, which is what a CNN layer "
                                   "(torch's conv2d) computes.")
        self.flip_check.toggled.connect(self.recompute)
        kform.addWidget(self.flip_check)

        gbox = QGroupBox("Geometry")
        gform = QFormLayout(gbox)
        self.padding_combo = compact(QComboBox(), 9)
        self.padding_combo.addItems(list(conv.PADDINGS))
        self.padding_combo.currentIndexChanged.connect(self.recompute)
        self.stride_spin = QSpinBox()
        self.stride_spin.setRange(1, 5)
        self.dilation_spin = QSpinBox()
        self.dilation_spin.setRange(1, 3)
        self.operation_combo = compact(QComboBox(), 9)
        for key, text in OPERATIONS:
            self.operation_combo.addItem(text, key)
        self.operation_combo.setToolTip(
            "Transposed convolution: each input cell scatters the kernel, scaled by its "
            "value, stride cells apart. Up-sample, convolve: the input made 'factor' times "
            "larger, then an ordinary convolution.")
        for w in (self.stride_spin, self.dilation_spin):
            w.valueChanged.connect(self.recompute)
        self.operation_combo.currentIndexChanged.connect(self.recompute)
        steps = QHBoxLayout()
        steps.addWidget(self.stride_spin)
        steps.addWidget(QLabel("dilation"))
        steps.addWidget(self.dilation_spin)
        #: "stride", or "factor" while the input is up-sampled first
        self.stride_label = QLabel("stride")
        gform.addRow("operation", self.operation_combo)
        gform.addRow("padding", self.padding_combo)
        gform.addRow(self.stride_label, steps)

        abox = QGroupBox("Animation")
        alay = QVBoxLayout(abox)
        buttons = QHBoxLayout()
        self.back_button = QPushButton("◀")
        self.play_button = QPushButton("▶ play")
        self.next_button = QPushButton("▶|")
        self.reset_button = QPushButton("reset")
        self.back_button.setToolTip("one step back (←)")
        self.next_button.setToolTip("one step (space or →)")
        self.back_button.clicked.connect(self.step_back)
        self.play_button.clicked.connect(self.toggle_play)
        self.next_button.clicked.connect(self.step_forward)
        self.reset_button.clicked.connect(self.reset_animation)
        for b in (self.back_button, self.play_button, self.next_button, self.reset_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep space for the page keys
            buttons.addWidget(b)
        alay.addLayout(buttons)
        speed = QHBoxLayout()
        speed.addWidget(QLabel("slow"))
        self.speed_slider = QSlider(Qt.Orientation.Horizontal)
        self.speed_slider.setRange(1, 20)  # steps per second
        self.speed_slider.setValue(3)
        self.speed_slider.valueChanged.connect(self._speed_changed)
        speed.addWidget(self.speed_slider, 1)
        speed.addWidget(QLabel("fast"))
        alay.addLayout(speed)

        controls = QVBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for box in (src, kbox, gbox, abox):
            controls.addWidget(box)
        controls.addStretch(1)
        left = QWidget()
        left.setLayout(controls)

        self.input_view = MatrixOrPicture()
        self.output_view = MatrixOrPicture()
        self.output_view.grid.decimals = 1
        self.editor = KernelEditor(self._kernel_edited)
        self.applied_grid = NumberGrid(cell=46, decimals=3)
        self.input_title = wrapped_label(rich=True)
        self.output_title = wrapped_label(rich=True)
        self.editor_title = wrapped_label("<b>kernel w</b>", rich=True)
        self.editor_title.setToolTip("Click a weight to type a new one.")
        self.applied_title = wrapped_label(rich=True)
        in_col = QVBoxLayout()
        in_col.addWidget(self.input_title)
        in_col.addWidget(self.input_view, 1)
        in_col.addStretch(0)
        out_col = QVBoxLayout()
        out_col.addWidget(self.output_title)
        out_col.addWidget(self.output_view, 1)
        out_col.addStretch(0)
        k_col = QVBoxLayout()
        k_col.addWidget(self.editor_title)
        k_col.addWidget(self.editor, 1)
        k_col.addWidget(self.applied_title)
        k_col.addWidget(self.applied_grid, 1)
        k_col.addStretch(0)
        self.grids = grids = QHBoxLayout()
        grids.addLayout(in_col, 5)
        grids.addLayout(k_col, 2)
        grids.addLayout(out_col, 4)

        self.kernel_note = wrapped_label(name="hint")
        self.formula_label = big_label(scale=1.0)
        self.formula_label.setTextFormat(Qt.TextFormat.RichText)
        self.step_label = big_label(scale=1.0)
        self.step_label.setTextFormat(Qt.TextFormat.RichText)
        text = QGridLayout()
        text.addWidget(self.kernel_note, 0, 0)
        text.addWidget(self.formula_label, 1, 0)
        text.addWidget(self.step_label, 0, 1, 2, 1)
        text.setColumnStretch(0, 3)
        text.setColumnStretch(1, 2)
        # the grids as tall as their numbers need, the text right under them, the rest
        # of the height below
        right = QVBoxLayout()
        right.addLayout(grids)
        right.addLayout(text)
        right.addStretch(1)

        main = QHBoxLayout()
        main.addWidget(left)
        main.addLayout(right, 1)
        self.body.addLayout(main, 1)

    # -- public -----------------------------------------------------------------------
    def set_preset(self, name: str, size: int = 3) -> None:
        """Load kernel preset `name` (see explorer.lab.conv.kernel_names) at `size`."""
        self.preset_combo.setCurrentText(name)
        self.ksize_combo.setCurrentText(f"{size}x{size}")
        self._preset_chosen()

    def set_input(self, name: str, size: int | None = None) -> None:
        """"lecture table" or a sample name; pictures are made grey 0..255 at `size`."""
        if size is not None:
            self.size_combo.setCurrentIndex(IMAGE_SIZES.index(size))
        self.input_combo.setCurrentText(name)
        self._input_changed()

    def set_current_image(self, image) -> None:
        self.input_combo.set_current_image(image)

    def settings(self) -> dict:
        operation = self.operation_combo.currentData()
        return {
            "padding": self.padding_combo.currentText(),
            "stride": self.stride_spin.value(),
            "dilation": self.dilation_spin.value(),
            "mode": "convolution" if self.flip_check.isChecked() else "correlation",
            "operation": operation.split("-")[0],
            "transposed": operation == "transposed",
            "interpolation": operation.split("-")[1] if "-" in operation else None,
        }

    def set_operation(self, operation: str, interpolation: str = "bilinear") -> None:
        """"convolution", "transposed" or "upsample" (with `interpolation`, bilinear or
        nearest): what the page computes and steps through."""
        key = f"upsample-{interpolation}" if operation == "upsample" else operation
        index = self.operation_combo.findData(key)
        if index < 0:
            raise ValueError(f"no operation {operation!r} ({interpolation})")
        self.operation_combo.setCurrentIndex(index)

    def apply_preset(self, preset: dict) -> None:
        """Set the page as one lecture example asks (the tour's presets, keys as in
        explorer.tour.steps.PRESET_KEYS for ("lab", "conv")): input, kernel and size,
        padding, stride, dilation, mode, operation (+ interpolation), and `step` steps of
        the demonstration already taken. One recompute at the end."""
        widgets = (self.input_combo, self.size_combo, self.preset_combo, self.ksize_combo,
                   self.padding_combo, self.stride_spin, self.dilation_spin,
                   self.flip_check, self.operation_combo)
        for w in widgets:
            w.blockSignals(True)
        try:
            if "input" in preset:
                self.input_combo.setCurrentText(str(preset["input"]))
            self.preset_combo.setCurrentText(str(preset.get("kernel", "box")))
            self.ksize_combo.setCurrentText("{0}x{0}".format(int(preset.get("size", 3))))
            self.padding_combo.setCurrentText(str(preset.get("padding", "valid")))
            self.stride_spin.setValue(int(preset.get("stride", 1)))
            self.dilation_spin.setValue(int(preset.get("dilation", 1)))
            self.flip_check.setChecked(preset.get("mode", "convolution") == "convolution")
            self.set_operation(str(preset.get("operation", "convolution")),
                               str(preset.get("interpolation", "bilinear")))
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._load_input()
        self._preset_chosen()  # sets the kernel and recomputes
        for _ in range(int(preset.get("step", 0))):
            if not self.step_forward():
                break

    def kernel(self) -> np.ndarray:
        return self.editor.kernel()

    # -- reacting ---------------------------------------------------------------------
    def _preset_chosen(self) -> None:
        name = self.preset_combo.currentText()
        size = 3 if self.ksize_combo.currentText() == "3x3" else 5
        if name == "custom":
            w = np.zeros((size, size))
            w[size // 2, size // 2] = 1.0
            self.kernel_note.setText("Type your own weights.")
        else:
            w = conv.kernel(name, size)
            self.kernel_note.setText(conv.KERNEL_DESCRIPTIONS.get(name, ""))
        self._preset_kernel = w
        self.editor.set_kernel(w)
        self.recompute()

    def _kernel_edited(self) -> None:
        if self.preset_combo.currentText() != "custom":
            self.preset_combo.setCurrentText("custom")
            self.kernel_note.setText("Edited by hand.")
        self.recompute()

    def _input_changed(self) -> None:
        self._load_input()
        self.recompute()

    def _load_input(self) -> None:
        if self.input_combo.currentText() == CORNER:
            self.size_combo.setEnabled(False)
            self.x, self.source = lecture_table()[:4, :4].copy(), "lecture table's corner"
            return
        image = self.input_combo.image()
        self.size_combo.setEnabled(image is not None)
        if image is None:
            self.x, self.source = lecture_table(), "lecture table"
        else:
            size = self.size_combo.currentData()
            self.x, self.source = grey_array(image, size), image.name

    def _preset_or_typed(self) -> np.ndarray:
        # the spin boxes hold 3 decimals; an untouched preset keeps its exact values (1/9)
        typed = self.editor.kernel()
        preset = getattr(self, "_preset_kernel", None)
        if preset is not None and preset.shape == typed.shape and np.allclose(
                preset, typed, atol=6e-4):
            return preset
        return typed

    def recompute(self) -> None:
        """Compute the chosen operation with the current settings and redraw everything."""
        self.timer.stop()
        self.play_button.setText("▶ play")
        w = self._preset_or_typed()
        st = self.settings()
        s, d, padding, op = st["stride"], st["dilation"], st["padding"], st["operation"]
        self.padding_combo.setEnabled(op != "transposed")
        self.stride_label.setText("factor" if op == "upsample" else "stride")
        self.stride_spin.setToolTip("how many times larger the input is made before the "
                                    "convolution" if op == "upsample" else
                                    "cells the kernel moves between outputs")
        self.scatter, self.steps, self.upsampled, self.chain = [], [], None, []
        h, wd = self.x.shape
        try:
            if op == "transposed":
                self.output = conv.transposed(self.x, w, s, 0, d)
                self.scatter = list(conv.transposed_steps(self.x, w, s, 0, d))
                shown, origin, special = self.x, (0, 0), None
                applied = w
                sizes = [
                    f"{axis}: (M − 1)·s − 2p + d(k − 1) + 1 = ({m} − 1)·{s} − 2·0 + "
                    f"{d}·({k} − 1) + 1 = <b>{conv.transposed_output_size(m, k, s, 0, d)}</b>"
                    for axis, m, k in (("rows", h, w.shape[0]), ("cols", wd, w.shape[1]))
                ]
            else:
                x = self.x
                if op == "upsample":
                    # the factor is the stride spin's; the convolution after it has stride 1
                    x = self.upsampled = conv.upsample(self.x, s, st["interpolation"])
                    s = 1
                self.output = conv.convolve(x, w, padding, s, d, st["mode"])
                self.steps = list(conv.steps(x, w, padding, s, d, st["mode"]))
                shown = conv.pad(x, w.shape, padding, d)
                top = conv.pad_amounts(w.shape[0], d, padding)[0]
                left = conv.pad_amounts(w.shape[1], d, padding)[0]
                origin = (top, left)
                special = np.ones(shown.shape, dtype=bool)
                special[top:top + x.shape[0], left:left + x.shape[1]] = False
                applied = conv.applied_kernel(w, st["mode"])
                sizes = [
                    size_formula(axis, m, k, s, conv.pad_amounts(k, d, padding), d)
                    for axis, m, k in (("rows", x.shape[0], w.shape[0]),
                                       ("cols", x.shape[1], w.shape[1]))
                ]
                if op == "upsample":
                    sizes = [upsample_formula(axis, m, st["stride"], k,
                                              conv.pad_amounts(k, d, padding), d)
                             for axis, m, k in (("rows", h, w.shape[0]),
                                                ("cols", wd, w.shape[1]))]
                else:
                    sizes.append(self._chain_text(w.shape[0], s, padding, d))
            self.error = ""
        except UserError as exc:
            self.error = str(exc)
            self.output = np.zeros((0, 0))
            self.steps, self.scatter = [], []
            self.formula_label.setText(error_text(str(exc)))
            self.step_label.setText("")
            return
        self._origin = origin
        self._kernel_shown = applied
        self.input_view.set_values(shown, origin, special)
        self._show_output(self.output)
        self.applied_grid.set_values(applied, shade=False)
        # share the width as the grids need it (the output's numbers are longer)
        for i, view in enumerate((self.input_view, self.applied_grid, self.output_view)):
            self.grids.setStretch(i, max(1, view.sizeHint().width()))
        self._titles(st)
        rows, cols = sizes[0].split(": ", 1), sizes[1].split(": ", 1)
        # a square input and kernel: the formula said once
        if cols[1] in (rows[1], rows[1].replace("M", "N")):
            sizes[:2] = [f"rows and cols: {rows[1]}"]
        self.formula_label.setText("<b>Output size</b><br>" + "<br>".join(t for t in sizes
                                                                         if t))
        self.step_index = -1
        self._show_step()

    def _show_output(self, values: np.ndarray) -> None:
        cmap = "coolwarm" if self.output.size and self.output.min() < 0 else "grey"
        self.output_view.set_values(values, cmap=cmap)

    def _titles(self, st: dict) -> None:
        op, padding = st["operation"], st["padding"]
        if self.hint_label is not None:
            self.hint_label.setText(OPERATION_HINTS.get(op, self.hint))
        h, wd = self.x.shape
        if op == "transposed":
            self.applied_title.setText("<b>scattered</b>: x<sub>ij</sub>·w")
        else:
            flipped = st["mode"] == "convolution"
            self.applied_title.setText("<b>on the window</b>" + (" (flipped)" if flipped
                                                                 else ""))
        pad_note = "" if padding == "valid" or op == "transposed" else (
            f" {swatch(PADDED, '<i>italic</i>')} = padding")
        what = f"<b>input x</b>: {self.source}, {h}x{wd}"
        if self.upsampled is not None:
            uh, uw = self.upsampled.shape
            what += f", up-sampled ×{st['stride']} ({st['interpolation']}) to {uh}x{uw}"
        self.input_title.setText(what + pad_note)
        name = {"transposed": "transposed convolution",
                "upsample": f"up-sampled, then {st['mode']}"}.get(op, st["mode"])
        self.output_title.setText(f"<b>output a</b> ({name}): "
                                  f"{self.output.shape[0]}x{self.output.shape[1]}")

    def _chain_text(self, k: int, s: int, padding: str, d: int) -> str:
        """The slide's question for this layer: its sizes when it is repeated from the
        slide's 128x128 input, until the kernel no longer fits ("" when it never shrinks)."""
        before, after = conv.pad_amounts(k, d, padding)
        try:
            chain = conv.size_chain(CHAIN_START, k, s, before, d) if before == after else []
        except UserError:
            chain = []
        if len(chain) < 2:
            return ""
        self.chain = chain
        shown = [str(n) for n in chain]
        if len(shown) > 9:
            shown = shown[:4] + ["…"] + shown[-3:]
        text = "repeated: " + " → ".join(shown)
        (slide_k, slide_s), slide = SLIDE_CHAIN
        if (k, s, before, d) == (slide_k, slide_s, 0, 1):
            for i, (ours, theirs) in enumerate(zip(chain, slide)):
                if ours != theirs:
                    text += (f" (slide: {theirs}; ⌊({chain[i - 1]}−{k})/{s}⌋+1 = "
                             f"<b>{ours}</b>)")
                    break
        return text

    # -- animation --------------------------------------------------------------------
    def step_count(self) -> int:
        """How many steps the demonstration has (output windows, or scattered cells)."""
        return len(self.scatter) or len(self.steps)

    def _show_step(self) -> None:
        n = self.step_count()
        if not n or self.step_index < 0:
            self.input_view.mark([])
            self.output_view.mark([], target=True)
            if self.scatter:
                self._show_output(self.output)
                self.applied_grid.set_values(self._kernel_shown, shade=False)
            first = ("scatter the first cell's kernel" if self.scatter
                     else "lay the kernel on the first window")
            self.step_label.setText(f"Press <b>▶|</b> (or space) to {first}." if n else "")
            self.back_button.setEnabled(False)
            self.next_button.setEnabled(bool(n))
            return
        if self.scatter:
            self._show_scatter()
        else:
            st = self.steps[self.step_index]
            top, left = self._origin
            window = [(int(r) + top, int(c) + left)
                      for r, c in zip(st.rows.ravel(), st.cols.ravel())]
            self.input_view.mark(window)
            self.output_view.mark([st.out], target=True)
            self.step_label.setText(self._sum_text(st))
        self.back_button.setEnabled(self.step_index > 0)
        self.next_button.setEnabled(self.step_index < n - 1)

    def partial_output(self, upto: int | None = None) -> np.ndarray:
        """The transposed convolution's output after the scatter steps 0..`upto` (default:
        the step shown): ndarray[H_out, W_out], equal to the output after the last step."""
        upto = self.step_index if upto is None else upto
        acc = np.zeros_like(self.output)
        for st in self.scatter[:upto + 1]:
            np.add.at(acc, (st.rows[st.inside], st.cols[st.inside]),
                      st.contributions[st.inside])
        return acc

    def _show_scatter(self) -> None:
        st = self.scatter[self.step_index]
        self.input_view.mark([st.source], target=True)
        self.applied_grid.set_values(st.contributions, shade=False)
        self._show_output(self.partial_output())
        cells = [(int(r), int(c)) for r, c in zip(st.rows[st.inside], st.cols[st.inside])]
        self.output_view.mark(cells)
        i, j = st.source
        rows, cols = st.rows[st.inside], st.cols[st.inside]
        where = (f"rows {rows.min()}–{rows.max()}, columns {cols.min()}–{cols.max()}"
                 if rows.size else "the cropped border only")
        self.step_label.setText(
            f"Step {self.step_index + 1} of {len(self.scatter)}: the orange input cell "
            f"x<sub>{i},{j}</sub> = <b>{fmt(st.value, 3)}</b> scatters "
            f"{fmt(st.value, 3)}·w into the yellow cells ({where}); each adds to what the "
            "cells before it left there.")

    def _sum_text(self, st: conv.Step) -> str:
        k1, k2 = st.values.shape
        cells = []
        for r in range(k1):
            tds = "".join(
                f"<td style='padding:0 4px'>{_term(st.values[r, c], st.weights[r, c])}</td>"
                for c in range(k2)
            )
            cells.append(f"<tr>{tds}</tr>")
        i, j = st.out
        return (f"Step {self.step_index + 1} of {len(self.steps)}: "
                f"a<sub>{i},{j}</sub> = Σ x·w over the window =<br>"
                f"<table>{''.join(cells)}</table>"
                f"= <b>{fmt(st.total, 3)}</b>")

    def step_forward(self) -> bool:
        if not self.step_count() or self.step_index >= self.step_count() - 1:
            return False
        self.step_index += 1
        self._show_step()
        return True

    def step_back(self) -> bool:
        if not self.step_count() or self.step_index <= 0:
            return False
        self.step_index -= 1
        self._show_step()
        return True

    def reset_animation(self) -> None:
        self.timer.stop()
        self.play_button.setText("▶ play")
        self.step_index = -1
        self._show_step()

    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.play_button.setText("▶ play")
            return
        if not self.step_count():
            return
        if self.step_index >= self.step_count() - 1:
            self.step_index = -1
        self._speed_changed()
        self.timer.start()
        self.play_button.setText("❚❚ pause")

    def _speed_changed(self) -> None:
        self.timer.setInterval(int(1000 / self.speed_slider.value()))

    def _tick(self) -> None:
        if not self.step_forward():
            self.timer.stop()
            self.play_button.setText("▶ play")

    def shutdown(self) -> None:
        self.timer.stop()
