"""The Lab section of the window: a list of pages on the left, one page per lecture slide
on the right.

The left column (page list, keys, Presentation and Export buttons) stays where it is; only
a page taller than the window scrolls, vertically, inside its own area (at ordinary zoom
every page fits 1366x768 in both themes). Presentation mode belongs to the whole window:
the button, F11 and Esc ask the window (:class:`SectionHost.set_presentation`), which
switches the theme (:mod:`explorer.gui.common.theme`); the pages follow the theme by
themselves.

Pages are built the first time they are shown (some build networks), so opening the Lab
costs nothing until a page is chosen. Keys (anywhere inside the panel): Space or → = next
step of the page's demonstration, or the next page when it has none; ← = back (neither
while a slider, spin box, text field or combo box has the focus: they keep their keys);
PgDown / PgUp = the same, always (a presenter's clicker); F11 = presentation mode, Esc
leaves it; Ctrl+E = export the page as a PNG at twice the screen resolution.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPainter, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common import theme
from explorer.gui.common.section import SectionHost
from explorer.gui.lab.common import LabPage, follow_theme

#: (key of `cnn-explorer lab` and `gui --page`, list title, module, class), lecture order
PAGES = (
    ("conv", "1  Convolution", "conv_page", "ConvPage"),
    ("pool", "2  Pooling", "pool_page", "PoolPage"),
    ("params", "3  Parameters", "params_page", "ParamsPage"),
    ("equivariance", "4  Equivariance", "equivariance_page", "EquivariancePage"),
    ("rf", "5  Receptive fields", "rf_page", "ReceptiveFieldPage"),
    ("hierarchy", "6  Hierarchy", "hierarchy_page", "HierarchyPage"),
    ("digit", "7  Draw a digit", "digit_page", "DigitPage"),
    ("gallery", "8  Gallery", "gallery_page", "GalleryPage"),
)
PAGE_KEYS = tuple(key for key, *_ in PAGES)

#: widgets that keep Space and the arrow keys while they have the focus
EDITORS = (QAbstractSlider, QAbstractSpinBox, QLineEdit, QComboBox, QTextEdit, QPlainTextEdit)


def page_factories() -> list[tuple[str, object]]:
    """(list title, builder) of every page, in lecture order. Imports are deferred so
    the panel opens without importing what a page needs."""

    def builder(module: str, cls: str):
        def build() -> LabPage:
            return getattr(importlib.import_module(f"explorer.gui.lab.{module}"), cls)()
        return build

    return [(title, builder(module, cls)) for _key, title, module, cls in PAGES]


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


def _standalone_host() -> SectionHost:
    """A host for a Lab opened without the window (tests, a page on its own): presentation
    mode is the theme alone."""
    return SectionHost(set_presentation=lambda on: theme.apply(presentation=on),
                       presenting=lambda: theme.current() is theme.PRESENTATION)


class _PageArea(QScrollArea):
    """A page's place in the stack: the page gets the area's width and height, or its
    least height and a vertical scroll bar when it cannot be squeezed that far (a large
    zoom). Only a page that cannot be squeezed to the area's width (a 640x480 window)
    gets its least width and a sideways scroll bar: squeezed further, its controls were
    drawn on top of each other, cut to a few pixels high. The page is sized here rather
    than by QScrollArea's widgetResizable, which would ask the page's *preferred* height
    for its width (grids that could grow, wrapped text) and scroll long before it needs
    to."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(widget)

    def setWidget(self, widget: QWidget) -> None:  # noqa: N802 (Qt name)
        super().setWidget(widget)
        # the page's least size changes with its text (theme, zoom) and content
        widget.installEventFilter(self)
        self.fit()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.LayoutRequest and obj is self.widget():
            self.fit()
        return False

    def fit(self) -> None:
        page = self.widget()
        if page is None:
            return
        view = self.maximumViewportSize()  # the size without scroll bars
        least = page.minimumSizeHint()
        width, height = view.width(), view.height()
        for _ in range(2):  # a scroll bar one way takes room the other way
            tall = least.height() > height
            wide = least.width() > width
            width = view.width() - (self.verticalScrollBar().sizeHint().width() if tall else 0)
            height = view.height() - (self.horizontalScrollBar().sizeHint().height()
                                      if wide else 0)
        need = least.height()
        layout = page.layout()
        if wide and layout is not None and layout.hasHeightForWidth():
            # at its least width the wrapped words need more lines than the least height
            # (taken at no particular width) leaves them
            need = max(need, layout.totalHeightForWidth(least.width()))
        page.resize(max(1, width, least.width()), max(1, height, need))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.fit()

    def sizeHint(self):  # noqa: N802 (Qt name)
        return QSize(200, 200)

    def minimumSizeHint(self):  # noqa: N802 (Qt name)
        return QSize(100, 100)


