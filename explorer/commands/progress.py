"""Long jobs on the command line: a progress bar on a terminal, Ctrl-C as a cancel.

The first Ctrl-C sets the task's cancel flag, so the job stops at its next check and the
command exits 130 with nothing half-written (outputs are written atomically at the end);
a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from explorer.core.tasks import FlagTask


@contextmanager
def cli_task(quiet: bool = False) -> Iterator[FlagTask]:
    """A :class:`~explorer.core.tasks.FlagTask` that draws a tqdm bar on stderr when it is
    a terminal (and not `quiet`), and that the first Ctrl-C cancels."""
    bar = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=1000, file=sys.stderr, leave=False, dynamic_ncols=True,
                   bar_format="{desc} {bar} {percentage:3.0f}% {elapsed}")

    def report(fraction: float, message: str) -> None:
        if bar is None:
            return
        if message:
            bar.set_description_str(message[:60], refresh=False)
        if fraction >= 0:
            bar.n = round(min(fraction, 1.0) * 1000)
        bar.refresh()

    task = FlagTask(report)
    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_interrupt(_signum, _frame) -> None:
            if task.cancelled:  # the second Ctrl-C: stop now
                raise KeyboardInterrupt
            task.cancel()

        previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield task
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
