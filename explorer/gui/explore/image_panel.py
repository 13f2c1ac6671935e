"""The input picture as the network sees it (resized, cropped, grey for grey networks),
with the sample gallery and "Open image..." beside it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from explorer.app.pictures import SAMPLE_NAMES
from explorer.gui.common.canvas import ImageCanvas

#: what the sample combo shows when the picture is not one of the samples
OWN_IMAGE = "(your image)"


class ImagePanel(QWidget):
    """Shows the network's input; asks for a sample or a file (the window does the loading)."""

    sampleChosen = Signal(str)
    openRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = ImageCanvas(background="#202020")
        self.canvas.setMinimumSize(120, 120)
        self.canvas.view.setMouseEnabled(x=False, y=False)
        self.caption = QLabel("No image yet")
        self.caption.setWordWrap(True)
        self.caption.setObjectName("hint")
        self.samples = QComboBox()
        self.samples.addItems(SAMPLE_NAMES)
        # as wide as the column gives, not as the longest name: the column must fit a
        # 1024-wide projector beside the mosaic (the list still shows names whole)
        self.samples.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.samples.setMinimumContentsLength(6)
        self.samples.setToolTip("Pictures that ship with the explorer")
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Open a picture from disk (or drop one on the window)")
        # the button under the samples: in one row they held the column 320 px wide (430
        # in presentation mode), too wide beside the mosaic on a 1024-wide projector
        row = QHBoxLayout()
        row.addWidget(QLabel("Sample:"))
        row.addWidget(self.samples, 1)
        button_row = QHBoxLayout()
        button_row.addStretch(1)
        button_row.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        layout.addLayout(row)
        layout.addLayout(button_row)
        self.samples.activated.connect(lambda i: self.sampleChosen.emit(self.samples.itemText(i)))
        self.open_button.clicked.connect(self.openRequested)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt name)
        # the picture takes what height there is: asking for its wrapped caption's
        # preferred height made the column squeeze the network's description above it
        # until its lines overlapped (a 1024x768 window)
        return False

    def show_input(self, picture: np.ndarray | None, caption: str, sample: str | None) -> None:
        """Show `picture` (float [H, W, 3] in [0, 1]) and mark `sample` in the gallery."""
        self.canvas.set_image(picture, levels=(0.0, 1.0))
        self.caption.setText(caption)
        self.samples.blockSignals(True)
        own = self.samples.findText(OWN_IMAGE)
        if sample in SAMPLE_NAMES:
            if own >= 0:
                self.samples.removeItem(own)
            self.samples.setCurrentText(sample)
        else:
            if own < 0:
                self.samples.insertItem(0, OWN_IMAGE)
            self.samples.setCurrentIndex(0)
        self.samples.blockSignals(False)

    def show_field(self, box: tuple[float, float, float, float] | None) -> None:
        """Outline a receptive field (x1, y1, x2, y2) in input pixels, or hide it."""
        self.canvas.set_marker(box)
