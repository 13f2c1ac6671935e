"""The boundary of cam, neighbours, augment, finetune, compare and every `lab` command: what
an adversary can type gets exit code 2, exactly one line on stderr, no traceback, and no
file written. Cases are grouped by class (the report counts the classes)."""

import os

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer.cli import main


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def paths(tmp_path):
    """Bad files and folders of every kind, by name."""
    p = {}
    p["fifo"] = tmp_path / "pipe.png"
    os.mkfifo(p["fifo"])
    p["empty"] = tmp_path / "empty.png"
    p["empty"].write_bytes(b"")
    p["damaged"] = tmp_path / "damaged.png"
    p["damaged"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 20)
    p["folder"] = tmp_path / "afolder"
    p["folder"].mkdir()
    p["long"] = tmp_path / ("x" * 300 + ".png")
    p["loop"] = tmp_path / "loop.png"
    p["loop"].symlink_to(tmp_path / "loop.png")
    p["garbage_pt"] = tmp_path / "garbage.pt"
    p["garbage_pt"].write_bytes(b"garbage" * 50)
    from explorer.app.networks import load_network

    sd = {k: v.clone() for k, v in load_network("tinyvgg-shapes").module.state_dict().items()}
    for v in sd.values():
        if v.is_floating_point():
            v.fill_(float("nan"))
    p["nan_pt"] = tmp_path / "nan.pt"
    torch.save(sd, p["nan_pt"])
    lenet = load_network("lenet5-digits").module.state_dict()
    p["other_arch_pt"] = tmp_path / "lenet.pt"
    torch.save(lenet, p["other_arch_pt"])
    rng = np.random.default_rng(0)

    def pictures(folder, names):
        folder.mkdir(parents=True, exist_ok=True)
        for n in names:
            PILImage.fromarray(rng.integers(0, 255, (16, 16, 3), np.uint8)).save(folder / n)

    p["no_images"] = tmp_path / "no_images"
    p["no_images"].mkdir()
    (p["no_images"] / "notes.txt").write_text("no pictures here")
    p["one_class"] = tmp_path / "one_class"
    pictures(p["one_class"] / "a", ["0.png", "1.png"])
    p["one_picture"] = tmp_path / "one_picture"
    pictures(p["one_picture"] / "a", ["0.png", "1.png"])
    pictures(p["one_picture"] / "b", ["0.png"])
    p["loose"] = tmp_path / "loose"
    pictures(p["loose"] / "a", ["0.png", "1.png"])
    pictures(p["loose"] / "b", ["0.png", "1.png"])
    pictures(p["loose"], ["stray.png"])
    p["bad_member"] = tmp_path / "bad_member"
    pictures(p["bad_member"] / "a", ["0.png", "1.png"])
    pictures(p["bad_member"] / "b", ["0.png"])
    (p["bad_member"] / "b" / "1.png").write_bytes(b"\x89PNG broken")
    p["out"] = tmp_path / "out"
    p["out"].mkdir()
    return p


