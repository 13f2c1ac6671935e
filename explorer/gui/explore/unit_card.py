"""The unit card: what does this channel look for?

Clicking a channel in the mosaic (or a unit in the enlarged channel view) opens a window
beside Explore with that unit's feature visualisation, its top-9 dataset patches, its
backward views on the current picture, and the Adebayo sanity check row. The whole
layer's visualisations are shown as one grid beside the mosaic (FeatureView).

All of it is computed by :mod:`explorer.app.units` (the functions ``cnn-explorer unit``
calls) in ONE worker job at a time (:class:`~explorer.gui.common.workers.JobRunner`):
two jobs on one network would fight over its ReLU hooks and the two CPU cores. The job
sends each stage's result as soon as it has it; a result for a network, picture, layer or
gallery that is no longer shown is dropped. Choosing another channel of the same layer
while the layer is still being visualised does not restart the job: the job reads the
wanted unit between stages (:class:`WantedUnit`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from explorer.app import units as app_units
from explorer.core.tasks import sub_task
from explorer.errors import UserError
from explorer.gui.common.workers import JobContext, JobRunner
from explorer.gui.explore.unit_pictures import CaptionedGrid

#: gallery choices: (shown, spec); "folder" asks for one
GALLERIES = (("shapes crops", "shapes"), ("digits", "digits"),
             ("sample photos", "samples"), ("a folder…", "folder"))
STEPS = (64, 256, 1024)
DEFAULT_STEPS = 256
#: above this many channels a layer's visualisation comes last: the chosen channel first
LAYER_FIRST_MAX = 64
#: the sanity row shows the original and at most this many randomisation steps
SANITY_SHOWN = 4
VIEW_TITLES = {"gradient": "gradient", "guided": "guided<br>backprop",
               "deconvnet": "deconvnet", "occlusion": "occlusion",
               "integrated": "integrated<br>gradients"}
SANITY_CELLS = [f"sanity{i}" for i in range(SANITY_SHOWN + 1)]


class WantedUnit:
    """The unit the card shows, read by the job between stages (thread safe)."""

    def __init__(self, channel: int, position: tuple[int, int] | None) -> None:
        self._lock = threading.Lock()
        self._value = (channel, position)

    def get(self) -> tuple[int, tuple[int, int] | None]:
        with self._lock:
            return self._value

    def set(self, channel: int, position: tuple[int, int] | None) -> None:
        with self._lock:
            self._value = (channel, position)


@dataclass
class CardRequest:
    """Everything one job needs (no Qt objects)."""

    network: object
    image: object
    layer: str
    gallery: object
    steps: int
    wanted: WantedUnit
    #: the sanity check is per network and picture: done once, kept by the card
    sanity_known: bool = False
    base: tuple = field(default_factory=tuple)


@dataclass
class UnitResult:
    """A stage's answer for one unit: channel, position and what the stage made."""

    channel: int
    position: tuple[int, int] | None
    data: object


class _Partial(QObject):
    """Lives in the GUI thread; the job only emits (Qt queues the delivery)."""

    ready = Signal(int, str, object)


def run_card(req: CardRequest, ctx: JobContext,
             send: Callable[[int, str, object], None]) -> tuple[int, tuple | None]:
    """The card's job (worker thread): layer visualisation, top patches, backward views,
    sanity check; each result is sent as ``send(request_id, stage, payload)``. Returns the
    last unit it served."""
    net, layer = req.network, req.layer
    rid = ctx.request_id
    channels = app_units.layer_channels(net, layer)
    layer_first = channels <= LAYER_FIRST_MAX
    if layer_first:
        fv = app_units.visualise_layer(net, layer, steps=req.steps,
                                       task=sub_task(ctx, 0.0, 0.6))
        send(rid, "layer", fv)
    patches = app_units.unit_patches(net, layer, req.gallery,
                                     task=sub_task(ctx, 0.6 if layer_first else 0.0, 0.75))
    on_picture = app_units.unit_activations(net, req.image, layer)
    # a unit, not a channel's mean, is what the backward views follow (Zeiler and Fergus
    # project the strongest activation): by default the channel's strongest unit here
    strongest = app_units.strongest_units(net, req.image, layer)
    served: list = [None]

    def serve_wanted() -> None:
        """The per-unit stages, again for as long as the person moves to another unit."""
        while served[0] != req.wanted.get():
            ctx.check()
            channel, position = served[0] = req.wanted.get()
            if not layer_first:
                one = app_units.visualise_layer(net, layer, [channel], steps=req.steps,
                                                task=sub_task(ctx, 0.75, 0.8))
                send(rid, "visualisation", UnitResult(channel, position, one))
            crops = patches.crops(net, channel)
            send(rid, "patches", UnitResult(channel, position,
                                            (patches.patches(channel), crops,
                                             len(req.gallery), float(on_picture[channel]))))
            at = position
            if at is None and strongest is not None:
                at = tuple(int(v) for v in strongest[channel])
            views = app_units.unit_views(net, req.image, layer, channel, at,
                                         task=sub_task(ctx, 0.8, 0.9))
            send(rid, "views", UnitResult(channel, position, (views, at, position is None)))

    serve_wanted()
    if not req.sanity_known:
        try:
            sanity = app_units.unit_sanity(net, req.image,
                                           task=sub_task(ctx, 0.9, 0.95 if not layer_first
                                                         else 1.0))
        except UserError as exc:  # not a classifier: the row says why
            sanity = str(exc)
        send(rid, "sanity", sanity)
        serve_wanted()
    if not layer_first:
        # a wide layer (512 channels at 224x224) takes minutes: it comes last, so the
        # card is complete first
        fv = app_units.visualise_layer(net, layer, steps=req.steps,
                                       task=sub_task(ctx, 0.95, 1.0))
        send(rid, "layer", fv)
        serve_wanted()
    return served[0]


