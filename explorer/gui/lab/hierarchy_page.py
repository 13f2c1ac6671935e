"""Page 6, the hierarchy of features: the lecture's hand-built layer 1 (x and y derivative
filters followed by ReLU) and layer 2 (their weighted sums: second-order derivatives) on a
grey picture, from :func:`explorer.lab.hierarchy.hierarchy`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

from explorer.gui.lab.common import (
    ImageGrid,
    LabPage,
    SampleChooser,
    base_point_size,
    grey_array,
    signed_levels,
    wrapped_label,
)
from explorer.lab.hierarchy import hierarchy
from explorer.lab.table import lecture_table

LAYER1_TITLES = {
    "x+": "ReLU(∂/∂x)<br>brighter →",
    "x-": "ReLU(−∂/∂x)<br>darker →",
    "y+": "ReLU(∂/∂y)<br>brighter ↓",
    "y-": "ReLU(−∂/∂y)<br>darker ↓",
}
LAYER2_SHOWN = ("xx", "yy", "xy", "laplacian")
LAYER2_TITLES = {"xx": "∂²/∂x²", "yy": "∂²/∂y²", "xy": "∂²/∂x∂y",
                 "laplacian": "∂²/∂x² + ∂²/∂y²"}
SIZES = (64, 128, 256)


class HierarchyPage(LabPage):
    title = "6  Hierarchy of features"
    slide = "“Hierarchically gathering local spatial statistics”"
    hint = ("Layer 1 (top): x and y derivatives, each split by a ReLU into its positive and "
            "negative part. Layer 2 (below) sums layer-1 channels through derivative kernels "
            "again: second-order derivatives (red > 0, blue < 0).")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout()
        row.addWidget(QLabel("picture"))
        self.image_combo = SampleChooser(with_table=True, default="camera")
        self.image_combo.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        row.addWidget(self.image_combo)
        row.addWidget(QLabel("size"))
        self.size_combo = QComboBox()
        for s in SIZES:
            self.size_combo.addItem(f"{s} px", s)
        self.size_combo.setCurrentIndex(1)
        row.addWidget(self.size_combo)
        self.relu_check = QCheckBox("layer 2 after ReLU")
        row.addWidget(self.relu_check)
        row.addStretch(2)
        self.body.addLayout(row)
        self.grid = ImageGrid()
        self.grid.build([["input", *LAYER1_TITLES], [None, *LAYER2_SHOWN]])
        # the empty cell under the input names the rows
        self.row_note = pg.LabelItem("")
        self.grid.addItem(self.row_note, row=2, col=0, rowspan=2)
        self.body.addWidget(self.grid, 1)
        self.note = wrapped_label(
            "Layer 2's units see 5x5 input pixels (two 3x3 layers), layer 1's 3x3: each "
            "layer combines the one below over a larger area.", "hint")
        self.body.addWidget(self.note)
        self.image_combo.currentIndexChanged.connect(self.recompute)
        self.size_combo.currentIndexChanged.connect(self.recompute)
        self.relu_check.toggled.connect(self.recompute)
        self.result = None
        self.recompute()

    def themed(self, current, scale: float) -> None:
        self.row_note.setText("<b>layer 2</b><br>second<br>derivatives →",
                              size=f"{base_point_size():.1f}pt", color=current.text)

    def set_current_image(self, image) -> None:
        self.image_combo.set_current_image(image)

    def recompute(self) -> None:
        image = self.image_combo.image()
        if image is None:
            x = lecture_table()
            name = "lecture table"
        else:
            x = grey_array(image, self.size_combo.currentData()) / 255.0
            name = image.name
        self.result = hierarchy(x)
        self.grid.set_image("input", x, "grey", title=f"<b>input</b><br>{name}")
        top = float(np.percentile(np.stack(list(self.result.layer1.values())), 99.5)) or 1.0
        for key, title in LAYER1_TITLES.items():
            # one range for all four channels: their strengths stay comparable
            self.grid.set_image(key, self.result.layer1[key], "inferno", (0.0, top),
                                title=f"<b>{key}</b> {title}")
        layer2 = self.result.layer2_relu() if self.relu_check.isChecked() else self.result.layer2
        lo, hi = signed_levels(np.stack([layer2[k] for k in LAYER2_SHOWN]))
        for key in LAYER2_SHOWN:
            cmap, levels = ("inferno", (0.0, hi)) if self.relu_check.isChecked() else (
                "coolwarm", (lo, hi))
            self.grid.set_image(key, layer2[key], cmap, levels,
                                title=f"<b>{key}</b><br>{LAYER2_TITLES[key]}")
