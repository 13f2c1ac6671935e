"""Several pictures with a caption UNDER each, in one graphics view (one ImageItem per
picture, never a widget per picture), in the theme's colours and text size: the unit
card's rows and the Lab's learned hierarchy."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

from explorer.gui.common import theme
from explorer.gui.common.canvas import owning_popups


def point_size() -> float:
    """Ordinary text's point size now (theme and zoom included)."""
    app = QApplication.instance()
    size = app.font().pointSizeF() if app is not None else -1.0
    return size if size > 0 else theme.BASE_POINT_SIZE * theme.text_scale()


def as_rgb(picture: np.ndarray) -> np.ndarray:
    """float [H, W, 3] in [0, 1], uint8 [H, W, 3] or float [H, W] -> float32 [H, W, 3]."""
    a = np.asarray(picture)
    a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    return np.ascontiguousarray(np.clip(a, 0.0, 1.0))


class CaptionedGrid(pg.GraphicsLayoutWidget):
    """Named pictures laid out in rows, each with a caption of one to three short lines
    (HTML ``<br>`` between them) under it. Empty cells show their caption only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ci.layout.setSpacing(2)
        self.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.views: dict[str, pg.ViewBox] = {}
        self.items: dict[str, pg.ImageItem] = {}
        self.labels: dict[str, pg.LabelItem] = {}
        self.captions: dict[str, str] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self._remove = theme.on_change(lambda *_: self.apply_theme())
        self.destroyed.connect(lambda *_, r=self._remove: r())
        self.apply_theme()

    def apply_theme(self) -> None:
        """Background and captions in the theme's colours and the present text size."""
        try:
            self.setBackground(theme.current().base)
            for name in self.labels:
                self._draw_caption(name)
        except RuntimeError:  # the C++ side is gone
            self._remove()

    def build(self, rows: list[list[str]]) -> None:
        """One picture per name; each inner list is a row (rows may differ in length: a
        shorter row's pictures are wider)."""
        self.clear()
        self.views.clear()
        self.items.clear()
        self.labels.clear()
        self.captions.clear()
        for r, names in enumerate(rows):
            # each row is a layout of its own, so rows of different lengths share the width
            row = self.ci.addLayout(row=r, col=0)
            row.setSpacing(4)
            for c, name in enumerate(names):
                with owning_popups(self):
                    view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
                view.setMouseEnabled(x=False, y=False)
                item = pg.ImageItem(axisOrder="row-major")
                view.addItem(item)
                row.addItem(view, row=0, col=c)
                label = pg.LabelItem("", justify="center")
                row.addItem(label, row=1, col=c)
                row.layout.setColumnStretchFactor(c, 1)
                self.views[name], self.items[name], self.labels[name] = view, item, label
                self.captions[name] = ""
            row.layout.setRowStretchFactor(0, 1)
            self.ci.layout.setRowStretchFactor(r, 1)

    def _draw_caption(self, name: str) -> None:
        self.labels[name].setText(self.captions[name], size=f"{point_size():.1f}pt",
                                  color=theme.current().text)
        # captions do not wrap: the grid is never narrower than its widest row of them,
        # so a window too narrow grows (or its layout says so) instead of cutting a column
        needed = self.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).width()
        self.setMinimumWidth(max(160, int(needed) + 8))

    def set_caption(self, name: str, caption: str) -> None:
        self.captions[name] = caption
        self._draw_caption(name)

    def set_picture(self, name: str, picture: np.ndarray | None,
                    caption: str | None = None) -> None:
        """Show `picture` (see :func:`as_rgb`) in cell `name`; None empties it."""
        item = self.items[name]
        if picture is None:
            item.clear()
        else:
            item.setImage(as_rgb(picture), levels=(0.0, 1.0))
            self.views[name].autoRange(padding=0.02)
        if caption is not None:
            self.set_caption(name, caption)

    def has_picture(self, name: str) -> bool:
        return self.items[name].image is not None

    def clear_pictures(self, caption: str = "") -> None:
        for name in self.items:
            self.set_picture(name, None, caption)
