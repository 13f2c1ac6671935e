"""Page 3, the parameter counter: the lecture's question (64x64 -> 256 -> 128 -> 64 -> 16
fully connected versus three 5x5 "valid" convolutions of 16 channels and a fully connected
layer to 16 classes), and VGG configurations A..E against the paper's Table 2.

Every number comes from :mod:`explorer.lab.params` (modules built on the meta device and
counted), the same calls ``cnn-explorer lab params`` and ``lab vgg`` make.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.lab.common import (
    LabPage,
    base_point_size,
    big_label,
    error_text,
    wrapped_label,
)
from explorer.lab import params

LAYER_COLUMNS = ["layer", "type", "output", "neurons", "weights", "biases", "params"]


class FitTable(QTableWidget):
    """A read-only table whose text shrinks (down to 60 % of ordinary text) until every
    column fits the width it is given: never a sideways scroll bar. Rows beyond the
    height scroll vertically."""

    #: the smallest text, relative to ordinary text
    SMALLEST = 0.6

    def __init__(self, headers: list[str]) -> None:
        super().__init__(0, len(headers))
        self.setHorizontalHeaderLabels(headers)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 80)
        self._fitting = False

    def _needed(self, font: QFont) -> list[float]:
        """Width each column needs at `font` (bold where an item is bold)."""
        metrics = QFontMetricsF(font)
        bold = QFont(font)
        bold.setBold(True)
        bold_metrics = QFontMetricsF(bold)
        pad = 2 * metrics.averageCharWidth() + 6
        widths = []
        for c in range(self.columnCount()):
            head = self.horizontalHeaderItem(c)
            w = bold_metrics.horizontalAdvance(head.text()) if head is not None else 0.0
            for r in range(self.rowCount()):
                item = self.item(r, c)
                if item is not None:
                    m = bold_metrics if item.font().bold() else metrics
                    w = max(w, m.horizontalAdvance(item.text()))
            widths.append(w + pad)
        return widths

    def fit(self) -> None:
        """Choose the text size and column widths for the present width."""
        if self._fitting:
            return
        self._fitting = True
        try:
            size = base_point_size()
            font = QFont(QApplication.font())  # not a group box's bold title font
            font.setPointSizeF(size)
            room = self.viewport().width() - 2
            if self.verticalScrollBar().isVisible():
                room = self.width() - 2 * self.frameWidth() - self.verticalScrollBar().width()
            needed = sum(self._needed(font))
            if needed > room > 0:
                font.setPointSizeF(max(size * self.SMALLEST, size * room / needed * 0.98))
            self.setFont(font)
            # a style sheet, not setFont: under the window's style sheet the header would
            # otherwise paint with its group box's larger font
            self.horizontalHeader().setStyleSheet(
                f"QHeaderView {{ font-size: {font.pointSizeF():.2f}pt; }}")
            widths = self._needed(font)
            spare = max(0.0, room - sum(widths))
            for c, w in enumerate(widths):
                # the spare room goes to the first (text) column
                self.setColumnWidth(c, int(w + (spare if c == 0 else 0)))
            row = int(QFontMetricsF(font).height() * 1.45)
            self.verticalHeader().setDefaultSectionSize(row)
            for r in range(self.rowCount()):
                self.setRowHeight(r, row)
        finally:
            self._fitting = False

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.fit()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        font = QFont(self.font())
        font.setPointSizeF(base_point_size())
        row = QFontMetricsF(font).height() * 1.45
        return QSize(int(sum(self._needed(font))) + 4,
                     int(row * (self.rowCount() + 1)) + 2 * self.frameWidth() + 4)


def table_widget(headers: list[str]) -> FitTable:
    return FitTable(headers)


def fill_rows(table: QTableWidget, rows: list[list[str]], bold_last: bool = False) -> None:
    """Rows of text; numbers (anything starting with a digit) are right-aligned."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            numeric = text[:1].isdigit() and c > 0
            align = Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
            item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
            if bold_last and r == len(rows) - 1:
                font = QFont()  # bold only: the size follows the table's
                font.setBold(True)
                item.setFont(font)
            table.setItem(r, c, item)
    if isinstance(table, FitTable):
        table.fit()
        table.updateGeometry()


def count_rows(net: params.NetworkCount) -> list[list[str]]:
    rows = [[r.name, r.description, "x".join(map(str, r.output_shape)), f"{r.neurons:,}",
             f"{r.weights:,}", f"{r.biases:,}", f"{r.params:,}"] for r in net.layers]
    rows.append(["total", "", "", "", "", "", f"{net.total:,}"])
    return rows


