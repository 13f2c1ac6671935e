"""Hardening: a long session in the window. 2,000 layer switches (what a lecture of
stepping through a network adds up to) keep memory, threads, timers and widgets flat."""

from __future__ import annotations

import gc
import os
import threading
import time

import pytest
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

SWITCHES = 2000
WARM_UP = 200
MAX_GROWTH_MB = 50.0


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        resident = int(fh.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / 2**20


def _counts(window) -> tuple[int, int, int]:
    return (len(window.findChildren(QTimer)), len(QApplication.allWidgets()),
            threading.active_count())


@pytest.mark.slow  # about 30 s: each switch is painted (~15 ms on two shared cores)
def test_two_thousand_layer_switches_keep_the_window_flat(window):
    # a projector-sized window: every switch is still painted, in less time
    window.resize(1024, 640)
    names = window.layer_tree.names
    assert len(names) >= 8
    shown = []

    def switch(i: int) -> None:
        name = names[i % len(names)]
        assert window.layer_tree.select(name) or window.layer_tree.current_name == name
        QCoreApplication.processEvents()
        shown.append(window.feature_view.layer)

    for i in range(WARM_UP):
        switch(i)
    assert window.wait(30)
    gc.collect()
    before, counts_before = rss_mb(), _counts(window)
    t0 = time.perf_counter()
    for i in range(SWITCHES):
        switch(WARM_UP + i)
        if i % 100 == 99:  # now and then the mosaic is finished and drawn, as when reading
            assert window.wait(30)
    assert window.wait(30)
    seconds = time.perf_counter() - t0
    gc.collect()
    for _ in range(3):
        QCoreApplication.processEvents()
    growth = rss_mb() - before
    print(f"\nwindow: {SWITCHES} layer switches in {seconds:.1f} s, RSS {before:.0f} MB -> "
          f"{before + growth:.0f} MB ({growth:+.1f} MB), timers/widgets/threads "
          f"{counts_before} -> {_counts(window)}")
    assert len(shown) == WARM_UP + SWITCHES
    assert window.feature_view.layer == names[(WARM_UP + SWITCHES - 1) % len(names)]
    assert window.feature_view.mosaic is not None
    assert growth <= MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB over {SWITCHES} switches"
    timers, widgets, threads = _counts(window)
    # a single-shot timer may have fired and gone; nothing may have been added
    assert timers <= counts_before[0] and widgets <= counts_before[1]
    assert threads <= counts_before[2]
