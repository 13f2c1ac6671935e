"""The Why & training section stands on its own: its own classifier and picture, the heat
map of the top class without a click, words on the view when an answer cannot mean much,
captions under every picture, stale answers cleared at once, and a layout that fits
1366x768. Each panel runs in a worker and leaves no thread or widget behind."""

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.app.networks import load_network
from explorer.app.pictures import open_picture, picture_from_array
from explorer.gui.common.section import SectionHost
from explorer.gui.insight.section import InsightTab


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))


def make_tab(qtbot, **host):
    t = InsightTab(host=SectionHost(**host))
    qtbot.addWidget(t, before_close_func=lambda w: w.shutdown())
    t.resize(1366, 640)
    t.show()
    qtbot.waitUntil(lambda: t.cam.result is not None or bool(t.errors or t.cam.errors),
                    timeout=120_000)
    assert not t.errors and not t.cam.errors, (t.errors, t.cam.errors)
    return t


@pytest.fixture
def tab(qtbot):
    """The section as the window builds it: tinyvgg-shapes on its own sample."""
    return make_tab(qtbot)


@pytest.fixture
def lenet_tab(tab, qtbot):
    """The section after the person picked LeNet-5 (its own sample, a digit, comes along)."""
    tab.cam.result = None
    tab.choose_network("lenet5-digits")
    qtbot.waitUntil(lambda: tab.cam.result is not None and tab.network.name ==
                    "lenet5-digits", timeout=120_000)
    return tab


def test_opens_its_own_network_and_picture_and_explains_at_once(tab):
    assert tab.network.name == "tinyvgg-shapes" and tab.picture.source == "sample:shape-crop"
    assert tab.source.network_box.currentData() == "tinyvgg-shapes"
    r = tab.cam.result  # nobody pressed Explain
    assert r.class_name == "star" and r.class_index == r.top[0][0]
    assert tab.cam.heat_view.image_shape == (64, 64)
    assert not tab.source.banner.isVisible()  # a trained network on its own kind of picture


def test_network_menu_offers_classifiers_only(tab):
    from explorer.app.networks import list_models

    names = {tab.source.network_box.itemData(i)
             for i in range(tab.source.network_box.count())}
    tasks = {e.name: e.task for e in list_models()}
    assert "tinyvgg-shapes" in names and "lenet5-digits" in names
    assert all(tasks[n] == "classify" for n in names)
    assert "fcn-shapes" not in names and "mtcnn-pnet" not in names


def test_choosing_lenet_brings_its_own_sample(lenet_tab):
    t = lenet_tab
    assert t.picture.source == "sample:digit" and t.cam.layer_box.currentData() == "pool2"
    assert t.cam.result.heatmap.shape == (32, 32) and t.cam.class_box.count() == 5


def test_explore_picture_and_the_caveat_on_a_photo(qtbot):
    t = make_tab(qtbot, explore=lambda: (None, open_picture("sample:chelsea")))
    assert t.use_explore_picture()
    qtbot.waitUntil(lambda: t.cam.result is not None and t.picture.name == "chelsea",
                    timeout=60_000)
    assert t.source.picture_box.currentText() == "chelsea"
    text = t.source.banner.text()
    assert t.source.banner.isVisible()
    assert "trained on drawn shapes only" in text and "not what the picture shows" in text
    # a held-out scene is the network's own kind of picture again: the banner goes
    t.choose_picture("scene:3")
    qtbot.waitUntil(lambda: t.picture.source == "scene:3", timeout=30_000)
    assert not t.source.banner.isVisible() and t.source.scene_spin.value() == 3


def test_explore_without_a_picture_says_so(qtbot):
    seen = []
    t = make_tab(qtbot, show_error=seen.append)
    assert not t.use_explore_picture()
    assert seen == ["Explore has no picture yet."]


def test_random_weights_say_so_on_the_view(tab, qtbot):
    net = load_network("resnet18")  # never trained here: random weights
    tab.set_network(net)
    assert "random weights" in tab.source.banner.text()
    assert "never trained" in tab.source.banner.text()


