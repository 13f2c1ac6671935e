"""What the Why & training section works on, chosen in the section: a classifier and a
picture (a sample, a held-out shapes scene, a file, or Explore's picture), and a banner
that says in words when the answer cannot mean much (random weights; a network trained
on shapes given a photo)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.app.networks import DEFAULT_MODEL
from explorer.app.pictures import MAX_SCENE
from explorer.gui.common.flow import FlowRow, field

#: the picture menu's entry for held-out shapes scenes (the spin box says which)
SCENE = "scene"


def classifier_entries() -> list[tuple[str, str]]:
    """(menu text, registry name) of every classifier: trained ones first."""
    from explorer.app.networks import list_models

    entries = [e for e in list_models() if e.task == "classify"]
    entries.sort(key=lambda e: (not e.available, e.family != "shipped"))
    return [(e.name if e.available else f"{e.name} (random weights)", e.name)
            for e in entries]


class SourceBar(QWidget):
    """Network menu, picture menu with a scene number, Open…, Use Explore's picture, and
    the caveat banner under them."""

    #: a registry name
    networkChosen = Signal(str)
    #: a picture spec in explorer.app.pictures' grammar
    pictureChosen = Signal(str)
    openFileAsked = Signal()
    exploreAsked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from explorer.app.pictures import SAMPLE_NAMES

        self.network_box = QComboBox()
        self.network_box.setMaxVisibleItems(20)
        self.network_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.network_box.setMinimumContentsLength(16)
        self.network_box.setToolTip("the classifier this section explains (its own choice, "
                                    "not Explore's)")
        for text, name in classifier_entries():
            self.network_box.addItem(text, name)
        self.network_box.setCurrentIndex(max(0, self.network_box.findData(DEFAULT_MODEL)))
        self.network_box.activated.connect(
            lambda _i: self.networkChosen.emit(self.network_box.currentData()))

        self.picture_box = QComboBox()
        self.picture_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.picture_box.setMinimumContentsLength(12)
        self.picture_box.setToolTip("a sample picture, or a held-out shapes scene")
        for name in SAMPLE_NAMES:
            self.picture_box.addItem(name, f"sample:{name}")
        self.picture_box.addItem("shapes scene no.", SCENE)
        self.picture_box.activated.connect(self._on_picture)
        self.scene_spin = QSpinBox()
        self.scene_spin.setRange(0, MAX_SCENE)
        self.scene_spin.setValue(0)
        self.scene_spin.setToolTip("which held-out shapes scene (scene:N, with its truth)")
        self.scene_spin.setEnabled(False)
        # as wide as its largest number needs in the current font (presentation's too)
        self.scene_spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.scene_spin.setKeyboardTracking(False)  # typing 123 loads scene 123, not 1, 12
        self.scene_spin.valueChanged.connect(self._on_scene)
        self.open_button = QPushButton("Open file…")
        self.open_button.clicked.connect(self.openFileAsked)
        self.explore_button = QPushButton("Use Explore's picture")
        self.explore_button.clicked.connect(self.exploreAsked)

        # wrapping: in one row these were 1,320 px wide in presentation mode
        row = FlowRow()
        row.add(field("Network", self.network_box), 2)
        row.add(field("Picture", self.picture_box, self.scene_spin), 1)
        row.add(self.open_button)
        row.add(self.explore_button)
        self.banner = QLabel("")
        self.banner.setObjectName("warningBanner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(row)
        layout.addWidget(self.banner)

    # -- what is shown ------------------------------------------------------------------
    def show_network(self, name: str) -> None:
        i = self.network_box.findData(name)
        if i < 0:
            self.network_box.addItem(name, name)
            i = self.network_box.count() - 1
        self.network_box.setCurrentIndex(i)

    def show_picture(self, source: str, name: str) -> None:
        """Select the menu entry for picture `source` (a spec), or an entry naming a
        picture from elsewhere (a file, Explore)."""
        other = self.picture_box.findData("other")
        if source.startswith("scene:"):
            self.scene_spin.blockSignals(True)
            self.scene_spin.setValue(int(source.split(":", 1)[1]))
            self.scene_spin.blockSignals(False)
            self.picture_box.setCurrentIndex(self.picture_box.findData(SCENE))
            self.scene_spin.setEnabled(True)
        elif self.picture_box.findData(source) >= 0:
            self.picture_box.setCurrentIndex(self.picture_box.findData(source))
            self.scene_spin.setEnabled(False)
        else:
            if other < 0:
                self.picture_box.insertItem(0, name, "other")
                other = 0
            self.picture_box.setItemText(other, name)
            self.picture_box.setCurrentIndex(other)
            self.scene_spin.setEnabled(False)

    def set_caveats(self, lines: list[str]) -> None:
        self.banner.setText("<br>".join(lines))
        self.banner.setVisible(bool(lines))

    # -- choices ------------------------------------------------------------------------
    def _on_picture(self, index: int) -> None:
        data = self.picture_box.itemData(index)
        if data == SCENE:
            self.scene_spin.setEnabled(True)
            self._on_scene()
        elif data and data != "other":
            self.scene_spin.setEnabled(False)
            self.pictureChosen.emit(data)

    def _on_scene(self, *_args) -> None:
        if self.picture_box.currentData() == SCENE:
            self.pictureChosen.emit(f"scene:{self.scene_spin.value()}")
