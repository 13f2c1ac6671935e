"""The unit card in the window: a click on a channel of tinyvgg-shapes opens it, its
visualisation, top-9 patches, backward views and sanity row arrive from one worker, the
layer's visualisations go beside the mosaic as one grid, cancel stops the work, a new
picture drops what was being made, and a bad gallery is one banner line before any work.
Small step counts and a small gallery keep each test to seconds."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

import explorer.gui.explore.unit_card as unit_card

pytestmark = pytest.mark.usefixtures("private_cache")

STEPS = 8
LAYER = "features.relu2"


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Results go to a folder of the test's own (the card caches on disk)."""
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(unit_card, "DEFAULT_STEPS", STEPS)


def _click_image(canvas, y: float, x: float, qtbot) -> None:
    """A real left click at image pixel (y, x) of an ImageCanvas."""
    scene = canvas.view.mapViewToScene(QPointF(x, y))
    pos = canvas.mapFromScene(scene)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def _wait_for(qtbot, card, stages: set[str], timeout: float = 120.0) -> None:
    qtbot.waitUntil(lambda: stages <= card.shown, timeout=int(timeout * 1000))


def _open_on(window, qtbot, channel: int):
    if window.layer_tree.current_name != LAYER:
        window.layer_tree.select(LAYER)
        assert window.wait(60)
    fv = window.feature_view
    qtbot.waitUntil(lambda: fv.mosaic is not None, timeout=30000)
    y, x = fv.mosaic.tile_origin(channel)
    _click_image(fv.canvas, y + fv.mosaic.tile_h / 2, x + fv.mosaic.tile_w / 2, qtbot)
    card = window._unit_card
    card.choose_gallery("shapes:64")
    return card


def test_click_opens_the_card_with_every_part(window, qtbot):
    card = _open_on(window, qtbot, 5)
    assert card.isVisible()
    assert card.title.text().startswith(f"{LAYER} · channel 5")
    _wait_for(qtbot, card, {"visualisation", "patches", "views", "sanity"})
    card.wait(60)
    grid = card.grid
    vis = grid.items["visualisation"].image
    assert vis.shape == (64, 64, 3) and float(vis.std()) > 0.01  # a picture, not grey
    patches = grid.items["patches"].image
    assert patches is not None and patches.shape[0] == patches.shape[1]
    for name in unit_card.VIEW_TITLES:
        assert grid.items[name].image is not None, name
    assert "top 9 of 64" in grid.captions["patches"]
    # the sanity row: the original and randomised steps, each with its similarity
    assert "sanity check" in grid.captions["sanity0"]
    assert "ρ" in grid.captions["sanity1"]
    # every part of the card has its caption under it
    assert all(grid.captions[n] for n in ["visualisation", "patches", "picture",
                                          *unit_card.VIEW_TITLES])

    # the whole layer's visualisations are ONE image beside the mosaic, tile for tile
    fv = window.feature_view
    assert fv.vis_box.isVisible()
    layer, got = fv.visualisations
    assert layer == LAYER and got.channels == list(range(16))
    grid_image = fv.vis_canvas.item.image
    assert grid_image.shape == got.grid(fv.mosaic.cols, 2).shape
    # the card shows the same picture the grid holds for channel 5
    np.testing.assert_allclose(vis, got.images[5], atol=1e-6)

    # a click on another tile of the visualisation grid moves the card there
    th, tw = fv._vis_tile
    r, q = divmod(9, fv._vis_cols)
    _click_image(fv.vis_canvas, r * th + th / 2, q * tw + tw / 2, qtbot)
    assert fv.channel == 9
    qtbot.waitUntil(lambda: card.title.text().startswith(f"{LAYER} · channel 9"),
                    timeout=5000)
    _wait_for(qtbot, card, {"visualisation", "patches", "views"})
    np.testing.assert_allclose(grid.items["visualisation"].image, got.images[9], atol=1e-6)
    card.wait(60)


def test_a_unit_of_the_channel_view_gives_views_at_that_position(window, qtbot):
    card = _open_on(window, qtbot, 2)
    _wait_for(qtbot, card, {"views"})
    whole = card.grid.items["gradient"].image.copy()
    assert "(its strongest)" in card.grid.captions["gradient"]
    cv = window.channel_view
    # an active unit away from the channel's strongest one (an inactive unit's gradient
    # is zero: a grey picture)
    values = cv.values
    top = np.unravel_index(values.argmax(), values.shape)
    yy, xx = np.mgrid[:values.shape[0], :values.shape[1]]
    far = np.where(np.hypot(yy - top[0], xx - top[1]) > 6, values, -np.inf)
    y, x = (int(v) for v in np.unravel_index(far.argmax(), far.shape))
    assert values[y, x] > 0
    _click_image(cv.canvas, y + 0.5, x + 0.5, qtbot)
    qtbot.waitUntil(lambda: f"unit (row {y}, col {x})" in card.title.text(), timeout=5000)
    _wait_for(qtbot, card, {"views"})
    one_unit = card.grid.items["gradient"].image
    assert f"unit ({y}, {x})" in card.grid.captions["gradient"]
    assert "strongest" not in card.grid.captions["gradient"]
    # relu2's units see 5x5 pixels: the clicked unit's gradient is zero outside its field
    assert not np.array_equal(whole, one_unit)
    grey = np.abs(one_unit - one_unit[0, 0]).sum(axis=-1) > 1e-6
    rows, cols = np.nonzero(grey)
    assert rows.size and rows.min() >= y - 2 and rows.max() <= y + 2
    assert cols.min() >= x - 2 and cols.max() <= x + 2
    card.wait(60)


