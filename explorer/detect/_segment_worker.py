"""Selective search in a child process, so that a cancel can end it.

OpenCV's ``process()`` is one C++ call that nothing can interrupt (quality mode takes
seconds on a 512-pixel picture); run in a child, it is stopped by killing the child. The
child is a plain ``python -m`` of this module, which imports only numpy and cv2, so it
starts in a fraction of a second and never re-imports the caller's main script (as
multiprocessing's spawn would).

    python -m explorer.detect._segment_worker IN.npy OUT.npy MODE
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def segment(bgr: np.ndarray, mode: str) -> np.ndarray:
    """``ss.process()`` rects, int32 [P, 4] (x, y, w, h), for a BGR uint8 picture."""
    import cv2

    cv2.setNumThreads(1)  # results must not depend on the machine's thread count
    # OpenCV's selective search ranks regions with the C library's rand(): reseed it as a
    # fresh process has it, so the proposals never depend on what ran before
    ctypes.CDLL(None).srand(1)
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(bgr)
    {"fast": ss.switchToSelectiveSearchFast, "quality": ss.switchToSelectiveSearchQuality,
     "single": ss.switchToSingleStrategy}[mode]()
    return np.asarray(ss.process(), np.int32).reshape(-1, 4)


def segment_cancellable(bgr: np.ndarray, mode: str, check: Callable[[], None],
                        poll: float = 0.02) -> np.ndarray:
    """:func:`segment` in a child process. ``check()`` is called every `poll` seconds
    while the child works; when it raises (a task's
    :class:`~explorer.errors.Cancelled`), the child is killed at once and the exception
    goes on."""
    with tempfile.TemporaryDirectory(prefix="cnnx-ss-") as tmp:
        src, dst = Path(tmp) / "in.npy", Path(tmp) / "out.npy"
        np.save(src, np.ascontiguousarray(bgr))
        # a session of its own: the terminal's Ctrl-C goes to the command (which cancels
        # its task and kills the child), not straight to the child
        proc = subprocess.Popen([sys.executable, "-m", __name__, str(src), str(dst), mode],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            while proc.poll() is None:
                check()
                time.sleep(poll)
            check()  # a cancel that came while the child finished
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stderr is not None:
                err_text = proc.stderr.read() if proc.returncode != 0 else b""
                proc.stderr.close()
        if proc.returncode != 0 or not dst.exists():
            err = err_text.decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"selective search failed: {err[-1] if err else proc.returncode}")
        return np.load(dst)


if __name__ == "__main__":
    np.save(sys.argv[2], segment(np.load(sys.argv[1]), sys.argv[3]))