class UnitCard(QDialog):
    """The unit card window. ``set_context`` gives it the window's network and picture;
    ``show_unit`` a layer, channel and (optionally) a unit position."""

    #: a layer's visualisations are ready: (layer, FeatureVis)
    layerVisualised = Signal(str, object)

    def __init__(self, parent: QWidget | None = None,
                 show_error: Callable[[str], None] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unit card")
        self.setModal(False)
        self._show_error = show_error
        self.network = None
        self.image = None
        self.picture: np.ndarray | None = None
        self.layer: str | None = None
        self.wanted: WantedUnit | None = None
        self.steps = DEFAULT_STEPS
        self.gallery = None
        self._gallery_spec = ""
        self._request: CardRequest | None = None
        self._sanity: dict = {}
        #: stages shown for the current unit (tests and screenshots wait on them)
        self.shown: set[str] = set()
        #: the last error or note shown in the status line
        self.errors: list[str] = []

        self.title = QLabel("Unit card")
        self.title.setObjectName("panelTitle")
        self.title.setWordWrap(True)
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("hint")
        self.subtitle.setWordWrap(True)
        self.gallery_box = QComboBox()
        for text, spec in GALLERIES:
            self.gallery_box.addItem(text, spec)
        self.gallery_box.setToolTip("Where the top-9 patches come from (swept once, cached)")
        self.steps_box = QComboBox()
        for s in STEPS:
            self.steps_box.addItem(f"{s} steps", s)
        self._select_steps(self.steps)
        self.steps_box.setToolTip("Optimisation steps of the feature visualisation")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Gallery"))
        controls.addWidget(self.gallery_box)
        controls.addWidget(QLabel("Visualisation"))
        controls.addWidget(self.steps_box)
        controls.addStretch(1)
        controls.addWidget(self.progress)
        controls.addWidget(self.cancel_button)
        self.grid = CaptionedGrid()
        self.grid.build([["visualisation", "patches", "picture"],
                         list(VIEW_TITLES),
                         SANITY_CELLS])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(controls)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.status)

        self.runner = JobRunner(self)
        self._partial = _Partial(self)
        self._partial.ready.connect(self._on_partial)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.busyChanged.connect(self._on_busy)
        self.cancel_button.clicked.connect(self.cancel)
        self.gallery_box.activated.connect(self._on_gallery_chosen)
        self.steps_box.activated.connect(self._on_steps_chosen)
        self._fit_screen()
        self._clear_unit()

    def _fit_screen(self) -> None:
        """At most 90 % of the screen (1366x768 included), at least a readable size."""
        screen = self.screen().availableGeometry() if self.screen() else None
        w, h = 1120, 700
        if screen is not None and screen.width() > 0:
            w, h = min(w, int(screen.width() * 0.9)), min(h, int(screen.height() * 0.9))
        self.resize(w, h)

    # -- context ------------------------------------------------------------------------
    def set_context(self, network, image, picture: np.ndarray | None) -> None:
        """The window loaded `network` on `image` (`picture`: what the network sees,
        [H, W, 3]). Anything shown or being made for the old pair is dropped."""
        if network is self.network and image is self.image:
            return
        self.runner.cancel()
        same_network = network is self.network
        if not same_network:
            self._sanity.clear()
            self.gallery = None
            self._gallery_spec = ""
        self.network, self.image, self.picture = network, image, picture
        self._request = None
        self._layer_vis = None
        self._clear_unit()
        if same_network and self.layer is not None and self.wanted is not None \
                and self.isVisible():
            self.show_unit(self.layer, *self.wanted.get())  # the same unit, new picture

    def _ensure_gallery(self) -> bool:
        """The gallery for the network (its default until the person picks one)."""
        if self.gallery is not None:
            return True
        try:
            self.gallery = app_units.open_gallery(self._gallery_spec or None, self.network)
        except UserError as exc:
            self.error(str(exc))
            return False
        spec = self.gallery.key.split(":")[0]
        index = self.gallery_box.findData("samples" if spec == "samples" else spec)
        self.gallery_box.setCurrentIndex(index if index >= 0 else
                                         self.gallery_box.findData("folder"))
        return True

    # -- requests -------------------------------------------------------------------------
    def _base(self, layer: str) -> tuple:
        return (id(self.network), id(self.image), layer,
                self.gallery.key if self.gallery is not None else "", self.steps)

    def show_unit(self, layer: str, channel: int,
                  position: tuple[int, int] | None = None) -> None:
        """Show channel `channel` of `layer` (and the unit at `position` of its map for the
        backward views; None: the channel's strongest unit on the picture)."""
        if self.network is None:
            return
        same_layer = layer == self.layer
        self.layer = layer
        if not self._ensure_gallery():
            return
        pos = tuple(int(v) for v in position) if position is not None else None
        self._describe(layer, channel, pos)
        base = self._base(layer)
        running = self._request is not None and self._request.base == base and self.runner.busy
        if running and self.wanted is not None:
            if self.wanted.get() != (channel, pos):
                self._clear_unit(keep_visualisation=True)
                self.wanted.set(channel, pos)
                self._show_known_visualisation(channel)
            return
        if not same_layer:
            self._layer_vis = None
        self._clear_unit(keep_visualisation=same_layer)
        self.wanted = WantedUnit(channel, pos)
        self._show_known_visualisation(channel)
        self._request = CardRequest(self.network, self.image, layer, self.gallery, self.steps,
                                    self.wanted, sanity_known=self._sanity_key() in self._sanity,
                                    base=base)
        req, send = self._request, self._partial.ready.emit
        self.runner.submit(lambda ctx: run_card(req, ctx, send))
        if self._sanity_key() in self._sanity:
            self._show_sanity(self._sanity[self._sanity_key()])

    def _sanity_key(self) -> tuple:
        return (id(self.network), id(self.image))

    def cancel(self) -> None:
        """Stop the work; what is shown stays."""
        self.runner.cancel()
        self._request = None
        self.status.setText("Cancelled. Click a channel to start again.")

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def shutdown(self) -> None:
        self.runner.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.cancel()  # nobody is looking: free the CPU
        super().closeEvent(event)

    # -- choices --------------------------------------------------------------------------
    def _on_gallery_chosen(self, index: int) -> None:
        spec = self.gallery_box.itemData(index)
        if spec == "folder":
            folder = QFileDialog.getExistingDirectory(self, "Gallery: a folder of images")
            if not folder:
                self._ensure_gallery_box()
                return
            spec = folder
        self.choose_gallery(spec)

    def _ensure_gallery_box(self) -> None:
        self.gallery = None if self.gallery is None else self.gallery
        if self.gallery is not None:
            spec = self.gallery.key.split(":")[0]
            index = self.gallery_box.findData(spec)
            self.gallery_box.setCurrentIndex(index if index >= 0 else
                                             self.gallery_box.findData("folder"))

    def choose_gallery(self, spec: str) -> bool:
        """Use gallery `spec` (shapes, digits, samples or a folder), checked before any
        work; a bad one leaves the current gallery and says why."""
        try:
            gallery = app_units.open_gallery(spec)
        except UserError as exc:
            self.error(str(exc))
            self._ensure_gallery_box()
            return False
        self.gallery, self._gallery_spec = gallery, spec
        self._ensure_gallery_box()
        self._restart()
        return True

    def _on_steps_chosen(self, index: int) -> None:
        self.set_steps(int(self.steps_box.itemData(index)))

    def set_steps(self, steps: int) -> None:
        """Optimisation steps of the feature visualisation (the layer is made again)."""
        self.steps = app_units.check_steps(steps)
        self._select_steps(steps)
        self._layer_vis = None
        self._restart()

    def _select_steps(self, steps: int) -> None:
        i = self.steps_box.findData(steps)
        if i < 0:
            self.steps_box.addItem(f"{steps} steps", steps)
            i = self.steps_box.count() - 1
        self.steps_box.setCurrentIndex(i)

    def _restart(self) -> None:
        if self.layer is not None and self.wanted is not None and self.network is not None:
            self.runner.cancel()
            self._request = None
            self.show_unit(self.layer, *self.wanted.get())

    def error(self, text: str) -> None:
        """One sentence in the card's status line and the window's banner."""
        self.errors.append(text)
        self.status.setText(f"<b>⚠ {text}</b>")
        if self._show_error is not None:
            self._show_error(text)

    # -- answers (GUI thread) -------------------------------------------------------------
    def _current(self, request_id: int) -> bool:
        return request_id == self.runner.latest_id and self._request is not None

    def _on_partial(self, request_id: int, stage: str, payload: object) -> None:
        if not self._current(request_id):
            return  # an old network, picture, layer or gallery
        if stage == "layer":
            self._layer_vis = payload
            self.layerVisualised.emit(self.layer, payload)
            self._show_known_visualisation(self.wanted.get()[0])
            return
        if stage == "sanity":
            self._sanity[self._sanity_key()] = payload
            self._show_sanity(payload)
            return
        if (payload.channel, payload.position) != self.wanted.get():
            return  # a unit the person has left already
        if stage == "visualisation":
            self._show_visualisation(payload.data, payload.channel)
        elif stage == "patches":
            self._show_patches(*payload.data)
        elif stage == "views":
            self._show_views(*payload.data)

    def _on_finished(self, served) -> None:
        if self._request is not None and self.wanted is not None and \
                served != self.wanted.get():
            self._restart()  # the unit changed after the job's last look
            return
        self.status.setText("Done. Results are cached: the next time this layer is instant.")

    def _on_failed(self, exc: object, message: str) -> None:
        if isinstance(exc, UserError):
            self.error(message)
        else:
            import sys

            print(message, file=sys.stderr)
            self.error(f"Something went wrong: {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}")

    def _on_progress(self, message: str, fraction: float) -> None:
        self.status.setText(message)
        if fraction >= 0:
            self.progress.setValue(round(fraction * 1000))

    def _on_busy(self, busy: int) -> None:
        self.progress.setVisible(bool(busy))
        self.cancel_button.setVisible(bool(busy))
        if busy:
            self.progress.setValue(0)

    # -- drawing --------------------------------------------------------------------------
    _layer_vis = None

    def _describe(self, layer: str, channel: int, pos) -> None:
        where = f", unit (row {pos[0]}, col {pos[1]})" if pos is not None else ""
        self.title.setText(f"{layer} · channel {channel}{where}")
        net = self.network
        name = getattr(self.image, "name", "")
        random = " (random weights: the units mean nothing)" if net.random_weights else ""
        self.subtitle.setText(f"What does this unit look for? {net.name}, "
                              f"{net.weights_source} weights{random}; picture: {name}")
        self.setWindowTitle(f"Unit card: {layer} channel {channel}")

    def _clear_unit(self, keep_visualisation: bool = False) -> None:
        self.shown = {s for s in self.shown if s == "sanity"} if keep_visualisation else set()
        cells = ["patches", "picture", *VIEW_TITLES]
        if not keep_visualisation:
            cells.append("visualisation")
        for name in cells:
            self.grid.set_picture(name, None, "…" if self.network is not None else "")
        if self.picture is not None:
            self.grid.set_picture("picture", self.picture,
                                  f"<b>the picture</b><br>{self._picture_name()}")
        if not keep_visualisation:
            for name in SANITY_CELLS:
                self.grid.set_picture(name, None, "")
            self.grid.set_caption(SANITY_CELLS[0], "sanity check: …")
            self.shown.discard("sanity")

    def _show_known_visualisation(self, channel: int) -> None:
        fv = self._layer_vis
        if fv is not None and channel in fv.channels:
            self._show_visualisation(fv, channel)

    def _show_visualisation(self, fv, channel: int) -> None:
        i = fv.channels.index(channel)
        cached = ", cached" if fv.cached else ""
        self.grid.set_picture("visualisation", fv.images[i],
                              f"<b>feature visualisation</b><br>{fv.steps} steps{cached}: "
                              f"peak {fv.peak(channel):.3g}, mean {fv.activations[i]:.3g}")
        self.shown.add("visualisation")

    def _show_patches(self, patches, crops, gallery_size: int, on_picture: float) -> None:
        if crops:
            self.grid.set_picture("patches", app_units.patches_picture(crops))
            best = patches[0]
            caption = (f"<b>top {len(crops)} of {gallery_size:,}</b><br>"
                       f"{self._gallery_name()}, best peak {best.activation:.3g}")
            self.grid.views["patches"].setToolTip(
                "<br>".join(f"{p.activation:.3g}: {p.source}" for p in patches))
        else:
            caption = "no gallery picture excites it"
        self.grid.set_caption("patches", caption)
        self.grid.set_caption("picture", f"<b>the picture</b> {self._picture_name()}"
                              f"<br>mean act {on_picture:.3g}")
        self.shown.add("patches")

    def _picture_name(self) -> str:
        from html import escape

        name = str(getattr(self.image, "name", ""))
        return escape(name if len(name) <= 24 else name[:23] + "…")

    def _gallery_name(self) -> str:
        spec = self.gallery.key.split(":")[0] if self.gallery is not None else ""
        return {"shapes": "shapes crops", "digits": "digits", "samples": "photos",
                "folder": "folder images"}.get(spec, spec)

    def _show_views(self, views: dict, at: tuple[int, int] | None,
                    strongest: bool) -> None:
        for name, title in VIEW_TITLES.items():
            view = views.get(name)
            if view is None:
                continue
            note = "<br>(= gradient here)" if view.note and name in ("guided", "deconvnet") \
                else ""
            if name == "gradient" and at is not None:
                # the first view says which unit all of them follow
                note = f"<br>unit ({at[0]}, {at[1]})" + ("<br>(its strongest)" if strongest
                                                         else "")
            self.grid.set_picture(name, app_units.view_picture(view), f"<b>{title}</b>{note}")
        self.shown.add("views")

    def _show_sanity(self, result) -> None:
        for name in SANITY_CELLS:
            self.grid.set_picture(name, None, "")
        if isinstance(result, str):
            from html import escape

            self.grid.set_caption(SANITY_CELLS[0], "<b>no sanity check</b>")
            self.status.setText(f"Sanity check: {escape(result)}")
            self.shown.add("sanity")
            return
        steps = result.steps
        # the original, then randomisation steps spread evenly up to the last (all layers)
        picks = [0] + sorted({round(1 + k * (len(steps) - 2) / max(1, SANITY_SHOWN - 1))
                              for k in range(min(SANITY_SHOWN, len(steps) - 1))})
        for cell, i in zip(SANITY_CELLS, picks):
            step = steps[i]
            rgb = app_units.saliency_picture(step.saliency)
            if i == 0:
                from html import escape

                name = result.class_name if len(result.class_name) <= 14 else \
                    result.class_name[:13] + "…"
                caption = (f"<b>sanity check</b><br>{result.view} of<br>"
                           f"“{escape(name)}”")
            else:
                caption = (f"top {i} layer{'s' if i > 1 else ''}<br>randomised<br>"
                           f"ρ {step.saliency_spearman:.2f} SSIM {step.saliency_ssim:.2f}")
            self.grid.set_picture(cell, rgb, caption)
        self.shown.add("sanity")


