"""GUI tests: real widgets under the offscreen platform, driven by qtbot.

Every test fails if it leaves a top-level widget alive or a worker thread running, as
napari's test suite does: a leaked worker would later touch a deleted window.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import gc  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
import shiboken6  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QThreadPool  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer.gui.app import make_app, wait_until_idle  # noqa: E402
from explorer.nets import shipped  # noqa: E402

#: a small network for speed: a shipped one when it is there, else torchvision's
#: resnet18 with random weights (never downloaded)
SMALL_NET = next(
    (n for n in ("tinyvgg-shapes", "lenet5-digits") if n in shipped.load_all()), "resnet18"
)


@pytest.fixture(scope="session")
def small_net() -> str:
    return SMALL_NET


@pytest.fixture(scope="session")
def qapp():
    """pytest-qt's qapp, made by the explorer's own factory (row-major images, font)."""
    return make_app()


def _flush_deletes() -> None:
    # pyqtgraph's context menus are parentless QMenus owned by Python objects: they go
    # when the garbage collector frees the items that made them
    gc.collect()
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()


def _key(widget) -> int:
    """The C++ object's address: a widget made by Qt gets a new Python wrapper (a new id)
    each time it is listed, so ids would call one old widget a new leak in every test."""
    return shiboken6.getCppPointer(widget)[0]


@pytest.fixture(autouse=True)
def no_leaks(qapp, request):
    """Fail the test on leaked top-level widgets or still-running worker threads."""
    _flush_deletes()
    widgets_before = {_key(w) for w in QApplication.topLevelWidgets()}
    threads_before = threading.active_count()
    yield
    # a window closed while a worker finishes its last job is freed when the job's
    # answer arrives (the job's closure holds the section, and so its plots and their
    # menus): wait while workers still run, up to 15 s on a loaded machine
    deadline = time.monotonic() + 15.0
    while True:
        _flush_deletes()
        leaked = [w for w in QApplication.topLevelWidgets() if _key(w) not in widgets_before]
        busy = QThreadPool.globalInstance().activeThreadCount() > 0
        if (not leaked and not busy) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    running = QThreadPool.globalInstance().activeThreadCount()
    deadline = time.monotonic() + 2.0
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    extra_threads = threading.active_count() - threads_before
    assert not leaked, f"test leaked top-level widgets: {leaked}"
    assert running == 0, f"test left {running} worker thread(s) running"
    assert extra_threads <= 0, f"test left {extra_threads} Python thread(s) running"


@pytest.fixture
def window(qtbot):
    """The main window on the small network and its sample, loaded and traced."""
    from explorer.gui.main_window import MainWindow

    win = MainWindow(device="cpu")
    qtbot.addWidget(win, before_close_func=lambda w: w.runner.shutdown())
    win.load(SMALL_NET, _sample_for(SMALL_NET))
    win.show()
    assert wait_until_idle(win, timeout=60)
    assert win.trace is not None, win.errors
    return win


def _sample_for(name: str) -> str:
    spec = shipped.load_all().get(name)
    return spec.default_image if spec is not None and spec.default_image else "chelsea"
