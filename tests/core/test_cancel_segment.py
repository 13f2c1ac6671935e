"""Cancelling segmentation, counted and never timed: a task cancelled during unit k of the
work (a network, a batch of held-out scenes, a clicked pixel's field, a way of upsampling)
lets at most that unit finish; the command line exits 130 and writes nothing."""

from __future__ import annotations

import os
import signal

import pytest

from explorer.app.pictures import open_scene
from explorer.core.tasks import FlagTask
from explorer.errors import Cancelled
from explorer.segment import compare, fields, run
from explorer.segment.run import SHIPPED_SEGMENTERS, seg_picture


@pytest.fixture(scope="module")
def picture():
    return seg_picture(open_scene(3))


@pytest.fixture(scope="module")
def networks():
    return {name: run.load_segmenter(name) for name in SHIPPED_SEGMENTERS}


def _cancelling(monkeypatch, module, name, task, at):
    """module.name, counted, and cancelling `task` during its call number `at`."""
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(args[:1])
        if len(calls) == at:
            task.cancel()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.parametrize("k", [1, 2])
def test_run_stops_after_network_k(monkeypatch, picture, networks, k):
    task = FlagTask()
    calls = _cancelling(monkeypatch, run, "segment", task, k)
    with pytest.raises(Cancelled):
        run.run_segmenters(list(SHIPPED_SEGMENTERS), picture, networks=networks, task=task)
    assert len(calls) == k  # the network under way finished; no other one started


def test_run_without_a_cancel_reports_progress_in_order(picture, networks):
    seen = []
    task = FlagTask(lambda f, m: seen.append((f, m)))
    preds = run.run_segmenters(list(SHIPPED_SEGMENTERS), picture, networks=networks,
                               task=task)
    assert list(preds) == list(SHIPPED_SEGMENTERS)
    fractions = [f for f, _ in seen if f >= 0]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert task.checks >= len(SHIPPED_SEGMENTERS)


@pytest.mark.parametrize("k", [1, 3])
def test_evaluate_stops_after_scene_batch_k(monkeypatch, networks, k):
    task = FlagTask()
    batches = _cancelling(monkeypatch, compare, "held_out_batch", task, k)
    forwards = []
    handles = [net.module.register_forward_hook(lambda *_: forwards.append(1))
               for net in networks.values()]
    try:
        with pytest.raises(Cancelled):
            compare.evaluate(list(SHIPPED_SEGMENTERS), n=40, batch=4, task=task,
                             networks=networks)
    finally:
        for h in handles:
            h.remove()
    assert len(batches) == k
    # every network ran on the k-1 batches before; none on the batch drawn after the cancel
    assert len(forwards) == (k - 1) * len(SHIPPED_SEGMENTERS)


def test_evaluate_stops_after_network_j_of_a_batch(networks):
    task = FlagTask()
    forwards = []

    def on_forward(*_):
        forwards.append(1)
        if len(forwards) == 2:  # the second network on the first batch
            task.cancel()

    handles = [net.module.register_forward_hook(on_forward) for net in networks.values()]
    try:
        with pytest.raises(Cancelled):
            compare.evaluate(list(SHIPPED_SEGMENTERS), n=40, batch=4, task=task,
                             networks=networks)
    finally:
        for h in handles:
            h.remove()
    assert len(forwards) == 2  # the third network never ran


def test_pixel_fields_stop_after_network_k(monkeypatch, picture, networks):
    preds = run.run_segmenters(list(SHIPPED_SEGMENTERS), picture, networks=networks)
    task = FlagTask()
    calls = _cancelling(monkeypatch, fields, "pixel_field", task, 1)
    with pytest.raises(Cancelled):
        fields.pixel_fields(preds, picture, 40, 70, task=task)
    assert len(calls) == 1


def test_upsampling_stops_after_the_way_under_way(picture, networks):
    from explorer.segment.upsampling import upsampling_demo

    shown = []

    def report(_fraction, message):
        shown.append(message)
        if len(shown) == 2:  # the second way of upsampling has begun
            task.cancel()

    task = FlagTask(report)
    with pytest.raises(Cancelled):
        upsampling_demo(networks["fcn-shapes"], picture, task=task)
    assert len(shown) == 2


def _interrupt_during(monkeypatch, module, name, at):
    """Press Ctrl-C (SIGINT to this process) during call number `at` of module.name."""
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            os.kill(os.getpid(), signal.SIGINT)  # cli_task turns the first into a cancel
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_ctrl_c_during_a_run_exits_130_and_writes_nothing(capsys, tmp_path, monkeypatch):
    from explorer.cli import main

    calls = _interrupt_during(monkeypatch, run, "segment", 1)
    out = tmp_path / "cmp.png"
    code = main(["segment", "--image", "scene:3", "--out", str(out), "--upsampling",
                 str(tmp_path / "up.png")])
    err = capsys.readouterr().err
    assert code == 130 and "cancelled: nothing was written" in err
    assert len(calls) == 1
    assert list(tmp_path.iterdir()) == []  # no figure, no half-written temporary file


def test_ctrl_c_during_eval_exits_130(capsys, monkeypatch):
    from explorer.cli import main

    calls = _interrupt_during(monkeypatch, compare, "held_out_batch", 2)
    code = main(["segment", "--eval", "100", "--json"])
    out, err = capsys.readouterr()
    assert code == 130 and out == "" and "cancelled" in err
    assert len(calls) == 2
