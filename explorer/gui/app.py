"""Starting the window: ``cnn-explorer gui`` calls :func:`run_gui`.

The window's frame is on screen before PyTorch is imported (issue 17): :func:`run_gui`
shows :class:`~explorer.gui.start_window.StartWindow`, imports torch, pyqtgraph and the
views on a thread while that frame answers events, and then puts the main window in its
place. With ``CNN_EXPLORER_STARTUP=1`` in the environment it prints, on stderr, when the
window was on screen and when the first mosaic was drawn (benchmarks/startup.py reads
them).
"""

from __future__ import annotations

import gc
import os
import sys
import time

from explorer.errors import UserError


def _first_image(model: str) -> str:
    """The sample that suits `model` (a shipped network's own), else the default."""
    from explorer.app.names import DEFAULT_IMAGE
    from explorer.nets import shipped

    spec = shipped.load_all().get(model)
    return spec.default_image if spec is not None and spec.default_image else DEFAULT_IMAGE


def _prefetch_first(model: str | None, image: str | None, device: str | None) -> None:
    """Start the request the window will make first (explorer.app.tracing.prefetch)."""
    from explorer.app.names import DEFAULT_MODEL
    from explorer.app.networks import NetSpec
    from explorer.app.tracing import LoadRequest, prefetch
    from explorer.core.device import pick_device

    model = model or DEFAULT_MODEL
    try:
        dev = pick_device(device)
    except Exception:  # noqa: BLE001 - the window says what is wrong with the device
        return
    prefetch(LoadRequest(device=dev, net_spec=NetSpec(model),
                         image_spec=image or _first_image(model)))


def _mark(event: str) -> None:
    """Print when `event` happened (seconds since the epoch) for benchmarks/startup.py."""
    if os.environ.get("CNN_EXPLORER_STARTUP"):
        print(f"startup: {event} {time.time():.6f}", file=sys.stderr, flush=True)


def hold_collector() -> None:
    """Keep Python's cyclic garbage collector from running until :func:`settle_collector`.

    A full pass walks every live object; with torch, Qt and pyqtgraph loaded that is about
    a million, so each takes 70-90 ms, and start-up's allocations triggered four of them
    plus a hundred shorter ones, 0.4 s of a 3.4 s start (measured with gc.callbacks).
    Start-up makes no cycles worth collecting meanwhile."""
    gc.disable()


def settle_collector() -> None:
    """Move everything start-up made into the collector's permanent generation
    (:func:`gc.freeze`: modules, classes and widgets that live as long as the program are
    never scanned again, so every later pass is short) and let it run again."""
    gc.freeze()
    gc.enable()
    _mark("collector")


def _settle_when_idle(window, deadline_s: float = 60.0) -> None:
    """:func:`settle_collector` once the window's first network is traced and its mosaic
    drawn (or after `deadline_s`, or when loading failed)."""
    from PySide6.QtCore import QTimer

    end = time.monotonic() + deadline_s
    timer = QTimer(window)
    timer.setInterval(100)

    def poll() -> None:
        if (window.runner.busy or window.feature_view.pending) and time.monotonic() < end:
            return
        timer.stop()
        timer.deleteLater()
        settle_collector()  # looked up at call time: tests replace it

    timer.timeout.connect(poll)
    timer.start()


def configure_pyqtgraph() -> None:
    """pyqtgraph's row-major images (or feature maps show transposed) and antialiasing."""
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


def make_app(views: bool = True):
    """The QApplication (created once) with a font a class can read, and, with `views`,
    pyqtgraph configured (row-major images). :func:`run_gui` passes ``views=False`` to
    show the first frame before pyqtgraph is imported, and configures it afterwards."""
    from PySide6.QtWidgets import QApplication

    from explorer.gui.common import qt_messages, theme

    # before the first window: the offscreen platform's warnings come as windows resize
    qt_messages.install()
    if views:
        configure_pyqtgraph()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CNN Explorer")
    # without pyqtgraph imported yet, the theme leaves its colours for the later call
    theme.apply(app, presentation=False, zoom_to=theme.saved_zoom(), remember=False)
    return app


def show_start_window(size: tuple[int, int] | None = None, maximized: bool = False):
    """The QApplication and the window's first frame, shown and painted; imports only Qt's
    widgets (tests/core/test_startup_imports.py checks it)."""
    from PySide6.QtCore import QCoreApplication

    from explorer.gui.start_window import StartWindow

    app = make_app(views=False)
    shell = StartWindow()
    if size is not None:
        shell.resize(*size)
    shell.set_progress("Starting…")
    if maximized:
        # the screen's free area first: without a window manager (a kiosk, a projector
        # driven by a bare X server) "maximized" leaves the window at its own size, which
        # can be larger than the screen
        screen = app.primaryScreen()
        if screen is not None:
            shell.setGeometry(screen.availableGeometry())
        shell.showMaximized()
    else:
        shell.show()
    QCoreApplication.processEvents()  # the first paint
    return app, shell


def _close_on_interrupt(window):
    """A timer that closes `window` once Ctrl-C was heard (see
    :mod:`explorer.gui.common.interrupt`); it also gives Python a moment five times a
    second to hear the signal at all while Qt's loop runs."""
    from PySide6.QtCore import QTimer

    from explorer.gui.common import interrupt

    timer = QTimer(window)
    timer.setInterval(200)
    timer.timeout.connect(lambda: window.close() if interrupt.heard() else None)
    timer.start()
    return timer


#: longest wait for a section's own work before --screenshot grabs the window
SECTION_TIMEOUT = 120.0


