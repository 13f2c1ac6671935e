"""A convolution layer's kernels as one picture (:func:`explorer.core.filters.filter_image`):
first-layer RGB kernels as colour patches, deeper kernels one grey square per
(output, input) channel pair."""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from torch import nn

from explorer.core.filters import filter_image
from explorer.gui.common.canvas import ImageCanvas, lookup_table


class FilterView(QWidget):
    """The kernels of the current layer, or a sentence saying it has none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Select a convolution layer to see its kernels.")
        self.caption.setWordWrap(True)
        self.canvas = ImageCanvas(background="#808080")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)
        self.filters = None
        self._pending: tuple[str | None, nn.Module | None] | None = None

    def show_module(self, name: str | None, module: nn.Module | None) -> None:
        """Draw the kernels of `module` if it is an nn.Conv2d, else explain why not.

        While the view is hidden (another tab is in front) only the choice is kept: a big
        layer's kernels take tens of ms to lay out, and a layer click should not wait for
        a picture nobody sees.
        """
        self._pending = (name, module)
        if self.isVisible():
            self._draw()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._pending is not None:
            self._draw()

    def _draw(self) -> None:
        if self._pending is None:
            return
        name, module = self._pending
        self._pending = None
        self.filters = None
        if not isinstance(module, nn.Conv2d):
            self.canvas.set_image(None)
            what = type(module).__name__ if module is not None else "this layer"
            self.caption.setText(
                f"{name or 'This layer'} is a {what}: it has no convolution kernels to show."
                if module is not None else "Select a convolution layer to see its kernels."
            )
            return
        fi = filter_image(module)
        self.filters = fi
        if fi.rgb:
            self.canvas.set_image(fi.image, levels=(0.0, 1.0))
        else:
            self.canvas.set_image(fi.image, levels=(0.0, 1.0), lut=lookup_table("grey"))
        out_c, in_c = module.out_channels, module.in_channels
        kh, kw = module.kernel_size
        if fi.rgb:
            text = (f"{name}: {out_c} kernels of {kh} × {kw} over the 3 colour channels, "
                    "shown as colour patches.")
        else:
            text = (f"{name}: {out_c} kernels of {kh} × {kw} × {in_c}. Each row is one "
                    "output channel; each square is its weights on one input channel "
                    "(grey = 0).")
        shown = fi.rows * fi.cols
        if fi.rgb and shown < out_c or not fi.rgb and (out_c > fi.rows or in_c > fi.cols):
            text += f"  Showing the first {fi.rows} × {fi.cols}."
        self.caption.setText(text)
