"""The window as a class sees it: at 1366x768 (a common projector) in normal and
presentation mode, every visible text fits, contrasts with its background at least 4.5:1,
and the words a person must read are really on the screen (OCR, with tesseract)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QComboBox,
    QLabel,
    QStyle,
    QStyleOptionComboBox,
    QTabBar,
    QTableView,
    QWidget,
)

from explorer.gui.app import wait_until_idle
from explorer.gui.common import theme
from explorer.gui.main_window import SHORTCUTS, MainWindow
from tests.gui.test_lab_fit import _text_width, check_fits


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
            width = _text_width(label)
            if width > label.contentsRect().width() + 2:
                problems.append(f"clipped ({width} > {label.width()}): {label.text()[:40]}")
        top_left = label.mapTo(win, QPoint(0, 0))
        if top_left.x() < 0 or top_left.y() < 0 or top_left.x() + 10 > win.width() \
                or top_left.y() + 5 > win.height():
            problems.append(f"outside the window at {top_left.x()},{top_left.y()}: "
                            f"{label.text()[:40]}")
    for combo in win.findChildren(QComboBox):
        # a menu's chosen entry is text a person reads too ("level x1 (5x5 w…" was cut)
        if not combo.isVisible() or combo.isEditable() or not combo.currentText():
            continue
        option = QStyleOptionComboBox()
        combo.initStyleOption(option)
        field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                             QStyle.SubControl.SC_ComboBoxEditField, combo)
        width = combo.fontMetrics().horizontalAdvance(combo.currentText())
        if width > field.width() + 2:
            problems.append(f"menu text cut ({width} > {field.width()}): "
                            f"{combo.currentText()[:40]}")
    for bar in win.findChildren(QTabBar):
        # a tab's title is cut ("…") when the bar is narrower than its titles
        if not bar.isVisible():
            continue
        for i in range(bar.count()):
            text = bar.tabText(i).replace("&&", "\0").replace("&", "").replace("\0", "&")
            width = bar.fontMetrics().horizontalAdvance(text)
            if bar.isTabVisible(i) and bar.tabRect(i).width() < width:
                problems.append(f"tab title cut ({bar.tabRect(i).width()} < {width}): {text}")
    for table in win.findChildren(QTableView):
        # a table of scores is read whole: no row behind a scroll bar
        if table.isVisible() and table.verticalScrollBar().isVisible():
            problems.append(f"rows of a table scroll out of sight {table.objectName()}")
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


# -- every section, as a class sees it ---------------------------------------------------
#: the window sizes a classroom has: a common projector, and a 1080p one
SIZES = ((1366, 768), (1920, 1080))
#: what a person must be able to read in each section (OCR of a screenshot, lower case);
#: words of the section's own controls and of its result, so an empty view fails
KEY_WORDS = {
    "Explore": ("network", "layers", "input", "channel", "star"),
    "Detection": ("picture", "detector", "method", "network", "detect", "ground truth",
                  "slide"),
    "Segmentation": ("networks", "fcn", "unet", "ground truth", "circle", "boundary"),
    "Live": ("network", "layer", "source", "start", "top 5"),
    "Why": ("network", "picture", "heat map", "overlay", "star"),
}


def _settle(win, section) -> None:
    """Until the window and the section (every worker of it) are idle and drawn."""
    import time

    from PySide6.QtCore import QCoreApplication

    from explorer.gui.common.workers import JobRunner

    assert wait_until_idle(win)
    deadline = time.monotonic() + 180
    runners = section.findChildren(JobRunner) if section is not None else []
    while any(r.busy for r in runners) and time.monotonic() < deadline:
        for r in runners:
            r.wait(0.1)
        QCoreApplication.processEvents()
    assert not any(r.busy for r in runners), "the section is still computing"
    for _ in range(10):
        QCoreApplication.processEvents()


def _show(win, name: str, presentation: bool, size: tuple[int, int]):
    """Bring section `name` to the front in the given mode and size; (holder, section):
    the scroll area the window keeps it in and the section widget (Explore: the splitter,
    in no scroll area)."""
    win.set_presentation(presentation, full_screen=False)
    win.resize(*size)
    win.show_section(name)
    if name == "Explore":
        section, holder = None, None
    else:
        section = win.section(name)
        holder = win.sections.currentWidget()
    _settle(win, section)
    return holder, section


def _out_of_reach(panel) -> list[str]:
    """Controls that a scroll area inside the section hides (scrolled out of sight): a
    class cannot see them without someone scrolling."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSlider,
        QAbstractSpinBox,
        QComboBox,
        QScrollBar,
    )

    problems = []
    controls = (QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider, QLabel)
    for area in panel.findChildren(QAbstractScrollArea):
        if not area.isVisible():
            continue
        viewport = area.viewport()
        for w in viewport.findChildren(QWidget):
            if not isinstance(w, controls) or isinstance(w, QScrollBar) or \
                    not w.isVisible() or (isinstance(w, QLabel) and not w.text()):
                continue
            rect = QRect(w.mapTo(viewport, QPoint(0, 0)), w.size())
            if not viewport.rect().contains(rect):
                what = getattr(w, "text", lambda: "")() or type(w).__name__
                problems.append(f"{what[:40]!r} is scrolled out of sight in "
                                f"{type(area).__name__}")
    return problems


