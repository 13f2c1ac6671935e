"""A short, seeded training run lowers the loss, writes a card and weights, and can be
cancelled (the one task contract)."""

import json

import pytest
import torch

from explorer.core.tasks import FlagTask
from explorer.errors import Cancelled, UserError
from explorer.train import train


def test_short_run_lowers_loss_and_writes_files(tmp_path):
    calls = []
    card = train("lenet5-digits", out_dir=tmp_path, epochs=3, n_train=256, n_test=64,
                 task=FlagTask(lambda f, m: calls.append(f)))
    losses = card["loss_per_epoch"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert calls[0] == 0.0 and calls[-1] == 1.0 and calls == sorted(calls)
    state = torch.load(tmp_path / "lenet5-digits.pt", weights_only=True)
    assert state["conv1.weight"].shape == (6, 1, 5, 5)
    saved = json.loads((tmp_path / "lenet5-digits.json").read_text())
    assert saved["reduced_data"] == {"n_train": 256, "n_test": 64}
    assert saved["metrics"]["accuracy"] == card["metrics"]["accuracy"]


def test_same_seed_same_weights(tmp_path):
    a = train("lenet5-digits", out_dir=tmp_path / "a", epochs=1, n_train=64, n_test=16)
    b = train("lenet5-digits", out_dir=tmp_path / "b", epochs=1, n_train=64, n_test=16)
    assert a["loss_per_epoch"] == b["loss_per_epoch"]
    sa = torch.load(tmp_path / "a" / "lenet5-digits.pt", weights_only=True)
    sb = torch.load(tmp_path / "b" / "lenet5-digits.pt", weights_only=True)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_segmenter_short_run(tmp_path):
    # segmenters train under the convergence protocol: --epochs caps the steps
    card = train("fcn-shapes", out_dir=tmp_path, epochs=2, n_train=16, n_test=4)
    assert set(card["metrics"]) == {"mean_iou", "pixel_accuracy", "boundary_f_score",
                                    "boundary_f_score_1px"}
    assert card["steps"] == 4 and card["curve"][-1]["step"] == 4
    assert card["curve"][-1]["train_loss"] < 1.5  # from about ln 6 = 1.8 at the start


def test_cancel_writes_nothing(tmp_path):
    task = FlagTask()
    task.cancel()
    with pytest.raises(Cancelled):
        train("lenet5-digits", out_dir=tmp_path / "new", n_train=64, task=task)
    assert not list(tmp_path.iterdir())  # not even the output folder


def test_unknown_name_lists_the_names():
    with pytest.raises(UserError, match="lenet5-digits"):
        train("resnet-9000")


def test_cli_rejects_unknown_name(capsys):
    from explorer.cli import main

    assert main(["train", "resnet-9000"]) == 2
    assert "unet-shapes" in capsys.readouterr().err
