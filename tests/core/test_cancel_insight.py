"""Cancelling the insight tools, counted, never timed: a task cancelled after unit k of the
work (a gallery batch, a batch of variants, a layer pair, an optimiser step, a picture of
a folder) sees at most one more unit run, then :class:`~explorer.errors.Cancelled`; the
command line exits 130 and writes nothing."""

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer.app.networks import load_network
from explorer.app.pictures import open_picture
from explorer.core.tasks import FlagTask
from explorer.errors import Cancelled
from explorer.insight import neighbours as nb


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))
    nb.clear_memory()
    yield
    nb.clear_memory()


def counting(monkeypatch, module, name):
    """Wrap module.name so that its calls are counted; returns the list of calls."""
    calls = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.parametrize("k", [1, 3])
def test_gallery_features_stop_after_batch_k(monkeypatch, k):
    net = load_network("tinyvgg-shapes")
    batches = counting(monkeypatch, nb, "hidden_features")
    task = FlagTask()
    task._report = lambda fraction, message: (
        task.cancel() if len(batches) == k else None)
    with pytest.raises(Cancelled):
        nb.gallery_features(net, "shapes", batch_size=10, task=task, use_disk=False)
    assert k <= len(batches) <= k + 1  # 30 batches in all
    # nothing was remembered: the next call computes afresh
    assert nb.gallery_features(net, "shapes", batch_size=100, use_disk=False).source == \
        "computed"


@pytest.mark.parametrize("k", [1, 2])
def test_augment_stops_after_batch_k(monkeypatch, k):
    from explorer.insight import augment

    net = load_network("tinyvgg-shapes")
    passes = counting(monkeypatch, augment, "batch_input")  # once per batch
    task = FlagTask()
    task._report = lambda fraction, message: task.cancel() if len(passes) == k else None
    with pytest.raises(Cancelled):
        augment.augment_preview(net, open_picture("sample:shape-crop"), task=task,
                                batch_size=2)
    assert k <= len(passes) <= k + 1  # 9 batches of two variants in all


@pytest.mark.parametrize("k", [2, 5])
def test_compare_stops_after_layer_pair_k(monkeypatch, k):
    from explorer.insight import compare

    pairs = counting(monkeypatch, compare, "similarity")
    task = FlagTask()
    task._report = lambda fraction, message: task.cancel() if len(pairs) == k else None
    net = load_network("tinyvgg-shapes")
    with pytest.raises(Cancelled):
        compare.compare_networks(net, net, open_picture("sample:shape-crop"), task=task)
    assert k <= len(pairs) <= k + 1


@pytest.mark.parametrize("mode, k", [("head", 1), ("head", 4), ("full", 2)])
def test_finetune_stops_after_step_k(mode, k):
    from explorer.insight.finetune import finetune, load_task

    net = load_network("lenet5-digits")
    before = {n: t.clone() for n, t in net.module.state_dict().items()}
    steps = []
    task = FlagTask()

    def step(s, total, loss):
        steps.append(s)
        if s == k:
            task.cancel()

    data = load_task("digits-odd-even", n_train=8, n_test=4)
    with pytest.raises(Cancelled):
        finetune(net, data, mode=mode, epochs=10, batch_size=4, task=task, on_step=step)
    assert steps == list(range(1, k + 1))  # the check before step k + 1 raised
    # the network handed in was never touched
    assert all(torch.equal(net.module.state_dict()[n], t) for n, t in before.items())


def test_folder_task_stops_after_picture_k(tmp_path):
    from explorer.insight.finetune import load_task

    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            PILImage.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    read = []
    task = FlagTask()
    task._report = lambda fraction, message: (read.append(message),
                                              task.cancel() if len(read) == 3 else None)
    with pytest.raises(Cancelled):
        load_task(tmp_path, task=task)
    assert len(read) == 3  # 12 pictures in all; the check before the 4th raised


class _CancelAfter(FlagTask):
    """A command-line task whose person presses Ctrl-C after `n` checks."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def check(self):
        if self.checks >= self.n:
            self.cancel()
        super().check()


def _ctrl_c_after(monkeypatch, n):
    from contextlib import contextmanager

    from explorer.commands import progress

    made = []

    @contextmanager
    def fake(quiet=False):
        task = _CancelAfter(n)
        made.append(task)
        yield task

    monkeypatch.setattr(progress, "cli_task", fake)
    return made


@pytest.mark.parametrize("argv, out", [
    (["finetune", "-m", "lenet5-digits", "--data", "digits-odd-even", "--n-train", "8",
      "--n-test", "4", "--epochs", "20", "--batch-size", "4"], "--save=ft.pt"),
    (["neighbours", "-i", "sample:shape-crop", "--gallery", "shapes", "--no-cache"],
     "--out=nb.png"),
    (["augment", "-i", "sample:shape-crop"], "--out=aug.png"),
    (["compare", "-i", "sample:shape-crop", "--model-b", "lenet5-digits"], None),
])
def test_ctrl_c_exits_130_and_writes_nothing(monkeypatch, capsys, tmp_path, argv, out):
    from explorer.cli import main

    made = _ctrl_c_after(monkeypatch, 3)
    if out is not None:
        flag, name = out.split("=")
        argv = [*argv, flag, str(tmp_path / name)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 130 and "cancelled: nothing was written" in err
    assert made and made[0].cancelled
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []
