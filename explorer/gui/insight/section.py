"""The "Why & training" section: class activation maps, nearest neighbours, augmentations,
transfer learning and a side-by-side comparison, each a tab.

The section stands on its own: its own classifier (tinyvgg-shapes unless the person picks
another, opened with :func:`explorer.app.networks.open_network` in a worker on the
window's device) and its own picture (a sample, a held-out scene, a file, or Explore's
picture when asked for). The heat map of the top class appears as soon as the section is
shown. A network fine-tuned in the transfer-learning tab is offered to the side-by-side
tab, to compare before and after layer by layer.
"""

from __future__ import annotations

import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from explorer.app.networks import DEFAULT_MODEL
from explorer.gui.common.section import SectionHost
from explorer.gui.common.workers import JobContext, JobRunner
from explorer.gui.insight.augment import AugmentPanel
from explorer.gui.insight.cam import CamPanel
from explorer.gui.insight.common import InsightPanel
from explorer.gui.insight.compare import ComparePanel
from explorer.gui.insight.finetune import FinetunePanel
from explorer.gui.insight.neighbours import NeighboursPanel
from explorer.gui.insight.source import SourceBar

#: the picture the section opens on when its network has no sample of its own
DEFAULT_PICTURE = "sample:shape-crop"


def own_sample(name: str) -> str | None:
    """The sample that suits shipped network `name` ("sample:shape-crop"), if any."""
    from explorer.nets import shipped

    spec = shipped.load_all().get(name)
    return f"sample:{spec.default_image}" if spec is not None and spec.default_image else None


class InsightTab(QWidget):
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None, host: SectionHost | None = None) -> None:
        super().__init__(parent)
        self.host = host or SectionHost()
        self.device: torch.device = self.host.device
        self.network = None
        self.picture = None
        self.network_name: str | None = None
        self.errors: list[str] = []
        self._started = False
        self.source = SourceBar()
        self.source.networkChosen.connect(self.choose_network)
        self.source.pictureChosen.connect(self.choose_picture)
        self.source.openFileAsked.connect(self._ask_file)
        self.source.exploreAsked.connect(self.use_explore_picture)
        self.net_runner = JobRunner(self)
        self.net_runner.finished.connect(self._network_loaded)
        self.net_runner.failed.connect(self._load_failed)
        self.pic_runner = JobRunner(self)
        self.pic_runner.finished.connect(self.set_picture)
        self.pic_runner.failed.connect(self._load_failed)
        self.cam = CamPanel()
        self.neighbours = NeighboursPanel()
        self.augment = AugmentPanel()
        self.finetune = FinetunePanel()
        self.compare = ComparePanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.cam, "Class activation maps")
        self.tabs.addTab(self.neighbours, "Nearest neighbours")
        self.tabs.addTab(self.augment, "Augmentations")
        self.tabs.addTab(self.finetune, "Transfer learning")
        self.tabs.addTab(self.compare, "Side by side")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.source)
        layout.addWidget(self.tabs, 1)
        for panel in self.panels:
            panel.status.connect(self.status)
        self.finetune.done.connect(self._offer_finetuned)

    @property
    def panels(self) -> list[InsightPanel]:
        return [self.cam, self.neighbours, self.augment, self.finetune, self.compare]

    @property
    def runners(self) -> list[JobRunner]:
        return [self.net_runner, self.pic_runner] + [p.runner for p in self.panels]

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        # The window's scroll area sizes the section by asking this (its word-wrapped
        # labels make the layout height-for-width). The preferred height it would get
        # counts every picture and plot at its preferred size and pushes the bottom of
        # the section out of a 768-pixel screen; the least height the section works at
        # lets it fill the visible area instead (the layout gives wrapped labels their
        # lines within it).
        return self.minimumSizeHint().height()

    # -- the section's own network and picture ------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.start()

    def start(self) -> None:
        """Open the default network and picture the first time the section is shown."""
        if self._started:
            return
        self._started = True
        if self.network is None and not self.net_runner.busy:
            self.choose_network(DEFAULT_MODEL)
        if self.picture is None and not self.pic_runner.busy:
            self.choose_picture(own_sample(DEFAULT_MODEL) or DEFAULT_PICTURE)

    def choose_network(self, name: str) -> int:
        """Open registry classifier `name` on the section's device, in a worker."""
        from explorer.app.networks import NetSpec, open_network

        device = self.device
        self.source.show_network(name)

        def job(ctx: JobContext):
            return open_network(NetSpec(name), device, ctx)

        self.status.emit(f"opening {name}…")
        return self.net_runner.submit(job)

    def choose_picture(self, spec: str) -> int:
        """Open picture `spec` (explorer.app.pictures' grammar) in a worker."""
        from explorer.app.pictures import open_picture

        def job(ctx: JobContext):
            ctx.progress(-1, f"opening {spec}…")
            return open_picture(spec)

        return self.pic_runner.submit(job)

    def _ask_file(self) -> None:
        from explorer.app.pictures import IMAGE_FILTER
        from explorer.gui.common import messages

        path = messages.ask_open_file(self, "Open a picture", IMAGE_FILTER)
        if path:
            self.choose_picture(path)

    def use_explore_picture(self) -> bool:
        """Work on the picture Explore shows now."""
        _network, picture = self.host.explore()
        if picture is None:
            self._say("Explore has no picture yet.")
            return False
        self.set_picture(picture)
        return True

    def _network_loaded(self, network) -> None:
        old = self.network_name
        self.network, self.network_name = network, network.name
        self.source.show_network(network.name)
        for panel in self.panels:
            panel.set_network(network)
        # the previous network's own sample gives way to this one's (a digit for LeNet)
        source = getattr(self.picture, "source", "")
        if old is not None and source == own_sample(old) and own_sample(network.name) not in (
                None, source):
            self.choose_picture(own_sample(network.name))
            return
        self._inputs_changed()
        self.status.emit(f"{network.name} ready ({network.weights_source} weights, "
                         f"{network.device})")

    def _load_failed(self, _exc, message: str) -> None:
        self._say(message.splitlines()[0] if message else "could not open it")
        if self.network_name is not None:
            self.source.show_network(self.network_name)

    def _say(self, text: str) -> None:
        self.errors.append(text)
        self.status.emit(text)
        self.host.show_error(text)

    def _inputs_changed(self) -> None:
        from explorer.insight.caveats import caveats

        self.source.set_caveats(caveats(self.network, self.picture))
        if self.network is not None and self.picture is not None:
            self.cam.run()  # the heat map of the top class, without asking

    def _offer_finetuned(self, results) -> None:
        for r in results:
            self.compare.add_network(f"{r.network.name} (fine-tuned here)", r.network)

    # -- Section ------------------------------------------------------------------------
    def set_network(self, network) -> None:
        """Work on `network` (an already opened Network), e.g. in tests."""
        self.net_runner.cancel()
        self._network_loaded(network)

    def set_device(self, device) -> None:
        """Compute on `device` from now on: the network is opened there again."""
        self.device = torch.device(device)
        if self.network is not None and self.network.device != self.device:
            self.choose_network(self.network.name)

    def set_picture(self, picture) -> None:
        """Work on `picture` (an :class:`explorer.core.images.Image`)."""
        if picture is None:
            return
        self.pic_runner.cancel()
        self.picture = picture
        self.source.show_picture(picture.source or "", picture.name)
        for panel in self.panels:
            panel.set_image(picture)
        self._inputs_changed()

    def set_image(self, image) -> None:
        self.set_picture(image)

    def shutdown(self, timeout: float = 30.0) -> bool:
        return all([runner.shutdown(timeout) for runner in self.runners])
