"""The current layer's feature maps as ONE mosaic image, and one channel shown large.

All channels of a layer are tiled by :func:`explorer.core.mosaic.mosaic` into a single
float image that one ImageItem draws through a lookup table: a widget per channel would
make a 512-channel layer unusable. Clicking a tile selects that channel; the channel view
shows its raw activations with a colour bar and the value under the cursor.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from explorer.core.mosaic import Mosaic, as_maps
from explorer.gui.common.canvas import (
    COLORMAP_NAMES,
    ImageCanvas,
    colormap,
    indexed_lut,
    lookup_table,
    owning_popups,
)
from explorer.gui.common.mosaics import MosaicKey, MosaicService, Tiles

HOVER_HINT = "Hover: value · click: enlarge"
NORMALISATIONS = {"per channel": "channel", "per layer": "layer"}


def panel_title(text: str) -> QLabel:
    """A bold panel title that wraps onto a second line rather than widen the window or
    be cut short."""
    label = QLabel(text)
    label.setObjectName("panelTitle")
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setMinimumWidth(80)
    return label


def _shape_text(shape: tuple[int, ...]) -> str:
    return " × ".join(str(s) for s in shape)


class FeatureView(QWidget):
    """Mosaic of every channel of one layer, with colour-map and normalisation choices."""

    #: channel index selected by a click (or programmatically)
    channelSelected = Signal(int)
    #: the current layer's mosaic is on the ImageItem
    mosaicShown = Signal()
    #: unit (row, column) under the cursor in any tile, or (-1, -1)
    unitHovered = Signal(int, int)
    #: a person clicked channel c's tile (mosaic or visualisation grid): open its unit card
    channelClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = panel_title("Feature maps")
        self.colormap_box = QComboBox()
        self.colormap_box.addItems(COLORMAP_NAMES)
        self.colormap_box.setToolTip("Colours: the colour map for activations (dark = low, "
                                     "bright = high)")
        self.norm_box = QComboBox()
        self.norm_box.addItems(list(NORMALISATIONS))
        self.norm_box.setToolTip(
            "Scale. per channel: each map stretched to its own range; "
            "per layer: one range for all, so strong channels stand out"
        )
        self.canvas = ImageCanvas()
        self.readout = QLabel(HOVER_HINT)
        self.readout.setWordWrap(True)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setObjectName("readout")
        # the readout on a line of its own: beside the choices a narrow window (1024
        # wide, a projector) squeezed it to a column of single letters. The choices say
        # what they are in their tooltips: with a label each, the column could not
        # narrow below 340 px (460 in presentation mode)
        foot = QHBoxLayout()
        foot.addWidget(self.colormap_box)
        foot.addWidget(self.norm_box)
        foot.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        # the layer's feature visualisations (from the unit card) as ONE grid image beside
        # the mosaic, tile for tile in the mosaic's order; hidden until there is one
        self.vis_canvas = ImageCanvas()
        self.vis_title = QLabel("")
        self.vis_title.setObjectName("hint")
        self.vis_title.setWordWrap(True)
        self.vis_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        vis_box = QWidget()
        vis_layout = QVBoxLayout(vis_box)
        vis_layout.setContentsMargins(0, 0, 0, 0)
        vis_layout.addWidget(self.vis_title)
        vis_layout.addWidget(self.vis_canvas, 1)
        self.vis_box = vis_box
        vis_box.setVisible(False)
        self.maps_split = QSplitter(Qt.Orientation.Horizontal)
        self.maps_split.addWidget(self.canvas)
        self.maps_split.addWidget(vis_box)
        layout.addWidget(self.maps_split, 1)
        layout.addWidget(self.readout)
        layout.addLayout(foot)
        #: (layer, FeatureVis) shown in the grid beside the mosaic, or None
        self.visualisations = None
        self._vis_cols = 1
        self._vis_tile = (0, 0)
        self._vis_network = None
        self.vis_canvas.clicked.connect(self._on_vis_click)

        self.mosaic: Mosaic | None = None
        self.layer: str | None = None
        self.channel: int | None = None
        self.mosaics = MosaicService(parent=self)
        self.mosaics.ready.connect(self._on_ready)
        self.mosaics.failed.connect(self._on_mosaic_failed)
        self._trace = None
        self._wanted: MosaicKey | None = None
        self._failed: MosaicKey | None = None
        self._upcoming: list[str] = []
        self._asked_at = 0.0
        #: milliseconds from asking for the last mosaic to having it on the ImageItem
        self.last_ms = 0.0
        self.colormap_box.currentTextChanged.connect(self._on_colormap)
        self.norm_box.currentTextChanged.connect(lambda _t: self._redraw())
        self.canvas.hovered.connect(self._on_hover)
        self.canvas.clicked.connect(self._on_click)

    @property
    def colormap_name(self) -> str:
        return self.colormap_box.currentText()

    @property
    def normalize(self) -> str:
        return NORMALISATIONS[self.norm_box.currentText()]

    @property
    def has_maps(self) -> bool:
        """True when the current layer's output can be tiled (its mosaic shown or coming)."""
        return self._wanted is not None

    @property
    def pending(self) -> bool:
        """True while the mosaic for the current layer is still being made."""
        return self._wanted is not None and self.mosaic is None and self._wanted != self._failed

    def show_layer(self, trace, name: str | None, upcoming: list[str] | None = None) -> None:
        """Show layer `name` of `trace` (None clears the view); `upcoming` layers are
        tiled in the background next, so stepping to them is instant."""
        if trace is not self._trace:
            self.mosaics.new_generation()
        self._trace = trace
        self.layer = name
        self.channel = None
        self._upcoming = list(upcoming or [])
        self._redraw()

    def select_channel(self, channel: int | None) -> None:
        """Outline tile `channel` (once the mosaic is there) and announce it."""
        self.channel = channel
        self._outline()
        self._outline_vis()
        if channel is not None:
            self.channelSelected.emit(channel)

    def _outline(self) -> None:
        m, c = self.mosaic, self.channel
        if m is None or c is None or c >= m.channels:
            self.canvas.set_marker(None)
            return
        y, x = m.tile_origin(c)
        self.canvas.set_marker((x - 0.5, y - 0.5, x + m.tile_w + 0.5, y + m.tile_h + 0.5))

    def _maps(self, name: str):
        act = self._trace.outputs.get(name) if self._trace is not None else None
        if act is None or not hasattr(act, "dim") or act.dim() not in (1, 2, 3, 4):
            return None
        return act

    def set_visualisations(self, layer: str, fv) -> None:
        """Show `fv` (an explorer.units FeatureVis of every channel of `layer`) as one grid
        beside the mosaic, in the mosaic's columns; ignored unless `layer` is shown."""
        if layer != self.layer or fv is None:
            return
        cols = self.mosaic.cols if self.mosaic is not None else None
        images = fv.images
        if list(fv.channels) != list(range(len(fv.channels))):
            return  # only a whole layer lines up with the mosaic
        pad = 2
        grid = fv.grid(cols, pad)
        self._vis_cols = cols or max(1, int(np.ceil(np.sqrt(len(images)))))
        self._vis_tile = (images.shape[1] + pad, images.shape[2] + pad)
        self.visualisations = (layer, fv)
        self._vis_network = self._trace.network.module if self._trace is not None else None
        self.vis_canvas.set_image(grid, levels=(0.0, 1.0))
        # one short line: the Explore column is narrow at 1366x768 in presentation mode
        self.vis_title.setText(f"Visualisations, {fv.steps} steps")
        self.vis_title.setToolTip("Feature visualisation: the picture each channel responds "
                                  "to most, in the mosaic's order. Click one for its card.")
        self.vis_box.setVisible(True)
        self._outline_vis()

    def clear_visualisations(self) -> None:
        self.visualisations = None
        self.vis_canvas.set_image(None)
        self.vis_box.setVisible(False)

    def _outline_vis(self) -> None:
        if self.visualisations is None or self.channel is None or \
                self.channel >= len(self.visualisations[1].channels):
            self.vis_canvas.set_marker(None)
            return
        th, tw = self._vis_tile
        r, q = divmod(self.channel, self._vis_cols)
        y, x = r * th, q * tw
        self.vis_canvas.set_marker((x - 0.5, y - 0.5, x + tw - 1.5, y + th - 1.5))

    def _on_vis_click(self, y: float, x: float) -> None:
        if self.visualisations is None:
            return
        th, tw = self._vis_tile
        r, q = int(y) // th, int(x) // tw
        c = r * self._vis_cols + q
        if q < self._vis_cols and 0 <= c < len(self.visualisations[1].channels):
            self.select_channel(c)
            self.channelClicked.emit(c)

    def _redraw(self) -> None:
        if self.visualisations is not None and (
                self.visualisations[0] != self.layer or self._trace is None
                or self._trace.network.module is not self._vis_network):
            self.clear_visualisations()  # another layer or network: not these pictures
        self.mosaic = None
        self._wanted = None
        self.canvas.set_marker(None)
        trace, name = self._trace, self.layer
        if trace is None or name is None:
            self.canvas.set_image(None)
            self.title.setText("Feature maps")
            return
        info = trace.info(name)
        act = self._maps(name)
        if act is None:
            self.canvas.set_image(None)
            self.title.setText(f"{name}: no feature map to show")
            shape = _shape_text(info.out_shape)
            self.readout.setText(f"Output shape {shape} is not a stack of maps.")
            return
        if act.dim() == 3:
            c, h, w = act.shape
            # no-break spaces: a narrow column wraps the title before "64 × 64", not in it
            what = f"{c}\u00a0channels of {h}\u00a0×\u00a0{w}"
        else:
            what = f"{act.shape[0]} values"
        self.title.setText(f"{name}  ({info.type}):  {what}")
        self._asked_at = time.perf_counter()
        self._wanted = self.mosaics.key(name, self.normalize)
        ready = self.mosaics.cached(self._wanted)
        self.mosaics.cancel_prefetch()
        if ready is not None:
            self._draw(ready)
        else:
            self.canvas.set_image(None)
            self.readout.setText("Making the mosaic…")
            self.mosaics.request(self._wanted, act)
        for later in self._upcoming:
            later_act = self._maps(later)
            if later_act is not None:
                self.mosaics.prefetch(self.mosaics.key(later, self.normalize), later_act)

    def _draw(self, tiles: Tiles) -> None:
        self.mosaic = tiles.mosaic
        self.canvas.set_indexed(tiles.index, indexed_lut(self.colormap_name), autorange=False)
        self._outline()
        self.readout.setText(HOVER_HINT)
        self.last_ms = (time.perf_counter() - self._asked_at) * 1000
        self.mosaicShown.emit()

    def _on_ready(self, key: MosaicKey, tiles: Tiles) -> None:
        if key == self._wanted and self.mosaic is None:
            self._draw(tiles)

    def _on_mosaic_failed(self, key: MosaicKey, message: str) -> None:
        if key == self._wanted:
            self._failed = key
            self.readout.setText(f"Could not tile this layer: {message}")

    def _on_colormap(self, _name: str) -> None:
        if self.mosaic is not None:
            self.canvas.item.setLookupTable(indexed_lut(self.colormap_name))

    def _channel_at(self, y: float, x: float) -> int | None:
        if self.mosaic is None or y < 0:
            return None
        return self.mosaic.channel_at(int(y), int(x))

    def _on_hover(self, y: float, x: float) -> None:
        hit = None if self.mosaic is None or y < 0 else self.mosaic.unit_at(y, x)
        if hit is None:
            self.unitHovered.emit(-1, -1)
            return
        c, uy, ux = hit
        self.unitHovered.emit(uy, ux)
        lo, hi = self.mosaic.ranges[c]
        raw = lo + float(self.mosaic.image[int(y), int(x)]) * (hi - lo)
        where = f"  unit ({uy}, {ux})" if self.mosaic.tile_h * self.mosaic.tile_w > 1 else ""
        self.readout.setText(f"channel {c}{where}   value {raw:.4g}")

    def _on_click(self, y: float, x: float) -> None:
        c = self._channel_at(y, x)
        if c is not None:
            self.select_channel(c)
            self.channelClicked.emit(c)


