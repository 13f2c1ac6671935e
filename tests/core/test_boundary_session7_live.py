"""`cnn-explorer live` at its boundary, second pass: short videos give every frame, a slow
--fps cannot hang the run, a cut or garbage video is one line on stderr (no FFmpeg or
OpenCV log above it), blanks and contradictions are refused, and odd camera numbers and
frame sizes are sentences, not tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from argparse import Namespace

import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.core.tasks import FlagTask
from explorer.errors import Cancelled, UserError
from explorer.live import sources
from explorer.live.engine import Grabber, LiveEngine
from explorer.live.sources import SyntheticSource, VideoFileSource, open_source

LIVE = ["live", "--device", "cpu", "--threads", "1"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _video(path, n: int, size: int = 48, fourcc: str = "MJPG"):
    """An n-frame video of moving shapes at 20 fps."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 20.0, (size, size))
    assert writer.isOpened()
    synth = SyntheticSource((size, size), seed=1)
    for i in range(n):
        writer.write((synth.frame_at(i)[..., ::-1] * 255).round().astype(np.uint8))
    writer.release()
    return path


def _main_within(argv, seconds: float = 60.0) -> int:
    """main(argv), failing (not hanging) when it takes longer than `seconds`: a slow
    --fps once kept the run waiting for a frame for 1000 s."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"{argv} still ran after {seconds:g} s"
    return result[0]


def _one_line(capsys, argv, code: int = 2) -> str:
    got = _main_within(argv)
    out, err = capsys.readouterr()
    assert got == code, (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
    return lines[0]


# --- 1. short videos: every frame, the first one too ----------------------------------

@pytest.mark.parametrize("n", [1, 2, 3])
def test_a_short_video_gives_all_its_frames(tmp_path, n):
    # seeking back to frame 0 after the test read says it worked, but on a 1-frame file
    # it did not: the file gave no frames at all
    src = VideoFileSource(_video(tmp_path / f"v{n}.avi", n))
    with src:
        got = []
        while (frame := src.read()) is not None:
            got.append(frame)
    assert len(got) == n
    want = SyntheticSource((48, 48), seed=1).frame_at(0)
    assert np.abs(got[0] - want).mean() < 0.03  # the first frame is frame 0, in RGB


def test_a_one_frame_video_loops(tmp_path):
    src = VideoFileSource(_video(tmp_path / "one.avi", 1), loop=True)
    with src:
        assert all(src.read() is not None for _ in range(5))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_live_shows_every_frame_of_a_short_video(tmp_path, capsys, n):
    # --fps 4: a frame every 0.25 s, so none is dropped however busy the machine is
    path = _video(tmp_path / f"v{n}.avi", n)
    code = _main_within([*LIVE, "--source", str(path), "--fps", "4", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    assert json.loads(out)["frames"] == n


# --- 2. a slow --fps ends with the run, or is refused ---------------------------------

@pytest.mark.parametrize("argv,word", [
    (["--fps", "0.001"], "every 1,000 s"),  # the default --seconds 5
    (["--frames", "2", "--fps", "0.0001"], "10,000 s"),
    (["--fps", "0.05", "--seconds", "2"], "--seconds 2"),
    (["--frames", "10", "--fps", "1"], "lower --frames"),  # 9 s of frames in a 5 s run
])
def test_a_frame_gap_longer_than_the_run_is_refused(capsys, argv, word):
    assert word in _one_line(capsys, [*LIVE, *argv])


@pytest.mark.parametrize("fps", ["0.001", "1e-300", "5e-324"])
def test_one_frame_at_any_slow_pace_ends_at_once(capsys, fps):
    # a gap past threading.TIMEOUT_MAX made the grabber's wait raise OverflowError
    code = _main_within([*LIVE, "--frames", "1", "--fps", fps, "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    assert json.loads(out)["frames"] == 1


@pytest.mark.parametrize("pace", [1e-300, 5e-324])
def test_the_grabber_waits_any_gap_and_hears_stop(pace):
    # a wait past threading.TIMEOUT_MAX raised OverflowError on the grabber's thread (a
    # traceback on stderr); run here on the test's thread so an error fails the test
    grabber = Grabber(SyntheticSource((16, 16)), pace=pace)
    threading.Timer(0.3, grabber.stop).start()
    t0 = time.perf_counter()
    grabber._read_all()
    assert grabber.frames_read == 1 and time.perf_counter() - t0 < 5.0


def test_the_seconds_clock_runs_while_waiting_for_a_slow_frame():
    # a frame every 4 s and a 0.5 s run: the clock starts at the first frame shown, not
    # when the second frame arrives (which made the run 4.5 s long, and 1000 s at 0.001)
    engine = LiveEngine(_tiny(), device="cpu", copy_network=False, threads=1)
    t0 = time.perf_counter()
    n = engine.run(SyntheticSource((32, 32)), pace=0.25, seconds=0.5)
    assert n == 1 and time.perf_counter() - t0 < 3.0


def test_a_cancel_is_heard_while_waiting_for_a_slow_frame():
    engine = LiveEngine(_tiny(), device="cpu", copy_network=False, threads=1)
    task = FlagTask()
    threading.Timer(0.5, task.cancel).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        engine.run(SyntheticSource((32, 32)), pace=1e-6, seconds=1000.0, task=task)
    assert time.perf_counter() - t0 < 5.0


def _tiny():
    from torch import nn

    from explorer.core.network import Network

    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                           nn.Flatten(), nn.Linear(4, 2)).eval()
    return Network(module, "tiny", "classify", (16, 16), 3, (0.5,) * 3, (0.25,) * 3,
                   ["a", "b"])


# --- 3. a cut or garbage video: the error line alone ----------------------------------

_OPEN_ALL = """
import sys
from explorer.errors import UserError
from explorer.live.sources import VideoFileSource
for path in sys.argv[1:]:
    try:
        VideoFileSource(path).open()
        print("opened", path)
    except UserError as exc:
        print("refused", exc)
