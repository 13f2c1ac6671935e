"""Starting the window: ``cnn-explorer gui`` calls :func:`run_gui`."""

from __future__ import annotations

import sys
import time

from explorer.errors import UserError


def _first_image(model: str) -> str:
    """The sample that suits `model` (a shipped network's own), else the default."""
    from explorer.app.networks import DEFAULT_IMAGE
    from explorer.nets import shipped

    spec = shipped.load_all().get(model)
    return spec.default_image if spec is not None and spec.default_image else DEFAULT_IMAGE


def make_app():
    """The QApplication (created once) with pyqtgraph's row-major images and a font a
    class can read."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from explorer.gui.common import theme

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CNN Explorer")
    theme.apply(app, presentation=False, zoom_to=theme.saved_zoom(), remember=False)
    return app


def wait_until_idle(window, timeout: float = 120.0) -> bool:
    """Process events until the window's loading and mosaic are done (headless, tests)."""
    from PySide6.QtCore import QCoreApplication

    ok = window.wait(timeout)
    for _ in range(5):  # let queued signals and the first paint of the views happen
        QCoreApplication.processEvents()
    return ok


def run_gui(model: str | None = None, image: str | None = None,
            screenshot: str | None = None, device: str | None = None,
            section: str | None = None, page: str | None = None,
            presentation: bool = False, size: tuple[int, int] | None = None,
            tour: int | None = None) -> int:
    """Open the window on `model` and `image` (defaults: a trained network and its sample),
    or, with `screenshot`, render it offscreen once loaded, save the PNG and return.

    `section` opens on that part of the window ("lab", "detection", ...), `page` on that
    Lab page, `presentation` in presentation mode, `size` (W, H) at that size. Returns the
    exit code: 0, or 2 when something could not be loaded (the window, showing the error,
    is still saved).
    """
    from PySide6.QtCore import QCoreApplication

    from explorer.app.networks import DEFAULT_MODEL
    from explorer.gui.main_window import MainWindow

    app = make_app()
    try:
        window = MainWindow(device=device)
    except UserError as exc:  # e.g. --device cuda without a GPU
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = model or DEFAULT_MODEL
    window.load(model, image or _first_image(model))
    if size is not None:
        window.resize(*size)
    if screenshot:
        window.show()
    elif size is None:
        window.showMaximized()  # a classroom screen
    else:
        window.show()
    if section and section != "explore":
        window.show_section(section)
    if page:
        window.section("lab").show_page(page)
    if presentation:
        window.set_presentation(True, full_screen=not screenshot and size is None)
    if tour is not None:  # the lecture tour from step `tour` (0-based), presenting
        window.tour.start(tour, full_screen=not screenshot and size is None)
    if not screenshot:
        return int(app.exec())
    finished = wait_until_idle(window)
    # a section starts its own work when shown: give it a moment to compute and draw
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)
    ok = window.grab().save(str(screenshot))
    errors = list(window.errors)
    window.close()
    window.deleteLater()
    if not ok:
        print(f"error: {screenshot}: the picture could not be written", file=sys.stderr)
        return 2
    if not finished:
        print("error: loading did not finish in time", file=sys.stderr)
        return 2
    if errors:
        print(f"error: {errors[-1]}", file=sys.stderr)
        return 2
    print(f"saved {screenshot}")
    return 0
