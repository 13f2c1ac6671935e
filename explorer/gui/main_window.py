"""The main window: network and image on the left, layers and their feature maps in the
centre, one channel and the layer's details on the right.

The window only draws. Every load (network, image, weights) becomes one request to the
:class:`~explorer.gui.workers.JobRunner`, which runs :func:`~explorer.gui.loading.run_request`
in a worker; the newest request wins and a failed one leaves what was loaded in place.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from PySide6.QtCore import QEvent, QSize, Qt, QThreadPool, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.app.networks import NetSpec, list_models
from explorer.app.pictures import IMAGE_FILTER
from explorer.app.policy import LoadPolicy
from explorer.app.tracing import LoadResult, run_request
from explorer.core.device import pick_device
from explorer.errors import UserError
from explorer.gui.common import messages, theme
from explorer.gui.common.section import SECTIONS, Section, SectionEntry, SectionHost
from explorer.gui.common.workers import JobRunner
from explorer.gui.explore.feature_view import ChannelView, FeatureView
from explorer.gui.explore.filter_view import FilterView
from explorer.gui.explore.image_panel import ImagePanel
from explorer.gui.explore.layer_info import LayerInfoPanel
from explorer.gui.explore.layer_tree import LayerTree
from explorer.gui.explore.network_panel import NetworkPanel
from explorer.gui.explore.predictions import PredictionsPanel

#: how many layers after the current one get their mosaics made ahead of time
PREFETCH = 2
WEIGHTS_SUFFIXES = {".pt", ".pth", ".ts", ".pkl", ".bin", ".onnx", ".pt2", ".safetensors"}
WEIGHTS_FILTER = ("Weights and networks (*.pt *.pth *.ts *.pkl *.onnx *.pt2 *.safetensors);;"
                  "All files (*)")
#: whole networks in a file, opened on their own when dropped (no architecture needed)
NETWORK_SUFFIXES = {".onnx", ".pt2"}

#: the window's keys, one list for the bindings and Help → Keyboard: (keys, what, where)
SHORTCUTS = [
    ("F11", "presentation mode on / off (high contrast, large text, full screen)", "everywhere"),
    ("Esc", "leave presentation mode", "everywhere"),
    ("Ctrl++ / Ctrl+-", "zoom text and views in / out (remembered)", "everywhere"),
    ("Ctrl+0", "zoom back to 100 %", "everywhere"),
    ("Ctrl+1 … Ctrl+6", "Explore, Detection, Segmentation, Lab, Live, Why & training",
     "everywhere"),
    ("Ctrl+O", "open an image", "everywhere"),
    ("Ctrl+S", "save the window as PNG", "everywhere"),
    ("F1", "this list", "everywhere"),
    ("Ctrl+Q", "quit", "everywhere"),
    ("PgDown / J", "next layer", "Explore, Live"),
    ("PgUp / K", "previous layer", "Explore, Live"),
    ("Space / →", "next step or page (not while a slider or field has the focus)", "Lab"),
    ("←", "previous step or page (not while a slider or field has the focus)", "Lab"),
    ("Ctrl+E", "export the Lab page as PNG", "Lab"),
    ("F5", "start the lecture tour, or resume it at the step it was left", "everywhere"),
    ("Space / → / PgDown", "next step of the tour", "Tour"),
    ("← / PgUp", "previous step of the tour", "Tour"),
    ("Esc", "leave the tour to explore freely (F5 comes back)", "Tour"),
]


class _Group(QGroupBox):
    """A group box at least as wide as its title as the theme draws it: Qt's own least
    width leaves out the style sheet's indent and padding of the title (theme.py), so
    at its narrowest the title's last letters were cut off."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        least = super().minimumSizeHint()
        # the title's indent (8 px) and padding (4 px each side), and the frame's edge
        title = self.fontMetrics().horizontalAdvance(self.title()) + 8 + 2 * 4 + 2
        return QSize(max(least.width(), title), least.height())