"""


@pytest.fixture
def broken(tmp_path):
    """Videos cut short at several places, and random bytes named .avi."""
    mp4 = _video(tmp_path / "full.mp4", 6, 64, "mp4v").read_bytes()
    avi = _video(tmp_path / "full.avi", 6, 64).read_bytes()
    paths = []
    for name, data, cuts in (("mp4", mp4, (100, 300, 600, len(mp4) // 2)),
                             ("avi", avi, (300, 1000))):
        for cut in cuts:
            path = tmp_path / f"cut{cut}.{name}"
            path.write_bytes(data[:cut])
            paths.append(path)
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    return [*paths, garbage]


def test_cut_and_garbage_videos_log_nothing(broken):
    # in a fresh process: OpenCV reads FFmpeg's log level when it first opens a video
    run = subprocess.run([sys.executable, "-c", _OPEN_ALL, *map(str, broken)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr  # "moov atom not found", "[ERROR:0@0.04] ..."
    assert run.stdout.count("refused") == len(broken), run.stdout


def test_a_cut_video_is_one_line_from_the_command(broken):
    run = subprocess.run([sys.executable, "-m", "explorer", *LIVE, "--source",
                          str(broken[0])], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines() == [f"error: {broken[0]}: not a video OpenCV can read"]


# --- 4. blanks and contradictions -----------------------------------------------------

def _args(**kw) -> Namespace:
    base = {"threads": "1", "cmap": "viridis", "source": "synthetic", "layer": None,
            "seconds": 5.0, "frames": None, "size": 128, "seed": 0, "fps": None,
            "unpaced": False}
    return Namespace(**{**base, **kw})


@pytest.mark.parametrize("kw,word", [
    ({"source": ""}, "no --source"),
    ({"source": "  "}, "no --source"),
    ({"layer": ""}, "no --layer"),
    ({"layer": " "}, "no --layer"),
    ({"fps": "5", "unpaced": True}, "contradict"),
])
def test_live_settings_refuse_blanks_and_contradictions(kw, word):
    from explorer.commands.live import live_settings

    with pytest.raises(UserError, match=word):
        live_settings(_args(**kw))


@pytest.mark.parametrize("argv,word", [
    (["--source", ""], "source"),
    (["--source", " "], "source"),
    (["--layer", ""], "layer"),
    (["--fps", "5", "--unpaced"], "--unpaced"),
])
def test_blank_options_and_contradictions_are_one_line(capsys, argv, word):
    assert word in _one_line(capsys, [*LIVE, *argv])


def test_open_source_refuses_a_blank():
    with pytest.raises(UserError, match="no source"):
        open_source("  ")


# --- adversarial: camera numbers, frame sizes -----------------------------------------

@pytest.mark.parametrize("spec,word", [
    ("camera:-1", "at least 0"),
    ("camera:1e9", "camera number expected"),
    ("camera:+-1", "camera number expected"),
    ("camera:²", "camera number expected"),  # a digit int() refuses
    ("9" * 5000, "0 to 99"),  # int() refuses 4,300 digits
    ("camera:-" + "9" * 5000, "0 to 99"),
], ids=["negative", "exponent", "two signs", "superscript", "5000 digits",
        "5000 digits negative"])
def test_odd_camera_numbers_are_sentences(spec, word):
    with pytest.raises(UserError, match=word):
        open_source(spec)


def test_an_enormous_frame_size_is_refused_before_decoding(tmp_path, capsys, monkeypatch):
    # a real 64-megapixel video takes gigabytes to make: lower the limit instead
    monkeypatch.setattr(sources, "MAX_VIDEO_PIXELS", 47 * 47)
    path = _video(tmp_path / "big.avi", 2)
    line = _one_line(capsys, [*LIVE, "--source", str(path)])
    assert "48 x 48 pixels" in line and "2,209" in line


class _EmptyFrames:
    """A capture that opens but decodes 0 x 0 frames."""

    def __init__(self, *args):
        self.released = False

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return not self.released

    def get(self, prop):
        return 0.0

    def read(self):
        return True, np.zeros((0, 0, 3), np.uint8)

    def release(self):
        self.released = True


def test_a_video_of_empty_frames_is_not_a_video(tmp_path, monkeypatch):
    import cv2

    path = _video(tmp_path / "empty-frames.avi", 2)
    monkeypatch.setattr(cv2, "VideoCapture", _EmptyFrames)
    with pytest.raises(UserError, match="not a video"):
        VideoFileSource(path).open()
