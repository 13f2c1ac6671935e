"""`cnn-explorer live` and `cnn-explorer train` at their boundary: every bad input an
adversary can type gives exit code 2 and exactly one line on stderr, never a traceback,
before any work (nothing is written, no network is trained).

Each case is one class of bad input; the report counts them (LIVE_CASES, TRAIN_CASES).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from torch import nn

from explorer.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


class _Words(nn.Module):
    """A network that answers in words: runs a convolution, returns a string."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        self.conv(x)
        return "a cat"


def _overflowing() -> nn.Module:
    """Finite weights whose sums overflow float32: the output is infinite, then NaN."""
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with torch.no_grad():
        module[0].weight.fill_(3e38)
    return module


@pytest.fixture
def files(tmp_path):
    """A zoo of bad files and folders (the ones a command must not write into sit in
    tmp_path, which each case checks is unchanged)."""
    work = tmp_path / "work"
    work.mkdir()
    out = {"tmp": work}
    folder = work / "folder.mp4"
    folder.mkdir()
    out["folder"] = folder
    fifo = work / "pipe.mp4"
    os.mkfifo(fifo)
    out["fifo"] = fifo
    empty = work / "empty.mp4"
    empty.write_bytes(b"")
    out["empty"] = empty
    text = work / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    out["text"] = text
    garbage = work / "weights.pt"
    garbage.write_bytes(os.urandom(256))
    out["garbage_weights"] = garbage
    a_file = work / "a-file"
    a_file.write_text("x")
    out["file"] = a_file
    taken = work / "taken"
    (taken / "lenet5-digits.pt").mkdir(parents=True)
    out["taken"] = taken
    words = work / "words.pt"
    torch.save(_Words(), words)
    out["words"] = words
    overflow = work / "overflow.pt"
    torch.save(_overflowing(), overflow)
    out["overflow"] = overflow
    yield out


LIVE = ["live", "--device", "cpu", "--threads", "1", "--frames", "2"]

#: (class of bad input, argv with {placeholders}, a word the one line must hold)
LIVE_CASES = [
    ("NaN seconds", [*LIVE, "--seconds", "nan"], "--seconds"),
    ("infinite seconds", [*LIVE, "--seconds", "inf"], "--seconds"),
    ("negative seconds", [*LIVE, "--seconds", "-3"], "--seconds"),
    ("zero seconds", [*LIVE, "--seconds", "0"], "--seconds"),
    ("absurd seconds", [*LIVE, "--seconds", "1e12"], "at most"),
    ("seconds not a number", [*LIVE, "--seconds", "soon"], "--seconds"),
    ("zero frames", ["live", "--frames", "0"], "--frames"),
    ("negative frames", ["live", "--frames", "-1"], "--frames"),
    ("absurd frames", ["live", "--frames", "1e15"], "at most"),
    ("fractional frames", ["live", "--frames", "2.5"], "whole number"),
    ("zero fps", [*LIVE, "--fps", "0"], "--fps"),
    ("NaN fps", [*LIVE, "--fps", "nan"], "--fps"),
    ("absurd fps", [*LIVE, "--fps", "1e9"], "--fps"),
    ("frame size too small", [*LIVE, "--size", "4"], "--size"),
    ("frame size of terabytes", [*LIVE, "--size", "1000000"], "at most 4,096"),
    ("frame size not a number", [*LIVE, "--size", "big"], "--size"),
    ("negative seed", [*LIVE, "--seed", "-1"], "--seed"),
    ("zero threads", ["live", "--threads", "0"], "--threads"),
    ("absurd threads", ["live", "--threads", "100000"], "--threads"),
    ("threads a word", ["live", "--threads", "many"], "--threads"),
    ("unknown colour map", [*LIVE, "--cmap", "jet"], "--cmap"),
    ("Apple GPU device", [*LIVE, "--device", "mps"], "mps"),
    ("meta device (no numbers)", [*LIVE, "--device", "meta"], "meta"),
    ("Intel GPU device", [*LIVE, "--device", "xpu"], "xpu"),
    ("nonsense device", [*LIVE, "--device", "tpu9"], "tpu9"),
    ("missing video file", [*LIVE, "--source", "{tmp}/none.mp4"], "no such video file"),
    ("folder as video", [*LIVE, "--source", "{folder}"], "folder"),
    ("FIFO as video", [*LIVE, "--source", "{fifo}"], "pipe"),
    ("device file as video", [*LIVE, "--source", "/dev/zero"], "device"),
    ("empty video file", [*LIVE, "--source", "{empty}"], "empty"),
    ("text file named .mp4", [*LIVE, "--source", "{text}"], "not a video"),
    ("over-long video name", [*LIVE, "--source", "{tmp}/" + "v" * 300 + ".mp4"], "too long"),
    ("camera that does not exist", [*LIVE, "--source", "camera:99"], "camera 99"),
    ("negative camera number", [*LIVE, "--source", "-1"], "camera number"),
    ("absurd camera number", [*LIVE, "--source", "camera:99999999999999"], "camera number"),
    ("camera number a word", [*LIVE, "--source", "camera:front"], "camera number"),
    ("unknown layer", [*LIVE, "--layer", "conv99"], "no layer"),
    ("unknown network", [*LIVE, "--model", "nonet"], "unknown network"),
    ("garbage weights", [*LIVE, "--weights", "{garbage_weights}"], "weights.pt"),
    ("FIFO as weights", [*LIVE, "--weights", "{fifo}"], "pipe"),
    ("pickled module without --trust-pickle", [*LIVE, "--model", "file", "--weights",
                                               "{words}"], "trust"),
    ("network that returns words, not tensors",
     [*LIVE, "--model", "file", "--weights", "{words}", "--trust-pickle"], "not a tensor"),
    ("network whose output overflows to NaN/infinity",
     [*LIVE, "--model", "file", "--weights", "{overflow}", "--trust-pickle"], "output holds"),
    ("--out is a folder", [*LIVE, "--out", "{folder}"], "folder"),
    ("--out in a missing folder", [*LIVE, "--out", "{tmp}/no/such/x.png"], "does not exist"),
    ("--out not a PNG", [*LIVE, "--out", "{tmp}/x.jpg"], ".png"),
    ("--out on a device", [*LIVE, "--out", "/dev/null"], "device"),
]

