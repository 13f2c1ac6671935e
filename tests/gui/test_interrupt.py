"""Ctrl-C in the terminal of a window: exit 130 with one line, whatever the window was
doing (it used to end in a segmentation fault while torch was imported in the background,
while the first network loaded, or inside a Qt event)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.gui.signals import interrupt_when


def _interrupt_at(stage: str, *args: str) -> tuple[int, str]:
    """Run ``cnn-explorer gui ARGS``; send SIGINT when it reports start-up `stage`."""
    return interrupt_when(f"startup: {stage} ", "gui", *args,
                          env={"CNN_EXPLORER_STARTUP": "1"})


@pytest.mark.parametrize("stage", ["shown", "imported", "window"])
def test_ctrl_c_while_a_screenshot_is_made_exits_130(tmp_path, stage):
    shot = tmp_path / "shot.png"
    code, err = _interrupt_at(stage, "--screenshot", str(shot))
    assert code == 130, err
    assert "interrupted" in err.splitlines()
    assert not shot.exists()  # interrupted before the picture: none, not half of one


def test_ctrl_c_closes_an_open_window_with_130():
    code, err = _interrupt_at("collector", "--section", "explore")  # drawn, idle
    assert code == 130, err
    assert "interrupted" in err.splitlines()


def test_first_ctrl_c_is_a_flag_the_second_is_the_default_action():
    import time

    from explorer.gui.common import interrupt

    before = signal.getsignal(signal.SIGINT)
    with interrupt.between_events():
        interrupt.check()  # nothing heard yet
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 5
        while not interrupt.heard() and time.monotonic() < deadline:
            time.sleep(0.01)  # the handler runs at the next bytecodes of this thread
        assert interrupt.heard()
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
        # a second Ctrl-C would end the process at once (a window stuck in one event)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is before and not interrupt.heard()
