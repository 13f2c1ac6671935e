"""Choosing the network: the registry's list with where each one's weights come from,
a weights file, an explicit download, and a banner when the weights are random."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common import theme

NAME_ROLE = Qt.ItemDataRole.UserRole


def entry_text(entry) -> str:
    """How one registry entry reads in the combo."""
    if entry.available:
        where = "trained, shipped" if entry.weights_source == "shipped" else "ImageNet weights"
    else:
        where = "random weights"
    return f"{entry.name}  ({where})"


class _NameBox(QComboBox):
    """A menu that can be narrow (its least width is set by its minimum contents
    length) but asks for its chosen entry's whole width where the window has room."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.currentIndexChanged.connect(lambda _i: self.updateGeometry())  # another text

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        # Qt sizes the menu for minimumContentsLength() letters X; the chosen entry may
        # need more (the style's frame, arrow and padding are in both)
        hint = super().sizeHint()
        metrics = self.fontMetrics()
        letters = metrics.horizontalAdvance("X") * self.minimumContentsLength()
        more = metrics.horizontalAdvance(self.currentText()) - letters
        return QSize(hint.width() + max(0, more), hint.height())


class NetworkPanel(QWidget):
    """Network combo, weights actions and the random-weights banner."""

    #: a registry name was picked
    networkChosen = Signal(str)
    #: "state" (state dict for the chosen architecture) or "module" (TorchScript/pickle)
    weightsFileRequested = Signal(str)
    #: the person asked to download ImageNet weights for the chosen network
    downloadRequested = Signal(str)
    #: a timm network by name ("timm:NAME")
    timmRequested = Signal(str)

    def __init__(self, entries: list, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: dict = {}
        self.combo = _NameBox()
        self.combo.setMaxVisibleItems(20)
        # at least as wide as 14 characters, not as the longest entry ("convnext_tiny
        # (ImageNet weights)"): the column then fits a 1024-wide projector; where there
        # is room it asks for the chosen entry whole, and the list shows every one whole
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(14)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.set_entries(entries)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.description.setObjectName("hint")
        # on a projector (presentation mode) the column has no room for the paragraph
        self._forget_theme = theme.on_change(
            lambda t, _scale: self.description.setVisible(t is not theme.PRESENTATION))
        self.destroyed.connect(lambda *_: self._forget_theme())
        self.banner = QLabel("Random weights: this network has not learned anything, "
                             "so its maps and guesses show only its structure.")
        self.banner.setWordWrap(True)
        self.banner.setObjectName("randomBanner")
        self.banner.setVisible(False)

        self.weights_button = QToolButton()
        self.weights_button.setText("Open weights file…")
        self.weights_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.weights_button)
        self.state_action = QAction("State dict for the chosen network…", self)
        self.module_action = QAction("Whole network file (ONNX, .pt2, TorchScript or "
                                     "pickled module)…", self)
        self.timm_action = QAction("timm network by name…", self)
        self.timm_action.setToolTip("One of timm's CNNs, e.g. resnet18d: its weights from "
                                    "the hub cache, else random weights")
        menu.addAction(self.state_action)
        menu.addAction(self.module_action)
        menu.addAction(self.timm_action)
        self.weights_button.setMenu(menu)
        self.trust = QCheckBox("I trust this file")
        self.trust.setToolTip("A pickled module runs code when it is opened: "
                              "only tick this for files you made or trust.")
        self.download_button = QPushButton("Download ImageNet weights")
        self.download_button.setToolTip("Fetch torchvision's trained weights (asks first)")
        # one under the other: side by side they held the column 300 px wide (430 in
        # presentation mode), too wide beside the mosaic on a 1024-wide projector
        row = QVBoxLayout()
        row.addWidget(self.weights_button)
        row.addWidget(self.trust)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.combo)
        layout.addWidget(self.description)
        layout.addWidget(self.banner)
        layout.addLayout(row)
        layout.addWidget(self.download_button)

        self.combo.activated.connect(lambda i: self.networkChosen.emit(self.combo.itemData(i)))
        self.combo.currentIndexChanged.connect(lambda _i: self._update_download())
        self.state_action.triggered.connect(lambda: self.weightsFileRequested.emit("state"))
        self.module_action.triggered.connect(lambda: self.weightsFileRequested.emit("module"))
        self.timm_action.triggered.connect(self._ask_timm)
        self.download_button.clicked.connect(
            lambda: self.downloadRequested.emit(self.chosen_name or "")
        )
        self._update_download()

    def _ask_timm(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        name, ok = QInputDialog.getText(
            self, "timm network", "One of timm's CNNs (e.g. resnet18d, efficientnet_b0, "
            "cspdarknet53):")
        self.request_timm(name if ok else "")

    def request_timm(self, name: str) -> bool:
        """Ask for timm's network `name` (with or without "timm:"); the load checks the
        name and a wrong one is one banner line. False for an empty name."""
        name = name.strip()
        if name.startswith("timm:"):
            name = name[len("timm:"):].strip()
        if not name:
            return False
        self.timmRequested.emit("timm:" + name)
        return True

    def set_entries(self, entries: list) -> None:
        """Fill the combo from the registry, keeping the current choice."""
        current = self.combo.currentData()
        self.entries = {e.name: e for e in entries}
        self.combo.blockSignals(True)
        self.combo.clear()
        for e in entries:
            self.combo.addItem(entry_text(e), e.name)
            self.combo.setItemData(
                self.combo.count() - 1, e.description, Qt.ItemDataRole.ToolTipRole
            )
        if current is not None and self.combo.findData(current) >= 0:
            self.combo.setCurrentIndex(self.combo.findData(current))
        self.combo.blockSignals(False)
        if hasattr(self, "download_button"):
            self._update_download()

    @property
    def chosen_name(self) -> str | None:
        return self.combo.currentData()

    def show_network(self, network) -> None:
        """Reflect the loaded network: combo selection, description, banner."""
        index = self.combo.findData(network.name)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        # timm's hub cache and the Hugging Face one hold more than ImageNet weights
        source = {"shipped": "trained weights shipped with the explorer",
                  "hub cache": "trained weights from the hub cache",
                  "download": "trained weights (downloaded)",
                  "file": f"weights from {network.weights_path}",
                  "random": "random weights"}.get(network.weights_source, network.weights_source)
        h, w = network.input_size
        text = network.description or network.name
        self.description.setText(f"{text}\nInput {h} × {w}, {network.in_channels} channel"
                                 f"{'s' if network.in_channels != 1 else ''}; {source}.")
        self.banner.setVisible(network.random_weights)
        self._update_download()

    def _update_download(self) -> None:
        entry = self.entries.get(self.chosen_name or "")
        self.download_button.setVisible(
            entry is not None and entry.family == "torchvision" and not entry.available
        )