#: (class, argv with {name} for a path of the `paths` fixture, words the line must hold)
CASES = [
    # 1. a picture that is not a regular, readable image file
    ("picture: FIFO", ["cam", "-i", "{fifo}"], "named pipe"),
    ("picture: device", ["neighbours", "-i", "/dev/zero"], "device"),
    ("picture: folder", ["augment", "-i", "{folder}"], "folder"),
    ("picture: empty", ["cam", "-i", "{empty}"], "empty"),
    ("picture: damaged", ["compare", "-i", "{damaged}"], "damaged.png"),
    ("picture: missing", ["finetune", "-i", "/no/such/picture.png"], "no such file"),
    ("picture: over-long name", ["cam", "-i", "{long}"], "too long"),
    ("picture: NUL in name", ["cam", "-i", "bad\x00name.png"], "not a valid file name"),
    ("picture: symbolic link loop", ["augment", "-i", "{loop}"], "symbolic links"),
    ("lab picture: FIFO", ["lab", "conv", "--image", "{fifo}"], "named pipe"),
    ("lab picture: device", ["lab", "hierarchy", "--image", "/dev/zero"], "device"),
    ("lab picture: folder", ["lab", "pool", "--image", "{folder}"], "folder"),
    ("lab picture: damaged", ["lab", "equivariance", "--image", "{damaged}"], "damaged.png"),
    # 2. a picture spec that names nothing
    ("spec: unknown sample", ["cam", "-i", "sample:nothing"], "unknown sample"),
    ("spec: negative scene", ["augment", "-i", "scene:-1"], "scene:N"),
    ("spec: scene not a number", ["neighbours", "-i", "scene:abc"], "scene:N"),
    ("spec: scene too far", ["cam", "-i", "scene:99999999999"], "scene numbers go up to"),
    # 3. a network that does not exist or cannot be read
    ("network: unknown name", ["cam", "-m", "no-such-net", "-i", "sample:shape-crop"],
     "no-such-net"),
    ("network: weights FIFO", ["augment", "-i", "sample:shape-crop", "-w", "{fifo}"],
     "named pipe"),
    ("network: garbage weights", ["neighbours", "-i", "sample:shape-crop", "-w",
                                  "{garbage_pt}"], "garbage.pt"),
    ("network: NaN weights", ["cam", "-i", "sample:shape-crop", "-w", "{nan_pt}"], "NaN"),
    ("network: weights of another architecture", ["augment", "-i", "sample:shape-crop",
                                                  "-w", "{other_arch_pt}"], "lenet.pt"),
    ("network: B weights folder", ["compare", "-i", "sample:shape-crop", "--weights-b",
                                   "{folder}"], "folder"),
    ("network: B unknown", ["compare", "-i", "sample:shape-crop", "--model-b", "nope"],
     "nope"),
    # 4. a network of the wrong kind
    ("kind: segmenter for cam", ["cam", "-m", "fcn-shapes", "-i", "sample:shapes"],
     "classifier"),
    ("kind: detector stage for neighbours", ["neighbours", "-m", "mtcnn-pnet", "-i",
                                             "sample:shape-crop"], "classifier"),
    ("kind: segmenter for augment", ["augment", "-m", "unet-shapes", "-i",
                                     "sample:shape-crop"], "classifier"),
    ("kind: segmenter to fine-tune", ["finetune", "-m", "fcn-shapes"], "classifier"),
    ("kind: segmenter beside", ["compare", "-i", "sample:shape-crop", "--model-b",
                                "fcn-dilated-shapes"], "classifier"),
    # 5. counts: zero, negative, absurd
    ("count: k zero", ["neighbours", "-i", "sample:shape-crop", "-k", "0"], "at least 1"),
    ("count: k negative", ["neighbours", "-i", "sample:shape-crop", "-k", "-5"],
     "at least 1"),
    ("count: k absurd", ["neighbours", "-i", "sample:shape-crop", "-k", str(10**30)],
     "at most"),
    ("count: epochs zero", ["finetune", "--epochs", "0"], "epochs"),
    ("count: batch negative", ["finetune", "--batch-size", "-1"], "batch size"),
    ("count: n-train absurd", ["finetune", "--n-train", str(10**12)], "--n-train"),
    ("count: n-test zero", ["finetune", "--n-test", "0"], "--n-test"),
    ("count: seed negative", ["finetune", "--seed", "-1"], "seed"),
    # 6. numbers that are not numbers
    ("number: lr NaN", ["finetune", "--lr", "nan"], "finite"),
    ("number: lr inf", ["finetune", "--lr", "inf"], "finite"),
    ("number: lr negative", ["finetune", "--lr", "-0.1"], "learning rate"),
    ("number: k not a number", ["neighbours", "-i", "sample:shape-crop", "-k", "six"],
     "invalid int"),
    ("number: lab NaN", ["lab", "sizes", "--input", "nan"], "invalid int"),
    # 7. lab geometry: zero, negative, absurd
    ("lab: stride zero", ["lab", "conv", "--stride", "0"], "stride"),
    ("lab: dilation negative", ["lab", "conv", "--dilation", "-2"], "dilation"),
    ("lab: transposed padding negative", ["lab", "conv", "--transposed", "--padding", "-1"],
     "padding"),
    ("lab: pool size absurd", ["lab", "pool", "--size", str(10**20)], "at most"),
    ("lab: sizes kernel zero", ["lab", "sizes", "--kernel", "0"], "kernel"),
    ("lab: sizes padding negative", ["lab", "sizes", "--padding", "-3"], "padding"),
    ("lab: sizes input absurd", ["lab", "sizes", "--input", str(10**15)], "input size"),
    ("lab: sizes layers zero", ["lab", "sizes", "--layers", "0"], "layers"),
    ("lab: rf input negative", ["lab", "rf", "--input-size", "-4"], "input size"),
    ("lab: equivariance size small", ["lab", "equivariance", "--size", "8"], "input size"),
    ("lab: equivariance shift absurd", ["lab", "equivariance", "--model", "lenet5",
                                        "--dy", "1000"], "--dy"),
    ("lab: invariance window outside", ["lab", "invariance", "--window", "7", "0"],
     "--window"),
    ("lab: invariance target negative", ["lab", "invariance", "--to", "-1", "0"], "--to"),
    ("lab: unknown model", ["lab", "rf", "--model", "googlenet"], "googlenet"),
    ("lab: unknown VGG", ["lab", "vgg", "--config", "Z"], "Z"),
    # 8. sizes that would allocate terabytes, refused before allocation
    ("memory: transposed stride", ["lab", "conv", "--transposed", "--stride", "10000",
                                   "--image", "sample:chelsea"], "GB of memory"),
    ("memory: dilated same padding", ["lab", "conv", "--padding", "same-zeros",
                                      "--dilation", "10000", "--size", "5"], "GB of memory"),
    ("memory: size chain that never ends", ["lab", "sizes", "--input", "1000000",
                                            "--kernel", "3"], "1,000 layers"),
    ("memory: invariance map of a photo", ["lab", "invariance", "--image",
                                           "sample:chelsea"], "cells"),
    # 9. a gallery that is not one
    ("gallery: missing", ["neighbours", "-i", "sample:shape-crop", "-g", "/no/such/dir"],
     "no such folder"),
    ("gallery: a file", ["neighbours", "-i", "sample:shape-crop", "-g", "{damaged}"],
     "not a folder"),
    ("gallery: FIFO", ["neighbours", "-i", "sample:shape-crop", "-g", "{fifo}"],
     "named pipe"),
    ("gallery: no images", ["neighbours", "-i", "sample:shape-crop", "-g", "{no_images}"],
     "no images"),
    ("gallery: the whole disk", ["neighbours", "-i", "sample:shape-crop", "-g", "/"],
     "files and folders"),
    ("gallery: a damaged member", ["neighbours", "-i", "sample:shape-crop", "-g",
                                   "{bad_member}", "--no-cache"], "1.png"),
    # 10. fine-tuning data that cannot be split
    ("data: unknown task", ["finetune", "--data", "shapes-colours"], "unknown task"),
    ("data: one class", ["finetune", "--data", "{one_class}"], "at least two"),
    ("data: a class with one picture", ["finetune", "--data", "{one_picture}"],
     "has 1 picture"),
    ("data: loose pictures", ["finetune", "--data", "{loose}"], "loose pictures"),
    ("data: damaged member", ["finetune", "--data", "{bad_member}"], "1.png"),
    ("data: FIFO", ["finetune", "--data", "{fifo}"], "named pipe"),
    # 11. outputs that cannot be written, refused before the work
    ("output: a folder", ["cam", "-i", "sample:shape-crop", "--out", "{out}"],
     "is a folder"),
    ("output: missing folder", ["neighbours", "-i", "sample:shape-crop", "--out",
                                "/no/such/dir/nb.png"], "does not exist"),
    ("output: wrong suffix", ["augment", "-i", "sample:shape-crop", "--out",
                              "{out}/aug.jpg"], ".png"),
    ("output: a FIFO", ["cam", "-i", "sample:shape-crop", "--out", "{fifo}"],
     "named pipe"),
    ("output: over-long name", ["cam", "-i", "sample:shape-crop", "--out",
                                "{out}/" + "y" * 300 + ".png"], "too long"),
    ("output: save is a folder", ["finetune", "--save", "{out}"], "is a folder"),
    ("output: save wrong suffix", ["finetune", "--save", "{out}/w.txt"], ".pt"),
    ("output: save with both modes", ["finetune", "--mode", "both", "--save",
                                      "{out}/w.pt"], "one --mode"),
    # 12. names of things that do not exist
    ("choice: unknown variant", ["augment", "-i", "sample:shape-crop", "--variants",
                                 "sepia"], "unknown variant"),
    ("choice: unknown CAM method", ["cam", "-i", "sample:shape-crop", "--method",
                                    "magic"], "invalid choice"),
    ("choice: class out of range", ["cam", "-i", "sample:shape-crop", "--class", "99"],
     "out of range"),
    ("choice: unknown class name", ["cam", "-i", "sample:shape-crop", "--class", "cat"],
     "no class"),
    ("choice: missing layer", ["augment", "-i", "sample:shape-crop", "--layer", "nope"],
     "no layer"),
    ("choice: a layer without maps", ["cam", "-i", "sample:shape-crop", "--layer",
                                      "classifier.fc1"], "not maps"),
    ("choice: unknown finetune mode", ["finetune", "--mode", "half"], "invalid choice"),
    ("choice: unknown kernel", ["lab", "conv", "--kernel", "sharpen"], "sharpen"),
    ("choice: unknown padding", ["lab", "conv", "--padding", "full"], "full"),
    # 13. blank arguments
    ("blank: picture", ["cam", "-i", ""], "no image"),
    ("blank: gallery", ["neighbours", "-i", "sample:shape-crop", "-g", " "], "no gallery"),
    ("blank: network", ["cam", "-m", "", "-i", "sample:shape-crop"], "no network"),
    ("blank: fine-tuning data", ["finetune", "--data", ""], "no data given"),
    ("blank: lab picture", ["lab", "hierarchy", "--image", ""], "no image"),
    # 14. a device that is not there
    ("device: unsupported", ["cam", "-i", "sample:shape-crop", "--device", "mps"], "mps"),
    ("device: nonsense", ["augment", "-i", "sample:shape-crop", "--device", "gpu7"],
     "gpu7"),
]


def _class(name: str) -> str:
    return name.split(":")[0]


def test_the_corpus_covers_at_least_fifteen_classes_and_every_command():
    classes = {_class(name) for name, _, _ in CASES}
    assert len(classes) >= 15
    commands = {argv[0] if argv[0] != "lab" else f"lab {argv[1]}" for _, argv, _ in CASES}
    assert {"cam", "neighbours", "augment", "finetune", "compare"} <= commands
    assert {f"lab {c}" for c in ("conv", "pool", "sizes", "rf", "equivariance",
                                 "invariance", "hierarchy", "vgg")} <= commands


@pytest.mark.parametrize("name, argv, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(capsys, paths, name, argv, words):
    argv = [a.format(**{k: str(v) for k, v in paths.items()}) for a in argv]
    before = sorted(p.name for p in paths["out"].iterdir())
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (name, code, err[-500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), (name, err)
    assert "Traceback" not in err and words in lines[0], (name, lines[0])
    assert sorted(p.name for p in paths["out"].iterdir()) == before  # nothing written


def test_an_unreadable_picture(capsys, tmp_path, unprivileged):
    p = tmp_path / "secret.png"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(p)
    p.chmod(0)
    assert main(["cam", "-i", str(p)]) == 2
    err = capsys.readouterr().err
    assert "permission denied" in err and len(err.strip().splitlines()) == 1


def test_right_answers_at_the_edges(capsys):
    """Inputs at the edge that have a right answer get it (exit 0), with the caveat in
    words: random weights, a shapes network on a photo, k larger than the gallery."""
    import json

    assert main(["cam", "-m", "alexnet", "-i", "sample:chelsea", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any("random weights" in c for c in data["caveats"])
    assert main(["augment", "-i", "sample:chelsea", "--variants", "darker", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any("trained on drawn shapes only" in c for c in data["caveats"])
    assert main(["lab", "sizes", "--input", "5", "--kernel", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sizes"] == [5, 1]
    assert main(["lab", "conv", "--image", "sample:chelsea", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shape"] == [300, 451]  # under 512 a side: kept as it is
