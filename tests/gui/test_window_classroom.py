"""The window as a class sees it: at 1366x768 (a common projector) in normal and
presentation mode, every visible text fits, contrasts with its background at least 4.5:1,
and the words a person must read are really on the screen (OCR, with tesseract)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFontMetrics, QPalette
from PySide6.QtWidgets import QAbstractScrollArea, QLabel

from explorer.gui.app import wait_until_idle
from explorer.gui.common import theme
from explorer.gui.main_window import SHORTCUTS, MainWindow


@pytest.fixture
def window(qtbot):
    win = MainWindow(device="cpu")
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.load("tinyvgg-shapes", "sample:shape-crop")
    win.show()
    assert wait_until_idle(win, timeout=120)
    yield win
    win.set_presentation(False)
    theme.apply(presentation=False, zoom_to=1.0, remember=False)


def _visible_labels(win):
    for label in win.findChildren(QLabel):
        if label.isVisible() and label.text().strip() and label.width() > 0:
            yield label


def _problems(win) -> list[str]:
    problems = []
    for label in _visible_labels(win):
        if label.textFormat() == Qt.TextFormat.RichText or "<" in label.text():
            continue
        fg = label.palette().color(QPalette.ColorRole.WindowText)
        bg = label.palette().color(QPalette.ColorRole.Window)
        sheet_owner = label.objectName() in ("randomBanner", "warningBanner") or \
            label.parent() is not None and label.parent().objectName() == "errorBanner"
        if not sheet_owner and theme.contrast(fg, bg) < 4.5:
            problems.append(f"low contrast {theme.contrast(fg, bg):.1f}: {label.text()[:40]}")
        if not label.wordWrap():
            width = QFontMetrics(label.font()).horizontalAdvance(label.text())
            if width > label.contentsRect().width() + 2:
                problems.append(f"clipped ({width} > {label.width()}): {label.text()[:40]}")
        top_left = label.mapTo(win, QPoint(0, 0))
        if top_left.x() < 0 or top_left.y() < 0 or top_left.x() + 10 > win.width() \
                or top_left.y() + 5 > win.height():
            problems.append(f"outside the window at {top_left.x()},{top_left.y()}: "
                            f"{label.text()[:40]}")
    for area in win.findChildren(QAbstractScrollArea):
        bar = area.horizontalScrollBar()
        if area.isVisible() and bar.isVisible() and bar.maximum() > 0:
            problems.append(f"sideways scrolling in {type(area).__name__} "
                            f"{area.objectName()}")
    return problems


@pytest.mark.parametrize("presentation", [False, True])
def test_explore_fits_and_reads_at_1366x768(window, presentation):
    window.set_presentation(presentation, full_screen=False)
    window.resize(1366, 768)
    assert wait_until_idle(window)
    assert _problems(window) == []


def test_presentation_mode_keeps_every_text_readable_and_gives_back_the_window(window):
    window.showMaximized()
    before = window.windowState()
    window.set_presentation(True)
    assert theme.current() is theme.PRESENTATION and window.isFullScreen()
    text = window.palette().color(QPalette.ColorRole.WindowText)
    back = window.palette().color(QPalette.ColorRole.Window)
    assert theme.contrast(text, back) >= 15
    window.set_presentation(False)
    assert theme.current() is theme.NORMAL
    assert window.windowState() == before


def test_zoom_scales_text_and_is_remembered(window):
    size = window.font().pointSizeF()
    theme.step_zoom(+1)
    assert window.font().pointSizeF() > size
    assert theme.saved_zoom() == theme.zoom() > 1.0
    theme.step_zoom(0)
    assert window.font().pointSizeF() == pytest.approx(size)


def test_keyboard_help_lists_every_binding(window):
    text = window.keyboard_help_text()
    for keys, _what, _where in SHORTCUTS:
        assert keys in text
    bound = {s.toString() for a in window.actions() for s in a.shortcuts()}
    for keys in ("F11", "Ctrl+0", "Ctrl+1", "F1", "Ctrl++"):
        assert keys in bound, bound


@pytest.mark.skipif(shutil.which("tesseract") is None,
                    reason="tesseract-ocr is not installed (.ci/run installs it)")
@pytest.mark.parametrize("presentation", [False, True])
def test_what_a_person_must_read_is_on_the_screen(window, tmp_path, presentation):
    window.set_presentation(presentation, full_screen=False)
    window.resize(1366, 768)
    assert wait_until_idle(window)
    path = tmp_path / "window.png"
    assert window.grab().save(str(path))
    words = subprocess.run(["tesseract", str(path), "-", "--psm", "11"], capture_output=True,
                           text=True, timeout=120).stdout.lower()
    for word in ("network", "layers", "input", "star", "channel"):
        assert word in words, (word, words[:400])
