"""`gui --screenshot` and `tour --export` at the sizes they accept, and their refusals.

* every section, and tour steps, come out exactly the size `--size` asked for, at the
  smallest size accepted and at a 1024x768 projector's, in presentation mode too (the
  window used to grow to 885x602 at 640x480, and the tour's slides to 1199 wide);
* at 1024x768 no section scrolls sideways, in either mode;
* a network, device or blank option the window could not use is one line on stderr and
  exit code 2 before any window exists, and no picture is written (an unknown network
  used to open the window, print four Qt lines and save the picture anyway);
* Qt's known harmless offscreen warnings never reach stderr; other messages do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer.commands.foundation import MIN_SIZE, SECTION_KEYS

ENV = dict(os.environ, QT_QPA_PLATFORM="offscreen")
SMALLEST = f"{MIN_SIZE[0]}x{MIN_SIZE[1]}"
PROJECTOR = "1024x768"
#: what Qt's offscreen platform used to print on every run
NOISE = "This plugin does not support"


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=ENV)


def png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def size_of(text: str) -> tuple[int, int]:
    w, h = text.split("x")
    return int(w), int(h)


# --- every section and tour step at the size asked ---------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("section", SECTION_KEYS)
@pytest.mark.parametrize("size, presentation", [(SMALLEST, False), (PROJECTOR, False),
                                                (PROJECTOR, True)])
def test_screenshot_is_the_size_asked(tmp_path, section, size, presentation):
    shot = tmp_path / "shot.png"
    run = cli("gui", "--screenshot", shot, "--section", section, "--size", size,
              "--device", "cpu", *(["--presentation"] if presentation else []))
    assert run.returncode == 0, run.stderr[-2000:]
    assert png_size(shot) == size_of(size)
    assert run.stdout.strip() == f"saved {shot}"
    assert NOISE not in run.stderr, run.stderr  # a success says one line, on stdout


@pytest.mark.slow
@pytest.mark.parametrize("size", [SMALLEST, PROJECTOR])
def test_tour_slides_are_the_size_asked(tmp_path, size):
    out = tmp_path / "deck"
    # Explore, a Lab page, Detection, Segmentation and Why: each lays out differently
    run = cli("tour", "--export", out, "--steps", "channels,convolution,sliding-window,"
              "fcn,transfer", "--size", size, "--device", "cpu", "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    slides = json.loads(run.stdout)["slides"]
    assert len(slides) == 5
    for slide in slides:
        assert png_size(Path(slide)) == size_of(size), slide
    assert NOISE not in run.stderr, run.stderr


@pytest.mark.slow
def test_no_section_scrolls_sideways_at_1024x768(qtbot, qapp, small_net):
    """What the pictures cannot show: at a projector's 1024x768 every section fits the
    window's width, in the normal theme and in presentation mode (large text)."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QScrollArea

    from explorer.gui.main_window import MainWindow

    window = MainWindow(device="cpu")
    qtbot.addWidget(window)
    window.load(small_net, "shape-crop")
    window.resize(*size_of(PROJECTOR))
    window.show()
    qtbot.waitUntil(lambda: window.network is not None, timeout=120_000)

    def settle(seconds: float = 1.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            QCoreApplication.processEvents()
            time.sleep(0.02)

    try:
        for presentation in (False, True):
            window.set_presentation(presentation, full_screen=False)
            for key in SECTION_KEYS:
                window.show_section(key)
                settle()
                assert window.size().toTuple() == size_of(PROJECTOR)
                scroll = window.sections.currentWidget()
                assert isinstance(scroll, QScrollArea)
                inner = scroll.widget().minimumSizeHint().width()
                assert scroll.horizontalScrollBar().maximum() == 0, \
                    (key, presentation, inner, scroll.viewport().width())
    finally:
        window.set_presentation(False, full_screen=False)
        for section in window.section_widgets.values():
            section.shutdown()
        window.close()


# --- refused before the window exists ------------------------------------------------

def _refused(run: subprocess.CompletedProcess, shot: Path, match: str) -> None:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, run.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert match.lower() in lines[0].lower(), lines[0]
    assert not shot.exists()  # no window was opened, so none was saved


@pytest.mark.parametrize("args, match", [
    (["--model", "nonet"], "unknown network 'nonet'. Did you mean"),
    (["--model", "timm:nosuch"], "timm has no network 'nosuch'"),
    (["--model", "timm:"], "timm: needs a network name"),
    (["--model", "file"], "needs a network file"),
    (["--model", ""], "--model is empty"),
    (["--model", "  "], "--model is empty"),
    (["--section", ""], "--section is empty"),
    (["--device", "mps"], "mps"),
    (["--device", "banana"], "banana"),
    (["--size", "639x480"], "640x480"),
])
def test_gui_refuses_before_the_window(tmp_path, args, match):
    shot = tmp_path / "c.png"
    _refused(cli("gui", "--screenshot", shot, *args, timeout=300), shot, match)


def test_gui_refuses_cuda_without_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: --device cuda is right here")
    shot = tmp_path / "c.png"
    _refused(cli("gui", "--screenshot", shot, "--device", "cuda", timeout=300), shot,
             "CUDA")


def test_known_networks_are_checked_without_torch():
    """The window's first frame is shown before torch is imported (issue 17): the check
    of `--model` reads the stored lists for every network that opens."""
    code = """
import sys
from explorer.commands.foundation import _gui_network
for name in ("tinyvgg-shapes", "lenet5-digits", "resnet18", "timm:resnet50", "resnet50d",
             " convnext_tiny "):
    assert _gui_network(name) == name.strip(), name
heavy = {"torch", "torchvision", "timm", "PySide6"} & {m.split(".")[0] for m in sys.modules}
assert not heavy, heavy
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=ENV)
    assert run.returncode == 0, run.stderr


def test_names_the_stored_lists_lack_are_asked_precisely():
    """A weights tag or an untrained shipped network is not in the stored lists: the
    registry answers (with torch), and a typo gets the registry's sentence."""
    from explorer.commands.foundation import _gui_network
    from explorer.errors import UserError

    assert _gui_network("timm:resnet18.a1_in1k") == "timm:resnet18.a1_in1k"
    with pytest.raises(UserError, match="timm has no weights"):
        _gui_network("timm:resnet18.nosuchtag")
    with pytest.raises(UserError, match="unknown network 'resnet1800'. Did you mean"):
        _gui_network("resnet1800")


# --- Qt's messages ---------------------------------------------------------------------

def test_harmless_qt_messages_are_dropped_and_others_pass():
    code = """
from explorer.gui.common import qt_messages
from PySide6.QtCore import qWarning
qt_messages.install()
qt_messages.install()  # twice: still one handler
qWarning("This plugin does not support propagateSizeHints()")
qWarning("something a person should see")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=ENV)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["something a person should see"], run.stderr