@pytest.mark.parametrize("presentation", [False, True], ids=["normal", "presentation"])
@pytest.mark.parametrize("name", list(KEY_WORDS))
def test_every_section_fits_and_reads(window, tmp_path, name, presentation):
    """At 1366x768 and 1920x1080: no cut text, no sideways scrolling, no control outside
    the visible area or scrolled out of sight, every text at least 4.5:1; and OCR of the
    window at 1366x768 finds the words a person must read there. The section is built
    once (the first time it is shown) and re-laid out for each size, as a lecture does."""
    # built and computed in the normal theme first, as a lecture goes: F11 comes after
    _show(window, name, False, SIZES[1])
    problems = []
    for size in reversed(SIZES):  # 1366x768 last: the screenshot below is taken there
        holder, section = _show(window, name, presentation, size)
        where = f"{name}, {'presentation' if presentation else 'normal'}, {size}"
        problems += [f"{where}: {p}" for p in _problems(window)]
        if section is not None:
            try:
                check_fits(holder, section, where)
            except AssertionError as exc:
                problems.append(str(exc))
        problems += [f"{where}: {p}" for p in _out_of_reach(section or window.splitter)]
    assert not problems, "\n".join(problems)
    if shutil.which("tesseract") is None:
        pytest.skip("fits; the OCR needs tesseract-ocr (.ci/run installs it)")
    path = tmp_path / f"{name}.png"
    # twice the size: tesseract reads best at an x-height of about 30 px, and a class
    # sits further from the screen than the OCR's 11-pt window text allows for
    from PIL import Image as PILImage

    shot = window.grab()
    assert shot.save(str(path))
    with PILImage.open(path) as image:
        image.resize((image.width * 2, image.height * 2), PILImage.Resampling.LANCZOS
                     ).save(path)
    words = subprocess.run(["tesseract", str(path), "-", "--psm", "11"], capture_output=True,
                           text=True, timeout=120).stdout.lower()
    words = " ".join(words.split())
    missing = [w for w in KEY_WORDS[name] if w not in words]
    assert not missing, (missing, words[:600])


# -- colours a colour-blind student can tell apart --------------------------------------
#: Machado, Oliveira and Fernandes (2009), severity 1.0, on linear RGB
DEUTERANOPIA = ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                (-0.011820, 0.042940, 0.968881))
PROTANOPIA = ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
              (-0.003882, -0.048116, 1.051998))
#: least CIE76 distance between two meanings as a dichromat sees them (a just noticeable
#: difference is about 2.3; Okabe and Ito's closest pair, orange and yellow, is 17)
LEAST_DELTA_E = 15.0


