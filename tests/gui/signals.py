"""Ctrl-C sent to a command at a chosen line of its stderr (shared by the window's and
the slide export's interrupt tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def interrupt_when(prefix: str, *args: str, env: dict | None = None) -> tuple[int, str]:
    """Run ``python -m explorer ARGS`` offscreen; send SIGINT when a line of its stderr
    starts with `prefix`. Returns (exit code, stderr as read)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(env or {}))
    proc = subprocess.Popen([sys.executable, "-m", "explorer", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith(prefix):
                proc.send_signal(signal.SIGINT)
                break
        _out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(seen) + err