def test_cancel_stops_the_work_and_leaves_no_thread(window, qtbot):
    card = _open_on(window, qtbot, 1)
    card.set_steps(100_000)  # far more than a test may wait for
    # the optimisation has started (it reports its first step)
    qtbot.waitUntil(lambda: card.progress.isVisible()
                    and "step 1/100000" in card.status.text(), timeout=60000)
    t0 = time.monotonic()
    qtbot.mouseClick(card.cancel_button, Qt.MouseButton.LeftButton)
    assert not card.cancel_button.isVisible()
    assert card.wait(30)
    assert time.monotonic() - t0 < 30
    assert "visualisation" not in card.shown
    assert "Cancelled" in card.status.text()


def test_a_new_picture_drops_what_was_being_made(window, qtbot):
    card = _open_on(window, qtbot, 4)
    card.set_steps(100_000)
    qtbot.waitUntil(lambda: card.runner.busy, timeout=10000)
    old_request = card.runner.latest_id
    window.load_image("sample:coins")
    assert window.wait(60)
    qtbot.waitUntil(lambda: card.runner.latest_id != old_request, timeout=30000)
    assert "coins" in card.subtitle.text()
    assert "visualisation" not in card.shown
    card.cancel()
    assert card.wait(30)


def test_a_bad_gallery_is_one_line_before_any_work(window, qtbot, tmp_path):
    card = _open_on(window, qtbot, 0)
    card.cancel()
    assert card.wait(30)
    empty = tmp_path / "empty"
    empty.mkdir()
    before = card.runner.latest_id
    assert not card.choose_gallery(str(empty))
    assert not card.choose_gallery(str(tmp_path / "missing"))
    assert card.runner.latest_id == before  # nothing was started
    assert "holds no images" in window.errors[-2]
    assert "no such folder" in window.errors[-1]
    assert window.error_banner.isVisible()
    assert card.gallery.key.startswith("shapes:64")  # the gallery before stays


def test_the_lab_shows_the_learned_hierarchy_and_still_fits(qtbot, qapp, monkeypatch):
    """The hierarchy page's second tab: tinyvgg-shapes' conv layers first to last, each
    with its most used channels' visualisations and its receptive field; the page still
    fits a 1366x768 and a 1920x1080 window in both themes (the Lab's own fit check)."""
    from PySide6.QtWidgets import QFrame, QScrollArea
    from test_lab_fit import SIZES, check_fits

    from explorer.gui.common import theme
    from explorer.gui.lab import LabPanel, hierarchy_page

    monkeypatch.setattr(hierarchy_page, "LEARNED_STEPS", STEPS)
    theme.apply(qapp, presentation=False, zoom_to=1.0, remember=False)
    holder = QScrollArea()
    holder.setWidgetResizable(True)
    holder.setFrameShape(QFrame.Shape.NoFrame)
    panel = LabPanel()
    holder.setWidget(panel)
    qtbot.addWidget(holder, before_close_func=lambda _w: panel.shutdown())
    holder.resize(*SIZES[0])
    holder.show()
    try:
        page = panel.show_page("hierarchy")
        page.show_learned()
        assert page.wait(180)
        qtbot.waitUntil(lambda: page.learned_result is not None, timeout=10000)
        layers = page.learned_result
        assert [lay.layer for lay in layers] == [f"features.relu{i}" for i in range(1, 7)]
        fields = [lay.field for lay in layers]
        assert fields == sorted(fields) and fields[0] == 3 and fields[-1] == 32
        for lay in layers:
            assert len(lay.channels) == hierarchy_page.LEARNED_PER_LAYER
            assert lay.visualisation.pixels.shape == (4, 3, 64, 64)
            item = page.learned_grid.items[lay.layer]
            assert item.image.shape == lay.visualisation.grid(cols=4, pad=2).shape
        assert "RF 32 px" in page.learned_grid.titles["features.relu6"]
        for mode in ("normal", "presentation"):
            theme.apply(qapp, presentation=mode == "presentation")
            for width, height in SIZES:
                holder.resize(width, height)
                for _ in range(6):
                    qapp.processEvents()
                check_fits(holder, panel, f"learned hierarchy, {mode}, {width}x{height}")
                if (width, height) == SIZES[0]:
                    assert holder.grab().save(f"/tmp/lab_hierarchy_learned_{mode}.png")
    finally:
        panel.shutdown()
        theme.apply(qapp, presentation=False)


def test_a_wide_layer_shows_the_channel_first_and_the_layer_last(window, qtbot,
                                                                  monkeypatch):
    """Above LAYER_FIRST_MAX channels (512 at 224x224 takes minutes) the chosen channel is
    visualised alone first; the whole layer's grid comes after the rest of the card."""
    monkeypatch.setattr(unit_card, "LAYER_FIRST_MAX", 8)
    card = _open_on(window, qtbot, 6)
    _wait_for(qtbot, card, {"visualisation", "patches", "views", "sanity"})
    alone = card.grid.items["visualisation"].image.copy()
    assert card.wait(120)
    fv = window.feature_view
    assert fv.vis_box.isVisible() and fv.visualisations[1].channels == list(range(16))
    assert alone.shape == (64, 64, 3) and float(alone.std()) > 0.01
