"""The "Why & training" section: class activation maps, nearest neighbours, augmentations,
transfer learning and a side-by-side comparison, each a tab that works on the window's
current network and image. A network fine-tuned in the transfer-learning tab is offered to
the side-by-side tab, to compare before and after layer by layer.

Wiring (main window): ``tab = InsightTab()``, ``window.add_section("Why & training", tab)``;
after every load call ``tab.set_network(result.network)`` and ``tab.set_image(result.image)``;
``tab.status`` carries one-line messages; call ``tab.shutdown()`` before closing.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from explorer.gui.common.section import SectionHost
from explorer.gui.insight.augment import AugmentPanel
from explorer.gui.insight.cam import CamPanel
from explorer.gui.insight.common import InsightPanel
from explorer.gui.insight.compare import ComparePanel
from explorer.gui.insight.finetune import FinetunePanel
from explorer.gui.insight.neighbours import NeighboursPanel


class InsightTab(QWidget):
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None, host: SectionHost | None = None) -> None:
        super().__init__(parent)
        self.host = host or SectionHost()
        self.cam = CamPanel()
        self.neighbours = NeighboursPanel()
        self.augment = AugmentPanel()
        self.finetune = FinetunePanel()
        self.compare = ComparePanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.cam, "Class activation maps")
        self.tabs.addTab(self.neighbours, "Nearest neighbours")
        self.tabs.addTab(self.augment, "Augmentations")
        self.tabs.addTab(self.finetune, "Transfer learning")
        self.tabs.addTab(self.compare, "Side by side")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        for panel in self.panels:
            panel.status.connect(self.status)
        self.finetune.done.connect(self._offer_finetuned)

    @property
    def panels(self) -> list[InsightPanel]:
        return [self.cam, self.neighbours, self.augment, self.finetune, self.compare]

    def _offer_finetuned(self, results) -> None:
        for r in results:
            self.compare.add_network(f"{r.network.name} (fine-tuned here)", r.network)

    def set_network(self, network) -> None:
        for panel in self.panels:
            panel.set_network(network)

    def set_device(self, device) -> None:
        """The panels compute on the CPU copy they make of a network (private_copy)."""
        self.device = device

    def set_picture(self, picture) -> None:
        self.set_image(picture)

    def set_image(self, image) -> None:
        for panel in self.panels:
            panel.set_image(image)

    def shutdown(self, timeout: float = 30.0) -> bool:
        return all([panel.shutdown(timeout) for panel in self.panels])
