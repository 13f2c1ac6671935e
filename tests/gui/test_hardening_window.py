"""Hardening: the corpus of tests/core/test_hardening_inputs.py fed to the window.

A bad input gives ONE clear message (window.errors and the red banner) and the window keeps
the network, picture and trace it had; an odd but valid picture is shown. A CUDA
out-of-memory error (simulated) makes the trace run on the CPU with a note in the status bar.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

from explorer.app.networks import NetSpec
from explorer.gui.app import wait_until_idle


def _corpus():
    name = "hardening_corpus"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "core" / "test_hardening_inputs.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


corpus = _corpus()


def _open(qtbot, device="cpu"):
    from explorer.gui.main_window import MainWindow

    win = MainWindow(device=device)
    qtbot.addWidget(win, before_close_func=lambda w: w.runner.shutdown())
    return win


@pytest.fixture
def lenet_window(qtbot):
    win = _open(qtbot)
    win.load(corpus.NET, "digit")
    win.show()
    assert wait_until_idle(win, timeout=60)
    assert win.trace is not None and win.network.name == corpus.NET, win.errors
    return win


def feed(window, case, path: str, qtbot) -> None:
    """Give the window `path` the way a person would for this kind of input."""
    if case.kind == "image":
        window.load_image(path)
    elif case.kind == "weights":
        window.load(NetSpec(corpus.NET, path))
    elif case.kind == "whole":
        window.load(NetSpec("file", path))  # the "trust" box left unticked
    else:
        # sections may be built lazily (window.section) or up front (window.live)
        live = window.section("Live") if hasattr(window, "section") else window.live
        live.choose_source("camera", camera=int(path.split(":")[1]))
        live.start()
        qtbot.waitUntil(lambda: bool(window.errors) and not live.running, timeout=15000)
    assert wait_until_idle(window, timeout=60)


@pytest.mark.parametrize("case_id", corpus.IDS)
def test_window_on_the_corpus(case_id, lenet_window, tmp_path, qtbot):
    win = lenet_window
    case = corpus.corpus_case(case_id)
    network, image, trace = win.network, win.image, win.trace
    path = case.make(tmp_path)
    feed(win, case, path, qtbot)
    assert not (tmp_path / corpus.MARKER).exists(), "the pickle's code ran"
    assert win.trace is not None and win.network is network
    if case.expect is corpus.OK:
        assert win.errors == []
        assert win.image is not image and win.image.path == Path(path)
        assert win.trace is not trace and win.trace.probs is not None
        assert win.picture.shape == (*network.input_size, 3)
        return
    assert len(win.errors) == 1, win.errors
    message = win.errors[0]
    assert re.search(case.expect, message), message
    assert "\n" not in message and "Traceback" not in message
    assert win.error_banner.isVisibleTo(win) and win.error_banner.text == message
    # what was loaded stays loaded: network, picture and trace, and the combo shows it
    assert win.network.name == corpus.NET and win.image is image and win.trace is trace
    assert win.network_panel.chosen_name == corpus.NET
    assert win.feature_view.mosaic is not None


def test_window_falls_back_to_the_cpu_on_cuda_oom(qtbot, monkeypatch):
    asked = corpus.fake_cuda_oom(monkeypatch)
    win = _open(qtbot, device=torch.device("cuda"))
    win.load(corpus.NET, "digit")
    win.show()
    assert wait_until_idle(win, timeout=60)
    assert asked == ["cuda", "cpu"]
    assert win.errors == [] and win.trace is not None
    assert win.network.device.type == "cpu" and win.trace.outputs
    assert all(t.device.type == "cpu" for t in win.trace.outputs.values())
    assert "ran out of memory" in win.statusBar().currentMessage()
    assert win.device_label.text() == "Device: cpu"
