"""Cancelling detection, counted not timed: a task cancelled at its k-th check lets at most
one more unit of work run (a batch of windows, a pyramid level, a batch of proposals, a
scene, a training step), and the command line turns it into exit code 130 with nothing
written."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.tasks import FlagTask
from explorer.data import shapes
from explorer.detect.classifier import from_network
from explorer.errors import Cancelled
from explorer.nets.registry import load_network

pytestmark = pytest.mark.usefixtures("one_thread")


class CancelAt(FlagTask):
    """Cancelled by the person just before its `k`-th check, so that check raises."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def check(self) -> None:
        if self.checks + 1 >= self.k:
            self.cancel()
        super().check()


def _count(obj, name: str) -> list:
    """Wrap obj.name so each call is counted (one call = one unit of work)."""
    calls: list = []
    real = getattr(obj, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    setattr(obj, name, counted)
    return calls


@pytest.fixture(scope="module")
def tiny():
    return load_network("tinyvgg-shapes")


@pytest.mark.parametrize("k", [1, 3, 7])
def test_naive_slide_stops_at_window_batch_k(tiny, k):
    from explorer.detect.sliding import slide

    clf = from_network(tiny)
    units = _count(clf, "score_maps")  # one call per batch of context crops
    task = CancelAt(k)
    with pytest.raises(Cancelled):
        slide(clf, shapes.held_out_scene(1).image, impl="naive", scales=[1.0], task=task)
    assert task.checks == k
    assert len(units) <= k  # k - 1 batches ran before the k-th check, none after


@pytest.mark.parametrize("k", [1, 2, 4])
def test_shared_slide_stops_at_level_k(tiny, k):
    from explorer.detect.sliding import slide

    clf = from_network(tiny)
    units = _count(clf, "score_map")  # one call per pyramid level
    task = CancelAt(k)
    with pytest.raises(Cancelled):
        slide(clf, shapes.held_out_scene(2).image, impl="shared",
              scales=[2.0, 1.6, 1.25, 1.0, 0.8], task=task)
    assert len(units) == k - 1


@pytest.mark.parametrize("k", [1, 2, 5])
def test_rcnn_stops_at_proposal_batch_k(tiny, k):
    from explorer.detect.proposals import random_boxes
    from explorer.detect.rcnn import rcnn_detect

    clf = from_network(tiny)
    units = _count(clf, "scores")
    boxes = random_boxes(64 * 8, 128, 128, seed=0)  # 8 batches of 64
    task = CancelAt(k)
    with pytest.raises(Cancelled):
        rcnn_detect(clf, shapes.held_out_scene(3).image, boxes, task=task)
    assert len(units) == k - 1


def test_fast_rcnn_stops_before_its_head():
    from explorer.detect.fast_rcnn import fast_rcnn_detect
    from explorer.detect.proposals import random_boxes

    net = load_network("fast-rcnn-shapes")
    heads: list = []
    net.module.head.register_forward_hook(lambda *_: heads.append(1))
    task = CancelAt(2)  # the trunk runs, the head does not
    with pytest.raises(Cancelled):
        fast_rcnn_detect(net.module, shapes.held_out_scene(3).image,
                         random_boxes(50, 128, 128), task=task)
    assert heads == []


@pytest.mark.parametrize("k", [1, 3])
def test_mtcnn_stops_at_pyramid_level_k(monkeypatch, k):
    from skimage import data

    from explorer.detect import mtcnn

    pnet, rnet, onet = mtcnn._stages("cpu")
    levels = []

    class Counted(torch.nn.Module):
        def forward(self, x):
            levels.append(1)
            return pnet(x)

    monkeypatch.setattr(mtcnn, "_stages", lambda device: (Counted(), rnet, onet))
    task = CancelAt(k)
    with pytest.raises(Cancelled):
        mtcnn.detect_faces(data.astronaut(), task=task)
    # check 1 is "Loading MTCNN"; check 1 + i comes before pyramid level i
    assert len(levels) <= max(0, k - 2) + 1


@pytest.mark.parametrize("k", [1, 4])
def test_evaluation_stops_at_scene_k(k):
    from explorer.detect.evaluate import evaluate_on_scenes

    scenes = []

    def detect(image):
        scenes.append(1)
        return torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long)

    task = CancelAt(k)
    with pytest.raises(Cancelled):
        evaluate_on_scenes(detect, 100, shapes.CLASSES, task=task)
    assert len(scenes) == k - 1


