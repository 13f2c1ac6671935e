"""The boundary of `cnn-explorer segment`: every bad input an adversary can think of gets
exit code 2, exactly one line on stderr and no traceback, before any work starts and
without writing anything."""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.cli import main

LONG = "x" * 300 + ".png"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Bad files of every kind, made once."""
    d = tmp_path_factory.mktemp("bad")
    os.mkfifo(d / "fifo")
    (d / "empty.png").write_bytes(b"")
    (d / "junk.png").write_bytes(b"this is not a picture")
    (d / "folder").mkdir()
    PILImage.fromarray(np.zeros((50, 60), np.uint8)).save(d / "small_mask.png")
    colour = np.zeros((128, 128, 3), np.uint8)
    colour[..., 0] = 200
    PILImage.fromarray(colour).save(d / "colour_mask.png")
    PILImage.fromarray(np.full((128, 128), 9, np.uint8)).save(d / "nine_mask.png")
    negative = np.zeros((128, 128), np.int32)
    negative[0, 0] = -1
    PILImage.fromarray(negative, mode="I").save(d / "negative_mask.tif")
    PILImage.fromarray(np.full((128, 128), 0.5, np.float32), mode="F").save(
        d / "fraction_mask.tif")
    # a PNG whose header declares 100,000 x 100,000 pixels (a decompression bomb)
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    (d / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
                                 + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b""))
    return d


#: (class of bad input, arguments after `segment` with {d} the folder of bad files,
#: words the one line must hold)
CASES = [
    # the picture (--image)
    ("image: missing file", ["--image", "{d}/nope.png"], "no such file"),
    ("image: a folder", ["--image", "{d}/folder"], "is a folder"),
    ("image: a FIFO", ["--image", "{d}/fifo"], "named pipe"),
    ("image: a device (/dev/zero)", ["--image", "/dev/zero"], "is a device"),
    ("image: empty file", ["--image", "{d}/empty.png"], "empty"),
    ("image: not an image", ["--image", "{d}/junk.png"], "not an image"),
    ("image: over-long name", ["--image", "{d}/" + LONG], "too long"),
    ("image: decompression bomb", ["--image", "{d}/bomb.png"], "too many pixels"),
    ("image: negative scene", ["--image", "scene:-1"], "scene:N"),
    ("image: scene not a number", ["--image", "scene:abc"], "scene:N"),
    ("image: absurd scene", ["--image", "scene:99999999999999"], "scene numbers go up to"),
    ("image: unknown sample", ["--image", "sample:nope"], "unknown sample"),
    ("image: none, no --eval", [], "needs --image"),
    # the networks (--models)
    ("models: unknown", ["--image", "scene:1", "--models", "nope"], "unknown segmentation"),
    ("models: a classifier (wrong kind)", ["--image", "scene:1", "--models", "resnet18"],
     "not a segmentation network"),
    ("models: a shipped classifier", ["--image", "scene:1", "--models", "tinyvgg-shapes"],
     "not a segmentation network"),
    ("models: torchvision's, not cached", ["--image", "scene:1", "--models",
                                           "fcn_resnet50"], "not in the torch hub cache"),
    ("models: empty list", ["--image", "scene:1", "--models", " , "], "at least one"),
    # the ground truth (--mask)
    ("mask: missing file", ["--image", "scene:1", "--mask", "{d}/nope.png"], "no such file"),
    ("mask: a folder", ["--image", "scene:1", "--mask", "{d}/folder"], "is a folder"),
    ("mask: a FIFO", ["--image", "scene:1", "--mask", "{d}/fifo"], "named pipe"),
    ("mask: not an image", ["--image", "scene:1", "--mask", "{d}/junk.png"],
     "not a readable mask"),
    ("mask: another size", ["--image", "scene:1", "--mask", "{d}/small_mask.png"],
     "60x50 pixels but the image is 128x128"),
    ("mask: colours, not classes", ["--image", "scene:1", "--mask", "{d}/colour_mask.png"],
     "not colours"),
    ("mask: value beyond the classes", ["--image", "scene:1", "--mask",
                                        "{d}/nine_mask.png"],
     "holds the value 9, but fcn-shapes has only 6 classes"),
    ("mask: negative values", ["--image", "scene:1", "--mask", "{d}/negative_mask.tif"],
     "cannot be negative"),
    ("mask: fractions", ["--image", "scene:1", "--mask", "{d}/fraction_mask.tif"],
     "whole class indices"),
    # where the figures go (--out, --upsampling), checked before any work
    ("out: a folder", ["--image", "scene:1", "--out", "{d}/folder"], "is a folder"),
    ("out: in a missing folder", ["--image", "scene:1", "--out", "{d}/no/such/x.png"],
     "does not exist"),
    ("out: not a .png", ["--image", "scene:1", "--out", "{d}/x.jpg"], "must end in .png"),
    ("out: a device", ["--image", "scene:1", "--out", "/dev/null"], "is a device"),
    ("out: over-long name", ["--image", "scene:1", "--out", "{d}/" + LONG], "too long"),
    ("upsampling: a folder", ["--image", "scene:1", "--upsampling", "{d}/folder"],
     "is a folder"),
    ("upsampling: same file as --out", ["--image", "scene:1", "--out", "{d}/a.png",
                                        "--upsampling", "{d}/a.png"], "give two files"),
    ("upsampling: no FCN among the models", ["--image", "scene:1", "--models",
                                             "unet-shapes", "--upsampling", "{d}/u.png"],
     "add fcn-shapes"),
    # held-out scoring (--eval, --seed)
    ("eval: zero scenes", ["--eval", "0"], "at least 1"),
    ("eval: negative", ["--eval", "-3"], "at least 1"),
    ("eval: absurd count", ["--eval", "1000000000000"], "at most 10,000"),
    ("eval: not a number", ["--eval", "abc"], "invalid int"),
    ("eval: NaN", ["--eval", "nan"], "invalid int"),
    ("eval: negative seed", ["--eval", "2", "--seed", "-1"], "--seed must be at least 0"),
    ("eval: with a picture", ["--eval", "2", "--image", "scene:1"], "takes no --image"),
    ("eval: other label set", ["--eval", "2", "--models", "deeplabv3_resnet50"],
     "cannot be scored on shapes"),
    # the clicked pixel (--field)
    ("field: not ROW,COL", ["--image", "scene:1", "--field", "abc"], "ROW,COLUMN"),
    ("field: three numbers", ["--image", "scene:1", "--field", "1,2,3"], "ROW,COLUMN"),
    ("field: NaN", ["--image", "scene:1", "--field", "nan,3"], "ROW,COLUMN"),
    ("field: negative", ["--image", "scene:1", "--field=-1,5"], "count from 0"),
    ("field: outside the picture", ["--image", "scene:1", "--field", "500,3"],
     "outside the 128x128 picture"),
    # the disagreement pair (--compare)
    ("compare: one name", ["--image", "scene:1", "--compare", "fcn-shapes"],
     "--compare takes two"),
    ("compare: the same twice", ["--image", "scene:1", "--compare", "fcn-shapes,fcn-shapes"],
     "--compare takes two"),
    ("compare: not among the models", ["--image", "scene:1", "--compare",
                                       "fcn-shapes,resnet18"], "--compare takes two"),
    ("compare: one model only", ["--image", "scene:1", "--models", "fcn-shapes",
                                 "--compare", "fcn-shapes,unet-shapes"], "needs two"),
    # where to compute (--device)
    ("device: mps", ["--image", "scene:1", "--device", "mps"], "not supported"),
    ("device: nonsense", ["--image", "scene:1", "--device", "banana"], "unknown device"),
    # the command line itself
    ("unknown option", ["--bogus"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(capsys, files, argv, words):
    before = sorted(p.name for p in files.iterdir())
    code = main(["segment", *[a.format(d=files) for a in argv]])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    assert words in err, err
    assert out == ""
    assert sorted(p.name for p in files.iterdir()) == before  # nothing was written


def test_cuda_without_a_gpu(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    code = main(["segment", "--image", "scene:1", "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no CUDA GPU" in err


def test_unreadable_file(capsys, tmp_path, unprivileged):
    path = tmp_path / "secret.png"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    path.chmod(0)
    code = main(["segment", "--image", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "permission denied" in err


def test_random_weights_get_an_answer_and_a_note(capsys, tmp_path, monkeypatch):
    """A shipped segmenter whose weights file is missing runs with random weights and says
    so: a right answer (exit 0), not an error."""
    import explorer.nets.registry as registry

    monkeypatch.setattr(registry, "PRETRAINED", tmp_path)
    code = main(["segment", "--image", "scene:1", "--models", "fcn-shapes"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "(random weights)" in out
    assert "note: fcn-shapes has random weights" in err and "noise" in err
    code = main(["segment", "--image", "scene:1", "--models", "fcn-shapes", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["networks"]["fcn-shapes"]["weights"] == "random"
    assert any("random weights" in n for n in data["notes"])


def test_classes_covered():
    """The corpus covers at least twelve distinct classes of bad input."""
    classes = {name.split(":")[0] for name, *_ in CASES}
    assert len(CASES) >= 12 and len(classes) >= 8