class LabPanel(QWidget):
    """The Lab: page list + stacked pages + presentation controls.

    Public: ``pages`` (titles), ``stack``, ``page(i)`` (builds it), ``current_page()``,
    ``set_page(i)``, ``show_page(key)``, ``next()``, ``previous()``,
    ``set_presentation(on)``, ``export_png(path)``, ``set_image(image)``, ``shutdown()``.
    """

    presentationChanged = Signal(bool)
    #: one-line status for the window's status bar
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None, host: SectionHost | None = None) -> None:
        super().__init__(parent)
        self.host = host or _standalone_host()
        self.factories = page_factories()
        self.pages = [title for title, _ in self.factories]
        self._built: dict[int, LabPage] = {}
        self._image = None
        self._presenting = self.presentation
        self._build()
        follow_theme(self, self._theme_changed)
        QApplication.instance().focusChanged.connect(self._focus_changed)
        self._fit_left()
        self.set_page(0)

    # -- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.list = QListWidget()
        self.list.addItems(self.pages)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget()
        self._areas: list[_PageArea] = []
        for title in self.pages:
            placeholder = QLabel(f"{title.strip()}: loading…")
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            area = _PageArea(placeholder)
            self._areas.append(area)
            self.stack.addWidget(area)

        self.present_button = QPushButton("Presentation (F11)")
        self.present_button.setCheckable(True)
        self.present_button.setChecked(self.presentation)
        self.present_button.clicked.connect(self.set_presentation)
        self.export_button = QPushButton("Export PNG (Ctrl+E)")
        self.export_button.clicked.connect(self._ask_export)
        for button in (self.present_button, self.export_button):
            # a focused button would take Space for itself
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # not word-wrapped: a wrapping label would make the whole panel ask the window's
        # scroll area for a height for its width
        self.keys_label = QLabel("Space / →  next\n←  back\nPgDn / PgUp")
        self.keys_label.setObjectName("hint")
        self.keys_label.setToolTip("Space and the arrows step the page's demonstration, "
                                   "then turn the page; PgDn / PgUp do the same even "
                                   "while a slider or a box has the keyboard.")
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.list, 1)
        left.addWidget(self.keys_label)
        left.addWidget(self.present_button)
        left.addWidget(self.export_button)
        self.left = QWidget()
        self.left.setLayout(left)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(6)
        layout.addWidget(self.left)
        layout.addWidget(self.stack, 1)

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self._step_shortcuts = []
        for key, slot, step_key in (
            (Qt.Key.Key_Space, self.next, True),
            (Qt.Key.Key_Right, self.next, True),
            (Qt.Key.Key_Left, self.previous, True),
            (Qt.Key.Key_PageDown, self.next, False),
            (Qt.Key.Key_PageUp, self.previous, False),
            (QKeySequence("Ctrl+E"), self._ask_export, False),
        ):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(context)
            sc.activated.connect(slot)
            if step_key:
                self._step_shortcuts.append(sc)

    def _fit_left(self) -> None:
        """The left column as wide as its longest entry or button, at the present text
        size (never a fixed width that cuts the titles). In presentation mode it becomes
        a narrow rail (page numbers, the titles in tooltips) so the page has the room."""
        rail = self.presentation
        for i, (_key, title, *_rest) in enumerate(PAGES):
            item = self.list.item(i)
            item.setText(title.split()[0] if rail else title)
            item.setToolTip(title.split(maxsplit=1)[1])
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter if rail
                                  else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.present_button.setText("F11" if rail else "Presentation (F11)")
        self.present_button.setToolTip("Leave presentation mode (Esc or F11)" if rail
                                       else "Presentation mode for the whole window (F11)")
        self.export_button.setText("PNG" if rail else "Export PNG (Ctrl+E)")
        self.export_button.setToolTip("Export the page as a PNG at twice the screen "
                                      "resolution (Ctrl+E)")
        self.keys_label.setVisible(not rail)
        self.list.doItemsLayout()
        frame = 2 * self.list.frameWidth()
        width = max(self.list.sizeHintForColumn(0) + frame + 8,
                    self.present_button.sizeHint().width(),
                    self.export_button.sizeHint().width())
        self.left.setFixedWidth(width)

    # -- pages ------------------------------------------------------------------------
    def page(self, index: int) -> LabPage:
        """Page `index`, built now if it has not been shown yet."""
        if index not in self._built:
            page = self.factories[index][1]()
            self._built[index] = page
            old = self._areas[index].takeWidget()
            self._areas[index].setWidget(page)
            if old is not None:
                old.deleteLater()
            if self._image is not None and hasattr(page, "set_current_image"):
                page.set_current_image(self._image)
        return self._built[index]

    def current_index(self) -> int:
        return self.stack.currentIndex()

    def current_page(self) -> LabPage:
        return self.page(self.current_index())

    def set_page(self, index: int) -> None:
        index = max(0, min(len(self.pages) - 1, index))
        self.page(index)
        self.stack.setCurrentIndex(index)
        if self.list.currentRow() != index:
            self.list.setCurrentRow(index)

    def show_page(self, key: str) -> LabPage:
        """Show the page `cnn-explorer lab KEY` computes (conv, pool, params,
        equivariance, rf, hierarchy, digit, gallery); KeyError names the valid keys."""
        if key not in PAGE_KEYS:
            raise KeyError(f"no Lab page {key!r}; choose from {', '.join(PAGE_KEYS)}")
        self.set_page(PAGE_KEYS.index(key))
        return self.current_page()

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

    def _focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        # an editor keeps Space and the arrows (a slider moves, a spin box counts)
        editing = isinstance(now, EDITORS)
        try:
            for sc in self._step_shortcuts:
                sc.setEnabled(not editing)
        except RuntimeError:  # the panel is being deleted
            pass

    # -- the window's side ------------------------------------------------------------
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
    @property
    def presentation(self) -> bool:
        """Whether the window (its theme) is in presentation mode now."""
        return bool(self.host.presenting()) or theme.current() is theme.PRESENTATION

    def set_presentation(self, on: bool) -> None:
        """Ask the window for presentation mode on or off (it switches the theme, full
        screen and back); the button follows what the window did."""
        self.host.set_presentation(bool(on))
        self._sync_presentation()

    def _sync_presentation(self) -> None:
        on = self.presentation
        if self.present_button.isChecked() != on:
            self.present_button.setChecked(on)
        if on != self._presenting:
            self._presenting = on
            self.presentationChanged.emit(on)

    def _theme_changed(self, _theme, _scale: float) -> None:
        self._fit_left()
        for area in self._areas:
            area.fit()
        self._sync_presentation()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        # F11 and Esc as key presses, not shortcuts: the window may own the same keys,
        # and two shortcuts on one key would cancel each other out
        if event.key() == Qt.Key.Key_F11:
            self.set_presentation(not self.presentation)
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and self.presentation:
            self.set_presentation(False)
            event.accept()
            return
        super().keyPressEvent(event)

    # -- export -----------------------------------------------------------------------
    def export_png(self, path: str | Path, scale: float = 2.0) -> tuple[int, int]:
        """Write the current page to `path` as a PNG `scale` times its on-screen size."""
        return render_png(self.current_page(), path, scale)

    def _ask_export(self) -> None:
        key = PAGE_KEYS[self.current_index()]
        path, _ = QFileDialog.getSaveFileName(self, "Export page", f"lab_{key}.png",
                                              "PNG image (*.png)")
        if path:
            from explorer.errors import UserError

            try:
                self.export_png(path)
            except UserError as exc:  # the file could not be written
                self.host.show_error(str(exc))

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
