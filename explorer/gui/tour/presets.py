"""Apply a tour step to the window: show its section and page and set the lecture's preset
through the sections' and pages' own public methods and widgets, as a person would
(choose a tab, a network, a scene, press Run). Nothing here computes; the pages do.

Each applier takes the section (or Lab page) and the step's preset dict, whose keys
:data:`explorer.tour.steps.PRESET_KEYS` lists for that target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from explorer.tour.steps import TABS, TourStep

Preset = dict[str, Any]


def _tab(target: tuple[str, str | None], preset: Preset) -> int | None:
    """The index of the preset's named tab in the target's tab order, or None."""
    name = preset.get("tab")
    return None if name is None else TABS[target].index(name)


# -- Explore ----------------------------------------------------------------------------

def apply_explore(window, preset: Preset) -> QWidget:
    """Explore: load the preset's network and picture (unless they are loaded already)
    and bring the right-hand tab forward (predictions, layer, kernels)."""
    window.sections.setCurrentIndex(0)
    model, image = preset.get("model"), preset.get("image")
    loaded = window.network.name if window.network is not None else None
    if (model and model != loaded) or (image and image != window.sample):
        window.load(model if model != loaded else None,
                    image if image != window.sample else None)
    index = _tab(("explore", None), preset)
    if index is not None:
        window.tabs.setCurrentIndex(index)
    return window.splitter


# -- the Lab's pages --------------------------------------------------------------------

def _conv(page, preset: Preset) -> None:
    page.apply_preset(preset)


def _pool(page, preset: Preset) -> None:
    page.set_settings(preset.get("mode", "max"), int(preset.get("size", 5)),
                      int(preset.get("stride", preset.get("size", 5))))
    page.reset_move()


def _params(page, preset: Preset) -> None:
    for key, spin in (("input", page.input_spin), ("kernel", page.kernel_spin),
                      ("channels", page.channels_spin)):
        if key in preset:
            spin.setValue(int(preset[key]))
    if "config" in preset:
        page.config_combo.setCurrentText(str(preset["config"]))
    index = _tab(("lab", "params"), preset)
    if index is not None:
        page.tabs.setCurrentIndex(index)


def _equivariance(page, preset: Preset) -> None:
    if "shift" in preset:
        dy, dx = preset["shift"]
        page.set_shift(int(dy), int(dx))


def _rf(page, preset: Preset) -> None:
    if "model" in preset:
        page.model_combo.setCurrentText(str(preset["model"]))


def _gallery(page, preset: Preset) -> None:
    index = _tab(("lab", "gallery"), preset)
    if index is not None:
        page.tabs.setCurrentIndex(index)


def _nothing(_page, _preset: Preset) -> None:
    pass


LAB_APPLIERS: dict[str, Callable[[Any, Preset], None]] = {
    "conv": _conv, "pool": _pool, "params": _params, "equivariance": _equivariance,
    "rf": _rf, "hierarchy": _nothing, "digit": _nothing, "gallery": _gallery,
}


def apply_lab(window, page_key: str, preset: Preset) -> QWidget:
    window.show_section("lab")
    panel = window.section("lab")
    page = panel.show_page(page_key)
    LAB_APPLIERS[page_key](page, preset)
    return page


# -- Detection, Segmentation, Why & training -----------------------------------------------

#: the tour's method names -> (method, head) of the Detection section's METHODS
DETECTION_METHODS = {"sliding": ("sliding", None), "rcnn": ("proposals", "rcnn"),
                     "fast-rcnn": ("proposals", "fast-rcnn"), "mtcnn": ("mtcnn", None)}


def apply_detection(window, preset: Preset) -> QWidget:
    from explorer.gui.detect.section import METHODS

    window.show_section("detection")
    tab = window.section("detection")
    if "method" in preset:
        wanted = DETECTION_METHODS[preset["method"]]
        index = next(i for i, (_label, method, head) in enumerate(METHODS)
                     if (method, head) == wanted)
        tab.method.setCurrentIndex(index)
    if "scene" in preset:
        tab.set_scene(int(preset["scene"]))
    if preset.get("run"):
        tab.run()
    return tab


def apply_segmentation(window, preset: Preset) -> QWidget:
    window.show_section("segmentation")
    tab = window.section("segmentation")
    if "networks" in preset:
        wanted = set(preset["networks"])
        for name, box in tab.checks.items():
            box.setChecked(name in wanted and box.isEnabled())
    index = _tab(("segmentation", None), preset)
    if index is not None:
        tab.pages.setCurrentIndex(index)
    if "scene" in preset:
        tab.set_scene(int(preset["scene"]))
    if preset.get("run"):
        tab.run()
    return tab


def apply_why(window, preset: Preset) -> QWidget:
    """Why & training: bring the panel forward and, with "run", press its button as soon
    as the section's own network and picture have opened (they open in workers the first
    time the section is shown)."""
    window.show_section("why")
    tab = window.section("why")
    name = preset.get("tab")
    if name is None:
        return tab
    panel = getattr(tab, name)
    tab.tabs.setCurrentWidget(panel)
    if preset.get("run"):
        _run_when_ready(tab, panel)
    return tab


def _run_when_ready(tab, panel) -> None:
    def ready() -> bool:
        return tab.network is not None and tab.picture is not None

    if ready():
        panel.run()
        return

    def check(*_args) -> None:
        if not ready():
            return
        for runner in (tab.net_runner, tab.pic_runner):
            runner.finished.disconnect(check)
        if tab.tabs.currentWidget() is panel:  # still the step on show
            panel.run()

    for runner in (tab.net_runner, tab.pic_runner):
        runner.finished.connect(check)


def apply_step(window, step: TourStep) -> QWidget:
    """Show `step` in `window` with its preset; returns the widget that shows it."""
    if step.section == "explore":
        return apply_explore(window, step.preset)
    if step.section == "lab":
        return apply_lab(window, step.page, step.preset)
    appliers = {"detection": apply_detection, "segmentation": apply_segmentation,
                "why": apply_why}
    return appliers[step.section](window, step.preset)