def test_evaluation_makes_scenes_lazily(monkeypatch):
    """`--eval 10000` must not draw 10,000 scenes before the first is scored."""
    from explorer.detect.evaluate import held_out_scenes

    drawn = []
    real = shapes.held_out_scene
    monkeypatch.setattr(shapes, "held_out_scene",
                        lambda i, size=128: drawn.append(i) or real(i, size))
    gen = held_out_scenes(10_000)
    first = next(gen)
    assert drawn == [0] and np.array_equal(first.image, real(0).image)


def test_detector_evaluation_checks_inside_each_scene(tiny):
    """pipeline.evaluate passes the task into each scene's detection too: a cancel in the
    middle of scene 1's slide stops it there."""
    from explorer.detect.pipeline import DetectConfig, evaluate

    task = CancelAt(3)  # 1: before scene 1, 2: first level of its slide, 3: the second
    with pytest.raises(Cancelled):
        evaluate(DetectConfig(method="sliding", impl="shared"), 50, task, network=tiny)
    assert task.checks == 3


def test_training_stops_at_scene_k(tmp_path):
    from explorer import PRETRAINED
    from explorer.detect import fast_rcnn_train

    assert (PRETRAINED / "tinyvgg-shapes.pt").exists(), "the repository ships its weights"
    task = CancelAt(3)
    with pytest.raises(Cancelled):
        fast_rcnn_train.train_fast_rcnn(tmp_path / "out", epochs=1, task=task, n_train=20,
                                        n_test=1)
    assert task.checks == 3 and not (tmp_path / "out").exists()


def test_cli_cancel_exits_130_and_writes_nothing(monkeypatch, capsys, tmp_path):
    """The first Ctrl-C cancels the command's task: exit 130, no --out file."""
    from contextlib import contextmanager

    from explorer.cli import main
    from explorer.commands import progress

    made = []

    @contextmanager
    def cancelled_task(quiet=False):
        task = CancelAt(2)  # opening the network checks once; the slide's first check stops
        made.append(task)
        yield task

    monkeypatch.setattr(progress, "cli_task", cancelled_task)
    out = tmp_path / "boxes.png"
    code = main(["detect", "--image", "scene:1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 130 and "cancelled" in err and not out.exists()
    assert made and made[0].checks == 2
    assert list(tmp_path.iterdir()) == []


def test_cli_eval_cancel_at_scene_k_exits_130(monkeypatch, capsys):
    """``detect --eval`` checks its task before every scene (and inside each): a Ctrl-C
    at scene 2 of 10,000 stops it there, with exit code 130."""
    from contextlib import contextmanager

    from explorer.cli import main
    from explorer.commands import progress
    from explorer.detect import evaluate

    scenes = []
    real = evaluate.held_out_scenes

    def counted(n, seed=None, size=128):
        for scene in real(n, seed, size):
            scenes.append(1)
            yield scene

    monkeypatch.setattr(evaluate, "held_out_scenes", counted)

    class CancelAtSecondScene(FlagTask):
        def progress(self, fraction: float, message: str = "") -> None:
            if "scene 2/" in message:
                self.cancel()

    @contextmanager
    def task_cancelled_at_scene_two(quiet=False):
        yield CancelAtSecondScene()

    monkeypatch.setattr(progress, "cli_task", task_cancelled_at_scene_two)
    code = main(["detect", "--eval", "10000", "--method", "proposals", "--head", "fast-rcnn"])
    assert code == 130 and "cancelled" in capsys.readouterr().err
    assert len(scenes) == 2  # scene 1 scored; scene 2 drawn, then the check stopped it
