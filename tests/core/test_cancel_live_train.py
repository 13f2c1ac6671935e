"""Cancelling training and the live loop, deterministically: a task cancelled at unit k
(an optimisation step, a frame) lets at most one more unit run, and nothing is written.
Counted in work items, never timed."""

from __future__ import annotations

import os
import signal
import threading

import pytest
import torch

from explorer.cli import main
from explorer.core.tasks import FlagTask
from explorer.errors import Cancelled
from explorer.live.engine import LiveEngine
from explorer.live.sources import SyntheticSource
from explorer.train import loop
from tests.core.test_live_engine import tiny_net


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def count_steps(monkeypatch, at: int, then) -> list[int]:
    """Count training steps (augment runs once per step); call `then()` during step `at`."""
    steps = []
    augment = loop.augment

    def counted(*args):
        steps.append(len(steps) + 1)
        if len(steps) == at:
            then()
        return augment(*args)

    monkeypatch.setattr(loop, "augment", counted)
    return steps


@pytest.mark.parametrize("k", [1, 3])
def test_training_cancelled_at_step_k_runs_at_most_one_more(monkeypatch, tmp_path, k):
    task = FlagTask()
    steps = count_steps(monkeypatch, k, task.cancel)
    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        loop.train("lenet5-digits", out_dir=out, epochs=2, n_train=256, n_test=32, task=task)
    assert k <= len(steps) <= k + 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_training_cancelled_while_scoring_writes_nothing(monkeypatch, tmp_path):
    task = FlagTask()
    evaluate = loop.evaluate

    def cancel_then_score(*args):
        task.cancel()  # the person gives up while the held-out set is scored
        return evaluate(*args)

    monkeypatch.setattr(loop, "evaluate", cancel_then_score)
    with pytest.raises(Cancelled):
        loop.train("lenet5-digits", out_dir=tmp_path, epochs=1, n_train=64, n_test=16,
                   task=task)
    assert list(tmp_path.iterdir()) == []


def test_train_command_ctrl_c_exits_130_and_writes_nothing(monkeypatch, tmp_path, capsys):
    # the first Ctrl-C (SIGINT to this process) at step 3 cancels the command's task
    steps = count_steps(monkeypatch, 3, lambda: os.kill(os.getpid(), signal.SIGINT))
    out = tmp_path / "weights"
    assert main(["train", "lenet5-digits", "--out", str(out), "--epochs", "2"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "cancelled: nothing was written"
    assert 3 <= len(steps) <= 4
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


@pytest.mark.parametrize("k", [1, 4])
def test_live_loop_cancelled_after_frame_k_runs_at_most_one_more(k):
    engine = LiveEngine(tiny_net(), device="cpu")
    task = FlagTask()
    seen = []

    def on_result(result) -> None:
        seen.append(result.index)
        if len(seen) == k:
            task.cancel()

    source = SyntheticSource((32, 32), fps_hint=None)
    with pytest.raises(Cancelled):
        engine.run(source, on_result, pace=0, task=task)
    assert k <= engine.frames <= k + 1 and len(seen) == engine.frames
    assert not [t for t in threading.enumerate() if t.name == "live-grabber"]
    assert not source._open  # the source was closed on the way out


def test_live_loop_cancelled_while_paused_processes_nothing_more():
    engine = LiveEngine(tiny_net(), device="cpu")
    task = FlagTask()
    engine.pause()
    task.cancel()
    engine.step()  # a wake-up that arrives with the cancel is not a step
    with pytest.raises(Cancelled):
        engine.run(SyntheticSource((32, 32)), task=task)
    assert engine.frames == 0


def test_engine_stop_after_frame_k_is_quiet():
    engine = LiveEngine(tiny_net(), device="cpu")
    k, seen, reached = 3, [], threading.Event()

    def on_result(result) -> None:
        seen.append(result.index)
        if len(seen) == k:
            reached.set()
            # hold the loop on frame k until stop() has cancelled its task
            while not engine._task.cancelled:
                threading.Event().wait(0.001)

    engine.start(SyntheticSource((32, 32), fps_hint=None), on_result, pace=0)
    assert reached.wait(30)
    engine.stop()
    assert engine.error is None and not engine.running
    assert len(seen) == k  # the cancel landed before another frame


def test_live_command_ctrl_c_exits_130_and_writes_no_png(monkeypatch, tmp_path, capsys):
    frames = []
    compute = LiveEngine._compute  # the network's pass, once per frame, on the loop

    def counted(self, item):
        frames.append(item.index)
        if len(frames) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return compute(self, item)

    monkeypatch.setattr(LiveEngine, "_compute", counted)
    out = tmp_path / "last.png"
    code = main(["live", "--device", "cpu", "--threads", "1", "--unpaced", "--seconds",
                 "600", "--out", str(out)])
    assert code == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "cancelled: nothing was written"
    assert 2 <= len(frames) <= 3 and not out.exists()
