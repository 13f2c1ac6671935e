"""`cnn-explorer detect` at its boundary: every bad input an adversary can type gives exit
code 2 and exactly one line on stderr, never a traceback, and nothing is written.

Each case is one class of bad input; the report counts them (see CLASSES at the bottom).
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def files(tmp_path):
    """A zoo of bad files."""
    out = {}
    folder = tmp_path / "folder.png"
    folder.mkdir()
    out["folder"] = folder
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    out["fifo"] = fifo
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    out["empty"] = empty
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture\n" * 20)
    out["text"] = text
    locked = tmp_path / "locked.png"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(locked)
    locked.chmod(0)
    out["locked"] = locked
    garbage = tmp_path / "weights.pt"
    garbage.write_bytes(os.urandom(256))
    out["garbage_weights"] = garbage
    small = tmp_path / "small.png"
    PILImage.fromarray(np.zeros((20, 30, 3), np.uint8)).save(small)
    out["small"] = small
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(stat.S_IRUSR | stat.S_IXUSR)
    out["readonly"] = readonly
    out["tmp"] = tmp_path
    yield out
    locked.chmod(0o600)
    readonly.chmod(0o700)



#: (class of bad input, argv with {placeholders}, a word the one line must hold)
CASES = [
    ("no picture and no --eval", ["detect"], "needs --image"),
    ("missing file", ["detect", "--image", "{tmp}/nothing.png"], "no such file"),
    ("folder as picture", ["detect", "--image", "{folder}"], "folder"),
    ("FIFO as picture", ["detect", "--image", "{fifo}"], "pipe"),
    ("device file as picture", ["detect", "--image", "/dev/zero"], "device"),
    ("empty file", ["detect", "--image", "{empty}"], "empty"),
    ("text file named .png", ["detect", "--image", "{text}"], "notes.png"),
    ("over-long file name", ["detect", "--image", "{tmp}/" + "x" * 300 + ".png"], "too long"),
    ("unknown sample", ["detect", "--image", "sample:nothing"], "sample"),
    ("scene that is not a number", ["detect", "--image", "scene:five"], "scene"),
    ("negative scene", ["detect", "--image", "scene:-1"], "scene"),
    ("absurd scene number", ["detect", "--image", "scene:99999999999999"], "scene"),
    ("zero window", ["detect", "--image", "sample:shapes", "--window", "0"], "window"),
    ("negative window", ["detect", "--image", "sample:shapes", "--window", "-8"], "window"),
    ("window not a number", ["detect", "--image", "sample:shapes", "--window", "big"],
     "invalid int"),
    ("absurd window", ["detect", "--image", "sample:shapes", "--window", "100000"], "window"),
    ("window larger than the picture",
     ["detect", "--image", "{small}", "--window", "200", "--scales", "1"], "larger than"),
    ("default window larger than the picture",
     ["detect", "--image", "{small}", "--model", "tinyvgg-shapes", "--scales", "1"],
     "larger than"),
    ("zero stride", ["detect", "--image", "sample:shapes", "--stride", "0"], "stride"),
    ("negative stride", ["detect", "--image", "sample:shapes", "--stride", "-2"], "stride"),
    ("absurd stride", ["detect", "--image", "sample:shapes", "--stride", "9999999"], "stride"),
    ("NaN threshold", ["detect", "--image", "sample:shapes", "--threshold", "nan"],
     "threshold"),
    ("infinite threshold", ["detect", "--image", "sample:shapes", "--threshold", "inf"],
     "threshold"),
    ("threshold above 1", ["detect", "--image", "sample:shapes", "--threshold", "3"],
     "threshold"),
    ("zero IoU", ["detect", "--image", "sample:shapes", "--iou", "0"], "IoU"),
    ("IoU above 1", ["detect", "--image", "sample:shapes", "--iou", "1.5"], "IoU"),
    ("NaN IoU", ["detect", "--image", "sample:shapes", "--iou", "nan"], "IoU"),
    ("scales not numbers", ["detect", "--image", "sample:shapes", "--scales", "1,x"],
     "scales"),
    ("zero scale", ["detect", "--image", "sample:shapes", "--scales", "0,1"], "scale"),
    ("NaN scale", ["detect", "--image", "sample:shapes", "--scales", "nan"], "scale"),
    ("too many scales", ["detect", "--image", "sample:shapes", "--scales", ",".join(["1"] * 40)],
     "scales"),
    ("pyramid that would need terabytes",
     ["detect", "--image", "sample:astronaut", "--window", "4", "--scales", "8"], "memory"),
    ("naive slide of millions of windows",
     ["detect", "--image", "sample:astronaut", "--impl", "naive", "--stride", "1",
      "--scales", "2,1"], "windows"),
    ("zero max proposals", ["detect", "--image", "sample:shapes", "--method", "proposals",
                            "--max-proposals", "0"], "proposals"),
    ("huge max proposals", ["detect", "--image", "sample:shapes", "--method", "proposals",
                            "--max-proposals", "1000000000"], "proposals"),
    ("zero scenes to evaluate", ["detect", "--eval", "0"], "at least 1"),
    ("negative scenes to evaluate", ["detect", "--eval", "-5"], "at least 1"),
    ("absurd scenes to evaluate", ["detect", "--eval", "100000"], "at most 10,000"),
    ("--eval with a picture", ["detect", "--eval", "2", "--image", "sample:shapes"],
     "leave out --image"),
    ("--eval of the face detector", ["detect", "--eval", "2", "--method", "mtcnn"], "faces"),
    ("--eval with a network that knows no shapes",
     ["detect", "--eval", "1", "--method", "sliding", "--model", "lenet5-digits"],
     "shapes classes"),
    ("unknown method", ["detect", "--image", "sample:shapes", "--method", "walk"],
     "invalid choice"),
    ("unknown network", ["detect", "--image", "sample:shapes", "--model", "nonet"],
     "unknown network"),
    ("segmentation network as window classifier",
     ["detect", "--image", "sample:shapes", "--model", "fcn-shapes"], "segment"),
    ("Fast R-CNN head as window classifier",
     ["detect", "--image", "sample:shapes", "--model", "fast-rcnn-shapes"], "Fast R-CNN"),
    ("a classifier with the Fast R-CNN head",
     ["detect", "--image", "sample:shapes", "--method", "proposals", "--model", "vgg16"],
     "--head rcnn"),
    ("a network for MTCNN", ["detect", "--image", "sample:astronaut", "--method", "mtcnn",
                             "--model", "resnet18"], "MTCNN"),
    ("shared slide of a network without a dense form",
     ["detect", "--image", "sample:shapes", "--model", "mtcnn-rnet", "--impl", "shared"],
     "naive"),
    ("missing weights file", ["detect", "--image", "sample:shapes", "--weights",
                              "{tmp}/none.pt"], "no such file"),
    ("FIFO as weights", ["detect", "--image", "sample:shapes", "--weights", "{fifo}"], "pipe"),
    ("garbage weights", ["detect", "--image", "sample:shapes", "--weights",
                         "{garbage_weights}"], "weights.pt"),
    ("output is a folder", ["detect", "--image", "sample:shapes", "--out", "{folder}"],
     "folder"),
    ("output in a missing folder", ["detect", "--image", "sample:shapes", "--out",
                                    "{tmp}/no/such/x.png"], "does not exist"),
    ("output not a PNG", ["detect", "--image", "sample:shapes", "--out", "{tmp}/x.jpg"],
     ".png"),
    ("output with --eval", ["detect", "--eval", "1", "--out", "{tmp}/x.png"], "--out"),
    ("unsupported device", ["detect", "--image", "sample:shapes", "--device", "mps"], "mps"),
    ("nonsense device", ["detect", "--image", "sample:shapes", "--device", "tpu9"], "tpu9"),
]
# (as an ordinary user sees them, also under root: the `unprivileged` fixture)
CASES += [
    ("unreadable picture", ["detect", "--image", "{locked}"], "permission denied"),
    ("output in a read-only folder", ["detect", "--image", "sample:shapes", "--out",
                                      "{readonly}/x.png"], "cannot be written"),
]


@pytest.mark.parametrize("label,argv,word", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line(capsys, files, label, argv, word, unprivileged):
    argv = [a.format(**files) for a in argv]
    before = set(os.listdir(files["tmp"]))
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (label, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, (label, err)
    assert "Traceback" not in err and word.lower() in err.lower(), (label, err)
    assert set(os.listdir(files["tmp"])) == before  # nothing written


def test_at_least_fifteen_classes():
    assert len({c[0] for c in CASES}) >= 15


def test_zero_boxes_say_why(capsys):
    """A right answer, not an error: a threshold nothing reaches gives no box and says why."""
    code = main(["detect", "--image", "scene:5", "--method", "sliding", "--scales", "1",
                 "--threshold", "1"])
    out, err = capsys.readouterr()
    assert code == 0 and "0 box(es)" in out
    assert "No box" in out and "the best was" in out


def test_scene_spec_is_the_held_out_scene(capsys):
    import json

    from explorer.data.shapes import held_out_scene

    code = main(["detect", "--image", "scene:5", "--method", "proposals", "--head", "rcnn",
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["source"] == "scene:5" and data["image"] == "scene:5"
    assert data["size"] == list(held_out_scene(5).image.shape[1::-1])


def test_shapes_network_on_a_photo_says_so(capsys):
    code = main(["detect", "--image", "sample:chelsea", "--scales", "1"])
    out, _ = capsys.readouterr()
    assert code == 0 and "note:" in out and "coloured shapes" in out
