"""What one layer is: its type, output shape, parameters, kernel arithmetic and the
receptive field a unit of its output sees in the input image."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from explorer.gui.explore.layer_tree import shape_text


def _pair(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, (tuple, list)):
        if len(set(value)) == 1:
            return f"{value[0]} × {value[0]}"
        return " × ".join(str(v) for v in value)
    return str(value)


def _number(n: float | None) -> str:
    if n is None:
        return "–"
    return f"{n:g}"


class LayerInfoPanel(QWidget):
    """A form of LayerInfo fields, in words a class can read from the back row."""

    FIELDS = [
        ("name", "Name"),
        ("type", "Type"),
        ("shape", "Output shape"),
        ("params", "Parameters"),
        ("kernel", "Kernel"),
        ("stride", "Stride"),
        ("padding", "Padding"),
        ("dilation", "Dilation"),
        ("rf", "Receptive field"),
        ("jump", "Jump"),
    ]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        # in a narrow column (a 1024-wide projector) a label goes above its value
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.values: dict[str, QLabel] = {}
        for key, label in self.FIELDS:
            value = QLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.values[key] = value
            form.addRow(f"{label}:", value)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addStretch(1)

    def show_info(self, info) -> None:
        """Fill the form from a LayerInfo (None clears it)."""
        if info is None:
            for value in self.values.values():
                value.setText("–")
            self.note.setText("")
            return
        v = self.values
        v["name"].setText(info.name)
        v["type"].setText(info.type)
        v["shape"].setText(shape_text(info.out_shape))
        v["params"].setText(f"{info.params:,}")
        v["kernel"].setText(_pair(info.kernel))
        v["stride"].setText(_pair(info.stride))
        v["padding"].setText(_pair(info.padding))
        v["dilation"].setText(_pair(info.dilation))
        if getattr(info, "rf_global", False):
            v["rf"].setText("the whole image")
        elif info.rf is not None:
            v["rf"].setText(f"{info.rf} × {info.rf} input pixels")
        else:
            v["rf"].setText("–")
        v["jump"].setText(
            "–" if info.jump is None else f"{_number(info.jump)} input pixels between units"
        )
        if info.rf is not None and not getattr(info, "rf_global", False):
            self.note.setText(
                "Each unit of this layer sees a square of the input "
                f"{info.rf} pixels wide; neighbouring units are {_number(info.jump)} pixels "
                "apart. Hover over the large channel to see a unit's field on the image."
            )
        elif getattr(info, "rf_global", False):
            self.note.setText("Every unit here depends on the whole input image.")
        else:
            self.note.setText("")
