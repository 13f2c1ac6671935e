"""One pyqtgraph image in a view that keeps pixels square: the building block of every
picture in the window (input image, mosaic, single channel, filters)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QApplication, QGraphicsRectItem, QMenu, QWidget

from explorer.core import colormaps

#: Colour maps offered for feature maps: the same tables the command line's PNGs use.
COLORMAP_NAMES = list(colormaps.NAMES)


@functools.lru_cache(maxsize=16)
def lookup_table(name: str) -> np.ndarray:
    """A 256-entry RGB lookup table (uint8 [256, 3]) for the colour map `name`."""
    return colormaps.lut(name)


@functools.lru_cache(maxsize=16)
def colormap(name: str) -> pg.ColorMap:
    """The colour map `name` as a pyqtgraph ColorMap (for colour bars)."""
    return pg.ColorMap(np.linspace(0.0, 1.0, 256), lookup_table(name))


#: index that marks "no value" (the gaps between tiles) in an indexed image
GAP = 255


def to_indexed(image: np.ndarray) -> np.ndarray:
    """float [H, W] in [0, 1] with NaN gaps -> uint8 [H, W]: values 0..254, gaps 255.

    Qt draws a uint8 image through a 256-colour table without converting it (an Indexed8
    QImage), which makes a 1800 x 1800 mosaic cost about a millisecond to draw instead of
    tens; :func:`indexed_lut` gives the matching table, with the gap transparent.
    """
    finite = np.isfinite(image)
    index = np.clip(np.where(finite, image, 0.0) * (GAP - 1e-3), 0, GAP - 1).astype(np.uint8)
    index[~finite] = GAP
    return index


@functools.lru_cache(maxsize=16)
def indexed_lut(name: str) -> np.ndarray:
    """RGBA table (uint8 [256, 4]) for :func:`to_indexed` images: 255 colours of map
    `name`, and a transparent entry for the gaps."""
    rgb = lookup_table(name).astype(np.float64)
    at = np.linspace(0, 255, GAP)
    table = np.zeros((256, 4), np.uint8)
    for c in range(3):
        table[:GAP, c] = np.round(np.interp(at, np.arange(256), rgb[:, c]))
    table[:GAP, 3] = 255
    return table


@contextmanager
def owning_popups(owner: QWidget) -> Iterator[None]:
    """Give `owner` the parentless menus pyqtgraph items create inside the block.

    pyqtgraph's ViewBox and PlotItem make their context menus without a parent; they would
    outlive the window as stray top-level widgets until Python collects the items.

    Widgets are told apart by their C++ address, not id(): a widget Qt made gets a new,
    short-lived Python wrapper each time it is listed, and a new menu's wrapper could then
    reuse a freed wrapper's id and pass for an old widget (a plot's menus were seen left
    over, once, after its window was deleted in a full test run).
    """
    before = {_address(w) for w in QApplication.topLevelWidgets()}
    yield
    for widget in QApplication.topLevelWidgets():
        # only menus: other stray widgets (PlotItem's control panel) already belong to a
        # QWidgetAction, and a second owner would delete them twice
        if isinstance(widget, QMenu) and _address(widget) not in before and \
                widget.parent() is None:
            widget.setParent(owner, widget.windowFlags())


def _address(widget: QWidget) -> int:
    """The C++ object's address (stable, unlike a transient wrapper's id)."""
    return shiboken6.getCppPointer(widget)[0]


class ImageCanvas(pg.GraphicsLayoutWidget):
    """An ImageItem in a ViewBox with locked aspect and the y axis pointing down.

    Emits image coordinates (row, column as floats) on hover and click so a view can
    translate them into a channel or a unit; (-1, -1) on hover means "left the image".
    """

    hovered = Signal(float, float)
    clicked = Signal(float, float)

    def __init__(self, parent: QWidget | None = None, background: str = "#2b2b2b") -> None:
        super().__init__(parent)
        self.setBackground(background)
        self.ci.layout.setContentsMargins(2, 2, 2, 2)
        with owning_popups(self):
            self.view: pg.ViewBox = self.addViewBox(
                lockAspect=True, invertY=True, enableMenu=False
            )
        self.view.setMouseEnabled(x=True, y=True)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setAutoDownsample(True)
        self.view.addItem(self.item)
        self._marker = QGraphicsRectItem()
        pen = QPen(QColor("#ff3b30"))
        pen.setWidth(3)
        pen.setCosmetic(True)
        self._marker.setPen(pen)
        self._marker.setZValue(10)
        self._marker.setVisible(False)
        self.view.addItem(self._marker, ignoreBounds=True)
        # smooth scaling only while the image is shown smaller than its pixels: zoomed
        # in, each unit stays a crisp square
        self.view.sigTransformChanged.connect(self._update_smoothing)
        self.scene().sigMouseMoved.connect(self._on_move)
        self.scene().sigMouseClicked.connect(self._on_click)
        self._shape: tuple[int, int] | None = None

    def set_image(
        self,
        image: np.ndarray | None,
        levels: tuple[float, float] | None = (0.0, 1.0),
        lut: np.ndarray | None = None,
        autorange: bool = True,
    ) -> None:
        """Show `image` (float [H, W] with a lookup table, or [H, W, 3] RGB in [0, 1])."""
        if image is None:
            self.item.clear()
            self._shape = None
            self.set_marker(None)
            return
        self.item.setLookupTable(lut if image.ndim == 2 else None)
        if levels is None:
            finite = image[np.isfinite(image)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            levels = (lo, hi if hi > lo else lo + 1e-6)
        self.item.setImage(image, levels=levels)
        shape = (int(image.shape[0]), int(image.shape[1]))
        if autorange or shape != self._shape:
            self.view.autoRange(padding=0.01)
        self._shape = shape

    def set_indexed(self, index: np.ndarray, table: np.ndarray, autorange: bool = True) -> None:
        """Show a uint8 [H, W] image from :func:`to_indexed` through RGBA `table`."""
        # Qt scales the indexed image while painting; pyqtgraph's own downsampling (a mean
        # over blocks) would cost tens of ms per frame on a large mosaic
        self.item.setAutoDownsample(False)
        self.item.setImage(index, levels=(0, 255), lut=table)
        shape = (int(index.shape[0]), int(index.shape[1]))
        if autorange or shape != self._shape:
            self.view.autoRange(padding=0.01)
        self._shape = shape
        self._update_smoothing()

    def _update_smoothing(self, *_args) -> None:
        try:
            per_screen_pixel = self.view.viewPixelSize()[0]  # image pixels per screen pixel
        except Exception:  # noqa: BLE001 - no geometry yet (not shown)
            return
        shrunk = per_screen_pixel > 1.0
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, shrunk)

    def set_marker(self, rect: tuple[float, float, float, float] | None) -> None:
        """Outline (x1, y1, x2, y2) in image pixels, or hide the outline."""
        if rect is None:
            self._marker.setVisible(False)
            return
        x1, y1, x2, y2 = rect
        self._marker.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        self._marker.setVisible(True)

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self._shape

    def _to_image(self, scene_pos: QPointF) -> tuple[float, float] | None:
        if self._shape is None or not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.view.mapSceneToView(scene_pos)
        y, x = p.y(), p.x()
        h, w = self._shape
        if 0 <= y < h and 0 <= x < w:
            return y, x
        return None

    def _on_move(self, scene_pos: QPointF) -> None:
        hit = self._to_image(scene_pos)
        self.hovered.emit(*(hit if hit else (-1.0, -1.0)))

    def _on_click(self, event) -> None:  # pyqtgraph MouseClickEvent
        if event.button() != Qt.MouseButton.LeftButton:
            return
        hit = self._to_image(event.scenePos())
        if hit is not None:
            self.clicked.emit(*hit)