def test_a_bad_picture_is_one_line_and_keeps_the_last_one(tab, qtbot, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png at all")
    tab.choose_picture(str(bad))
    qtbot.waitUntil(lambda: bool(tab.errors), timeout=30_000)
    assert len(tab.errors[-1].splitlines()) == 1 and "broken.png" in tab.errors[-1]
    assert tab.picture.source == "sample:shape-crop"


def test_stale_answers_are_cleared_when_the_picture_changes(tab, qtbot):
    aug = tab.augment
    assert aug.run() is not None and aug.wait(60) and aug.result is not None
    assert len(aug.grid.captions) == len(aug.result.variants)
    tab.set_picture(picture_from_array(np.full((40, 40, 3), 0.5, np.float32), "grey"))
    assert aug.result is None and aug.grid.captions == []  # at once, not after a run


def test_augment_captions_under_each_picture(tab):
    aug = tab.augment
    assert aug.run() is not None and aug.wait(60) and not aug.errors, aug.errors
    r = aug.result
    assert len(aug.grid.pictures) == len(r.variants) == len(aug.grid.captions)
    first = aug.grid.captions[0].text()
    assert "original" in first and "d&nbsp;=&nbsp;0.00" in first and r.variants[0].label in first
    assert "flip left-right" in aug.grid.captions[7].text()


def test_neighbours_on_a_folder_with_captions(tab, tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "g" / "x").mkdir(parents=True)
    for i in range(7):
        PILImage.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(
            tmp_path / "g" / "x" / f"{i}.png")
    nb = tab.neighbours
    nb.set_folder(str(tmp_path / "g"))
    nb.k_spin.setValue(3)
    assert nb.run() is not None and nb.wait(60) and not nb.errors, nb.errors
    r, query = nb.result
    assert len(r.neighbours) == 3 and query.shape == (64, 64, 3)
    assert all(n.picture.shape == (64, 64, 3) for n in r.neighbours)
    captions = [c.text() for c in nb.grid.captions]
    assert len(captions) == 4 and "this picture" in captions[0]
    assert "1. x" in captions[1] and "d = " in captions[1]


def test_finetune_live_curve_table_and_compare(lenet_tab, tmp_path):
    tab = lenet_tab
    rng = np.random.default_rng(2)
    for cls, level in (("dark", 40), ("light", 200)):
        (tmp_path / "t" / cls).mkdir(parents=True)
        for i in range(10):
            a = np.clip(rng.normal(level, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
            PILImage.fromarray(a).save(tmp_path / "t" / cls / f"{i}.png")
    ft = tab.finetune
    ft.set_folder(str(tmp_path / "t"))
    ft.mode_box.setCurrentIndex(ft.mode_box.findData("both"))
    ft.epochs.setValue(2)
    assert ft.run() is not None and ft.wait(120) and not ft.errors, ft.errors
    head, full = ft.result
    assert (head.mode, full.mode) == ("head", "full")
    assert ft.losses["head"] == head.losses and len(ft.losses["full"]) == len(full.losses)
    assert ft.table.rowCount() == 2 and ft.table.item(0, 3).text() == "0.00%"
    assert "before" in ft.probe_label.text()
    # the fine-tuned networks are offered beside the original, layer by layer
    cmp = tab.compare
    assert cmp.other_box.currentText().endswith("(fine-tuned here)")
    assert cmp.run() is not None and cmp.wait(60) and not cmp.errors, cmp.errors
    c = cmp.result
    assert c.matched_by == "name" and c.pairs[0].name_a == "conv1"
    assert cmp.table.rowCount() == len(c.pairs)
    # full fine-tuning changed the first layer a little, not a lot
    assert 0.5 < c.pairs[0].cosine < 1.0


def test_cancel_a_finetune_run_stops_it(lenet_tab, qtbot):
    ft = lenet_tab.finetune
    ft.epochs.setValue(50)
    steps = []
    ft._steps.step.connect(lambda *a: steps.append(a))
    assert ft.run() is not None
    qtbot.waitUntil(lambda: len(steps) >= 1, timeout=60_000)
    ft.cancel()
    assert ft.wait(60) and ft.result is None and not ft.errors


def test_shipped_task_names_survive_their_tooltips(tab):
    from explorer.insight.finetune import TASKS

    box = tab.finetune.task_box
    assert [box.itemData(i) for i in range(len(TASKS))] == list(TASKS)
    assert [tab.cam.method.itemData(i) for i in range(3)] == ["gradcam", "gradcam++",
                                                             "xgradcam"]


def test_compare_with_a_registry_network_fits_the_width(lenet_tab):
    cmp = lenet_tab.compare
    lenet_tab.tabs.setCurrentWidget(cmp)
    i = cmp.other_box.findData("registry:tinyvgg-shapes")
    assert i >= 0
    cmp.other_box.setCurrentIndex(i)
    assert cmp.run() is not None and cmp.wait(60) and not cmp.errors, cmp.errors
    assert cmp.result.matched_by == "type order" and cmp.result.pairs
    # every column, CKA included, lies inside the table's visible width
    header = cmp.table.horizontalHeader()
    right = header.sectionViewportPosition(5) + header.sectionSize(5)
    assert right <= cmp.table.viewport().width()
    assert header.sectionSize(5) >= header.fontMetrics().horizontalAdvance("0.000")


def test_fits_1366_by_768(tab):
    for panel in tab.panels:
        tab.tabs.setCurrentWidget(panel)
        assert tab.minimumSizeHint().width() <= 1366, panel
        assert tab.minimumSizeHint().height() <= 640, panel


def test_a_segmenter_given_directly_is_refused_with_a_message(tab, qtbot):
    tab.set_network(load_network("fcn-shapes"))
    qtbot.waitUntil(lambda: bool(tab.cam.errors), timeout=30_000)
    assert tab.cam.result is None and "classifier" in tab.cam.errors[-1]


def test_device_change_opens_the_network_there(tab, qtbot):
    import torch

    old = tab.network
    tab.set_device(torch.device("cpu"))
    assert tab.network is old  # already there: nothing to do
    assert tab.device == torch.device("cpu")


@pytest.mark.parametrize("presentation", [False, True])
def test_plot_legends_take_the_text_colour(qtbot, qapp, presentation):
    """Legend words are in the theme's text colour (they were pale grey), also for curves
    added after the plot was styled, as the fine-tuning curves are."""
    import pyqtgraph as pg

    from explorer.gui.common import theme
    from explorer.gui.insight.common import style_plot

    theme.apply(qapp, presentation=presentation, remember=False)
    try:
        plot = pg.PlotWidget()
        qtbot.addWidget(plot)
        plot.addLegend()
        plot.plot([0, 1], [1, 0], name="before")
        style_plot(plot)
        plot.plot([0, 1], [0, 1], name="after")
        labels = [label for _sample, label in plot.getPlotItem().legend.items]
        assert [label.text for label in labels] == ["before", "after"]
        for label in labels:
            assert label.opts["color"] is not None  # None: pyqtgraph's own default
            assert pg.mkColor(label.opts["color"]).name() == theme.current().text
    finally:
        theme.apply(qapp, presentation=False, remember=False)
