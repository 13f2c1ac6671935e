"""The insight tabs: each runs in a worker on the network and image it is given, draws its
answer and leaves no thread or widget behind."""

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.core.images import Image
from explorer.gui.insight.section import InsightTab
from explorer.nets.registry import load_network


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def tab(qtbot):
    t = InsightTab()
    qtbot.addWidget(t, before_close_func=lambda w: w.shutdown())
    t.set_network(load_network("lenet5-digits"))
    rng = np.random.default_rng(0)
    t.set_image(Image(rng.uniform(0, 1, (40, 40, 3)).astype(np.float32), "noise", None, ""))
    t.show()
    return t


def test_cam_panel_fills_views_and_offers_the_top_five(tab):
    cam = tab.cam
    assert cam.layer_box.currentData() == "pool2"
    assert cam.run() is not None
    assert cam.wait(60) and not cam.errors, cam.errors
    r = cam.result
    assert r.heatmap.shape == (32, 32) and r.layer == "pool2"
    assert cam.heat_view.image_shape == (32, 32)
    assert cam.class_box.count() == 5 and cam.class_box.currentData() == r.class_index
    # another class from the top five: a new map for that class
    other = cam.class_box.itemData(1)
    cam.class_box.setCurrentIndex(1)
    cam.class_box.activated.emit(1)
    assert cam.wait(60) and cam.result.class_index == other


def test_neighbours_panel_on_a_folder(tab, tmp_path):
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
    assert len(r.neighbours) == 3 and query.shape == (32, 32, 3)
    assert nb.sheet_view.image_shape is not None
    assert "1." in nb.captions.text()


def test_augment_panel_table(tab):
    aug = tab.augment
    assert aug.run() is not None and aug.wait(60) and not aug.errors, aug.errors
    assert aug.table.rowCount() == len(aug.result.variants)
    assert aug.table.item(0, 0).text() == "original"
    assert aug.table.item(0, 3).text() == "0.000"


def test_finetune_panel_live_curve_and_table(tab, tmp_path):
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


def test_shipped_task_names_survive_their_tooltips(tab):
    from explorer.insight.finetune import TASKS

    box = tab.finetune.task_box
    assert [box.itemData(i) for i in range(len(TASKS))] == list(TASKS)
    assert [tab.cam.method.itemData(i) for i in range(3)] == ["gradcam", "gradcam++",
                                                             "xgradcam"]


def test_compare_panel_with_a_registry_network(tab):
    cmp = tab.compare
    i = cmp.other_box.findData("registry:tinyvgg-shapes")
    assert i >= 0
    cmp.other_box.setCurrentIndex(i)
    assert cmp.run() is not None and cmp.wait(60) and not cmp.errors, cmp.errors
    assert cmp.result.matched_by == "type order" and cmp.result.pairs


def test_segmenter_is_refused_with_a_message(tab):
    tab.set_network(load_network("fcn-shapes"))
    assert tab.cam.run() is None and "classifier" in tab.cam.errors[-1]


def test_private_copy_drops_hooks_and_is_made_once():
    from explorer.gui.insight.common import private_copy

    net = load_network("lenet5-digits")
    seen = []
    net.module.conv1.register_forward_hook(lambda *a: seen.append(1))
    copy_ = private_copy(net)
    assert copy_.module is not net.module and private_copy(net) is copy_
    assert not copy_.module.conv1._forward_hooks and net.module.conv1._forward_hooks
    import torch

    copy_.module(torch.zeros(1, 1, 32, 32))
    assert seen == []  # a trace hooked on the original hears nothing from the copy
