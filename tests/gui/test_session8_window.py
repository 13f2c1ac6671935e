"""The window as a class uses it (the evening probe of 2026-12-07, docs/WINDOW_PROBE.md).

* the status bar speaks of the section shown: a message from a section working in the
  background, and Explore's trace time and weights, stayed under every other section
  ("tinyvgg-shapes ready (shipped weights)" from Live under Explore's AlexNet; "Weights:
  random" beside Live's trained network);
* View's menu names "Why & training" (it showed "Why _training": the "&" was taken for a
  mnemonic);
* a Lab page that cannot be squeezed to a 640x480 window's width scrolls sideways: it was
  squeezed anyway, and the Convolution page's Geometry box drew its combos and spin
  boxes 12 px high on top of each other, "flip it (true convolutio" cut;
* a runner's shutdown waits for its own job only: it waited for the whole thread pool, so
  closing the window while Explore built an untrained VGG-16 (which cannot be
  interrupted) waited in every section's shutdown, 8-22 s on the 2-core machine;
* Esc closes the unit card (a dialog in front of the window) and stops its work: the key
  is the window's application-wide "leave presentation mode", so the card never saw it
  and, keyboard only, could not be closed;
* F11 fits Detection's columns once, not once per font, style and palette event that the
  theme change sends to each of its widgets (22-24 times, about 0.5 s of the switch).
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QMenu, QWidget


def _settle(seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)


def test_a_section_status_stays_with_its_section(window):
    live = window.section("Live")  # built, but Explore is the one shown
    assert window.current_section() is None
    window.statusBar().showMessage("Explore's own")
    live.status.emit("tinyvgg-shapes ready (shipped weights), on cpu.")
    assert window.statusBar().currentMessage() == "Explore's own"
    window.show_section("Live")
    assert window.statusBar().currentMessage() == ""  # Explore's words went with it
    live.status.emit("Live's own")
    assert window.statusBar().currentMessage() == "Live's own"
    window.sections.setCurrentIndex(0)  # Explore
    assert window.statusBar().currentMessage() == ""


def test_explore_trace_and_weights_show_on_explore_only(window):
    assert window.weights_label.isVisible() and window.time_label.isVisible()
    window.show_section("Lab")
    assert not window.weights_label.isVisible() and not window.time_label.isVisible()
    assert window.device_label.isVisible()  # the device is the whole window's
    window.sections.setCurrentIndex(0)  # Explore
    assert window.weights_label.isVisible() and window.time_label.isVisible()


def test_view_menu_names_why_and_training(window):
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert isinstance(view, QMenu)
    texts = [a.text() for a in view.actions()]
    assert "Why && training" in texts, texts  # shows as "Why & training"
    assert not any(t.startswith("Why &") and "&&" not in t for t in texts), texts


def test_a_lab_page_too_wide_for_a_small_window_scrolls_instead_of_crushing(window):
    window.resize(640, 480)
    lab = window.section("Lab")
    window.show_section("Lab")
    lab.set_page(0)  # Convolution: its least width is well over 640 px minus the list
    _settle()
    page, area = lab.current_page(), lab.stack.currentWidget()
    assert page.minimumSizeHint().width() > area.maximumViewportSize().width()
    crushed = [
        (type(w).__name__, w.size().toTuple(), w.minimumSizeHint().toTuple())
        for w in page.findChildren(QWidget)
        if isinstance(w, (QComboBox, QAbstractSpinBox, QCheckBox)) and w.isVisible()
        and (w.height() < w.minimumSizeHint().height()
             or w.width() < w.minimumSizeHint().width())
    ]
    assert not crushed, crushed
    assert area.horizontalScrollBar().maximum() > 0  # the rest is a scroll away
    lab.shutdown()


def test_a_runner_waits_for_its_own_job_only(qapp):
    from explorer.gui.common.workers import JobRunner

    release = threading.Event()
    slow, quick = JobRunner(), JobRunner()
    # a job that, like torchvision building a network, never looks at the cancel flag
    slow.submit(lambda ctx: release.wait(10))
    quick.submit(lambda ctx: 1)
    try:
        start = time.monotonic()
        assert quick.shutdown(timeout=5)
        assert time.monotonic() - start < 1.0  # was: until the slow job ended (5 s here)
        assert slow.busy
    finally:
        release.set()
        assert slow.shutdown(timeout=10)
    assert not slow.busy and not quick.busy


def test_a_section_closes_while_explore_builds_a_network(window):
    release = threading.Event()
    window.runner.submit(lambda ctx: release.wait(10))  # Explore: an uninterruptible build
    detection = window.section("Detection")
    try:
        start = time.monotonic()
        detection.shutdown()
        assert time.monotonic() - start < 1.5
    finally:
        release.set()
        assert window.runner.shutdown(timeout=10)


def test_escape_closes_the_unit_card_before_it_leaves_presentation(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from explorer.gui.explore.unit_card import open_card_for

    card = open_card_for(window)
    window.set_presentation(True, full_screen=False)
    try:
        card.show()
        card.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is card, timeout=5000)
        qtbot.keyClick(QApplication.focusWidget() or card, Qt.Key.Key_Escape)
        assert not card.isVisible()
        assert window.presentation  # the first Esc was the card's
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
        qtbot.keyClick(window, Qt.Key.Key_Escape)
        assert not window.presentation
    finally:
        window.set_presentation(False, full_screen=False)
        card.shutdown()


def test_presentation_fits_detection_once_not_per_event(window, monkeypatch):
    from explorer.gui.detect.section import DetectionTab

    calls = []
    fit = DetectionTab._fit_controls
    monkeypatch.setattr(DetectionTab, "_fit_controls",
                        lambda self: (calls.append(1), fit(self))[1])
    detection = window.section("Detection")  # built now, so it connects the counted one
    window.show_section("Detection")
    _settle(1.0)
    try:
        for on in (True, False):
            calls.clear()
            window.set_presentation(on, full_screen=False)
            _settle(0.3)
            assert 1 <= len(calls) <= 8, len(calls)  # was 22-24
    finally:
        window.set_presentation(False, full_screen=False)
        detection.shutdown()