def _lab(colour, matrix=None):
    """sRGB colour ('#rrggbb' or (r, g, b) in 0..255) -> CIELAB, as a dichromat with
    `matrix` sees it (None: normal vision)."""
    import numpy as np

    if isinstance(colour, str):
        colour = [int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    c = np.asarray(colour, float) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    if matrix is not None:
        lin = np.clip(np.asarray(matrix) @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _meaning_sets() -> dict[str, dict[str, object]]:
    """Every set of colours that stand for distinct things on one view, read from the
    code that draws them."""
    from explorer.data.shapes import CLASSES
    from explorer.detect import draw
    from explorer.gui.insight import common as insight
    from explorer.gui.lab import common as lab
    from explorer.segment import colors

    names = ["background", *CLASSES] if CLASSES[0] != "background" else list(CLASSES)
    detection = {n: draw.class_colour(i, names) for i, n in enumerate(names) if i}
    detection |= {"windows": draw.WINDOW_COLOUR, "replayed window": draw.CURRENT_COLOUR}
    palette = colors.palette_for(CLASSES)
    segmentation = {n: tuple(palette[i]) for i, n in enumerate(CLASSES)
                    if n != "background"}
    segmentation |= {k: colors.DISAGREE[k] for k in ("first right", "second right")}
    return {
        "detection boxes and windows": detection,
        "segmentation classes and disagreement": segmentation,
        "why & training series (normal)": dict(insight.COLOURS),
        "why & training series (presentation)": dict(insight.DARK_COLOURS),
        "lab cells": {"window": lab.WINDOW.name(), "target": lab.TARGET.name(),
                      "source": lab.SOURCE.name(), "padded": lab.PADDED.name()},
        "lab pooling map": {"unchanged": lab.UNCHANGED.name(),
                            "changed": lab.CHANGED.name()},
        "lab plot series": dict(enumerate(lab.SERIES)),
    }


@pytest.mark.parametrize("vision", ["normal", "deuteranopia", "protanopia"])
def test_distinct_meanings_have_colours_a_colour_blind_student_tells_apart(vision):
    import itertools

    import numpy as np

    matrix = {"normal": None, "deuteranopia": DEUTERANOPIA, "protanopia": PROTANOPIA}[vision]
    too_close = []
    for view, colours in _meaning_sets().items():
        assert len(colours) >= 2, view
        for (a, ca), (b, cb) in itertools.combinations(colours.items(), 2):
            distance = float(np.linalg.norm(_lab(ca, matrix) - _lab(cb, matrix)))
            if distance < LEAST_DELTA_E:
                too_close.append(f"{view}: {a} and {b} differ by {distance:.1f}")
    assert not too_close, "\n".join(too_close)


def test_the_simulation_can_tell_red_from_green_apart_only_for_normal_vision():
    """The check above can fail: red and green, which the pooling map once used, are
    apart for normal vision and nearly one colour for a deuteranope."""
    import numpy as np

    red, green = "#d62728", "#2ca02c"
    assert np.linalg.norm(_lab(red) - _lab(green)) > 60
    assert np.linalg.norm(_lab(red, DEUTERANOPIA) - _lab(green, DEUTERANOPIA)) < LEAST_DELTA_E


@pytest.mark.parametrize("presentation", [False, True], ids=["normal", "presentation"])
def test_text_on_highlights_and_bars_reads_in_both_themes(qtbot, qapp, presentation):
    """A progress bar's percentage over its filled part, and a chosen row's text, take the
    theme's highlighted-text colour (white on presentation's yellow was unreadable)."""
    from PySide6.QtWidgets import QProgressBar

    theme.apply(qapp, presentation=presentation, zoom_to=1.0, remember=False)
    try:
        bar = QProgressBar()
        qtbot.addWidget(bar)
        bar.setValue(100)
        bar.show()
        qtbot.waitExposed(bar)
        palette = bar.palette()
        on_fill = theme.contrast(palette.color(QPalette.ColorRole.HighlightedText),
                                 palette.color(QPalette.ColorRole.Highlight))
        assert on_fill >= 4.5, on_fill
        # and the percentage really is drawn in it: the bar's darkest and lightest pixels
        # (text and fill) are that far apart
        image = bar.grab().toImage()
        lum = sorted(QColor(image.pixel(x, y)).lightness() for x in range(image.width())
                     for y in range(image.height() // 3, 2 * image.height() // 3))
        assert lum[-1] - lum[0] > 150
    finally:
        theme.apply(qapp, presentation=False, zoom_to=1.0, remember=False)