class _Columns(QSplitter):
    """Explore's three columns. Whenever the window's width or text size changes, each
    side column gets what its contents ask for (the network's name whole in its menu)
    up to a share of the width, and the mosaic in the centre the rest: a 1366-wide
    projector in presentation mode reads every name, a 1024-wide one still fits. A
    column dragged wider stays so until the window is resized."""

    #: the most of the width the left and the right column take when they ask for it;
    #: 0.3 on the right holds its four tab titles (Predictions, Layer, Kernels, Unit sum)
    #: whole at 1366x768 (at 0.25 "Unit sum" hid behind scroll arrows)
    SHARES = (0.33, 0.3)

    def __init__(self, orientation: Qt.Orientation) -> None:
        super().__init__(orientation)
        # a child timer: it goes with the splitter, so no fit is called on a deleted one
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(0)
        self._refit.timeout.connect(self.fit)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.fit()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._refit.start()  # once the columns have the new text size

    def fit(self) -> None:
        if self.count() != 3 or self.width() <= 0:
            return
        left, centre, right = (self.widget(i) for i in range(3))
        total = self.width() - 2 * self.handleWidth()

        def wanted(column: QWidget, share: float) -> int:
            least = column.minimumSizeHint().width()
            return max(least, min(column.sizeHint().width(), int(total * share)))

        sides = [wanted(left, self.SHARES[0]), wanted(right, self.SHARES[1])]
        middle = max(centre.minimumSizeHint().width(), total - sum(sides))
        self.setSizes([sides[0], middle, sides[1]])


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = _Group(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 10, 6, 6)
    layout.addWidget(widget)
    return box


