"""The Live panel: a camera, a video file or moving shapes go through the current network
frame after frame; the panel shows the frame, the current layer's feature maps and the
top-5.

The frame loop (:class:`~explorer.live.engine.LiveEngine`) runs on a :class:`LiveWorker`
thread and hands each result over through a one-slot mailbox: the worker emits
``resultReady`` only when the slot was empty, and the GUI thread takes whatever is newest
when it gets round to drawing. A GUI slower than the network therefore skips results
instead of queueing them, and the GUI thread never runs the network.

Wiring (the main window keeps the network and the layer)::

    live = LiveView(device=window.device)
    # a tab of its own: it needs room for the frame and a large mosaic
    live.set_network(window.network)      # in _on_loaded, after every load (cheap when
                                          # the network is the same: not copied again)
    window.layer_tree.layerSelected.connect(live.set_layer)
    live.errorOccurred.connect(window.show_error)
    # MainWindow.closeEvent: live.stop() (a child panel gets no closeEvent of its own)
"""

from __future__ import annotations

import sys
import threading
import traceback

import numpy as np
import torch
from PySide6.QtCore import QCoreApplication, QThread, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
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
from explorer.gui.common.section import SectionHost
from explorer.live.engine import FpsMeter, LiveEngine, LiveResult
from explorer.live.sources import VIDEO_FILTER, CameraSource, SyntheticSource, VideoFileSource

SOURCES = ("Moving shapes (synthetic)", "Camera", "Video file")