class ParamsPage(LabPage):
    title = "3  Parameter counter"
    slide = "“Question: Number of parameters”, VGG Table 2"
    hint = ("16 classes, input 64x64: fully connected layers against 5x5 valid convolutions "
            "(=>) and one fully connected layer (->). Every count comes from building the "
            "layers and counting their weights.")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fc: params.NetworkCount | None = None
        self.conv: params.NetworkCount | None = None
        self.vgg: dict[str, int] = {}
        self._build()
        self.recompute()
        self._fill_vgg()

    def _build(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.body.addWidget(self.tabs, 1)

        question = QWidget()
        qlay = QVBoxLayout(question)
        qlay.setContentsMargins(0, 4, 0, 0)
        knobs = QHBoxLayout()
        self.input_spin = QSpinBox()
        self.input_spin.setRange(16, 512)
        self.input_spin.setValue(64)
        self.kernel_spin = QSpinBox()
        self.kernel_spin.setRange(1, 11)
        self.kernel_spin.setValue(5)
        self.channels_spin = QSpinBox()
        self.channels_spin.setRange(1, 256)
        self.channels_spin.setValue(16)
        for label, spin in (("input size", self.input_spin), ("conv kernel", self.kernel_spin),
                            ("channels", self.channels_spin)):
            knobs.addWidget(QLabel(label))
            knobs.addWidget(spin)
            spin.valueChanged.connect(self.recompute)
        self.channels_spin.setToolTip("channels of each convolution layer")
        knobs.addStretch(1)
        qlay.addLayout(knobs)

        self.naive_label = big_label(scale=1.0)
        qlay.addWidget(self.naive_label)
        self.fc_table = table_widget(LAYER_COLUMNS)
        self.conv_table = table_widget(LAYER_COLUMNS)
        self.fc_box = QGroupBox("Fully connected")
        self.conv_box = QGroupBox("Convolutional")
        self.fc_arch = wrapped_label()
        self.conv_arch = wrapped_label()
        self.fc_total = big_label(scale=1.1)
        self.conv_total = big_label(scale=1.1)
        for box, arch, table, total in (
                (self.fc_box, self.fc_arch, self.fc_table, self.fc_total),
                (self.conv_box, self.conv_arch, self.conv_table, self.conv_total)):
            lay = QVBoxLayout(box)
            lay.addWidget(arch)
            lay.addWidget(table, 1)
            lay.addWidget(total)
        pair = QHBoxLayout()
        pair.addWidget(self.fc_box, 1)
        pair.addWidget(self.conv_box, 1)
        qlay.addLayout(pair, 1)
        self.verdict = big_label(scale=1.15)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        qlay.addWidget(self.verdict)
        self.tabs.addTab(question, "The lecture's question")

        vgg = QWidget()
        vlay = QHBoxLayout(vgg)
        vlay.setContentsMargins(0, 4, 0, 0)
        left = QVBoxLayout()
        left.addWidget(wrapped_label("Simonyan and Zisserman, Tables 1 and 2: every "
                                     "configuration counted at 224x224 input.", "hint"))
        self.vgg_table = table_widget(["config", "weight layers", "parameters", "millions",
                                       "paper"])
        self.vgg_table.horizontalHeaderItem(4).setToolTip("millions in the paper's Table 2")
        left.addWidget(self.vgg_table, 1)
        vlay.addLayout(left, 1)
        right = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("layers of configuration"))
        self.config_combo = QComboBox()
        self.config_combo.addItems(list(params.VGG_CONFIGS))
        self.config_combo.setCurrentText("D")
        self.config_combo.currentTextChanged.connect(self.show_config)
        row.addWidget(self.config_combo)
        row.addStretch(1)
        right.addLayout(row)
        self.config_table = table_widget(["layer", "type", "output", "parameters"])
        right.addWidget(self.config_table, 1)
        vlay.addLayout(right, 1)
        self.tabs.addTab(vgg, "VGG (Table 2)")

    def recompute(self) -> None:
        n, k, ch = self.input_spin.value(), self.kernel_spin.value(), self.channels_spin.value()
        try:
            self.fc, self.conv = params.fc_vs_conv((n, n), channels=(ch, ch, ch), kernel=k)
        except Exception as exc:  # UserError: the convolutions do not fit
            self.verdict.setText(error_text(str(exc)))
            return
        first = params.first_layer_weights((n, n), 128)
        self.naive_label.setText(
            f"The lecture's naive first layer {n}x{n} → 128 alone has {first:,} weights.")
        self.fc_arch.setText(self.fc.name)
        self.conv_arch.setText(self.conv.name)
        fill_rows(self.fc_table, count_rows(self.fc), bold_last=True)
        fill_rows(self.conv_table, count_rows(self.conv), bold_last=True)
        hidden_fc = [r.neurons for r in self.fc.layers[:-1]]
        hidden_conv = [r.neurons for r in self.conv.layers[:-1]]
        self.fc_total.setText(f"{self.fc.total:,} parameters; hidden neurons "
                              + " + ".join(f"{h:,}" for h in hidden_fc)
                              + f" = {sum(hidden_fc):,}")
        self.conv_total.setText(f"{self.conv.total:,} parameters; hidden neurons "
                                + " + ".join(f"{h:,}" for h in hidden_conv)
                                + f" = {sum(hidden_conv):,}")
        ratio = self.fc.total / max(1, self.conv.total)
        self.verdict.setText(
            f"The convolutional network has <b>{ratio:.1f}x fewer parameters</b> "
            f"({self.conv.total:,} vs {self.fc.total:,}) but <b>"
            f"{sum(hidden_conv) / max(1, sum(hidden_fc)):.0f}x more hidden neurons</b>: "
            "larger layers, sparser connections, shared weights.")

    def _fill_vgg(self) -> None:
        self.vgg = params.vgg_totals()
        rows = [[key, str(params.VGG_WEIGHT_LAYERS[key]), f"{total:,}",
                 str(round(total / 1e6)), str(params.VGG_PAPER_MILLIONS[key])]
                for key, total in self.vgg.items()]
        fill_rows(self.vgg_table, rows)
        self.show_config(self.config_combo.currentText())

    def show_config(self, config: str) -> None:
        net = params.vgg_count(config)
        rows = [[r.name, r.description, "x".join(map(str, r.output_shape)), f"{r.params:,}"]
                for r in net.layers]
        rows.append(["total", "", "", f"{net.total:,}"])
        fill_rows(self.config_table, rows, bold_last=True)
