"""Page 6, the hierarchy of features: the lecture's hand-built layer 1 (x and y derivative
filters followed by ReLU) and layer 2 (their weighted sums: second-order derivatives) on a
grey picture, from :func:`explorer.lab.hierarchy.hierarchy`; and beside it, on a second
tab, the learned hierarchy: tinyvgg-shapes' most used channels of every convolutional
layer, first to last, as feature visualisations (:func:`explorer.app.units.
learned_hierarchy`, the unit cards' computation, in a worker and cached on disk).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.common.workers import JobContext, JobRunner
from explorer.gui.lab.common import (
    ImageGrid,
    LabPage,
    SampleChooser,
    base_point_size,
    error_text,
    grey_array,
    signed_levels,
    wrapped_label,
)
from explorer.lab.hierarchy import hierarchy
from explorer.lab.table import lecture_table

LAYER1_TITLES = {
    "x+": "ReLU(∂/∂x)<br>brighter →",
    "x-": "ReLU(−∂/∂x)<br>darker →",
    "y+": "ReLU(∂/∂y)<br>brighter ↓",
    "y-": "ReLU(−∂/∂y)<br>darker ↓",
}
LAYER2_SHOWN = ("xx", "yy", "xy", "laplacian")
LAYER2_TITLES = {"xx": "∂²/∂x²", "yy": "∂²/∂y²", "xy": "∂²/∂x∂y",
                 "laplacian": "∂²/∂x² + ∂²/∂y²"}
SIZES = (64, 128, 256)
#: the learned hierarchy: which network, how many channels per layer, optimisation steps
LEARNED_NET = "tinyvgg-shapes"
LEARNED_PER_LAYER = 4
LEARNED_STEPS = 256
LEARNED_COLS = 3


def learned_job(ctx: JobContext, steps: int, per_layer: int):
    """The learned hierarchy of :data:`LEARNED_NET` (worker thread)."""
    from explorer.app.networks import load_network
    from explorer.app.units import learned_hierarchy

    ctx.progress(-1, f"loading {LEARNED_NET}")
    net = load_network(LEARNED_NET, device="cpu")
    return net, learned_hierarchy(net, per_layer=per_layer, steps=steps, task=ctx)


class HierarchyPage(LabPage):
    title = "6  Hierarchy of features"
    slide = "“Hierarchically gathering local spatial statistics”"
    hint = ("Layer 1 (top): x and y derivatives, each split by a ReLU into its positive and "
            "negative part. Layer 2 (below) sums layer-1 channels through derivative kernels "
            "again: second-order derivatives (red > 0, blue < 0).")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        built = QWidget()
        built_layout = QVBoxLayout(built)
        built_layout.setContentsMargins(0, 4, 0, 0)
        self.tabs.addTab(built, "hand-built (the lecture's)")
        self.learned = QWidget()
        self.tabs.addTab(self.learned, f"learned ({LEARNED_NET})")
        self.body.addWidget(self.tabs, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("picture"))
        self.image_combo = SampleChooser(with_table=True, default="camera")
        self.image_combo.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        row.addWidget(self.image_combo)
        row.addWidget(QLabel("size"))
        self.size_combo = QComboBox()
        for s in SIZES:
            self.size_combo.addItem(f"{s} px", s)
        self.size_combo.setCurrentIndex(1)
        row.addWidget(self.size_combo)
        self.relu_check = QCheckBox("layer 2 after ReLU")
        row.addWidget(self.relu_check)
        row.addStretch(2)
        built_layout.addLayout(row)
        self.grid = ImageGrid()
        self.grid.build([["input", *LAYER1_TITLES], [None, *LAYER2_SHOWN]])
        # the empty cell under the input names the rows
        self.row_note = pg.LabelItem("")
        self.grid.addItem(self.row_note, row=2, col=0, rowspan=2)
        built_layout.addWidget(self.grid, 1)
        self.note = wrapped_label(
            "Layer 2's units see 5x5 input pixels (two 3x3 layers), layer 1's 3x3: each "
            "layer combines the one below over a larger area.", "hint")
        built_layout.addWidget(self.note)
        self._build_learned()
        self.image_combo.currentIndexChanged.connect(self.recompute)
        self.size_combo.currentIndexChanged.connect(self.recompute)
        self.relu_check.toggled.connect(self.recompute)
        self.result = None
        self.recompute()

    # -- the learned hierarchy ------------------------------------------------------------
    def _build_learned(self) -> None:
        layout = QVBoxLayout(self.learned)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(wrapped_label(
            f"What {LEARNED_NET}'s units respond to most, layer by layer: each picture is "
            f"optimised to excite one channel ({LEARNED_PER_LAYER} much-used channels per "
            "layer that respond unlike each other). RF = the receptive field in input "
            "pixels: as the layers progress, more global information is encoded.", "hint"))
        self.learned_grid = ImageGrid()
        layout.addWidget(self.learned_grid, 1)
        self.learned_status = wrapped_label("", rich=True)
        layout.addWidget(self.learned_status)
        self.learned_result = None
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._show_learned)
        self.runner.failed.connect(
            lambda _e, m: self.learned_status.setText(error_text(m.splitlines()[0])))
        self.runner.progress.connect(self._learned_progress)
        self.tabs.currentChanged.connect(self._on_tab)

    def show_learned(self) -> None:
        """Bring the learned hierarchy forward (made the first time, in a worker)."""
        self.tabs.setCurrentWidget(self.learned)

    def _on_tab(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.learned and self.learned_result is None \
                and not self.runner.busy:
            self.learned_status.setText(f"Visualising {LEARNED_NET}'s layers…")
            steps, per = LEARNED_STEPS, LEARNED_PER_LAYER
            self.runner.submit(lambda ctx: learned_job(ctx, steps, per))

    def _learned_progress(self, message: str, fraction: float) -> None:
        done = f" ({fraction:.0%})" if fraction >= 0 else ""
        self.learned_status.setText(f"{message}{done}")

    def _show_learned(self, answer) -> None:
        net, layers = answer
        self.learned_result = layers
        cols = LEARNED_COLS
        names = [lay.layer for lay in layers]
        self.learned_grid.build([names[i:i + cols] for i in range(0, len(names), cols)])
        for i, lay in enumerate(layers):
            field = "all" if lay.field is None else f"{lay.field} px"
            strip = lay.visualisation.grid(cols=len(lay.channels), pad=2)
            short = lay.layer.split(".")[-1]
            self.learned_grid.set_image(lay.layer, strip,
                                        title=f"<b>{i + 1}. {short}</b>  RF {field}")
        secs = sum(lay.visualisation.seconds for lay in layers)
        cached = all(lay.visualisation.cached for lay in layers)
        self.learned_status.setText(
            f"{net.name} ({net.weights_source} weights), {layers[0].visualisation.steps} "
            "steps per picture; channels shown: " + "; ".join(
                f"{lay.layer.split('.')[-1]} {', '.join(map(str, lay.channels))}"
                for lay in layers)
            + (" (cached)" if cached else f" ({secs:.0f} s)"))

    def wait(self, timeout: float = 60.0) -> bool:
        return self.runner.wait(timeout)

    def shutdown(self) -> None:
        self.runner.shutdown()

    def themed(self, current, scale: float) -> None:
        self.row_note.setText("<b>layer 2</b><br>second<br>derivatives →",
                              size=f"{base_point_size():.1f}pt", color=current.text)

    def set_current_image(self, image) -> None:
        self.image_combo.set_current_image(image)

    def recompute(self) -> None:
        image = self.image_combo.image()
        if image is None:
            x = lecture_table()
            name = "lecture table"
        else:
            x = grey_array(image, self.size_combo.currentData()) / 255.0
            name = image.name
        self.result = hierarchy(x)
        self.grid.set_image("input", x, "grey", title=f"<b>input</b><br>{name}")
        top = float(np.percentile(np.stack(list(self.result.layer1.values())), 99.5)) or 1.0
        for key, title in LAYER1_TITLES.items():
            # one range for all four channels: their strengths stay comparable
            self.grid.set_image(key, self.result.layer1[key], "inferno", (0.0, top),
                                title=f"<b>{key}</b> {title}")
        layer2 = self.result.layer2_relu() if self.relu_check.isChecked() else self.result.layer2
        lo, hi = signed_levels(np.stack([layer2[k] for k in LAYER2_SHOWN]))
        for key in LAYER2_SHOWN:
            cmap, levels = ("inferno", (0.0, hi)) if self.relu_check.isChecked() else (
                "coolwarm", (lo, hi))
            self.grid.set_image(key, layer2[key], cmap, levels,
                                title=f"<b>{key}</b><br>{LAYER2_TITLES[key]}")