def wait_until_idle(window, timeout: float = 120.0) -> bool:
    """Process events until the window's loading and mosaic are done (headless, tests)."""
    from PySide6.QtCore import QCoreApplication

    from explorer.gui.common import interrupt

    # in short slices, so that Ctrl-C (explorer.gui.common.interrupt) is heard while a
    # network loads, not only once it has
    deadline = time.monotonic() + timeout
    ok = False
    while not ok and time.monotonic() < deadline:
        interrupt.check()
        ok = window.wait(min(0.1, max(0.0, deadline - time.monotonic())))
    for _ in range(5):  # let queued signals and the first paint of the views happen
        QCoreApplication.processEvents()
    return ok


def run_gui(model: str | None = None, image: str | None = None,
            screenshot: str | None = None, device: str | None = None,
            section: str | None = None, page: str | None = None,
            presentation: bool = False, size: tuple[int, int] | None = None,
            tour: int | None = None, whole_process: bool = False) -> int:
    """Open the window on `model` and `image` (defaults: a trained network and its sample),
    or, with `screenshot`, render it offscreen once loaded, save the PNG and return.

    `section` opens on that part of the window ("lab", "detection", ...), `page` on that
    Lab page, `presentation` in presentation mode, `size` (W, H) at that size. Returns the
    exit code: 0, or 2 when something could not be loaded (the window, showing the error,
    is still saved).

    `whole_process`: the window is the program (``cnn-explorer gui``), so the garbage
    collector may wait until the first mosaic and then freeze what start-up made
    (:func:`hold_collector`); a test calling this in its own process leaves it alone.
    """
    if not whole_process:
        return _run_gui(model, image, screenshot, device, section, page, presentation,
                        size, tour)
    from explorer.gui.common import interrupt

    hold_collector()
    try:
        # Ctrl-C in the terminal: heard as a flag and acted on between Qt's events (the
        # default KeyboardInterrupt, raised inside an event or while the background
        # thread imported torch, ended in a segmentation fault)
        with interrupt.between_events():
            try:
                return _run_gui(model, image, screenshot, device, section, page,
                                presentation, size, tour, settle=True)
            except KeyboardInterrupt:
                if "explorer.app.tracing" in sys.modules:  # a first network loading
                    sys.modules["explorer.app.tracing"].drop_prefetches()
                print("interrupted", file=sys.stderr)
                return 130
    finally:
        if not gc.isenabled():  # an early return or an error before the mosaic
            settle_collector()


def _run_gui(model, image, screenshot, device, section, page, presentation, size, tour,
             settle: bool = False) -> int:
    from PySide6.QtCore import QCoreApplication

    from explorer.gui.common import interrupt
    from explorer.gui.start_window import HeavyImports

    maximized = screenshot is None and size is None  # a classroom screen
    # torch starts loading at once; the frame below is drawn meanwhile, and the first
    # network loads and traces while pyqtgraph is imported and the window built
    heavy = HeavyImports(after={"explorer.app.tracing": lambda: _prefetch_first(
        model, image, device)}).start()
    app, shell = show_start_window(size, maximized)
    _mark("shown")
    heavy.wait(shell.set_progress)  # returns once the import thread has ended
    _mark("imported")
    if heavy.error is not None:
        raise heavy.error
    interrupt.check()  # Ctrl-C during the imports: they are done, nothing else started
    if shell.closed:  # the person closed the window before it was ready
        return 0
    configure_pyqtgraph()
    from explorer.app.names import DEFAULT_MODEL
    from explorer.gui.common import theme
    from explorer.gui.main_window import MainWindow

    # again, now that pyqtgraph is here: the views' background and text colours
    theme.apply(app, presentation=False, zoom_to=theme.saved_zoom(), remember=False)
    try:
        window = MainWindow(device=device)
    except UserError as exc:  # e.g. --device cuda without a GPU
        shell.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = model or DEFAULT_MODEL
    window.load(model, image or _first_image(model))
    # the main window takes the frame's place: same size and place on the screen
    window.setGeometry(shell.geometry())
    if size is not None:  # exactly the size asked, even where the frame had to be larger
        window.resize(*size)
    if maximized:
        window.showMaximized()
    else:
        window.show()
    shell.close()
    shell.deleteLater()
    _mark("window")
    if section and section != "explore":
        window.show_section(section)
    if page:
        window.section("lab").show_page(page)
    if presentation:
        window.set_presentation(True, full_screen=not screenshot and size is None)
    if tour is not None:  # the lecture tour from step `tour` (0-based), presenting
        window.tour.start(tour, full_screen=not screenshot and size is None)
    if not screenshot:
        if settle:
            _settle_when_idle(window)
        watch = _close_on_interrupt(window)
        code = int(app.exec())
        watch.stop()
        if interrupt.heard():
            print("interrupted", file=sys.stderr)
            return 130
        return code
    try:
        finished = wait_until_idle(window)
        _mark("mosaic")
        if settle:
            settle_collector()
        # a section starts its own work when shown: give it a moment to start, then wait
        # until every worker of the window is done and the views have drawn (a fixed
        # 3 s grabbed Why & training's Grad-CAM half done on a busy machine)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            interrupt.check()
            QCoreApplication.processEvents()
            time.sleep(0.02)
        from explorer.gui.tour.export import settle

        if not settle(window, timeout=SECTION_TIMEOUT):
            print(f"note: the window was still computing after {SECTION_TIMEOUT:.0f} s; "
                  "the picture shows it unfinished", file=sys.stderr)
        interrupt.check()
    except KeyboardInterrupt:
        window.close()  # its workers stop and are waited for: nothing runs on at exit
        window.deleteLater()
        raise
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
