"""The Live section: a camera, a video file, moving shapes or one still picture go through
a classifier frame after frame; the section shows the frame, one layer's feature maps and
the top-5.

The section stands on its own: it opens its own network (a classifier, default
tinyvgg-shapes, through :func:`explorer.app.networks.open_network` on a worker), picks its
own layer (PgDown / PgUp or J / K step through them while the section has the focus) and
computes on the window's device (``host.device``). What a student must know before
trusting the top-5 (random weights, a network shown frames unlike what it learned from) is
written on the view.

The frame loop (:class:`~explorer.live.engine.LiveEngine`) runs on a :class:`LiveWorker`
thread and hands each result over through a one-slot mailbox: the worker emits
``resultReady`` only when the slot was empty, and the GUI thread takes whatever is newest
when it gets round to drawing. A GUI slower than the network therefore skips results
instead of queueing them, and the GUI thread never runs the network.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback

import numpy as np
import torch
from PySide6.QtCore import QCoreApplication, QSize, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from explorer.core.device import pick_device
from explorer.core.network import Network
from explorer.core.tasks import FlagTask
from explorer.errors import Cancelled, UserError
from explorer.gui.common import messages
from explorer.gui.common.canvas import COLORMAP_NAMES, ImageCanvas, lookup_table
from explorer.gui.common.flow import FlowRow, field
from explorer.gui.common.section import SectionHost
from explorer.gui.common.workers import JobRunner
from explorer.live.engine import FpsMeter, LiveEngine, LiveResult, default_layer
from explorer.live.notes import live_note, picture_kind
from explorer.live.sources import (
    MAX_CAMERA,
    VIDEO_FILTER,
    CameraSource,
    PictureSource,
    SyntheticSource,
    VideoFileSource,
)

#: the source menu, in the order of SOURCE_KINDS
SOURCES = ("Moving shapes", "Camera", "Video file", "Still picture")
SOURCE_KINDS = ("synthetic", "camera", "video", "picture")
#: the network Live opens on: trained, small, and at home on the synthetic shapes
DEFAULT_NETWORK = "tinyvgg-shapes"
#: the drawing rate when the screen does not say its own (Hz); and the bounds a screen's
#: figure is kept within (a projector reporting 0 or 1000 Hz is believed no further)
DEFAULT_REFRESH_HZ = 60.0
REFRESH_BOUNDS_HZ = (30.0, 240.0)
#: results are handed over at most once per this share of a screen refresh
SHOW_SHARE = 0.85
#: the words under the pictures (top-5, rates, caption) change at most this often while
#: running: nobody reads a number that changes 60 times a second, and each change of a
#: word-wrapped label lays out and repaints the panel (measured: tinyvgg-shapes went from
#: 2.5x to 1.7x its batched forward per frame without them)
TEXT_INTERVAL_S = 0.25
#: keys that step through the layers (as in Explore)
LAYER_KEYS = (("PgDown", 1), ("J", 1), ("PgUp", -1), ("K", -1))


def _blit(canvas: ImageCanvas, image: np.ndarray) -> None:
    """Show a finished uint8 RGB(A) image as it is: with no levels pyqtgraph neither
    scales nor looks anything up (half the time of levels=(0, 255) at 903 x 903)."""
    canvas.item.setLookupTable(None)
    # no pyqtgraph downsampling: it averages uint8 into floats, which it then cannot draw
    # without levels; Qt scales the finished image while painting instead
    canvas.item.setAutoDownsample(False)
    canvas.item.setImage(image, levels=None, autoLevels=False)
    shape = (int(image.shape[0]), int(image.shape[1]))
    if shape != canvas.image_shape:
        canvas.view.autoRange(padding=0.01)
    # ImageCanvas maps hover/click positions with the shape its set_image would record
    canvas._shape = shape


class _Canvas(ImageCanvas):
    """An ImageCanvas that asks for little room: the section's word-wrapped captions make
    its layout height-for-width, which adds up the canvases' preferred heights, and a
    large preference pushed the captions and the top-5 out of a 768-pixel screen. The
    canvases still take all the room there is (stretch)."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(320, 200)


