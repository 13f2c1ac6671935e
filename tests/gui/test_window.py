"""The main window driven as a person would: samples, keyboard, clicks, bad files."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from explorer.app.networks import NetSpec
from explorer.core.mosaic import as_maps
from explorer.gui.app import run_gui, wait_until_idle


def _settle(window, timeout: float = 60) -> None:
    assert wait_until_idle(window, timeout=timeout)


def _check_mosaic(window) -> None:
    """The mosaic holds one tile per channel of the current layer, drawn by one item."""
    assert window.wait(30)
    name = window.layer_tree.current_name
    act = window.trace.activation(name)
    m = window.feature_view.mosaic
    assert m is not None, name
    assert m.channels == as_maps(act).shape[0]
    assert m.channels == window.trace.info(name).out_shape[0]
    drawn = window.feature_view.canvas.item.image
    assert drawn.shape == m.image.shape
    # drawn as indexed colours: 0..254 for values, 255 for the gaps between tiles
    gaps = np.isnan(m.image)
    assert drawn.dtype == np.uint8 and (drawn[gaps] == 255).all() and (drawn[~gaps] < 255).all()
    np.testing.assert_allclose(drawn[~gaps] / 254.0, m.image[~gaps], atol=1 / 254 + 1e-6)
    assert drawn.shape == (m.rows * (m.tile_h + m.pad) - m.pad, m.cols * (m.tile_w + m.pad) - m.pad)
    assert m.rows * m.cols >= m.channels > (m.rows - 1) * m.cols


def test_window_opens_on_network_and_sample(window, small_net):
    trace = window.trace
    assert window.network.name == small_net
    # the input panel shows what the network sees, at its input size
    h, w = window.network.input_size
    assert window.image_panel.canvas.item.image.shape == (h, w, 3)
    np.testing.assert_allclose(window.image_panel.canvas.item.image, window.picture)
    # the tree lists every traced layer, and starts on the first stack of maps
    assert window.layer_tree.names == [layer.name for layer in trace.layers]
    first = window.layer_tree.current_name
    assert len(trace.info(first).out_shape) == 3
    _check_mosaic(window)
    # predictions: the trace's own top-5, as bars
    top = trace.topk(5)
    assert window.predictions.top == top
    assert window.predictions.bars[0].value() == round(top[0][1] * 1000)
    assert window.predictions.bars[0].isVisibleTo(window)
    # status bar and banner say where the weights came from
    assert window.weights_label.text() == f"Weights: {window.network.weights_source}"
    assert window.network_panel.banner.isVisibleTo(window) == window.network.random_weights
    assert "cpu" in window.device_label.text()


def test_keyboard_steps_through_layers(window, qtbot):
    names = window.layer_tree.names
    start = names.index(window.layer_tree.current_name)
    window.activateWindow()
    window.layer_tree.setFocus()
    qtbot.keyClick(window.layer_tree, Qt.Key.Key_PageDown)
    assert window.layer_tree.current_name == names[start + 1]
    qtbot.keyClick(window.layer_tree, Qt.Key.Key_J)
    assert window.layer_tree.current_name == names[start + 2]
    qtbot.keyClick(window.layer_tree, Qt.Key.Key_K)
    assert window.layer_tree.current_name == names[start + 1]
    qtbot.keyClick(window.layer_tree, Qt.Key.Key_PageUp)
    assert window.layer_tree.current_name == names[start]
    # walk the whole network: every layer with maps gets its mosaic, the info follows
    for name in names[start + 1:]:
        qtbot.keyClick(window.layer_tree, Qt.Key.Key_J)
        assert window.layer_tree.current_name == name
        assert window.info_panel.values["name"].text() == name
        if window.trace.activation(name).dim() in (1, 3):
            _check_mosaic(window)
    qtbot.keyClick(window.layer_tree, Qt.Key.Key_J)  # stays on the last layer
    assert window.layer_tree.current_name == names[-1]


def _click_image_pixel(qtbot, canvas, y: float, x: float) -> None:
    scene = canvas.view.mapViewToScene(QPointF(x, y))
    pos = canvas.mapFromScene(scene)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))


def test_clicking_a_tile_selects_its_channel(window, qtbot):
    m = window.feature_view.mosaic
    channel = min(5, m.channels - 1)
    oy, ox = m.tile_origin(channel)
    _click_image_pixel(qtbot, window.feature_view.canvas, oy + m.tile_h / 2, ox + m.tile_w / 2)
    assert window.feature_view.channel == channel
    assert window.channel_view.channel == channel
    expected = window.trace.activation(window.feature_view.layer)[channel].float().cpu().numpy()
    np.testing.assert_allclose(window.channel_view.values, expected)
    assert window.channel_view.canvas.item.image.shape == expected.shape
    assert f"Channel {channel}" in window.channel_view.title.text()


def test_normalisation_and_colour_map_change_the_mosaic(window):
    fv = window.feature_view
    per_channel = fv.mosaic.image.copy()
    fv.norm_box.setCurrentText("per layer")
    assert fv.normalize == "layer"
    _settle(window)
    per_layer = fv.mosaic.image
    finite = np.isfinite(per_layer)
    # per layer: one range for all tiles, so the whole mosaic spans [0, 1] exactly once
    assert np.nanmin(per_layer) == pytest.approx(0.0) and np.nanmax(per_layer) == pytest.approx(1)
    assert not np.allclose(per_channel[finite], per_layer[finite])
    lut_before = fv.canvas.item.lut.copy()
    fv.colormap_box.setCurrentText("grey")
    assert not np.array_equal(fv.canvas.item.lut, lut_before)
    grey = fv.canvas.item.lut
    assert (grey[0, :3] == 0).all() and (grey[254, :3] == 255).all()
    assert (grey[:255, 0] == grey[:255, 1]).all()
    assert (np.diff(grey[:255, 0].astype(int)) >= 0).all()
    assert grey[255, 3] == 0 and (grey[:255, 3] == 255).all()  # gaps are transparent


def test_next_layers_are_tiled_ahead(window, qtbot):
    fv = window.feature_view
    assert fv.mosaics.wait(30)
    names = window.layer_tree.names
    following = names[names.index(window.layer_tree.current_name) + 1]
    assert fv.mosaics.cached(fv.mosaics.key(following, fv.normalize)) is not None
    window.activateWindow()
    window.layer_tree.setFocus()
    qtbot.keyClick(window.layer_tree, Qt.Key.Key_J)
    # drawn at once, from the cache: no wait for a worker
    assert window.layer_tree.current_name == following
    assert not fv.pending and fv.mosaic is not None


def test_mosaic_of_an_old_trace_is_dropped(window):
    service = window.feature_view.mosaics
    assert service.wait(30)
    name = window.layer_tree.current_name
    act = window.trace.activation(name)
    shown = []
    service.ready.connect(lambda key, tiles: shown.append(key))
    old_key = service.key(name, "layer")
    service.request(old_key, act)
    service.new_generation()  # a new trace arrives while the job runs
    assert service.wait(30)
    assert shown == [] and service.cached(old_key) is None


def test_bad_image_shows_one_error_and_keeps_the_loaded_one(window, tmp_path):
    bad = tmp_path / "x.png"
    bad.write_text("this is not a picture")
    image, trace, network = window.image, window.trace, window.network
    window.load_image(str(bad))
    _settle(window)
    assert len(window.errors) == 1
    assert "x.png" in window.errors[0]
    assert window.error_banner.isVisibleTo(window)
    assert window.error_banner.text == window.errors[0]
    assert window.image is image and window.trace is trace and window.network is network
    assert window.feature_view.mosaic is not None


def test_bad_weights_show_one_error_and_keep_the_network(window, tmp_path, small_net):
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"not a torch file")
    network, trace = window.network, window.trace
    window.load(NetSpec(small_net, str(bad)))
    _settle(window)
    assert len(window.errors) == 1 and "weights.pt" in window.errors[0]
    assert window.network is network and window.trace is trace
    # after an error the window still loads what it is asked for
    window.load_image("coffee")
    _settle(window)
    assert window.sample == "coffee" and window.network is network
    assert not window.error_banner.isVisibleTo(window)


def test_newer_image_request_supersedes_the_stale_one(window, qtbot):
    shown = []
    window.runner.finished.connect(lambda result: shown.append(result.sample))
    dropped = window.runner.dropped
    first = window.load_image("chelsea")
    second = window.load_image("coffee")
    assert second > first
    _settle(window)
    assert shown == ["coffee"]
    assert window.sample == "coffee" and window.image.name == "coffee"
    assert window.runner.dropped == dropped + 1  # chelsea's answer came and was dropped


def test_image_request_during_network_load_keeps_the_network(window, small_net):
    other = next(n for n in ("lenet5-digits", "tinyvgg-shapes", "resnet18") if n != small_net)
    window.load(NetSpec(other))
    window.load_image("coins")
    _settle(window)
    assert window.network.name == other
    assert window.sample == "coins"


def test_dropping_an_image_file_loads_it(window, tmp_path):
    from PIL import Image as PILImage

    path = tmp_path / "drop.png"
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30, 0] = 255
    PILImage.fromarray(rgb).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    _settle(window)
    assert window.image.path == Path(path)
    assert window.sample is None
    assert window.image_panel.samples.currentText() == "(your image)"


def test_run_gui_screenshot(tmp_path, qapp, small_net):
    out = tmp_path / "shot.png"
    assert run_gui(small_net, "chelsea", str(out), "cpu") == 0
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1400, 900)
    assert QApplication.topLevelWidgets() is not None


def test_run_gui_bad_image_exits_2(tmp_path, qapp, capsys, small_net):
    bad = tmp_path / "x.png"
    bad.write_text("nope")
    assert run_gui(small_net, str(bad), str(tmp_path / "s.png"), "cpu") == 2
    assert "x.png" in capsys.readouterr().err


def test_trace_lives_on_the_requested_device(window):
    act = window.trace.activation(window.layer_tree.current_name)
    assert act.device == torch.device("cpu")


def test_hovering_a_unit_outlines_its_receptive_field(window):
    name = window.layer_tree.current_name
    info = window.trace.info(name)
    window.channel_view.canvas.hovered.emit(3.5, 4.5)
    marker = window.image_panel.canvas._marker
    assert marker.isVisible()
    x1, y1, x2, y2 = info.field_box(3, 4)
    rect = marker.rect()
    assert (rect.left(), rect.top(), rect.right(), rect.bottom()) == pytest.approx((x1, y1, x2, y2))
    assert "row 3, col 4" in window.channel_view.readout.text()
    window.channel_view.canvas.hovered.emit(-1.0, -1.0)  # the cursor leaves
    assert not marker.isVisible()
    # the same unit hovered in any tile of the mosaic
    m = window.feature_view.mosaic
    oy, ox = m.tile_origin(min(2, m.channels - 1))
    window.feature_view.canvas.hovered.emit(oy + 3.5, ox + 4.5)
    rect = marker.rect()
    assert marker.isVisible()
    assert (rect.left(), rect.top(), rect.right(), rect.bottom()) == pytest.approx((x1, y1, x2, y2))


def test_state_dict_file_loads_into_the_chosen_network(window, tmp_path, monkeypatch):
    from explorer.gui.common import messages

    path = tmp_path / "mine.pt"
    state = {k: v.clone() for k, v in window.network.module.state_dict().items()}
    first = next(k for k, v in state.items() if v.dtype.is_floating_point)
    state[first] += 1.0
    torch.save(state, path)
    monkeypatch.setattr(messages, "ask_open_file", lambda *a: str(path))
    window.network_panel.state_action.trigger()
    _settle(window)
    assert window.errors == []
    assert window.network.weights_source == "file"
    assert window.network.weights_path == str(path)
    assert torch.equal(window.network.module.state_dict()[first], state[first])
    assert not window.network_panel.banner.isVisibleTo(window)
    assert window.weights_label.text() == "Weights: file"


def test_pickled_module_needs_trust(window, tmp_path, monkeypatch):
    from explorer.gui.common import messages

    path = tmp_path / "whole.pt"
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                                 torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                 torch.nn.Linear(4, 2))
    torch.save(module, path)
    monkeypatch.setattr(messages, "ask_open_file", lambda *a: str(path))
    network = window.network
    window.network_panel.module_action.trigger()
    _settle(window)
    assert len(window.errors) == 1 and "trust" in window.errors[0]
    assert window.network is network
    window.network_panel.trust.setChecked(True)
    window.network_panel.module_action.trigger()
    _settle(window)
    assert len(window.errors) == 1
    assert window.network is not network and window.network.weights_source == "file"
    assert [la.name for la in window.trace.layers] == ["0", "1", "2", "3", "4"]


def test_network_that_cannot_run_on_its_input_is_a_clear_error(window, tmp_path, monkeypatch):
    from explorer.gui.common import messages

    path = tmp_path / "fixed.pt"
    # a fixed-size head: from a file the explorer assumes 224 x 224, which does not fit
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10, 2)), path)
    monkeypatch.setattr(messages, "ask_open_file", lambda *a: str(path))
    window.network_panel.trust.setChecked(True)
    network = window.network
    window.network_panel.module_action.trigger()
    _settle(window)
    assert len(window.errors) == 1 and "could not run" in window.errors[0]
    assert window.network is network


def test_download_only_when_confirmed(window, monkeypatch):
    from explorer.gui.common import messages

    asked = []
    monkeypatch.setattr(messages, "confirm", lambda *a: asked.append(a) or False)
    index = window.network_panel.combo.findData("resnet18")
    window.network_panel.combo.setCurrentIndex(index)
    assert window.network_panel.download_button.isVisibleTo(window)
    network = window.network
    window.network_panel.download_button.click()
    _settle(window)
    assert len(asked) == 1 and window.network is network and window.errors == []
    # confirmed: the (offline) download fails with one message, the network stays
    monkeypatch.setattr(messages, "confirm", lambda *a: True)
    window.network_panel.download_button.click()
    _settle(window)
    assert len(window.errors) == 1 and "download" in window.errors[0]
    assert window.network is network


def test_cancel_keeps_what_is_loaded(window):
    image = window.image
    window.load_image("rocket")
    window.runner.cancel()
    _settle(window)
    assert window.image is image and window.errors == []


def test_sections_are_built_when_first_shown(window):
    from PySide6.QtWidgets import QLabel

    titles = [window.sections.tabText(i) for i in range(window.sections.count())]
    assert titles == ["Explore", "Detection", "Segmentation", "Lab", "Live",
                      "Why && training"]
    assert window.section_widgets == {}  # nothing but Explore is built at start
    assert window.show_section("Lab")
    lab = window.section_widgets["Lab"]
    assert type(lab).__name__ == "LabPanel" and window.section("lab") is lab
    assert not window.show_section("nonexistent")
    index = window.add_section("Extra", QLabel("another section"))
    assert window.sections.tabText(index) == "Extra"


def test_first_request_failing_then_one_choice_gives_a_working_window(qtbot, small_net, tmp_path):
    from explorer.gui.main_window import MainWindow

    win = MainWindow(device="cpu")
    qtbot.addWidget(win, before_close_func=lambda w: w.runner.shutdown())
    win.load("no-such-net", "coffee")
    win.runner.wait(60)  # the failure arrives; the fallback request is then on its way
    assert len(win.errors) == 1 and "no-such-net" in win.errors[0]
    assert wait_until_idle(win, timeout=60)
    # the window opened on the default network with the picture that was fine
    from explorer.app.networks import DEFAULT_MODEL

    assert win.network.name == DEFAULT_MODEL and win.sample == "coffee"
    assert win.network_panel.chosen_name == DEFAULT_MODEL
    # a missing picture: the network that was fine, with the default picture
    win2 = MainWindow(device="cpu")
    qtbot.addWidget(win2, before_close_func=lambda w: w.runner.shutdown())
    win2.load(small_net, str(tmp_path / "missing.png"))
    assert wait_until_idle(win2, timeout=60)
    assert len(win2.errors) == 1 and "missing.png" in win2.errors[0]
    assert win2.network.name == small_net and win2.trace is not None
    assert win2.error_banner.isVisibleTo(win2)  # still says why the picture is not theirs


def test_kernels_tab_shows_the_current_conv_layer(window):
    names = window.layer_tree.names
    conv = next(n for n in names if window.trace.info(n).type == "Conv2d")
    other = next(n for n in names if window.trace.info(n).type != "Conv2d")
    window.layer_tree.select(conv)
    window.tabs.setCurrentWidget(window.filter_view)  # drawn when it comes to the front
    fi = window.filter_view.filters
    module = dict(window.network.module.named_modules())[conv]
    assert fi is not None and fi.total_out == module.out_channels
    assert window.filter_view.canvas.item.image.shape[:2] == fi.image.shape[:2]
    window.layer_tree.select(other)
    assert window.filter_view.filters is None
    assert "no convolution kernels" in window.filter_view.caption.text()


def test_file_menu_saves_the_window_as_png(window, tmp_path, monkeypatch):
    from PySide6.QtGui import QImage

    from explorer.gui.common import messages

    out = tmp_path / "slide.png"
    monkeypatch.setattr(messages, "ask_save_file", lambda *a: str(out))
    file_menu = window.menuBar().actions()[0].menu()
    save = next(a for a in file_menu.actions() if a.text().startswith("Save window"))
    save.trigger()
    img = QImage(str(out))
    assert not img.isNull() and (img.width(), img.height()) == (window.width(), window.height())


def test_switching_network_keeps_a_picture_the_person_opened(window, tmp_path, small_net):
    from PIL import Image as PILImage

    path = tmp_path / "mine.png"
    PILImage.fromarray(np.full((50, 70, 3), 200, np.uint8)).save(path)
    window.load_image(str(path))
    _settle(window)
    other = "mtcnn-onet"  # a network with a sample of its own (astronaut)
    window.choose_network(other)
    _settle(window)
    assert window.network.name == other
    assert window.image.path == path and window.sample is None
    assert window.network_panel.chosen_name == other
    assert "(trained, shipped)" in window.network_panel.combo.currentText()


def test_layer_keys_belong_to_the_explore_section(window, qtbot):
    from PySide6.QtWidgets import QLineEdit

    names = window.layer_tree.names
    start = window.layer_tree.current_name
    window.activateWindow()
    button = window.image_panel.open_button
    button.setFocus()
    qtbot.keyClick(button, Qt.Key.Key_J)  # anywhere in the Explore section
    assert window.layer_tree.current_name == names[names.index(start) + 1]
    other = QLineEdit()
    window.add_section("Other", other)
    window.sections.setCurrentIndex(1)
    other.setFocus()
    qtbot.keyClick(other, Qt.Key.Key_PageDown)
    qtbot.keyClick(other, Qt.Key.Key_J)
    assert window.layer_tree.current_name == names[names.index(start) + 1]
    assert other.text() == "j"


def test_collector_comes_back_once_the_first_mosaic_is_drawn(window, qtbot, monkeypatch):
    """An open window (not a screenshot) lets the garbage collector run again when its
    first network is traced and drawn: explorer.gui.app._settle_when_idle."""
    from explorer.gui import app as gui_app

    calls = []
    monkeypatch.setattr(gui_app, "settle_collector", lambda: calls.append(
        (window.runner.busy, window.feature_view.pending)))
    window.load(NetSpec(window.network.name), "chelsea")
    gui_app._settle_when_idle(window)
    qtbot.waitUntil(lambda: bool(calls), timeout=60000)
    assert calls == [(False, False)]  # once, and only when nothing was left to do
    assert window.feature_view.mosaic is not None


def test_run_gui_as_the_program_gives_the_collector_back(tmp_path, qapp, small_net,
                                                         monkeypatch):
    """whole_process=True holds the collector during start-up and always gives it back,
    also when loading fails (exit 2)."""
    import gc

    from explorer.gui import app as gui_app

    calls = []
    monkeypatch.setattr(gui_app, "settle_collector", lambda: (calls.append(1), gc.enable()))
    bad = tmp_path / "x.png"
    bad.write_text("nope")
    try:
        assert run_gui(small_net, str(bad), str(tmp_path / "s.png"), "cpu",
                       whole_process=True) == 2
    finally:
        gc.enable()
    assert gc.isenabled() and calls == [1]