def open_card_for(window) -> UnitCard:
    """The window's unit card, made on first use and wired to its views: a click on a
    tile or unit opens it, a channel chosen any other way updates it while it is open,
    a new network or picture makes it start again, its layer visualisation goes beside
    the mosaic."""
    card = getattr(window, "_unit_card", None)
    if card is not None:
        return card
    card = UnitCard(window, show_error=window.show_error)
    window._unit_card = card
    fv = window.feature_view

    def context() -> None:
        card.set_context(window.network, window.image, window.picture)

    def follow(channel: int) -> None:
        if card.isVisible() and fv.layer is not None:
            context()
            card.show_unit(fv.layer, channel)

    card.layerVisualised.connect(fv.set_visualisations)
    fv.channelSelected.connect(follow)
    window.runner.finished.connect(lambda _r: context() if card.isVisible() else None)
    return card


def attach_unit_card(window) -> None:
    """Clicks on a mosaic tile, a visualisation tile or a unit of the channel view open
    the card for that channel (the unit's position goes to the backward views)."""
    fv, cv = window.feature_view, window.channel_view

    def open_channel(channel: int, position=None) -> None:
        if window.network is None or fv.layer is None:
            return
        card = open_card_for(window)
        card.set_context(window.network, window.image, window.picture)
        card.show()
        card.raise_()
        card.show_unit(fv.layer, channel, position)

    fv.channelClicked.connect(open_channel)
    cv.unitClicked.connect(
        lambda y, x: open_channel(cv.channel, (y, x)) if cv.channel is not None else None)


__all__ = ["UnitCard", "attach_unit_card", "open_card_for"]
