"""Lab pages that run networks: the digit canvas, equivariance, receptive fields, gallery."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt


@pytest.fixture
def page(qtbot):
    made = []

    def make(cls):
        p = cls()
        qtbot.addWidget(p, before_close_func=lambda w: w.shutdown())
        made.append(p)
        return p

    yield make
    for p in made:
        p.shutdown()


def test_drawing_changes_lenets_input_and_prediction(page, qtbot):
    from explorer.gui.lab.digit_page import THROTTLE_MS, DigitPage

    p = page(DigitPage)
    p.resize(1000, 700)
    p.show()
    blank = p.x.clone()
    assert p.guess.text() == "draw a digit"
    # a real mouse press paints a dot through the widget's event handlers
    qtbot.mousePress(p.canvas, Qt.MouseButton.LeftButton, pos=p.canvas.rect().center())
    qtbot.mouseRelease(p.canvas, Qt.MouseButton.LeftButton, pos=p.canvas.rect().center())
    assert p.canvas.ink().max() == pytest.approx(1.0)
    p.canvas.draw_stroke([(140, 30), (140, 250)])  # a "1"
    qtbot.waitUntil(lambda: not p.timer.isActive(), timeout=5 * THROTTLE_MS + 1000)
    assert not torch.equal(p.x, blank)
    assert p.x.shape == (1, 1, 32, 32)
    # the stroke is a vertical bar in the middle of LeNet's input
    col = p.x[0, 0].mean(0)
    assert col[14:18].mean() > col[:6].mean() + 1.0
    assert p.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert "LeNet-5 says" in p.guess.text()
    bars = p.bars.opts["height"]
    np.testing.assert_allclose(bars, p.probs)
    p.canvas.clear()
    qtbot.waitUntil(lambda: not p.timer.isActive(), timeout=5 * THROTTLE_MS + 1000)
    assert torch.equal(p.x, blank)
    assert p.seconds < 1.0


def test_digit_preprocessing_fills_the_height_like_sklearn():
    from explorer.gui.lab.digit_input import to_8x8

    ink = np.zeros((280, 280), np.float32)
    ink[100:180, 130:150] = 1.0  # a short bar, off-centre vertically
    d = to_8x8(ink)
    assert d.shape == (8, 8) and d.max() <= 16.0
    assert (d.sum(1) > 0).all()  # scaled to fill every row, as scikit-learn's digits do
    assert d[:, :2].sum() == 0 and d[:, -2:].sum() == 0  # and centred
    assert to_8x8(np.zeros((50, 50))).sum() == 0


def test_equivariance_page_curve_and_maps(page):
    from explorer.gui.lab.equivariance_page import EquivariancePage
    from explorer.lab.equivariance import equivariance

    p = page(EquivariancePage)
    p.net_combo.setCurrentIndex(p.net_combo.findData("tinyvgg-shapes"))
    p.set_shift(0, 8)
    assert p.wait(120)
    data = p.data
    assert data["name"] == "tinyvgg-shapes"
    net = data["net"]
    from explorer.core.network import preprocess

    x = preprocess(net, p.image_combo.image())
    expected = equivariance(net.module, x, 0, 8, [r.name for r in data["result"].layers])
    got = [r.rel_diff for r in data["result"].layers]
    np.testing.assert_allclose(got, [r.rel_diff for r in expected.layers], rtol=1e-5)
    xs, ys = p.curve.getData()
    np.testing.assert_allclose(ys, np.nan_to_num(got))
    assert data["maps"]["f(T x)"].shape == data["maps"]["T f(x)"].shape
    assert "original" in p.prediction.text() and "shifted" in p.prediction.text()


def test_rf_page_click_draws_the_layers_field(page):
    from explorer.gui.lab.rf_page import ReceptiveFieldPage

    p = page(ReceptiveFieldPage)
    p.model_combo.setCurrentText("lenet5")
    assert p.wait(120)
    layer = p.data["info"]
    p.layer_combo.setCurrentText("conv2")
    p.request()
    assert p.wait(60)
    p.click_unit(2, 3)
    assert p.wait(60)
    info = p.data["info"]
    assert info.name == "conv2" and p.data["unit"] == (2, 3)
    x1, y1, x2, y2 = info.field_box(2, 3)
    assert (x2 - x1, y2 - y1) == (14, 14)  # LeNet-5's C3 sees 14x14 pixels
    rect = p.input_canvas._marker.rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (x1, y1, 14, 14)
    grad = p.data["grad"]
    ys, xs = np.nonzero(grad)
    # the gradient lives inside the theoretical field
    assert xs.min() >= x1 and xs.max() < x2 and ys.min() >= y1 and ys.max() < y2
    assert "14x14" in p.info_label.text()
    assert layer is not None
    # growth curves: the recurrence of explorer.lab.rf
    assert p.growth["vgg16"][-1].rf == 212 and p.growth["lenet5"][-1].rf == 32


def test_gallery_tables_and_totals(page):
    from explorer.gui.lab.gallery_page import GalleryPage

    p = page(GalleryPage)
    assert p.wait(120)
    totals = {t.title.split(" ")[0]: t.total for t in p.tables}
    assert totals["LeNet-5"] == 61_706
    assert totals["AlexNet"] == 61_100_840
    assert totals["VGG16"] == 138_357_544
    inception = p.tables[3]
    assert inception.rows[-2][0] == "= inception3a" and inception.rows[-2][2] == "256x28x28"
    resblock = p.tables[4]
    assert resblock.total == 73_984
    _, table, total = p.widgets[2]
    assert table.item(table.rowCount() - 1, 3).text() == "138,357,544"
    assert "138,357,544" in total.text()


def test_rf_growth_is_what_the_cli_prints(page, capsys):
    import json

    from explorer.cli import main
    from explorer.gui.lab.rf_page import ReceptiveFieldPage

    p = page(ReceptiveFieldPage)
    for model in ("lenet5", "resnet18"):
        assert main(["lab", "rf", "--model", model, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert [r.rf for r in p.growth[model]] == [r["rf"] for r in data["layers"]]
    assert p.wait(120)
