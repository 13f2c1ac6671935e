"""The "Why & training" section: class activation maps, nearest neighbours, augmentations
and transfer learning, each a tab that works on the window's current network and image.

Wiring (main window): ``tab = InsightTab()``, ``window.add_section("Why & training", tab)``;
after every load call ``tab.set_network(result.network)`` and ``tab.set_image(result.image)``;
``tab.status`` carries one-line messages; call ``tab.shutdown()`` before closing.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from explorer.gui.insight_augment import AugmentPanel
from explorer.gui.insight_cam import CamPanel
from explorer.gui.insight_common import InsightPanel
from explorer.gui.insight_finetune import FinetunePanel
from explorer.gui.insight_neighbours import NeighboursPanel


class InsightTab(QWidget):
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cam = CamPanel()
        self.neighbours = NeighboursPanel()
        self.augment = AugmentPanel()
        self.finetune = FinetunePanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.cam, "Class activation maps")
        self.tabs.addTab(self.neighbours, "Nearest neighbours")
        self.tabs.addTab(self.augment, "Augmentations")
        self.tabs.addTab(self.finetune, "Transfer learning")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        for panel in self.panels:
            panel.status.connect(self.status)

    @property
    def panels(self) -> list[InsightPanel]:
        return [self.cam, self.neighbours, self.augment, self.finetune]

    def set_network(self, network) -> None:
        for panel in self.panels:
            panel.set_network(network)

    def set_image(self, image) -> None:
        for panel in self.panels:
            panel.set_image(image)

    def shutdown(self, timeout: float = 30.0) -> bool:
        return all([panel.shutdown(timeout) for panel in self.panels])
