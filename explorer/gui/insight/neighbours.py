"""Nearest-neighbours tab: the gallery pictures the network sees as most alike (AlexNet's
first figure), each with its label and distance under it. The gallery's features are
computed once in a worker, with progress and Cancel, and cached (memory and disk) by
:mod:`explorer.insight.neighbours`."""

from __future__ import annotations

import torch
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.flow import FlowRow, field
from explorer.gui.common.workers import JobContext
from explorer.gui.insight.common import InsightPanel, PictureGrid, own_copy
from explorer.insight.settings import MAX_K

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
        self.k_spin.setRange(1, min(MAX_K, 24))
        self.k_spin.setValue(6)
        self.run_button = QPushButton("Find neighbours")
        self.run_button.clicked.connect(self.run)
        row = FlowRow()  # wrapping, on a narrow projector
        row.add(field("Gallery", self.gallery_box), 1)
        row.add(field("how many", self.k_spin))
        row.add(self.run_button)
        row.add(self.cancel_button)
        self.grid = PictureGrid()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        intro = QLabel("The picture (first) and the gallery pictures nearest to it in the "
                       "last hidden layer, the input of the final Linear layer; d is the "
                       "distance between the two vectors.")
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(row)
        layout.addWidget(intro)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.hint)
        self.folder: str | None = None

    def _on_gallery(self, index: int) -> None:
        self.discard()
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

    def clear_view(self) -> None:
        self.grid.clear()
        self.summary.setText("")

    def run(self) -> int | None:
        if not self.ready():
            return None
        gallery = self.gallery
        if gallery is None:
            self.show_error("Choose a gallery folder first.")
            return None
        from explorer.insight.inputs import rgb_batch, seen_picture
        from explorer.insight.neighbours import nearest_neighbours

        network, image, k = self.network, self.image, self.k_spin.value()

        def job(ctx: JobContext):
            ctx.progress(-1, "reading the gallery…")
            net = own_copy(network, ctx)  # the gallery may take a while: a private copy
            r = nearest_neighbours(net, image, gallery, k=k, task=ctx)
            query = seen_picture(net, image)
            for n in r.neighbours:  # each as the network saw it: the query's size
                t = torch.from_numpy(n.picture).permute(2, 0, 1)[None]
                n.picture = rgb_batch(net, t)[0].permute(1, 2, 0).numpy()
            return r, query

        self.status.emit("finding neighbours…")
        return self.runner.submit(job)

    def show_result(self, result) -> None:
        r, query = result
        items = [(query, f"<b>this picture</b><br>the network says {r.prediction}")]
        items += [(n.picture, f"<b>{i + 1}. {n.label}</b><br>d = {n.distance:.3g}")
                  for i, n in enumerate(r.neighbours)]
        self.grid.set_items(items)
        cached = "features from the cache" if r.features_cached else "features computed"
        self.summary.setText(f"{r.gallery_size} {r.gallery} pictures, "
                             f"{r.query.numel()} numbers each at {r.layer}; {cached}, "
                             f"{r.seconds:.1f} s")
        self.status.emit(f"nearest: {r.neighbours[0].label}" if r.neighbours else "")
