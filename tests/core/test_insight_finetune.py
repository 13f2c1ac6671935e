"""Transfer learning: the loss falls, head mode leaves the trunk bitwise as it was, full
mode moves it, the original network is never touched."""

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer.errors import UserError
from explorer.insight.finetune import TaskData, finetune, load_task
from explorer.nets.registry import load_network


def light_vs_dark(n: int = 24, size: int = 64) -> TaskData:
    """Noise pictures, half of them lighter: a task any trunk's features can separate."""
    g = torch.Generator().manual_seed(0)

    def draw(k):
        y = torch.arange(k) % 2
        x = torch.rand(k, 3, size, size, generator=g) * 0.5 + 0.35 * y.view(-1, 1, 1, 1)
        return x, y

    xtr, ytr = draw(n)
    xte, yte = draw(n // 2)
    return TaskData("light-dark", ["dark", "light"], xtr, ytr, xte, yte, "test task")


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_head_mode_learns_and_leaves_the_trunk_bitwise_unchanged():
    torch.manual_seed(0)
    net = load_network("tinyvgg-shapes")
    before = state(net.module)
    steps = []
    task = load_task("shapes-round-pointed", n_train=12, n_test=8)
    r = finetune(net, task, mode="head", epochs=8, batch_size=8,
                 on_step=lambda s, t, loss: steps.append((s, t)))
    assert steps[0] == (1, 24) and steps[-1] == (24, 24) and len(r.losses) == 24
    assert np.mean(r.losses[-3:]) < 0.6 * np.mean(r.losses[:3])
    assert r.train_accuracy >= 0.9 and r.accuracy_after >= 0.75
    after = r.network.module.state_dict()
    for k, v in before.items():
        if not k.startswith("classifier.fc2."):
            assert torch.equal(after[k], v), k  # weights and batch-norm statistics
    assert after["classifier.fc2.weight"].shape == (2, 128)
    assert all(c.weight_change == 0.0 for c in r.layer_changes)
    assert r.network.class_names == ["round", "pointed"]
    assert r.network.weights_source == "fine-tuned"
    # the network handed in is untouched, still with its six classes
    assert all(torch.equal(net.module.state_dict()[k], v) for k, v in before.items())
    assert net.module.classifier.fc2.out_features == 6


def test_full_mode_moves_the_trunk_and_later_layers_move_more():
    torch.manual_seed(0)
    net = load_network("lenet5-digits")
    data = light_vs_dark(size=32)
    r = finetune(net, data, mode="full", epochs=3, batch_size=8, probe=None)
    assert r.first_conv == "conv1" and r.first_conv_change > 0
    changes = {c.name: c.weight_change for c in r.layer_changes}
    assert set(changes) == {"conv1", "conv2", "conv3", "fc1"}
    assert all(v > 0 for v in changes.values())
    assert not torch.equal(r.network.module.conv1.weight, net.module.conv1.weight)


def test_cancel_probe_and_bad_input():
    from explorer.core.images import Image
    from explorer.core.tasks import FlagTask
    from explorer.errors import Cancelled

    net = load_network("lenet5-digits")
    calls = []
    task = FlagTask()

    def step(*a):
        calls.append(a)
        if len(calls) == 2:
            task.cancel()

    with pytest.raises(Cancelled):
        finetune(net, light_vs_dark(size=32), mode="head", epochs=5, batch_size=4,
                 task=task, on_step=step)
    assert len(calls) == 2  # the step after the cancel never ran
    r = finetune(net, light_vs_dark(size=32), mode="head", epochs=1, batch_size=4,
                 probe=Image(np.full((32, 32, 3), 0.5, np.float32), "grey", None, ""))
    assert r.activation_changes and r.activation_changes[0][0] == "conv1"
    # head mode: every layer before the head answers the probe exactly as before
    assert all(rel == pytest.approx(0.0, abs=1e-6) for name, _, rel in
               r.activation_changes if name not in ("fc2",) and rel is not None)
    assert len(r.probe_before) == 5 and len(r.probe_after) == 2
    with pytest.raises(UserError, match="mode"):
        finetune(net, light_vs_dark(size=32), mode="half")
    with pytest.raises(UserError, match="learning rate"):
        finetune(net, light_vs_dark(size=32), lr=float("nan"))
    with pytest.raises(UserError, match="epochs"):
        finetune(net, light_vs_dark(size=32), epochs=0)
    with pytest.raises(UserError, match="neither a task"):
        load_task("nowhere")


def test_shipped_task_and_folder_task(tmp_path):
    d = load_task("shapes-round-pointed", n_train=6, n_test=4)
    assert d.class_names == ["round", "pointed"]
    assert d.y_train.bincount().tolist() == [6, 6] and d.y_test.bincount().tolist() == [4, 4]
    assert d.x_train.shape == (12, 3, 64, 64)
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            PILImage.fromarray(rng.integers(0, 255, (20, 30, 3), np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    f = load_task(tmp_path)
    assert f.class_names == ["a", "b"]
    assert len(f.y_train) == 8 and len(f.y_test) == 2  # every fifth held out
    (tmp_path / "flat").mkdir()
    PILImage.fromarray(rng.integers(0, 255, (8, 8, 3), np.uint8)).save(
        tmp_path / "flat" / "x.png")
    with pytest.raises(UserError, match="subfolder"):
        load_task(tmp_path / "flat")


def test_held_out_pictures_are_never_trained_on(tmp_path):
    """Two pictures per class: one trained on, the other held out (the split used to
    fall back to testing on a training picture when no class had five)."""
    from explorer.insight.finetune import held_out

    assert held_out(2) == [1] and held_out(4) == [3] and held_out(5) == [4]
    assert held_out(11) == [4, 9]
    colours = {"red": (200, 30, 30), "blue": (30, 30, 200)}
    for cls, rgb in colours.items():
        (tmp_path / cls).mkdir()
        for i in range(2):
            a = np.zeros((16, 16, 3), np.uint8)
            a[...] = rgb
            a[i, i] = 255  # each picture differs from the other of its class
            PILImage.fromarray(a).save(tmp_path / cls / f"{i}.png")
    f = load_task(tmp_path)
    assert f.y_train.tolist() == [0, 1] and f.y_test.tolist() == [0, 1]
    for x in f.x_test:  # no held-out picture is among the training pictures
        assert not any(torch.equal(x, t) for t in f.x_train)
    # a class with one picture cannot be both trained on and tested: one clear line
    (tmp_path / "green").mkdir()
    PILImage.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / "green" / "0.png")
    with pytest.raises(UserError, match="'green' has 1 picture; every class needs at least 2"):
        load_task(tmp_path)