TRAIN_CASES = [
    ("unknown network to train", ["train", "resnet-9000"], "choose one of"),
    ("empty network name", ["train", ""], "choose one of"),
    ("a network that cannot be trained here", ["train", "resnet18"], "choose one of"),
    ("zero epochs", ["train", "lenet5-digits", "--epochs", "0"], "--epochs"),
    ("negative epochs", ["train", "lenet5-digits", "--epochs", "-4"], "--epochs"),
    ("NaN epochs", ["train", "lenet5-digits", "--epochs", "nan"], "--epochs"),
    ("absurd epochs", ["train", "lenet5-digits", "--epochs", "1e9"], "at most"),
    ("fractional epochs", ["train", "lenet5-digits", "--epochs", "2.5"], "whole number"),
    ("epochs a word", ["train", "lenet5-digits", "--epochs", "ten"], "--epochs"),
    ("output folder is a file", ["train", "lenet5-digits", "--out", "{file}"], "not a folder"),
    ("output folder is a device", ["train", "lenet5-digits", "--out", "/dev/null"],
     "not a folder"),
    ("output folder in a missing folder", ["train", "lenet5-digits", "--out",
                                           "{tmp}/no/such"], "does not exist"),
    ("output folder that cannot be written", ["train", "lenet5-digits", "--out", "/proc"],
     "cannot be written"),
    ("output folder that cannot be made", ["train", "lenet5-digits", "--out",
                                           "/proc/weights"], "cannot be made"),
    ("weights file name taken by a folder", ["train", "lenet5-digits", "--out", "{taken}"],
     "folder"),
    ("over-long output folder name", ["train", "lenet5-digits", "--out",
                                      "{tmp}/" + "w" * 300], "too long"),
    ("'all' into a file", ["train", "all", "--out", "{file}"], "not a folder"),
    ("empty output folder name", ["train", "lenet5-digits", "--out", ""], "no output given"),
]


def _run(capsys, files, argv):
    argv = [a.format(**files) for a in argv]
    before = sorted(p.relative_to(files["tmp"]) for p in files["tmp"].rglob("*"))
    code = main(argv)
    out, err = capsys.readouterr()
    after = sorted(p.relative_to(files["tmp"]) for p in files["tmp"].rglob("*"))
    return code, out, err, before == after


@pytest.mark.parametrize("label,argv,word", LIVE_CASES + TRAIN_CASES,
                         ids=[c[0] for c in LIVE_CASES + TRAIN_CASES])
def test_bad_input_gives_one_line(capsys, files, monkeypatch, label, argv, word):
    from explorer.train import loop

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the bad input was found")

    monkeypatch.setattr(loop, "augment", no_training)
    code, out, err, unchanged = _run(capsys, files, argv)
    assert code == 2, (label, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, (label, err)
    assert "Traceback" not in err and word.lower() in err.lower(), (label, err)
    assert unchanged, (label, "something was written")


def test_at_least_ten_classes_each():
    assert len({c[0] for c in LIVE_CASES}) >= 10
    assert len({c[0] for c in TRAIN_CASES}) >= 10


# --- right answers, not errors ---------------------------------------------------------

def test_a_segmenter_in_live_shows_maps_and_says_there_is_no_top5(capsys):
    code = main([*LIVE, "--model", "fcn-shapes", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["top5"] == [] and len(data["shape"]) == 3
    assert "not a classifier" in data["note"]


def test_random_weights_in_live_are_said(capsys):
    code = main([*LIVE, "--model", "resnet18", "--size", "32"])  # never downloaded here
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "random weights" in out and "meaningless" in out


def test_a_video_file_runs_to_its_end(tmp_path, capsys):
    import cv2

    from explorer.live.sources import SyntheticSource

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (48, 48))
    for i in range(4):
        frame = SyntheticSource((48, 48)).frame_at(i)
        writer.write((frame[..., ::-1] * 255).round().astype(np.uint8))
    writer.release()
    code = main(["live", "--device", "cpu", "--threads", "1", "--source", str(path),
                 "--unpaced", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and 1 <= data["frames"] <= 4 and data["source"] == "clip.avi"
    assert "drawn shapes" in data["note"]  # tinyvgg-shapes shown a video