class ErrorBanner(QFrame):
    """A red strip with one sentence and a close button: errors never block the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("×")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    """CNN Explorer's window. Public state: ``network``, ``image``, ``trace``."""

    def __init__(self, device: str | torch.device | None = None) -> None:
        super().__init__()
        self.setWindowTitle("CNN Explorer")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        #: presentation mode, and the window state to give back when it ends
        self.presentation = False
        self._state_before: tuple | None = None
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        #: what is loaded and asked for (explorer.app.policy, testable without Qt)
        self.policy = LoadPolicy(self.device)
        self.trace = None
        self.picture = None
        #: messages shown in the error banner, oldest first (tests read it)
        self.errors: list[str] = []
        self._modules: dict = {}
        self.runner = JobRunner(self)
        self._build()
        self._build_menu()
        self._connect()
        from explorer.gui.tour import TourController

        #: the lecture tour (Tour menu, F5), explorer.gui.tour
        self.tour = TourController(self)
        # a click on a tile or unit opens that channel's unit card (gui/explore/unit_card)
        from explorer.gui.explore.unit_card import attach_unit_card

        attach_unit_card(self)
        # the network as a graph beside the layer tree, and networks by timm name
        from explorer.gui.graph.attach import attach_graph_view

        attach_graph_view(self)

    # -- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.network_panel = NetworkPanel(list_models())
        self.image_panel = ImagePanel()
        self.layer_tree = LayerTree()
        self.feature_view = FeatureView()
        self.channel_view = ChannelView()
        self.info_panel = LayerInfoPanel()
        self.filter_view = FilterView()
        self.predictions = PredictionsPanel()
        self.error_banner = ErrorBanner()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(_group("Network", self.network_panel))
        # a short title: a group box is at least as wide as its title, and "Input: what
        # the network sees" held the column 410 px wide in presentation mode
        left_layout.addWidget(_group("Input: what it sees", self.image_panel), 1)

        centre = QSplitter(Qt.Orientation.Vertical)
        # the keys in the title would make the column 370 px wide at least (550 on a
        # projector); they are in the tooltip and in Help → Keyboard
        layers = _group("Layers  (PgUp / PgDown)", self.layer_tree)
        layers.setToolTip("PgUp / PgDown or K / J step through the layers")
        centre.addWidget(layers)
        centre.addWidget(self.feature_view)
        centre.setStretchFactor(1, 1)
        centre.setSizes([250, 610])

        self.tabs = QTabWidget()
        # scrolling, so that five bars and their labels do not hold a 480-high window
        # open, nor a long layer name ("features.conv1" at presentation size) the column
        self.tabs.addTab(self._scrolling(self.predictions), "Predictions")
        self.tabs.addTab(self._scrolling(self.info_panel), "Layer")
        self.tabs.addTab(self.filter_view, "Kernels")
        self.tabs.setUsesScrollButtons(True)  # its tab titles never widen the column
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.channel_view)
        right.addWidget(self.tabs)
        # the tabs a little more than half: five predictions and their bars fit at
        # 1024x768 without scrolling
        right.setSizes([360, 500])

        self.splitter = _Columns(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 680, 380])

        # sections of the window (Explore first; detection, segmentation, the lab and the
        # live view are added with add_section); the bar hides while there is only one
        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.setTabBarAutoHide(True)
        self.sections.addTab(self._scrolling(self.splitter), "Explore")
        self._build_sections()

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.error_banner)
        layout.addWidget(self.sections, 1)
        self.setCentralWidget(central)

        bar = self.statusBar()
        self.busy_bar = QProgressBar()
        self.busy_bar.setMaximumWidth(200)
        self.busy_bar.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.device_label = QLabel(f"Device: {self.device}")
        self.time_label = QLabel("Trace: –")
        self.weights_label = QLabel("Weights: –")
        for widget in (self.busy_bar, self.cancel_button):
            bar.addPermanentWidget(widget)
        for label in (self.device_label, self.time_label, self.weights_label):
            label.setContentsMargins(10, 0, 10, 0)
            bar.addPermanentWidget(label)

    def _build_sections(self) -> None:
        """Add a tab per entry of :data:`SECTIONS`; each section is built the first time it
        is shown, so the window opens fast and a class that never leaves Explore never
        pays for the rest."""
        self.section_widgets: dict[str, QWidget] = {}
        self._entries: dict[int, SectionEntry] = {}
        self.host = SectionHost(device=self.device, explore=lambda: (self.network, self.image),
                                show_error=self.show_error,
                                set_presentation=self.set_presentation,
                                presenting=lambda: self.presentation)
        for entry in SECTIONS:
            self._entries[self.add_section(entry.title, QWidget())] = entry
        self.sections.currentChanged.connect(self._ensure_section)
        self.sections.currentChanged.connect(self._section_changed)

    def _entry(self, title: str) -> tuple[int, SectionEntry] | None:
        key = title.replace("&", "").strip().lower()
        for index, entry in self._entries.items():
            if entry.key.startswith(key) or entry.title.replace("&", "").lower().startswith(key):
                return index, entry
        return None

    def section(self, title: str) -> QWidget:
        """The section called `title` ("Lab", "Detection", ...), built if it was not yet."""
        found = self._entry(title)
        if found is None:
            raise KeyError(title)
        return self._ensure_section(found[0])

    def _ensure_section(self, index: int) -> QWidget | None:
        entry = self._entries.get(index)
        if entry is None:
            return None
        if entry.title in self.section_widgets:
            return self.section_widgets[entry.title]
        import importlib

        factory = getattr(importlib.import_module(entry.module), entry.cls)
        widget = factory(host=self.host)
        assert isinstance(widget, Section), f"{entry.cls} does not implement Section"
        self.section_widgets[entry.title] = widget
        self.sections.widget(index).setWidget(widget)
        widget.status.connect(lambda text, w=widget: self._section_status(w, text))
        return widget

    def _section_status(self, widget: QWidget, text: str) -> None:
        # a section's words are about its own network and picture: one working in the
        # background ("tinyvgg-shapes ready" from Live) said them under another section
        if self.current_section() is widget:
            self.statusBar().showMessage(text)

    def _section_changed(self, index: int) -> None:
        """The status bar speaks of the section shown: the last section's message goes, and
        Explore's trace time and weights show on Explore only (Live on tinyvgg-shapes said
        "Weights: random" when Explore held an untrained AlexNet)."""
        self.statusBar().clearMessage()
        explore = self._entries.get(index) is None
        self.time_label.setVisible(explore)
        self.weights_label.setVisible(explore)

    def show_section(self, title: str) -> bool:
        """Bring the section called `title` (case and "&" ignored) to the front."""
        found = self._entry(title)
        if found is None:
            return False
        self.sections.setCurrentIndex(found[0])
        self._ensure_section(found[0])
        return True

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        entries = [
            ("Open image…", "Ctrl+O", self._ask_image_file),
            ("Open weights (state dict)…", None, lambda: self._ask_weights_file("state")),
            ("Open whole model (ONNX, .pt2, TorchScript)…", None,
             lambda: self._ask_weights_file("module")),
            (None, None, None),
            ("Save window as PNG…", "Ctrl+S", self._ask_save_png),
            (None, None, None),
            ("Quit", "Ctrl+Q", self.close),
        ]
        for text, keys, slot in entries:
            if text is None:
                menu.addSeparator()
                continue
            action = menu.addAction(text)
            if keys:
                action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _checked=False, f=slot: f())
        view = self.menuBar().addMenu("&View")
        app_wide = Qt.ShortcutContext.ApplicationShortcut
        for text, keys, slot in (
            ("Presentation mode", ["F11"], lambda: self.set_presentation(not self.presentation)),
            ("Zoom in", ["Ctrl++", "Ctrl+="], lambda: theme.step_zoom(+1)),
            ("Zoom out", ["Ctrl+-"], lambda: theme.step_zoom(-1)),
            ("Actual size", ["Ctrl+0"], lambda: theme.step_zoom(0)),
        ):
            action = view.addAction(text)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(app_wide)
            action.triggered.connect(lambda _checked=False, f=slot: f())
            self.addAction(action)  # works while the menu bar is hidden (full screen)
        leave = QShortcut(QKeySequence("Esc"), self)
        leave.setContext(app_wide)
        leave.activated.connect(self._escape)
        view.addSeparator()
        # a menu's "&" marks a mnemonic, so "Why && training" stays as it is ("Why &
        # training" showed as "Why _training")
        titles = ["Explore"] + [e.title for e in SECTIONS]
        for i, title in enumerate(titles):
            action = view.addAction(title)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.setShortcutContext(app_wide)
            action.triggered.connect(lambda _checked=False, n=i: self.sections.setCurrentIndex(n))
            self.addAction(action)
        layer = self.menuBar().addMenu("&Layer")
        for text, keys, delta in (("Next layer", "PgDown", 1), ("Previous layer", "PgUp", -1)):
            action = layer.addAction(f"{text}\t{keys}")
            action.triggered.connect(lambda _checked=False, d=delta: self.step_layer(d))
        help_menu = self.menuBar().addMenu("&Help")
        action = help_menu.addAction("Keyboard")
        action.setShortcut(QKeySequence("F1"))
        action.setShortcutContext(app_wide)
        action.triggered.connect(self.show_keyboard_help)
        self.addAction(action)

    def _escape(self) -> None:
        """Esc: closes the dialog in front (the unit card), else leaves presentation
        mode. The key is bound application-wide, so it reached the window first and a
        dialog never saw it: the unit card stayed open and covered the window."""
        front = QApplication.activeWindow()
        if isinstance(front, QDialog) and front is not self and front.isVisible():
            front.close()  # as its title bar's button: the card stops its work too
            return
        self.set_presentation(False)

    def keyboard_help_text(self) -> str:
        """Help → Keyboard, as HTML (the same list the keys are bound from)."""
        rows = "".join(f"<tr><td><b>{keys}</b></td><td>{what}</td><td>{where}</td></tr>"
                       for keys, what, where in SHORTCUTS)
        head = "<tr><th>keys</th><th>does</th><th>where</th></tr>"
        return f"<table cellspacing='6'>{head}{rows}</table>"

    def show_keyboard_help(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(self)
        box.setWindowTitle("Keyboard")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.keyboard_help_text())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def set_presentation(self, on: bool, full_screen: bool = True) -> None:
        """Presentation mode: the high-contrast theme with large text for the whole window,
        full screen; leaving it gives back the window state it found (maximised, normal
        or full screen, and the geometry)."""
        on = bool(on)
        if on == self.presentation:
            return
        self.presentation = on
        if on:
            self._state_before = (self.windowState(), self.saveGeometry())
            theme.apply(presentation=True)
            if full_screen:
                self.showFullScreen()
        else:
            theme.apply(presentation=False)
            if self._state_before is not None:
                state, geometry = self._state_before
                self._state_before = None
                if self.isFullScreen() and not state & Qt.WindowState.WindowFullScreen:
                    self.showNormal()
                self.restoreGeometry(geometry)
                self.setWindowState(state)
        self.statusBar().showMessage("Presentation mode: F11 or Esc to leave" if on else
                                     "Presentation mode off", 5000)

    def current_section(self) -> QWidget | None:
        """The section shown now (None for Explore)."""
        entry = self._entries.get(self.sections.currentIndex())
        return self.section_widgets.get(entry.title) if entry is not None else None

    def save_png(self, path: str) -> bool:
        """Save the window as it looks now (for slides and handouts)."""
        return self.grab().save(path)

    def _ask_save_png(self) -> None:
        name = self.network.name if self.network is not None else "window"
        path = messages.ask_save_file(self, "Save window as PNG", "PNG image (*.png)",
                                      f"{name}.png")
        if path and not self.save_png(path):
            self.show_error(f"Could not write {path}.")

    def _connect(self) -> None:
        self.runner.finished.connect(self._on_loaded)
        self.runner.failed.connect(self._on_failed)
        self.runner.progress.connect(self._on_progress)
        self.runner.busyChanged.connect(self._on_busy)
        self.cancel_button.clicked.connect(self.cancel)
        self.network_panel.networkChosen.connect(self.choose_network)
        self.network_panel.weightsFileRequested.connect(self._ask_weights_file)
        self.network_panel.downloadRequested.connect(self._ask_download)
        self.image_panel.sampleChosen.connect(self.load_image)
        self.image_panel.openRequested.connect(self._ask_image_file)
        self.layer_tree.layerSelected.connect(self.show_layer)
        self.feature_view.channelSelected.connect(self._on_channel)
        self.feature_view.colormap_box.currentTextChanged.connect(self.channel_view.set_colormap)
        self.channel_view.unitHovered.connect(self._on_unit_hovered)
        self.feature_view.unitHovered.connect(self._on_unit_hovered)
        for keys, delta in (("PgDown", 1), ("J", 1), ("PgUp", -1), ("K", -1)):
            # scoped to the Explore section, so other sections keep their own keys
            shortcut = QShortcut(QKeySequence(keys), self.splitter)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda d=delta: self.step_layer(d))

    @staticmethod
    def _scrolling(widget: QWidget) -> QScrollArea:
        """`widget` in a frameless scroll area: where it needs more room than the window
        has, it scrolls, and the window keeps the size it was given (``--size``, a small
        projector) instead of growing past the screen."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        return scroll

    def add_section(self, title: str, widget: QWidget) -> int:
        """Add `widget` as a top-level section (a tab beside Explore). It sits in a scroll
        area so that a section wider than the screen scrolls instead of widening the
        window."""
        return self.sections.addTab(self._scrolling(widget), title)

    # -- requests ---------------------------------------------------------------------
    @property
    def network(self):
        return self.policy.network

    @property
    def image(self):
        return self.policy.image

    @property
    def sample(self) -> str | None:
        return self.policy.sample

    def load(self, network: str | NetSpec | None = None, image: str | None = None,
             *, keep_banner: bool = False) -> int:
        """Ask for a new network and/or picture (a name or NetSpec; a picture spec in
        explorer.app.pictures' grammar); returns the request id. What is not asked for
        stays as it is; the answer arrives on the GUI thread. A new request dismisses the
        error banner unless `keep_banner`."""
        if not keep_banner:
            self.error_banner.hide()
        net_spec = NetSpec(network) if isinstance(network, str) else network
        request = self.policy.request(net_spec, image, self.network_panel.chosen_name)
        return self._submit(request)

    def _submit(self, request) -> int:
        spec = request.net_spec
        if spec is not None and self.network_panel.combo.findData(spec.name) >= 0:
            # the combo follows the request at once; a failure puts it back
            self.network_panel.combo.setCurrentIndex(self.network_panel.combo.findData(spec.name))
        return self.runner.submit(lambda ctx: run_request(request, ctx))

    def choose_network(self, name: str) -> int:
        """Switch to registry network `name`, keeping the picture (or the new network's own
        sample when the current picture was the old network's own)."""
        spec, image = self.policy.choose_network(name)
        return self.load(spec, image)

    def load_image(self, source: str) -> int:
        """Show sample `source` or the image file at path `source`."""
        return self.load(image=source)

    def cancel(self) -> None:
        """Stop the running load. What is loaded stays; the cancelled request is forgotten,
        so the next one does not bring it back, and the combo shows the loaded network."""
        self.runner.cancel()
        self.policy.cancel()
        if self.network is not None:
            self.network_panel.show_network(self.network)

    def step_layer(self, delta: int) -> str | None:
        """Next (+1) or previous (-1) layer in network order."""
        return self.layer_tree.step(delta)

    def _ask_image_file(self) -> None:
        path = messages.ask_open_file(self, "Open image", IMAGE_FILTER)
        if path:
            self.load_image(path)

    def _ask_weights_file(self, kind: str) -> None:
        path = messages.ask_open_file(self, "Open weights file", WEIGHTS_FILTER)
        if not path:
            return
        if kind == "module":
            self.load(NetSpec("file", path, trust_pickle=self.network_panel.trust.isChecked()))
        else:
            name = self.network_panel.chosen_name or (self.network.name if self.network else "")
            self.load(NetSpec(name, path))

    def _ask_download(self, name: str) -> None:
        if not name:
            return
        if messages.confirm(
            self, "Download weights",
            f"Download torchvision's ImageNet weights for {name}? "
            "This needs the internet and may take a while.",
        ):
            self.load(NetSpec(name, download=True))

    # -- answers (GUI thread) ---------------------------------------------------------
    def _on_loaded(self, result: LoadResult) -> None:
        self.policy.loaded(result)
        self.trace, self.picture = result.trace, result.picture
        self._modules = dict(result.network.module.named_modules())
        net = result.network
        if net.weights_source == "download":  # the list's availability has changed
            self.network_panel.set_entries(list_models())
        self.setWindowTitle(f"CNN Explorer — {net.name} on {result.image.name}")
        self.network_panel.show_network(net)
        h, w = result.picture.shape[:2]
        ih, iw = result.image.array.shape[:2]
        what = f"sample “{result.sample}”" if result.sample else result.image.name
        fmt = result.image.info if result.image.path is not None else ""
        caption = f"{what}, {fmt or f'{iw} × {ih}'}: resized and cropped to {w} × {h}"
        self.image_panel.show_input(result.picture, caption, result.sample)
        self.predictions.show_trace(result.trace)
        previous = self.layer_tree.current_name
        rebuilt = self.layer_tree.set_layers(result.trace.layers)
        names = self.layer_tree.names
        if not rebuilt and previous in names:
            self.show_layer(previous)  # same network: redraw the layer for the new image
        elif names:
            self.layer_tree.select(self._first_map_layer(result.trace) or names[0])
        if self.focusWidget() is None:  # so PgDown / J work before anything is clicked
            self.layer_tree.setFocus()
        self.device_label.setText(f"Device: {net.device}")
        self.time_label.setText(f"Trace: {result.trace.seconds * 1000:.0f} ms")
        self.weights_label.setText(f"Weights: {net.weights_source}")
        message = f"Loaded {net.name} on {result.image.name}"
        if result.note:
            message += f" ({result.note})"
        self.statusBar().showMessage(message, 8000)
        if result.warning:
            self.show_error(result.warning[0].upper() + result.warning[1:] + ".")

    def _on_failed(self, exc: object, message: str) -> None:
        if isinstance(exc, UserError):
            text = message
        else:  # a bug: say so in one line, keep the traceback on the console
            print(message, file=sys.stderr)
            text = f"Something went wrong: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        self.show_error(text)
        fallback = self.policy.failed(exc if isinstance(exc, BaseException) else None)
        if self.network is not None:
            self.network_panel.show_network(self.network)  # the combo shows what is loaded
        if fallback is not None:
            self._submit(fallback)

    def show_error(self, text: str) -> None:
        """One clear, non-blocking message: banner plus status bar."""
        self.errors.append(text)
        self.error_banner.show_message(text)
        self.statusBar().showMessage(text, 15000)

    def _on_progress(self, message: str, fraction: float) -> None:
        self.statusBar().showMessage(message)
        if fraction < 0:
            self.busy_bar.setRange(0, 0)
        else:
            self.busy_bar.setRange(0, 1000)
            self.busy_bar.setValue(round(fraction * 1000))

    def _on_busy(self, busy: int) -> None:
        busy = bool(busy)
        self.busy_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.busy_bar.setRange(0, 0)

    # -- views ------------------------------------------------------------------------
    @staticmethod
    def _first_map_layer(trace) -> str | None:
        for layer in trace.layers:
            if len(layer.out_shape) == 3 and layer.is_leaf:
                return layer.name
        return None

    def show_layer(self, name: str) -> None:
        """Draw layer `name` of the current trace in every view."""
        if self.trace is None:
            return
        try:
            info = self.trace.info(name)
        except KeyError:
            return
        names = self.layer_tree.names
        index = names.index(name) if name in names else len(names)
        # the layers a person is likely to step to next are tiled in the background
        upcoming = names[index + 1:index + 1 + PREFETCH] + names[max(0, index - 1):index]
        self.feature_view.show_layer(self.trace, name, upcoming)
        self.info_panel.show_info(info)
        self.filter_view.show_module(name, self._modules.get(name))
        self.image_panel.show_field(None)
        if self.feature_view.has_maps:
            self.feature_view.select_channel(0)
        else:
            self.channel_view.show_channel(None, None, None, self.feature_view.colormap_name)

    def _on_channel(self, channel: int) -> None:
        self.channel_view.show_channel(
            self.trace, self.feature_view.layer, channel, self.feature_view.colormap_name
        )

    def _on_unit_hovered(self, y: int, x: int) -> None:
        if self.trace is None or self.feature_view.layer is None or y < 0:
            self.image_panel.show_field(None)
            return
        info = self.trace.info(self.feature_view.layer)
        box = info.field_box(y, x) if len(info.out_shape) == 3 else None
        self.image_panel.show_field(box)

    # -- window events ----------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt name)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt name)
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.open_path(paths[0])

    def open_path(self, path: str) -> int:
        """A dropped file: weights go to the network, anything else is read as an image."""
        if Path(path).suffix.lower() in NETWORK_SUFFIXES:
            return self.load(NetSpec("file", path))
        if Path(path).suffix.lower() in WEIGHTS_SUFFIXES:
            name = self.network_panel.chosen_name or ""
            return self.load(NetSpec(name, path))
        return self.load_image(path)

    @property
    def busy(self) -> bool:
        """True while a load or a mosaic is still being made."""
        return self.runner.busy or self.feature_view.pending

    def wait(self, timeout: float = 60.0) -> bool:
        """Process events until loading and the current mosaic are done."""
        deadline = time.monotonic() + timeout
        ok = self.runner.wait(timeout)
        while self.feature_view.pending and time.monotonic() < deadline:
            self.feature_view.mosaics.wait(0.05)
        return ok and not self.feature_view.pending

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        # sections inside tabs get no closeEvent of their own: stop their work here
        for widget in self.section_widgets.values():
            widget.shutdown()
        if getattr(self, "_unit_card", None) is not None:
            self._unit_card.shutdown()
        if getattr(self, "graph_view", None) is not None:
            self.graph_view.shutdown()
        if getattr(self, "unit_math_view", None) is not None:
            self.unit_math_view.shutdown()
        self.runner.shutdown(timeout=60.0)
        self.feature_view.mosaics.shutdown(timeout=60.0)
        # every job has answered; let their pool threads return too, so none is still
        # letting go of its Python objects when the process exits (a runner now waits
        # for its own jobs only, no longer for the whole pool)
        QThreadPool.globalInstance().waitForDone(2000)
        super().closeEvent(event)
