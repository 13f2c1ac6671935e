"""Selective search is one OpenCV call; with a task it runs in a child process that a
cancel kills at once, and gives the same proposals as in-process."""

import subprocess

import numpy as np
import pytest

from explorer.core.tasks import FlagTask, NullTask
from explorer.data.samples import load_sample
from explorer.detect import _segment_worker
from explorer.detect.proposals import selective_search
from explorer.errors import Cancelled


def test_child_process_gives_the_same_proposals():
    import cv2

    img = load_sample("coffee").array[::4, ::4]  # small: quality mode in well under a second
    cv2.randu(np.zeros((8, 8), np.float32), 0, 1)  # move OpenCV's generator on, as other work would
    here = selective_search(img, "quality")
    child = selective_search(img, "quality", task=NullTask())
    assert len(here.boxes) > 10 and np.array_equal(here.boxes.numpy(), child.boxes.numpy())


class CancelAtCheck(FlagTask):
    """Cancels itself at its `k`-th check (so the k-th check raises)."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def check(self) -> None:
        if self.checks + 1 >= self.k:
            self.cancel()
        super().check()


def test_cancel_kills_the_child(monkeypatch):
    """Cancelled while quality mode segments a 512-px picture (seconds of work): the
    child is killed, not waited for, and Cancelled goes on."""
    children = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        proc = real(*args, **kwargs)
        children.append(proc)
        return proc

    monkeypatch.setattr(_segment_worker.subprocess, "Popen", popen)
    img = load_sample("astronaut").array
    task = CancelAtCheck(5)  # one check before the child starts, then polls
    with pytest.raises(Cancelled):
        selective_search(img, "quality", task=task)
    assert task.checks == 5
    assert len(children) == 1
    child = children[0]
    assert child.poll() is not None  # ended, and reaped
    assert child.returncode == -9  # killed (SIGKILL), not finished


def test_cancel_before_the_search_starts_no_child(monkeypatch):
    children = []
    monkeypatch.setattr(_segment_worker.subprocess, "Popen",
                        lambda *a, **k: children.append(a))
    task = FlagTask()
    task.cancel()
    with pytest.raises(Cancelled):
        selective_search(load_sample("astronaut").array, "quality", task=task)
    assert children == [] and task.checks == 1
