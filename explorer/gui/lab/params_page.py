"""Page 3, the parameter counter: the lecture's question (64x64 -> 256 -> 128 -> 64 -> 16
fully connected versus three 5x5 "valid" convolutions of 16 channels and a fully connected
layer to 16 classes), and VGG configurations A..E against the paper's Table 2.

Every number comes from :mod:`explorer.lab.params` (modules built on the meta device and
counted), the same calls ``cnn-explorer lab params`` and ``lab vgg`` make.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.lab.common import LabPage, big_label
from explorer.lab import params

LAYER_COLUMNS = ["layer", "type", "output", "neurons", "weights", "biases", "parameters"]


def table_widget(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # rows grow with the font (presentation mode)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


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
                font = QFont(table.font())
                font.setBold(True)
                item.setFont(font)
            table.setItem(r, c, item)


def count_rows(net: params.NetworkCount) -> list[list[str]]:
    rows = [[r.name, r.description, "x".join(map(str, r.output_shape)), f"{r.neurons:,}",
             f"{r.weights:,}", f"{r.biases:,}", f"{r.params:,}"] for r in net.layers]
    rows.append(["total", "", "", "", "", "", f"{net.total:,}"])
    return rows


class ParamsPage(LabPage):
    title = "3  Parameter counter"
    slide = "“Question: Number of parameters”, VGG Table 2"
    hint = ("16 classes, input 64x64. Fully connected 64x64 → 256 → 128 → 64 → 16 against "
            "64x64 ⇒ 16 ⇒ 16 ⇒ 16 → 16 (⇒ = 5x5 valid convolution, → = fully connected). "
            "Every count comes from building the layers and counting their weights.")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fc: params.NetworkCount | None = None
        self.conv: params.NetworkCount | None = None
        self.vgg: dict[str, int] = {}
        self._build()
        self.recompute()
        self._fill_vgg()

    def _build(self) -> None:
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
                            ("channels per conv layer", self.channels_spin)):
            knobs.addWidget(QLabel(label))
            knobs.addWidget(spin)
            spin.valueChanged.connect(self.recompute)
        knobs.addStretch(1)
        self.body.addLayout(knobs)

        self.naive_label = big_label()
        self.body.addWidget(self.naive_label)
        self.fc_table = table_widget(LAYER_COLUMNS)
        self.conv_table = table_widget(LAYER_COLUMNS)
        self.fc_box = QGroupBox("")
        self.conv_box = QGroupBox("")
        self.fc_total = big_label(scale=1.3)
        self.conv_total = big_label(scale=1.3)
        for box, table, total in ((self.fc_box, self.fc_table, self.fc_total),
                                  (self.conv_box, self.conv_table, self.conv_total)):
            lay = QVBoxLayout(box)
            lay.addWidget(table, 1)
            lay.addWidget(total)
        pair = QHBoxLayout()
        pair.addWidget(self.fc_box, 1)
        pair.addWidget(self.conv_box, 1)
        self.body.addLayout(pair, 3)
        self.verdict = big_label(scale=1.3)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.body.addWidget(self.verdict)

        vbox = QGroupBox("VGG configurations (Simonyan and Zisserman, Tables 1 and 2), "
                         "counted at 224x224")
        vlay = QHBoxLayout(vbox)
        self.vgg_table = table_widget(["config", "weight layers", "parameters", "millions",
                                       "paper (Table 2)"])
        vlay.addWidget(self.vgg_table, 1)
        right = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("layers of"))
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
        self.body.addWidget(vbox, 3)

    def recompute(self) -> None:
        n, k, ch = self.input_spin.value(), self.kernel_spin.value(), self.channels_spin.value()
        try:
            self.fc, self.conv = params.fc_vs_conv((n, n), channels=(ch, ch, ch), kernel=k)
        except Exception as exc:  # UserError: the convolutions do not fit
            self.verdict.setText(f"<span style='color:#c0392b'>{exc}</span>")
            return
        first = params.first_layer_weights((n, n), 128)
        self.naive_label.setText(
            f"The lecture's naive first layer {n}x{n} → 128 alone has {first:,} weights.")
        self.fc_box.setTitle(f"Fully connected: {self.fc.name}")
        self.conv_box.setTitle(f"Convolutional: {self.conv.name}")
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