class ChannelView(QWidget):
    """One channel of the current layer, large, in raw activation units."""

    #: unit (row, column) under the cursor, or (-1, -1) when the cursor leaves
    unitHovered = Signal(int, int)
    #: a person clicked unit (row, column): open its unit card at that position
    unitClicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = panel_title("Channel")
        self.canvas = ImageCanvas()
        with owning_popups(self):
            self.colorbar = pg.ColorBarItem(
                values=(0, 1), colorMap=colormap("viridis"), interactive=False, width=14
            )
        self.colorbar.setImageItem(self.canvas.item)
        self.canvas.addItem(self.colorbar)
        self.readout = QLabel("Click a tile in the mosaic.")
        self.readout.setWordWrap(True)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setObjectName("readout")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.readout)
        self.values: np.ndarray | None = None
        self.layer: str | None = None
        self.channel: int | None = None
        self.canvas.hovered.connect(self._on_hover)
        self.canvas.clicked.connect(self._on_click)

    def show_channel(self, trace, name: str | None, channel: int | None, cmap: str) -> None:
        """Show channel `channel` of layer `name` in raw units (None clears the view)."""
        self.layer, self.channel = name, channel
        act = None if trace is None or name is None else trace.outputs.get(name)
        tileable = act is not None and hasattr(act, "dim") and act.dim() in (1, 2, 3, 4)
        if not tileable or channel is None:
            self.values = None
            self.canvas.set_image(None)
            self.title.setText("Channel")
            self.readout.setText("Click a tile in the mosaic.")
            return
        self.values = as_maps(act)[channel].detach().float().cpu().numpy()
        lo, hi = float(self.values.min()), float(self.values.max())
        hi = hi if hi > lo else lo + 1e-6
        self.colorbar.setColorMap(colormap(cmap))
        self.canvas.set_image(self.values, levels=(lo, hi), lut=lookup_table(cmap))
        self.colorbar.setLevels((lo, hi))
        h, w = self.values.shape
        self.title.setText(f"Channel {channel}   ({h} × {w})")
        self.title.setToolTip(f"{name}, channel {channel}")
        self.readout.setText(f"min {lo:.3g}   max {hi:.3g}   mean {self.values.mean():.3g}")

    def set_colormap(self, cmap: str) -> None:
        if self.values is not None:
            self.canvas.item.setLookupTable(lookup_table(cmap))
            self.colorbar.setColorMap(colormap(cmap))

    def _on_hover(self, y: float, x: float) -> None:
        r, c = int(y), int(x)
        if self.values is None or not (0 <= r < self.values.shape[0]
                                       and 0 <= c < self.values.shape[1]):
            self.unitHovered.emit(-1, -1)
            return
        self.readout.setText(f"unit (row {r}, col {c})   value {self.values[r, c]:.4g}")
        self.unitHovered.emit(r, c)

    def _on_click(self, y: float, x: float) -> None:
        r, c = int(y), int(x)
        if self.values is not None and 0 <= r < self.values.shape[0] \
                and 0 <= c < self.values.shape[1]:
            self.unitClicked.emit(r, c)