def _blit(canvas: ImageCanvas, image: np.ndarray) -> None:
    """Show a finished uint8 RGB(A) image as it is: with no levels pyqtgraph neither
    scales nor looks anything up (half the time of levels=(0, 255) at 903 x 903)."""
    canvas.item.setLookupTable(None)
    canvas.item.setImage(image, levels=None, autoLevels=False)
    shape = (int(image.shape[0]), int(image.shape[1]))
    if shape != canvas.image_shape:
        canvas.view.autoRange(padding=0.01)
    # ImageCanvas maps hover/click positions with the shape its set_image would record
    canvas._shape = shape


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
    """The Live panel. Public: :meth:`set_network`, :meth:`set_layer`, :meth:`start`,
    :meth:`pause`, :meth:`step`, :meth:`stop`; ``engine``; ``latest`` (the last result
    drawn); ``frames_shown``."""

    #: a result was drawn (LiveResult)
    resultShown = Signal(object)
    #: network frames per second (moving average)
    fpsChanged = Signal(float)
    #: True when the loop starts, False when it has stopped
    runningChanged = Signal(bool)
    #: one sentence for the window's error banner
    errorOccurred = Signal(str)

    #: one-line status for the window's status bar
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None,
                 device: str | torch.device | None = None,
                 host: SectionHost | None = None) -> None:
        super().__init__(parent)
        self.host = host or SectionHost()
        if host is not None:
            device = host.device
        dev = device if isinstance(device, torch.device) else pick_device(device)
        # threads="auto": 1 thread can beat all cores by far when they are busy
        self.engine = LiveEngine(device=dev, copy_network=True, threads="auto",
                                 colormap=COLORMAP_NAMES[0])
        self.network: Network | None = None
        self.layer: str | None = None
        self.worker: LiveWorker | None = None
        self.latest: LiveResult | None = None
        self.frames_shown = 0
        self.video_path: str | None = None
        #: the synthetic source's frame size (H, W) and rate
        self.synthetic_size = (224, 224)
        self.synthetic_fps = 30.0
        self._draw_fps = FpsMeter()
        self._build()
        self.errorOccurred.connect(self.host.show_error)
        # a panel inside a tab gets no closeEvent when the window closes: stop on quit too
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    # -- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        self.source_box = QComboBox()
        self.source_box.addItems(SOURCES)
        self.camera_spin = QSpinBox()
        self.camera_spin.setRange(0, 99)
        self.camera_spin.setPrefix("camera ")
        self.video_button = QPushButton("Open video…")
        self.video_button.clicked.connect(self._ask_video)
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.step_button = QPushButton("Step")
        self.stop_button = QPushButton("Stop")
        self.cmap_box = QComboBox()
        self.cmap_box.addItems(COLORMAP_NAMES)
        self.cmap_box.setCurrentText(self.engine.colormap)
        # the loop colours the mosaic on its thread: the GUI thread only blits it
        self.cmap_box.currentTextChanged.connect(lambda name: setattr(self.engine,
                                                                      "colormap", name))
        self.device_box = QComboBox()
        self.device_box.addItems(["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
        self.device_box.setCurrentText(self.engine.device.type)
        self.device_box.setToolTip("Where the network runs; switching moves it at the "
                                   "next frame")
        self.device_box.currentTextChanged.connect(self.set_device)
        self.half_box = QCheckBox("Half precision")
        self.half_box.setToolTip("float16 on a GPU, bfloat16 on a CPU that has it: faster "
                                 "for big networks, values within about 1 %")
        self.half_box.toggled.connect(self.set_half)
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.step_button.clicked.connect(self.step)
        self.stop_button.clicked.connect(self.stop)
        self.source_box.currentIndexChanged.connect(self._update_controls)

        bar = QHBoxLayout()
        for w in (QLabel("Source:"), self.source_box, self.camera_spin, self.video_button,
                  self.start_button, self.pause_button, self.step_button, self.stop_button):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.device_box)
        bar.addWidget(self.half_box)
        bar.addWidget(QLabel("Colours:"))
        bar.addWidget(self.cmap_box)

        self.frame_canvas = ImageCanvas()
        self.mosaic_canvas = ImageCanvas()
        self.fps_label = QLabel("– fps")
        self.fps_label.setObjectName("readout")
        self.layer_label = QLabel("No network yet")
        self.topk_label = QLabel("")
        self.topk_label.setObjectName("readout")
        self.topk_label.setMinimumWidth(220)
        self.status_label = QLabel("Stopped")
        self.status_label.setObjectName("hint")
        self.status_label.setWordWrap(True)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Frame"))
        left_layout.addWidget(self.frame_canvas, 1)
        left_layout.addWidget(QLabel("Top 5"))
        left_layout.addWidget(self.topk_label)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.layer_label)
        centre_layout.addWidget(self.mosaic_canvas, 1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(centre)
        split.setStretchFactor(1, 2)

        info = QHBoxLayout()
        info.addWidget(self.fps_label)
        info.addWidget(self.status_label, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addLayout(info)
        self._update_controls()

    def _update_controls(self) -> None:
        kind = self.source_box.currentIndex()
        running = self.running
        self.camera_spin.setVisible(kind == 1)
        self.video_button.setVisible(kind == 2)
        self.source_box.setEnabled(not running)
        self.camera_spin.setEnabled(not running)
        self.video_button.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    # -- what to run ----------------------------------------------------------------------
    def set_network(self, network: Network | None) -> None:
        """Run `network` from the next frame on (the engine runs its own copy, so the
        window's network is never moved or hooked)."""
        self.network = network
        if network is not None:
            self.engine.set_network(network, self.layer)
            self.layer_label.setText(f"{network.name}: layer {self.layer or '(first maps)'}")

    def set_layer(self, name: str) -> None:
        """Show layer `name` from the next frame on."""
        try:
            self.engine.set_layer(name)
        except UserError as exc:
            self._error(str(exc))
            return
        self.layer = name

    def set_picture(self, picture) -> None:
        """Live runs on frames, not on one picture."""

    def shutdown(self) -> None:
        self.stop()

    def set_device(self, name) -> None:
        """Run on `name` ("cpu", "cuda") from the next frame on."""
        try:
            self.engine.set_device(str(name))
        except UserError as exc:
            self._error(str(exc))

    def set_half(self, on: bool) -> None:
        self.engine.half = bool(on)  # read once per frame by the worker

    def choose_source(self, kind: str, camera: int = 0, path: str | None = None) -> None:
        """Pick the source as the controls would: "synthetic", "camera" or "video"."""
        index = {"synthetic": 0, "camera": 1, "video": 2}[kind]
        self.source_box.setCurrentIndex(index)
        self.camera_spin.setValue(camera)
        if path is not None:
            self.video_path = path

    def make_source(self):
        kind = self.source_box.currentIndex()
        if kind == 1:
            return CameraSource(self.camera_spin.value())
        if kind == 2:
            if not self.video_path:
                raise UserError("choose a video file first (Open video…)")
            return VideoFileSource(self.video_path, loop=True)
        return SyntheticSource(self.synthetic_size, seed=0, fps_hint=self.synthetic_fps)

    def _ask_video(self) -> None:
        path = messages.ask_open_file(self, "Open video", VIDEO_FILTER)
        if path:
            self.video_path = path
            self.status_label.setText(f"Video: {path}")

    # -- the loop -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self) -> bool:
        """Start the loop on the chosen source; False (with a message) if it cannot."""
        if self.running:
            return True
        if self.network is None:
            self._error("choose a network first")
            return False
        try:
            source = self.make_source()
        except UserError as exc:
            self._error(str(exc))
            return False
        if self.pause_button.isChecked():
            self.engine.pause()
        else:
            self.engine.resume()
        self.worker = LiveWorker(self.engine, source)
        self.worker.resultReady.connect(self._draw_latest)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self._draw_fps.reset()
        self.worker.start()
        self.status_label.setText(f"Running on {source.name}, {self.engine.device}")
        self._update_controls()
        self.runningChanged.emit(True)
        return True

    def pause(self, paused: bool = True) -> None:
        self.pause_button.setChecked(paused)

    def _on_pause_toggled(self, paused: bool) -> None:
        if paused:
            self.engine.pause()
            self.status_label.setText("Paused: Step shows the next frame")
        else:
            self.engine.resume()
            if self.running:
                self.status_label.setText("Running")

    def step(self) -> None:
        """Show exactly one more frame (pausing first; starting paused if stopped)."""
        if not self.pause_button.isChecked():
            self.pause(True)
        if not self.running and not self.start():
            return
        self.engine.step()

    def stop(self) -> None:
        """Stop the loop and wait for its thread to finish."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        worker.stop()
        worker.resultReady.disconnect(self._draw_latest)
        self._draw_latest(worker)  # what was already computed is still worth showing
        worker.deleteLater()
        self.status_label.setText("Stopped")
        self._update_controls()
        self.runningChanged.emit(False)

    def _on_finished(self) -> None:
        # the loop ended by itself (end of a video, an error): tidy up as Stop does
        if self.worker is not None and self.worker is self.sender():
            self.stop()

    def _on_failed(self, message: str) -> None:
        self._error(message)

    def _error(self, message: str) -> None:
        self.status_label.setText(message)
        self.errorOccurred.emit(message)

    # -- drawing (GUI thread) ---------------------------------------------------------------
    def _draw_latest(self, worker: LiveWorker | None = None) -> None:
        worker = worker if isinstance(worker, LiveWorker) else self.worker
        result = worker.take() if worker is not None else None
        if result is None:
            return
        self.show_result(result)

    def show_result(self, result: LiveResult) -> None:
        """Draw one result: frame, mosaic, top-5 and rates."""
        self.latest = result
        self.frames_shown += 1
        draw_fps = self._draw_fps.tick()
        cmap = self.cmap_box.currentText()
        if result.frame8 is not None:
            _blit(self.frame_canvas, result.frame8)
        else:
            self.frame_canvas.set_image(np.clip(result.frame, 0, 1), autorange=False)
        if result.rgba is not None and result.colormap == cmap:
            # ready-made colours: several times cheaper to draw than float + lookup table
            _blit(self.mosaic_canvas, result.rgba)
        else:
            self.mosaic_canvas.set_image(result.mosaic.image, lut=lookup_table(cmap),
                                         autorange=False)
        shape = " × ".join(map(str, result.shape))
        self.layer_label.setText(f"{result.network}: {result.layer}  ({shape})")
        self.topk_label.setText("\n".join(f"{p:6.1%}  {name}" for name, p in result.topk)
                                or "(not a classifier)")
        undrawn = self.worker.dropped if self.worker else 0
        self.fps_label.setText(f"{result.fps:5.1f} fps network, {draw_fps:5.1f} fps drawn, "
                               f"{result.seconds * 1e3:.0f} ms/frame; skipped: "
                               f"{result.dropped} frames, {undrawn} drawings")
        self.resultShown.emit(result)
        self.fpsChanged.emit(result.fps)

    # -- lifetime ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self.stop()
        super().closeEvent(event)
