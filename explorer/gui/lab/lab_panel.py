"""The Lab section of the window: a list of pages on the left, one page per lecture slide
on the right, and a presentation mode for teaching from it (the page alone, full screen;
Esc or F11 leaves it).

Pages are built the first time they are shown (some build networks), so opening the Lab
costs nothing until a page is chosen. Keys (anywhere inside the panel): space or → = next
step of the page's demonstration, or the next page when it has none; ← = back; F11 =
presentation mode (full screen, 1.6x fonts, high contrast); Ctrl+E = export the page as a
PNG at twice the screen resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.section import SectionHost
from explorer.gui.lab.common import LabPage

#: how much presentation mode enlarges every font
PRESENTATION_SCALE = 1.6


def page_factories() -> list[tuple[str, Callable[[], LabPage]]]:
    """(list title, builder) of every page, in lecture order. Imports are deferred so
    the panel opens without importing what a page needs."""

    def conv():
        from explorer.gui.lab.conv_page import ConvPage
        return ConvPage()

    def pool():
        from explorer.gui.lab.pool_page import PoolPage
        return PoolPage()

    def params():
        from explorer.gui.lab.params_page import ParamsPage
        return ParamsPage()

    def equivariance():
        from explorer.gui.lab.equivariance_page import EquivariancePage
        return EquivariancePage()

    def rf():
        from explorer.gui.lab.rf_page import ReceptiveFieldPage
        return ReceptiveFieldPage()

    def hierarchy():
        from explorer.gui.lab.hierarchy_page import HierarchyPage
        return HierarchyPage()

    def digit():
        from explorer.gui.lab.digit_page import DigitPage
        return DigitPage()

    def gallery():
        from explorer.gui.lab.gallery_page import GalleryPage
        return GalleryPage()

    return [
        ("1  Convolution", conv),
        ("2  Pooling", pool),
        ("3  Parameter counter", params),
        ("4  Translation equivariance", equivariance),
        ("5  Receptive fields", rf),
        ("6  Hierarchy of features", hierarchy),
        ("7  Draw a digit", digit),
        ("8  Architecture gallery", gallery),
    ]


def high_contrast_palette() -> QPalette:
    """White on black with a yellow highlight: readable on a washed-out projector."""
    pal = QPalette()
    black, white = QColor("#000000"), QColor("#ffffff")
    for role, colour in (
        (QPalette.ColorRole.Window, black),
        (QPalette.ColorRole.WindowText, white),
        (QPalette.ColorRole.Base, QColor("#101010")),
        (QPalette.ColorRole.AlternateBase, QColor("#202020")),
        (QPalette.ColorRole.Text, white),
        (QPalette.ColorRole.Button, QColor("#202020")),
        (QPalette.ColorRole.ButtonText, white),
        (QPalette.ColorRole.Highlight, QColor("#ffd60a")),
        (QPalette.ColorRole.HighlightedText, black),
        (QPalette.ColorRole.ToolTipBase, white),
        (QPalette.ColorRole.ToolTipText, black),
        (QPalette.ColorRole.PlaceholderText, QColor("#bbbbbb")),
    ):
        pal.setColor(role, colour)
    return pal


def render_png(widget: QWidget, path: str | Path, scale: float = 2.0) -> tuple[int, int]:
    """Render `widget` into a PNG `scale` times its size in pixels (crisp text for slides).

    Returns the (width, height) written.
    """
    w, h = round(widget.width() * scale), round(widget.height() * scale)
    image = QImage(w, h, QImage.Format.Format_ARGB32)
    image.setDevicePixelRatio(scale)
    image.fill(widget.palette().color(QPalette.ColorRole.Window))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        widget.render(painter, QPoint(0, 0))
    finally:
        painter.end()
    if not image.save(str(path), "PNG"):
        from explorer.errors import UserError

        raise UserError(f"Could not write {path}.")
    return w, h


class _KeyFilter(QObject):
    """Space / arrows typed into an editor stay with the editor; elsewhere they step."""

    def __init__(self, panel: LabPanel) -> None:
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() != QEvent.Type.ShortcutOverride:
            return False
        if isinstance(obj, (QLineEdit, QAbstractSpinBox, QComboBox)) and event.key() in (
                Qt.Key.Key_Space, Qt.Key.Key_Left, Qt.Key.Key_Right):
            event.accept()  # the editor keeps the key; the shortcut does not fire
            return True
        return False


class LabPanel(QWidget):
    """The Lab: page list + stacked pages + presentation controls.

    Public: ``pages`` (titles), ``stack``, ``page(i)`` (builds it), ``current_page()``,
    ``set_page(i)``, ``next()``, ``previous()``, ``set_presentation(on)``,
    ``export_png(path)``, ``set_image(image)``, ``shutdown()``.
    """

    presentationChanged = Signal(bool)
    #: one-line status for the window's status bar
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None, host: SectionHost | None = None) -> None:
        super().__init__(parent)
        self.host = host or SectionHost()
        self.factories = page_factories()
        self.pages = [title for title, _ in self.factories]
        self._built: dict[int, LabPage] = {}
        self.presentation = False
        self._saved_fonts: dict[int, tuple[QWidget, object]] = {}
        self._saved_palette: QPalette | None = None
        self._was_full_screen = False
        self._image = None
        self._build()
        self.set_page(0)

    # -- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.list = QListWidget()
        self.list.addItems(self.pages)
        self.list.setMaximumWidth(260)
        self.list.currentRowChanged.connect(self._row_changed)
        self.stack = QStackedWidget()
        for title in self.pages:
            placeholder = QLabel(f"{title.strip()}: loading…")
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.stack.addWidget(placeholder)

        self.present_button = QPushButton("Presentation mode (F11)")
        self.present_button.setCheckable(True)
        self.present_button.toggled.connect(self.set_presentation)
        self.export_button = QPushButton("Export page as PNG…")
        self.export_button.clicked.connect(self._ask_export)
        keys = QLabel("Space / → next step or page\n← back")
        keys.setObjectName("hint")
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(keys)
        left.addWidget(self.present_button)
        left.addWidget(self.export_button)
        self.left = QWidget()
        self.left.setLayout(left)
        self.left.setMaximumWidth(270)
        self.left.setMinimumWidth(240)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.left)
        layout.addWidget(self.stack, 1)

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for key, slot in (
            (Qt.Key.Key_Space, self.next),
            (Qt.Key.Key_Right, self.next),
            (Qt.Key.Key_Left, self.previous),
            (Qt.Key.Key_F11, self.present_button.toggle),
            (Qt.Key.Key_Escape, lambda: self.set_presentation(False)),
            (QKeySequence("Ctrl+E"), self._ask_export),
        ):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(context)
            sc.activated.connect(slot)
        self._filter = _KeyFilter(self)

    # -- pages ------------------------------------------------------------------------
    def page(self, index: int) -> LabPage:
        """Page `index`, built now if it has not been shown yet."""
        if index not in self._built:
            page = self.factories[index][1]()
            self._built[index] = page
            old = self.stack.widget(index)
            self.stack.insertWidget(index, page)
            self.stack.removeWidget(old)
            old.deleteLater()
            if self._image is not None and hasattr(page, "set_current_image"):
                page.set_current_image(self._image)
            for child in [page, *page.findChildren(QWidget)]:
                child.installEventFilter(self._filter)
            if self.presentation:
                self._scale_fonts(page, PRESENTATION_SCALE)
                page.set_text_scale(PRESENTATION_SCALE)
        return self._built[index]

    def current_index(self) -> int:
        return self.stack.currentIndex()

    def current_page(self) -> LabPage:
        return self.page(self.current_index())

    def set_page(self, index: int) -> None:
        index = max(0, min(len(self.pages) - 1, index))
        page = self.page(index)
        self.stack.setCurrentWidget(page)
        if self.list.currentRow() != index:
            self.list.setCurrentRow(index)

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.set_page(row)

    def next(self) -> None:
        """Next step of the page's demonstration, else the next page."""
        if not self.current_page().step_forward():
            self.set_page(self.current_index() + 1)

    def previous(self) -> None:
        if not self.current_page().step_back():
            self.set_page(self.current_index() - 1)

    def set_device(self, device) -> None:
        """The Lab's pages compute small things on the CPU."""

    def set_picture(self, picture) -> None:
        self.set_image(picture)

    def set_image(self, image) -> None:
        """Offer the main window's current picture (explorer.core.images.Image) to the
        pages that take pictures."""
        self._image = image
        for page in self._built.values():
            if hasattr(page, "set_current_image"):
                page.set_current_image(image)

    # -- presentation -----------------------------------------------------------------
    def set_presentation(self, on: bool) -> None:
        """Full screen, fonts x1.6 and a high-contrast palette (or back to normal)."""
        if on == self.presentation:
            return
        self.presentation = on
        if self.present_button.isChecked() != on:
            self.present_button.setChecked(on)
        window = self.window()
        if on:
            self._saved_palette = QPalette(self.palette())
            self.setPalette(high_contrast_palette())
            self.setAutoFillBackground(True)
            self._scale_fonts(self, PRESENTATION_SCALE)
            for page in self._built.values():
                page.set_text_scale(PRESENTATION_SCALE)
            # the page needs the room; the keys and F11 still work without the list
            self.left.setVisible(False)
            if window is not None:
                self._was_full_screen = window.isFullScreen()
                window.showFullScreen()
        else:
            self._restore_fonts()
            for page in self._built.values():
                page.set_text_scale(1.0)
            self.left.setVisible(True)
            if self._saved_palette is not None:
                self.setPalette(self._saved_palette)
            self.setAutoFillBackground(False)
            if window is not None and not self._was_full_screen:
                window.showNormal()
        self.presentationChanged.emit(on)

    def _scale_fonts(self, root: QWidget, factor: float) -> None:
        # read every font before changing any: a parent's new font would otherwise reach
        # its children before they are read, and they would grow twice
        todo = [(w, w.font()) for w in [root, *root.findChildren(QWidget)]
                if id(w) not in self._saved_fonts]
        for widget, font in todo:
            self._saved_fonts[id(widget)] = (widget, font)
            big = type(font)(font)
            big.setPointSizeF(font.pointSizeF() * factor)
            widget.setFont(big)

    def _restore_fonts(self) -> None:
        # restore parents before children so explicit child fonts win
        for widget, font in list(self._saved_fonts.values()):
            try:
                widget.setFont(font)
            except RuntimeError:  # deleted since (a rebuilt grid cell)
                pass
        self._saved_fonts.clear()

    # -- export -----------------------------------------------------------------------
    def export_png(self, path: str | Path, scale: float = 2.0) -> tuple[int, int]:
        """Write the current page to `path` as a PNG `scale` times its on-screen size."""
        return render_png(self.current_page(), path, scale)

    def _ask_export(self) -> None:
        title = self.pages[self.current_index()].split(maxsplit=1)[-1].lower().replace(" ", "_")
        path, _ = QFileDialog.getSaveFileName(self, "Export page", f"lab_{title}.png",
                                              "PNG image (*.png)")
        if path:
            self.export_png(path)

    # -- lifetime ---------------------------------------------------------------------
    def built_pages(self) -> list[LabPage]:
        return list(self._built.values())

    def wait(self, timeout: float = 60.0) -> bool:
        return all(page.wait(timeout) for page in self._built.values())

    def shutdown(self) -> None:
        """Stop every page's timers and workers; call before the window closes."""
        for page in self._built.values():
            page.shutdown()
        QApplication.processEvents()
