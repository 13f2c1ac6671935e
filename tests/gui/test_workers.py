"""The job runner: the newest request wins, stale answers are dropped, errors arrive once."""

import threading

from explorer.errors import ImageError
from explorer.gui.common.workers import JobRunner


def test_newer_request_supersedes_running_one(qtbot):
    runner = JobRunner()
    results, failures = [], []
    runner.finished.connect(results.append)
    runner.failed.connect(lambda exc, msg: failures.append(msg))
    release = threading.Event()
    started = threading.Event()

    def slow(ctx):
        started.set()
        assert release.wait(10)
        return "stale"

    first = runner.submit(slow)
    assert started.wait(10)
    second = runner.submit(lambda ctx: "fresh")
    assert second == first + 1 and runner.latest_id == second
    release.set()
    assert runner.wait(10)
    assert results == ["fresh"]
    assert failures == []
    assert runner.dropped == 1
    assert not runner.busy


def test_running_job_sees_cancellation_at_checkpoint(qtbot):
    runner = JobRunner()
    results = []
    runner.finished.connect(results.append)
    release = threading.Event()
    saw_cancel = []

    def checkpointed(ctx):
        assert release.wait(10)
        saw_cancel.append(ctx.cancelled)
        ctx.check()  # raises Cancelled: a newer request replaced this one
        return "never shown"

    runner.submit(checkpointed)
    runner.submit(lambda ctx: 42)
    release.set()
    assert runner.wait(10)
    assert saw_cancel == [True]
    assert results == [42]


def test_user_error_reported_once_with_its_sentence(qtbot):
    runner = JobRunner()
    failures = []
    runner.failed.connect(lambda exc, msg: failures.append((type(exc), msg)))

    def bad(ctx):
        raise ImageError("x.png: not an image file Pillow can read")

    with qtbot.waitSignal(runner.failed, timeout=10_000):
        runner.submit(bad)
    assert runner.wait(10)
    assert failures == [(ImageError, "x.png: not an image file Pillow can read")]


def test_progress_only_from_latest_request(qtbot):
    runner = JobRunner()
    messages = []
    runner.progress.connect(lambda m, f: messages.append((m, f)))

    def reporting(ctx):
        ctx.progress(0.5, "half")
        return None

    runner.submit(reporting)
    assert runner.wait(10)
    assert messages == [("half", 0.5)]
