"""How long F11 (presentation mode on or off) blocks the window, with Explore alone and
once every section has been opened, beside the same switch of palette and fonts without
the style sheet (what Qt costs when it need not repolish every widget; under a style
sheet that alone does not restyle the widgets, so it is a floor, not an alternative).

Offscreen, 1366x768, tinyvgg-shapes on its sample; the switch is timed from the call to
the end of the events it queued (three rounds of processEvents). The baseline runs in the
same process on the same window: ``QApplication.setPalette`` and ``setFont`` to the other
theme's, without ``setStyleSheet``. Target: a switch blocks the window at most 0.5 s.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.theme_switch [--repeats N] [--json]
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks._report import cli  # noqa: E402 (the platform must be chosen first)

TARGET_S = 0.5


def _switch_s(window, app, on: bool) -> float:
    t0 = time.perf_counter()
    window.set_presentation(on, full_screen=False)
    for _ in range(3):
        app.processEvents()
    return time.perf_counter() - t0


def _palette_only_s(app, on: bool) -> float:
    from PySide6.QtGui import QFont

    from explorer.gui.common import theme

    which = theme.PRESENTATION if on else theme.NORMAL
    scale = theme.PRESENTATION_SCALE if on else 1.0
    t0 = time.perf_counter()
    app.setPalette(theme.palette(which))
    font = QFont(app.font())
    font.setPointSizeF(theme.BASE_POINT_SIZE * scale)
    app.setFont(font)
    for _ in range(3):
        app.processEvents()
    return time.perf_counter() - t0


def _measure(window, app, label: str, repeats: int) -> dict:
    from PySide6.QtWidgets import QApplication

    switches, floors = [], []
    for _ in range(repeats):
        # alternate the two so that a noisy machine slows both alike
        switches += [_switch_s(window, app, True), _switch_s(window, app, False)]
        floors += [_palette_only_s(app, True), _palette_only_s(app, False)]
    window.set_presentation(False, full_screen=False)  # the theme as it was
    value, base = statistics.median(switches), statistics.median(floors)
    return {"name": f"F11 {label} ({len(QApplication.allWidgets())} widgets) 1366x768",
            "baseline": "palette and fonts alone", "baseline_s": base, "value_s": value,
            "ratio": value / base if base > 0 else None,
            "target": f"<= {TARGET_S:g} s blocked", "ok": value <= TARGET_S}


def run(repeats: int = 3, quick: bool = False) -> list[dict]:
    from explorer.gui.app import make_app, wait_until_idle
    from explorer.gui.main_window import MainWindow
    from explorer.gui.tour.export import settle

    repeats = 1 if quick else repeats
    app = make_app()
    window = MainWindow(device="cpu")
    try:
        window.resize(1366, 768)
        window.show()
        wait_until_idle(window)
        rows = [_measure(window, app, "Explore alone", repeats)]
        for i in range(1, window.sections.count()):  # open every section once
            window.sections.setCurrentIndex(i)
            settle(window, 300)
        window.sections.setCurrentIndex(0)
        settle(window, 60)
        rows.append(_measure(window, app, "every section opened", repeats))
        return rows
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def describe(r: dict) -> str:
    return (f"{r['name']}: {r['value_s'] * 1e3:.0f} ms blocked; palette and fonts alone "
            f"{r['baseline_s'] * 1e3:.0f} ms")


def main() -> None:
    cli(__doc__, run, describe, repeats=3)


if __name__ == "__main__":
    main()
