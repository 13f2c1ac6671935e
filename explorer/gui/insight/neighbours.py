"""Nearest-neighbours tab: the gallery pictures the network sees as most alike (AlexNet's
first figure). The gallery's features are computed once in a worker, with progress and
Cancel, and cached (memory and disk) by :mod:`explorer.insight.neighbours`."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.canvas import ImageCanvas
from explorer.gui.common.workers import JobContext
from explorer.gui.insight.common import InsightPanel, caption_sheet, private_copy

FOLDER = "Folder…"


class NeighboursPanel(InsightPanel):
    """The query picture and its k nearest gallery pictures, nearest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gallery_box = QComboBox()
        self.gallery_box.addItem("shapes (300 training crops)", "shapes")
        self.gallery_box.addItem("digits (1437 training digits)", "digits")
        self.gallery_box.addItem(FOLDER, None)
        self.gallery_box.activated.connect(self._on_gallery)
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 24)
        self.k_spin.setValue(6)
        self.run_button = QPushButton("Find neighbours")
        self.run_button.clicked.connect(self.run)
        row = QHBoxLayout()
        row.addWidget(QLabel("Gallery"))
        row.addWidget(self.gallery_box, 1)
        row.addWidget(QLabel("k"))
        row.addWidget(self.k_spin)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        self.sheet_view = ImageCanvas(background="#ffffff")
        self.captions = QLabel("")
        self.captions.setWordWrap(True)
        self.captions.setObjectName("readout")
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(QLabel("The query (first) and its nearest gallery pictures in the "
                                "last hidden layer (the input of the final Linear layer)"))
        layout.addWidget(self.sheet_view, 1)
        layout.addWidget(self.captions)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.hint)
        self.folder: str | None = None

    def _on_gallery(self, index: int) -> None:
        if self.gallery_box.itemText(index) != FOLDER:
            return
        path = QFileDialog.getExistingDirectory(self, "Gallery folder")
        if path:
            self.set_folder(path)

    def set_folder(self, path: str) -> None:
        """Use the pictures under `path` as the gallery (subfolders name the classes)."""
        self.folder = path
        i = self.gallery_box.findText(FOLDER)
        self.gallery_box.setItemData(i, path)
        self.gallery_box.setCurrentIndex(i)

    @property
    def gallery(self) -> str | None:
        return self.gallery_box.currentData()

    def run(self) -> int | None:
        if not self.ready():
            return None
        gallery = self.gallery
        if gallery is None:
            self.show_error("Choose a gallery folder first.")
            return None
        import torch

        from explorer.insight.inputs import resize_crop, rgb_input
        from explorer.insight.neighbours import nearest_neighbours

        network, image, k = self.network, self.image, self.k_spin.value()

        def job(ctx: JobContext):
            net = private_copy(network)
            r = nearest_neighbours(net, image, gallery, k=k,
                                   progress=ctx.progress,
                                   should_stop=lambda: ctx.cancelled)
            query = rgb_input(net, image)[0].permute(1, 2, 0).cpu().numpy()
            # each neighbour as the network saw it: same size as the query
            for n in r.neighbours:
                t = torch.from_numpy(n.picture).permute(2, 0, 1)[None]
                n.picture = resize_crop(net, t)[0].permute(1, 2, 0).numpy()
            return r, query

        self.status.emit("finding neighbours…")
        return self.runner.submit(job)

    def show_result(self, result) -> None:
        r, query = result
        pictures = [query] + [n.picture for n in r.neighbours]
        self.sheet_view.set_image(caption_sheet(pictures, cols=min(len(pictures), 7)))
        parts = [f"query: predicted {r.prediction}"] + [
            f"{i + 1}. {n.label} (d = {n.distance:.3g})" for i, n in enumerate(r.neighbours)]
        cached = "cached features" if r.features_cached else "features computed"
        self.captions.setText("   ".join(parts) + f"\n{r.gallery_size} pictures, "
                              f"{r.query.numel()}-d vectors at {r.layer}, {cached}, "
                              f"{r.seconds:.1f} s")
        self.status.emit(f"nearest: {r.neighbours[0].label}" if r.neighbours else "")