def classifier_choices() -> list[tuple[str, str]]:
    """(registry name, menu text) of every classifier, the shipped ones first; those
    without trained weights here say so."""
    from explorer.app.networks import list_models

    entries = [e for e in list_models() if e.task == "classify"]
    entries.sort(key=lambda e: (e.family != "shipped", not e.available, e.name))
    return [(e.name, e.name if e.available else f"{e.name} (random weights)")
            for e in entries]


def _open_classifier(name: str, device: torch.device, ctx):
    """The worker's job: the network and its layer table (both off the GUI thread)."""
    from explorer.app.networks import NetSpec, open_network
    from explorer.app.tracing import layers_of

    network = open_network(NetSpec(name), device, ctx)
    layers = layers_of(network)
    ctx.check()
    return network, layers


class LiveWorker(QThread):
    """Runs the engine's loop on its own thread until :meth:`stop`.

    Nothing here touches a widget: results go into a one-slot mailbox and a signal says
    "something new is there" (at most one such signal is ever waiting).
    """

    resultReady = Signal()
    #: a one-sentence message (UserError) or "Something went wrong: ..." for a bug
    failed = Signal(str)

    def __init__(self, engine: LiveEngine, source, parent=None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.source = source
        #: the loop's task: :meth:`stop` cancels it (at most one more frame runs)
        self.task = FlagTask()
        self._lock = threading.Lock()
        self._slot: LiveResult | None = None
        #: results replaced in the mailbox before the GUI drew them
        self.dropped = 0

    def run(self) -> None:  # the worker thread
        try:
            self.engine.run(self.source, self._deliver, task=self.task)
        except Cancelled:
            pass  # Stop was pressed
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug: one line for the person, the trace for the console
            print(traceback.format_exc(), file=sys.stderr)
            self.failed.emit(f"Something went wrong: {type(exc).__name__}: {exc}")

    def _deliver(self, result: LiveResult) -> None:
        with self._lock:
            waiting = self._slot is not None
            self._slot = result
            if waiting:
                self.dropped += 1
        if not waiting:
            self.resultReady.emit()

    def take(self) -> LiveResult | None:
        """The newest result not yet drawn (GUI thread)."""
        with self._lock:
            result, self._slot = self._slot, None
        return result

    def stop(self, timeout_ms: int = 10000) -> bool:
        self.task.cancel()
        self.engine.step()  # wake a paused loop so it sees the cancel
        return self.wait(timeout_ms)


class LiveView(QWidget):
    """The Live section. Public: :meth:`choose_network`, :meth:`set_network`,
    :meth:`set_layer`, :meth:`step_layer`, :meth:`choose_source`, :meth:`set_picture`,
    :meth:`start`, :meth:`pause`, :meth:`step`, :meth:`stop`, :meth:`shutdown`;
    ``engine``, ``network``, ``layer``, ``latest`` (the last result drawn), ``frames_shown``.
    """

    #: a result was drawn (LiveResult)
    resultShown = Signal(object)
    #: network frames per second (moving average)
    fpsChanged = Signal(float)
    #: True when the loop starts, False when it has stopped
    runningChanged = Signal(bool)
    #: one sentence for the window's error banner
    errorOccurred = Signal(str)
    #: a network was loaded and is what the next frame runs (Network)
    networkReady = Signal(object)
    #: one-line status for the window's status bar
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None,
                 device: str | torch.device | None = None,
                 host: SectionHost | None = None, *,
                 network: str | None = DEFAULT_NETWORK) -> None:
        super().__init__(parent)
        self._standalone = host is None
        self.host = host or SectionHost()
        if host is not None:
            device = host.device
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        # threads="auto": 1 thread can beat all cores by far when they are busy
        self.engine = LiveEngine(device=self.device, copy_network=True, threads="auto",
                                 colormap=COLORMAP_NAMES[0])
        self.network: Network | None = None
        self.layers: list = []
        self.layer: str | None = None
        self.worker: LiveWorker | None = None
        self.latest: LiveResult | None = None
        self.frames_shown = 0
        self.video_path: str | None = None
        #: the still picture (an explorer.core.images.Image) the picture source shows
        self.picture = None
        self._picture_source: PictureSource | None = None
        #: the synthetic source's frame size (H, W) and rate
        self.synthetic_size = (224, 224)
        self.synthetic_fps = 30.0
        self._start_when_loaded = False
        #: one still frame is shown the first time the section is shown in the window
        self._preview_pending = False
        self._shown = False
        self._draw_fps = FpsMeter()
        # The window draws at most once per refresh of its screen, the newest result: the
        # loop can finish 200 frames a second of a small network, and drawing every one
        # (painting included, 2-5 ms of the GUI thread and of Python's GIL each) took the
        # second core and the GIL from the network, halving its rate (issue 17).
        self._next_draw_at = 0.0
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.timeout.connect(self._draw_latest)
        self._text_at = 0.0
        self._text_timer = QTimer(self)
        self._text_timer.setSingleShot(True)
        self._text_timer.timeout.connect(lambda: self._show_texts(self.latest))
        self._last_draw_fps = 0.0
        self.loader = JobRunner(self)
        self.loader.finished.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self.previewer = JobRunner(self)
        self.previewer.finished.connect(self._on_preview)
        self.previewer.failed.connect(lambda _exc, message: self._say(message))
        self.picture_loader = JobRunner(self)
        self.picture_loader.finished.connect(self.set_picture)
        self.picture_loader.failed.connect(lambda _exc, message: self._error(message))
        self._build()
        # the section itself can hold the focus (for PgDown / J when nothing in it has it)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.errorOccurred.connect(self.host.show_error)
        for keys, delta in LAYER_KEYS:
            # within this section only, so other sections keep their own keys
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda d=delta: self.step_layer(d))
        # a section inside a tab gets no closeEvent when the window closes: stop on quit too
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        if network:
            self.choose_network(network)

    # -- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        self.source_box = QComboBox()
        self.source_box.addItems(SOURCES)
        self.network_box = QComboBox()
        self.network_box.setToolTip("The classifier the frames go through (its own choice, "
                                     "not Explore's)")
        for name, text in classifier_choices():
            self.network_box.addItem(text, name)
        self.network_box.activated.connect(
            lambda i: self.choose_network(self.network_box.itemData(i)))
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The layer whose feature maps are shown "
                                  "(PgDown / PgUp or J / K step through them)")
        self.layer_box.currentIndexChanged.connect(self._on_layer_box)
        for box, chars in ((self.network_box, 14), (self.layer_box, 20)):
            # long names must not widen the window beyond the screen: the boxes take the
            # row's free room (stretch) and the open list shows every name in full
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(chars)
        self.source_box.setToolTip("Moving shapes: drawn shapes that move (no camera "
                                   "needed); or a camera, a video file, one still picture")
        self.half_box = QCheckBox("Half precision")
        self.half_box.setToolTip("float16 on a GPU, bfloat16 on a CPU that has it: faster "
                                 "for big networks, values within about 1 %")
        self.half_box.toggled.connect(self.set_half)
        self.guided_box = QCheckBox("Show guided backprop")
        self.guided_box.setToolTip("Instead of the frame: guided backpropagation from the "
                                   "shown layer's most active channel, every frame (which "
                                   "pixels make that channel fire)")
        self.guided_box.toggled.connect(self.set_guided)
        self.cmap_box = QComboBox()
        self.cmap_box.addItems(COLORMAP_NAMES)
        self.cmap_box.setCurrentText(self.engine.colormap)
        # the loop colours the mosaic on its thread: the GUI thread only blits it
        self.cmap_box.currentTextChanged.connect(self._on_colormap)

        self.camera_spin = QSpinBox()
        self.camera_spin.setRange(0, MAX_CAMERA)
        self.camera_spin.setPrefix("camera ")
        self.video_button = QPushButton("Open video…")
        self.video_button.clicked.connect(self._ask_video)
        self.picture_button = QPushButton("Open picture…")
        self.picture_button.clicked.connect(self._ask_picture)
        self.explore_button = QPushButton("Use Explore's picture")
        self.explore_button.setToolTip("Use the picture Explore shows now")
        self.explore_button.clicked.connect(self.use_explore_picture)
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.step_button = QPushButton("Step")
        self.stop_button = QPushButton("Stop")
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.step_button.clicked.connect(self.step)
        self.stop_button.clicked.connect(self.stop)
        self.source_box.currentIndexChanged.connect(self._on_source_changed)

        # rows that wrap: in one line each they were 1,240 px wide in presentation mode
        what = FlowRow()
        what.add(field("Network:", self.network_box), 2)
        what.add(field("Layer:", self.layer_box), 3)
        what.add(self.half_box)
        what.add(field("Colours:", self.cmap_box))
        where = FlowRow()
        # the source's own widgets wrap with it (only those of the chosen source show)
        where.add(field("Source:", self.source_box, self.camera_spin, self.video_button,
                        self.picture_button, self.explore_button))
        for w in (self.start_button, self.pause_button, self.step_button, self.stop_button):
            where.add(w)

        self.note_label = QLabel("")
        self.note_label.setObjectName("warningBanner")
        self.note_label.setWordWrap(True)
        self.note_label.hide()

        self.frame_canvas = _Canvas()
        self.mosaic_canvas = _Canvas()
        self.frame_caption = QLabel("The frame the network sees appears here.")
        self.mosaic_caption = QLabel("")
        self.topk_title = QLabel("Top 5")
        self.topk_label = QLabel("")
        self.topk_label.setObjectName("readout")
        for label in (self.frame_caption, self.mosaic_caption):
            label.setObjectName("caption")
            label.setWordWrap(True)
        self.fps_label = QLabel("– fps")
        self.fps_label.setObjectName("readout")
        self.fps_label.setWordWrap(True)
        self.status_label = QLabel("Stopped")
        self.status_label.setObjectName("hint")
        self.status_label.setWordWrap(True)
        # in the window its status bar and banner say the same: room for the pictures
        self.status_label.setVisible(self._standalone)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.frame_canvas, 1)
        left_layout.addWidget(self.frame_caption)
        left_layout.addWidget(self.guided_box)
        left_layout.addWidget(self.topk_title)
        left_layout.addWidget(self.topk_label)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.mosaic_canvas, 1)
        centre_layout.addWidget(self.mosaic_caption)
        split = QSplitter()
        split.setChildrenCollapsible(False)
        split.addWidget(left)
        split.addWidget(centre)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(what)
        layout.addWidget(where)
        layout.addWidget(self.note_label)
        layout.addWidget(split, 1)
        layout.addWidget(self.fps_label)
        layout.addWidget(self.status_label)
        self._update_controls()
        self._show_caption()

    @property
    def source_kind(self) -> str:
        return SOURCE_KINDS[self.source_box.currentIndex()]

    def _update_controls(self) -> None:
        kind = self.source_kind
        busy = self.running or self._start_when_loaded
        self.camera_spin.setVisible(kind == "camera")
        self.video_button.setVisible(kind == "video")
        self.picture_button.setVisible(kind == "picture")
        self.explore_button.setVisible(kind == "picture")
        for w in (self.source_box, self.camera_spin, self.video_button, self.start_button):
            w.setEnabled(not busy)
        self.stop_button.setEnabled(busy)

    def _say(self, text: str) -> None:
        self.status_label.setText(text)
        self.status.emit(text)

    def _show_note(self) -> None:
        kind = self.source_kind
        if kind == "picture" and self.picture is not None:
            kind = picture_kind(self.picture)  # a shapes scene, the digit, a photo
        note = live_note(self.network, kind)
        self.note_label.setText(note or "")
        self.note_label.setVisible(bool(note))

    # -- the network --------------------------------------------------------------------
    def choose_network(self, name: str) -> int:
        """Open classifier `name` (a registry name) on a worker; what is shown now is
        cleared at once, and the loop (if running) switches at the next frame after the
        load. Returns the load's request id."""
        index = self.network_box.findData(name)
        if index >= 0:
            self.network_box.setCurrentIndex(index)
        self._clear_results(f"Loading {name}…")
        device = self.device
        return self.loader.submit(lambda ctx: _open_classifier(name, device, ctx))

    def set_network(self, network: Network | None) -> None:
        """Run `network` (already open) from the next frame on; a load in progress is
        dropped. The engine runs its own copy, so `network` is never moved or hooked."""
        self.loader.cancel()
        if network is None:
            return
        from explorer.app.tracing import layers_of

        self._install(network, layers_of(network))

    def _on_loaded(self, result) -> None:
        network, layers = result
        self._install(network, layers)

    def _on_load_failed(self, _exc, message: str) -> None:
        self._start_when_loaded = False
        self._update_controls()
        if self.network is not None:  # the combo shows what still runs
            index = self.network_box.findData(self.network.name)
            if index >= 0:
                self.network_box.setCurrentIndex(index)
        self._error(message)

    def _install(self, network: Network, layers: list) -> None:
        self.network = network
        self.layers = list(layers)
        names = [info.name for info in self.layers]
        layer = self.layer if self.layer in names else default_layer(self.layers)
        self.layer = layer
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        for info in self.layers:
            shape = " × ".join(map(str, info.out_shape))
            self.layer_box.addItem(f"{info.name}  ({shape})", info.name)
        if layer in names:
            self.layer_box.setCurrentIndex(names.index(layer))
        self.layer_box.blockSignals(False)
        index = self.network_box.findData(network.name)
        if index >= 0:
            self.network_box.setCurrentIndex(index)
        self.engine.set_network(network, layer)
        self._show_note()
        self._clear_results(f"{network.name} ready ({network.weights_source} weights), "
                            f"on {self.device}.")
        self.networkReady.emit(network)
        self._preview()
        if self._start_when_loaded:
            self._start_when_loaded = False
            self.start()

    # -- the first look ---------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """Shown for the first time in the window, the section shows one frame of moving
        shapes with its maps and top-5 (once its network is there), so a class sees at
        once what Start will animate; standalone views and tests start empty."""
        super().showEvent(event)
        # the layer keys work while the focus is inside the section: brought to the front
        # with Ctrl+5 or a click on its tab, the focus is still on the tab bar or Explore
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        focus = QApplication.focusWidget()
        if focus is None or not self.isAncestorOf(focus):
            QTimer.singleShot(0, self._take_focus)
        if not self._shown:
            self._shown = True
            from PySide6.QtWidgets import QMainWindow

            self._preview_pending = isinstance(self.window(), QMainWindow)
            self._preview()

    def _take_focus(self) -> None:
        if self.isVisible():
            self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _preview(self) -> None:
        if not self._preview_pending or self.network is None or self.running or \
                self.source_kind != "synthetic" or self.latest is not None:
            return
        self._preview_pending = False
        engine, size = self.engine, self.synthetic_size
        self.previewer.submit(
            lambda _ctx: engine.process(SyntheticSource(size, seed=0).frame_at(0), 0))

    def _on_preview(self, result: LiveResult) -> None:
        if self.running or self.latest is not None or self.network is None or \
                result.network != self.network.name or result.layer != self.layer:
            return  # the person has moved on: a loop runs, or another network or layer
        self.show_result(result, count=False)
        self.fps_label.setText("One still frame: Start runs the loop, Step shows the next.")

    # -- the layer --------------------------------------------------------------------------
    def set_layer(self, name: str) -> None:
        """Show layer `name` from the next frame on."""
        names = [info.name for info in self.layers]
        if names and name not in names:
            self._error(f"{self.network.name} has no layer {name!r}")
            return
        try:
            self.engine.set_layer(name)
        except UserError as exc:
            self._error(str(exc))
            return
        self.layer = name
        if name in names and self.layer_box.currentIndex() != names.index(name):
            self.layer_box.blockSignals(True)
            self.layer_box.setCurrentIndex(names.index(name))
            self.layer_box.blockSignals(False)
        if not self.running:  # the maps on screen are another layer's now
            self.mosaic_canvas.set_image(None)
            self.latest = None
            self._show_caption()

    def step_layer(self, delta: int) -> str | None:
        """Next (+1) or previous (-1) layer in network order; returns its name."""
        count = self.layer_box.count()
        if count == 0:
            return None
        index = min(max(self.layer_box.currentIndex() + delta, 0), count - 1)
        self.layer_box.setCurrentIndex(index)  # -> _on_layer_box -> set_layer
        return self.layer_box.itemData(index)

    def _on_layer_box(self, index: int) -> None:
        name = self.layer_box.itemData(index)
        if name is not None and name != self.layer:
            self.set_layer(name)

    # -- device, precision, colours -----------------------------------------------------------
    def set_device(self, device) -> None:
        """Compute on `device` from the next frame on (and load networks there)."""
        try:
            dev = device if isinstance(device, torch.device) else pick_device(str(device))
            self.engine.set_device(dev)
        except UserError as exc:
            self._error(str(exc))
            return
        self.device = dev

    def set_half(self, on: bool) -> None:
        self.engine.half = bool(on)  # read once per frame by the worker

    def _on_colormap(self, name: str) -> None:
        self.engine.colormap = name
        if self.latest is not None and not self.running:
            self.show_result(self.latest, count=False)

    # -- the source -------------------------------------------------------------------------
    def choose_source(self, kind: str, camera: int = 0, path: str | None = None) -> None:
        """Pick the source as the controls would: "synthetic", "camera", "video" or
        "picture"."""
        self.source_box.setCurrentIndex(SOURCE_KINDS.index(kind))
        self.camera_spin.setValue(min(max(int(camera), 0), MAX_CAMERA))
        if path is not None:
            self.video_path = path

    def _on_source_changed(self, _index: int) -> None:
        self._update_controls()
        self._show_note()

    def set_picture(self, picture) -> None:
        """Show `picture` (an explorer.core.images.Image) as the still-picture source;
        a loop already running on a still picture shows it from the next frame on."""
        if picture is None:
            return
        self.picture = picture
        if self._picture_source is not None and self.running:
            self._picture_source.array = picture.array
            self._picture_source.name = picture.name
        self.choose_source("picture")
        self._show_note()
        self._say(f"Still picture: {picture.name}")

    def use_explore_picture(self) -> None:
        _network, picture = self.host.explore()
        if picture is None:
            self._error("Explore has no picture yet: open one there first")
            return
        self.set_picture(picture)

    def make_source(self):
        kind = self.source_kind
        if kind == "camera":
            return CameraSource(self.camera_spin.value())
        if kind == "video":
            if not self.video_path:
                raise UserError("choose a video file first (Open video…)")
            return VideoFileSource(self.video_path, loop=True)
        if kind == "picture":
            if self.picture is None:
                raise UserError("choose a picture first (Open picture… or Use Explore's "
                                "picture)")
            self._picture_source = PictureSource(self.picture.array, self.picture.name)
            return self._picture_source
        return SyntheticSource(self.synthetic_size, seed=0, fps_hint=self.synthetic_fps)

    def _ask_video(self) -> None:
        path = messages.ask_open_file(self, "Open video", VIDEO_FILTER)
        if path:
            self.video_path = path
            self._say(f"Video: {path}")

    def _ask_picture(self) -> None:
        from explorer.app.pictures import IMAGE_FILTER, open_picture

        path = messages.ask_open_file(self, "Open picture", IMAGE_FILTER)
        if path:
            self.picture_loader.submit(lambda _ctx: open_picture(path))

    # -- the loop -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self) -> bool:
        """Start the loop on the chosen source (once the network has loaded, if it is
        still loading); False (with a message) if it cannot."""
        if self.running or self._start_when_loaded:
            return True
        try:
            source = self.make_source()
        except UserError as exc:
            self._error(str(exc))
            return False
        if self.network is None:
            if self.loader.busy:
                self._start_when_loaded = True
                self._say("Starting as soon as the network has loaded…")
                self._update_controls()
                return True
            self._error("choose a network first")
            return False
        self.previewer.wait(30)  # a first-look frame under way: the engine runs one at a time
        if self.pause_button.isChecked():
            self.engine.pause()
        else:
            self.engine.resume()
        # the loop hands over no more results than the screen can show (a little more
        # often than it refreshes, so no refresh waits for one): the maps of the frames
        # in between are never tiled nor coloured
        self.engine.show_interval = SHOW_SHARE * self.refresh_interval()
        self.worker = LiveWorker(self.engine, source)
        self.worker.resultReady.connect(self._draw_latest)
        self.worker.failed.connect(self._error)
        self.worker.finished.connect(self._on_finished)
        self._draw_fps.reset()
        self.worker.start()
        self._say(f"Running {self.network.name} on {source.name}, {self.device}")
        self._update_controls()
        self.runningChanged.emit(True)
        return True

    def pause(self, paused: bool = True) -> None:
        self.pause_button.setChecked(paused)

    def _on_pause_toggled(self, paused: bool) -> None:
        if paused:
            self.engine.pause()
            self._say("Paused: Step shows the next frame")
        else:
            self.engine.resume()
            if self.running:
                self._say("Running")

    def step(self) -> None:
        """Show exactly one more frame (pausing first; starting paused if stopped)."""
        if not self.pause_button.isChecked():
            self.pause(True)
        if not self.running and not self.start():
            return
        self.engine.step()

    def stop(self) -> None:
        """Stop the loop and wait for its thread to finish."""
        pending, self._start_when_loaded = self._start_when_loaded, False
        worker, self.worker = self.worker, None
        if worker is None:
            if pending:
                self._say("Stopped")
                self._update_controls()
            return
        worker.stop()
        self._draw_timer.stop()
        worker.resultReady.disconnect(self._draw_latest)
        self._draw_latest(worker)  # what was already computed is still worth showing
        if self._text_timer.isActive():  # the words of the last picture, now
            self._show_texts(self.latest)
        worker.deleteLater()
        self._picture_source = None
        self._say("Stopped")
        self._update_controls()
        self.runningChanged.emit(False)

    def shutdown(self) -> None:
        """Stop the loop and every load (the window is closing)."""
        self.stop()
        self.loader.shutdown()
        self.previewer.shutdown()
        self.picture_loader.shutdown()

    def _on_finished(self) -> None:
        # the loop ended by itself (end of a video, an error): tidy up as Stop does
        if self.worker is not None and self.worker is self.sender():
            self.stop()

    def _error(self, message: str) -> None:
        self._say(message)
        self.errorOccurred.emit(message)

    # -- drawing (GUI thread) ---------------------------------------------------------------
    def _clear_results(self, message: str | None = None) -> None:
        """Forget what was drawn: it belongs to another network or layer."""
        self.latest = None
        self.mosaic_canvas.set_image(None)
        self.topk_label.setText("")
        self._show_caption()
        if message:
            self._say(message)

    def set_guided(self, on: bool) -> None:
        """Show guided backpropagation instead of the frame, from the next frame on (the
        loop reads the flag every frame)."""
        self.engine.guided = bool(on)
        if self.guided_box.isChecked() != bool(on):
            self.guided_box.setChecked(bool(on))

    def _show_caption(self, result: LiveResult | None = None) -> None:
        if result is None:
            name = self.layer or "(first feature maps)"
            self.mosaic_caption.setText(f"Feature maps of layer {name} appear here once "
                                        "frames run (Start, or Step for one frame).")
            return
        cmap = self.cmap_box.currentText()
        if len(result.shape) == 3:
            c, h, w = result.shape
            what = f"{c} feature maps of {h} × {w}"
        else:
            what = f"{result.mosaic.channels} values (not maps)"
        self.mosaic_caption.setText(
            f"{result.network}, layer {result.layer}: {what}, each scaled to its own "
            f"range ({cmap}: dark = low, bright = high).")
        if result.guided is not None:
            self.frame_caption.setText(
                f"Frame {result.index}: guided backprop from channel "
                f"{result.guided_channel} of {result.layer}, its most active "
                f"(bright = pixels that make it fire).")
        else:
            self.frame_caption.setText(f"Frame {result.index} as it came from the "
                                       f"source, before the network's resizing.")

    def refresh_interval(self) -> float:
        """Seconds between two drawings: one refresh of the screen the section is on."""
        screen = self.screen() if self.isVisible() else None
        hz = screen.refreshRate() if screen is not None else 0.0
        lo, hi = REFRESH_BOUNDS_HZ
        hz = min(max(hz, lo), hi) if hz and hz == hz else DEFAULT_REFRESH_HZ
        return 1.0 / hz

    def _draw_latest(self, worker: LiveWorker | None = None) -> None:
        worker = worker if isinstance(worker, LiveWorker) else self.worker
        if worker is None:
            return
        now = time.perf_counter()
        wait = self._next_draw_at - now
        if wait > 0 and worker is self.worker:
            # drawn less than a refresh ago: the newest result is drawn when the screen
            # can show it (the mailbox keeps only the newest meanwhile)
            if not self._draw_timer.isActive():
                self._draw_timer.start(max(1, round(wait * 1000)))
            return
        result = worker.take()
        if result is None:
            return
        self._next_draw_at = now + self.refresh_interval()
        if self.network is not None and result.network != self.network.name:
            return  # computed before the network changed: stale
        self.show_result(result)

    def show_result(self, result: LiveResult, count: bool = True) -> None:
        """Draw one result: frame, mosaic, top-5 and rates."""
        self.latest = result
        if count:
            self.frames_shown += 1
        draw_fps = self._draw_fps.tick() if count else 0.0
        cmap = self.cmap_box.currentText()
        if result.guided is not None:
            peak = float(result.guided.max())
            self.frame_canvas.set_image(result.guided / peak if peak > 0 else result.guided,
                                        lut=lookup_table("grey"), autorange=False)
        elif result.frame8 is not None:
            _blit(self.frame_canvas, result.frame8)
        else:
            self.frame_canvas.set_image(np.clip(result.frame, 0, 1), autorange=False)
        if result.rgba is not None and result.colormap == cmap:
            # ready-made colours: several times cheaper to draw than float + lookup table
            _blit(self.mosaic_canvas, result.rgba)
        else:
            self.mosaic_canvas.set_image(result.mosaic.image, lut=lookup_table(cmap),
                                         autorange=False)
        if count:
            self._last_draw_fps = draw_fps
        wait = self._text_at + TEXT_INTERVAL_S - time.perf_counter()
        if wait > 0 and count and self.running and not self.pause_button.isChecked():
            # the words catch up with the newest picture within TEXT_INTERVAL_S
            if not self._text_timer.isActive():
                self._text_timer.start(max(1, round(wait * 1000)))
        else:
            self._show_texts(result)
        self.resultShown.emit(result)
        self.fpsChanged.emit(result.fps)

    def _show_texts(self, result: LiveResult | None) -> None:
        """The caption, the top-5 and the rates of `result` (the one drawn last)."""
        self._text_timer.stop()
        self._text_at = time.perf_counter()
        if result is None:
            return
        self._show_caption(result)
        self.topk_label.setText("\n".join(f"{p:6.1%}  {name}" for name, p in result.topk)
                                or "(not a classifier)")
        undrawn = self.worker.dropped if self.worker else 0
        self.fps_label.setText(f"{result.fps:5.1f} fps network, {self._last_draw_fps:5.1f} "
                               f"fps drawn, {result.seconds * 1e3:.0f} ms/frame on "
                               f"{result.device}; skipped: {result.dropped} frames, "
                               f"{undrawn} drawings")

    # -- lifetime ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self.shutdown()
        super().closeEvent(event)
