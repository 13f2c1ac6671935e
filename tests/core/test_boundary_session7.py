"""The seventh session's adversarial probe, as tests: outputs that would overwrite an input,
folders that take no new files (``/proc``, ``/sys``: ``os.access`` says yes to root there),
links, blank option values, files handed over as weights that are something else, seeds
that draw the training scenes, and a picture whose shape would have cost gigabytes.

Each refused case: exit code 2, one line on stderr, and nothing written."""

import hashlib
import json
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
def picture(tmp_path):
    p = tmp_path / "in.png"
    rng = np.random.default_rng(0)
    PILImage.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(p)
    return p


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(capsys, argv, words: str) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, (argv, code, err[-400:])
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in lines[0], lines[0]
    return lines[0]


# --- an output that is also an input -------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["features", "-m", "tinyvgg-shapes", "-i", "{in}", "-l", "features.conv1", "-o", "{in}"],
    ["cam", "-m", "tinyvgg-shapes", "-i", "{in}", "-o", "{in}"],
    ["neighbours", "-i", "{in}", "-o", "{in}"],
    ["augment", "-i", "{in}", "-o", "{in}"],
    ["detect", "-i", "{in}", "--scales", "1", "--out", "{in}"],
    ["segment", "-i", "{in}", "--models", "fcn-shapes", "--out", "{in}"],
    ["segment", "-i", "{in}", "--models", "fcn-shapes", "--upsampling", "{in}"],
    ["unit", "-m", "tinyvgg-shapes", "-l", "features.conv1", "-c", "0", "--steps", "2",
     "-i", "{in}", "-o", "{in}"],
    ["features", "-m", "tinyvgg-shapes", "-i", "{in}", "-l", "features.conv1", "-o",
     "{link}"],
], ids=["features", "cam", "neighbours", "augment", "detect", "segment-out",
        "segment-upsampling", "unit", "link-to-input"])
def test_an_output_never_overwrites_an_input(capsys, tmp_path, picture, argv):
    link = tmp_path / "link.png"
    link.symlink_to(picture)
    before = _digest(picture)
    argv = [a.replace("{in}", str(picture)).replace("{link}", str(link)) for a in argv]
    refused(capsys, argv, "is also an input")
    assert _digest(picture) == before
    assert link.is_symlink()


def test_finetune_weights_never_overwrite_the_weights_they_start_from(capsys, tmp_path):
    from explorer.app.networks import load_network

    w = tmp_path / "start.pt"
    torch.save(load_network("tinyvgg-shapes").module.state_dict(), w)
    before = _digest(w)
    refused(capsys, ["finetune", "--weights", w, "--save", w, "--mode", "head"],
            "is also an input")
    assert _digest(w) == before


def test_a_link_as_output_is_written_through_and_stays_a_link(capsys, tmp_path, picture):
    target = tmp_path / "target.png"
    link = tmp_path / "out.png"
    link.symlink_to(target)  # dangling: the picture is made where it points
    assert main(["features", "-m", "tinyvgg-shapes", "-i", str(picture), "-l",
                 "features.conv1", "-o", str(link)]) == 0
    assert link.is_symlink() and PILImage.open(target).size[0] > 64


# --- folders that take no new files, found before the work ----------------------------

@pytest.mark.parametrize("argv", [
    ["detect", "-i", "sample:shapes", "--scales", "1", "--out", "/proc/x.png"],
    ["cam", "-m", "tinyvgg-shapes", "-i", "sample:shape-crop", "-o", "/proc/x.png"],
    ["segment", "-i", "scene:1", "--models", "fcn-shapes", "--out", "/proc/x.png"],
    ["finetune", "--save", "/proc/w.pt", "--mode", "head"],
    ["tour", "--export", "/proc", "--steps", "1"],
    ["graph", "-m", "tinyvgg-shapes", "-o", "/proc/g.svg"],
], ids=["detect", "cam", "segment", "finetune", "tour", "graph"])
def test_a_folder_that_takes_no_files_is_refused_before_the_work(capsys, argv):
    line = refused(capsys, argv, "cannot be written")
    assert "could not write" not in line  # the up-front check, not the failed write


def test_output_names_that_name_nothing(capsys, tmp_path, picture):
    fifo = tmp_path / "pipe.svg"
    os.mkfifo(fifo)
    refused(capsys, ["graph", "-m", "tinyvgg-shapes", "-o", fifo], "named pipe")
    assert fifo.exists() and not fifo.is_file()  # the pipe is still a pipe
    refused(capsys, ["features", "-m", "tinyvgg-shapes", "-i", picture, "-l",
                     "features.conv1", "-o", tmp_path / ".png"], "give a file name before")


def test_unit_checks_every_side_picture_before_the_work(capsys, tmp_path):
    """The card's side pictures (CARD_chN_VIEW.png) are outputs too: a FIFO among them is
    found before the visualisation runs, and nothing at all is written."""
    os.mkfifo(tmp_path / "card_ch0_gradient.png")
    refused(capsys, ["unit", "-m", "tinyvgg-shapes", "-l", "features.conv1", "-c", "0",
                     "--steps", "2", "--views", "gradient", "-o", tmp_path / "card.png"],
            "named pipe")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == \
        ["card_ch0_gradient.png"]


def test_unit_writes_its_pictures_and_keeps_stderr_empty_when_it_is_no_terminal(
        capsys, tmp_path):
    assert main(["unit", "-m", "tinyvgg-shapes", "-l", "features.conv1", "-c", "1",
                 "--steps", "2", "--views", "gradient", "-o", str(tmp_path / "u.png")]) == 0
    assert capsys.readouterr().err == ""
    names = sorted(p.name for p in tmp_path.glob("u*.png"))
    assert names == ["u.png", "u_ch1_gradient.png", "u_ch1_visualisation.png"]


# --- blank values ------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["unit", "-m", "tinyvgg-shapes", "-l", "features.conv1", "-o", "{out}", "-i", ""],
     "no image given"),
    (["unit", "-m", "tinyvgg-shapes", "-l", "features.conv1", "-o", "{out}", "-g", " "],
     "no gallery given"),
    (["augment", "-i", "sample:shape-crop", "--variants", ""], "no variants given"),
    (["compare", "-i", "sample:shape-crop", "--model-b", ""], "no model b given"),
    (["cam", "-i", "sample:shape-crop", "--class="], "no class given"),
    (["predict", "-i", "sample:digit", "--device", ""], "no device given"),
    (["detect", "-i", "sample:shapes", "--scales", " "], "no scales given"),
    (["finetune", "--save", ""], "no output file given"),
    (["live", "--source", ""], "no source given"),
    (["lab", "vgg", "--config", ""], "no config given"),
    (["gui", "--section", ""], "no section given"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_blank_value_is_a_slip_not_the_default(capsys, tmp_path, argv, words):
    argv = [a.replace("{out}", str(tmp_path / "u.png")) for a in argv]
    refused(capsys, argv, words)
    assert not (tmp_path / "u.png").exists()


# --- files that are not weights ----------------------------------------------------------

def test_a_file_that_is_not_weights_is_named_for_what_it_is(capsys, tmp_path, picture):
    np.save(tmp_path / "a.npy", np.zeros(3))
    (tmp_path / "a.npy").rename(tmp_path / "array.pt")
    (tmp_path / "notes.pt").write_text("these are not weights\n")
    for path, what in ((picture, "a PNG image"), (tmp_path / "array.pt", "NumPy"),
                       (tmp_path / "notes.pt", "text")):
        line = refused(capsys, ["predict", "-m", "tinyvgg-shapes", "-w", path, "-i",
                                "sample:shape-crop"], "not a weights file")
        assert what in line and "trust" not in line


def test_a_whole_network_that_borrows_labels_of_another_count(capsys, tmp_path):
    """A TorchScript file with 5 outputs opened under a 6-class network's name: the
    message counts both, instead of asking for 1xK of a 1x5 output."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 5))
    path = tmp_path / "five.pt"
    torch.jit.trace(net.eval(), torch.zeros(1, 3, 64, 64)).save(str(path))
    line = refused(capsys, ["predict", "-m", "tinyvgg-shapes", "-w", path, "-i",
                            "sample:shape-crop"], "gives 5 scores")
    assert "6 classes" in line


def test_a_system_file_is_not_called_empty(capsys):
    refused(capsys, ["predict", "-i", "/proc/self/status"], "is a system file")


# --- what the numbers mean ---------------------------------------------------------------

@pytest.mark.parametrize("seed, kind", [(1, "training"), (3, "validation")])
def test_held_out_scores_refuse_the_seeds_the_networks_were_trained_on(capsys, seed, kind):
    refused(capsys, ["segment", "--eval", "2", "--models", "fcn-shapes", "--seed", seed],
            f"draws the {kind} scenes")


def test_finetune_sizes_of_a_builtin_task_do_not_pass_silently_for_a_folder(capsys, tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(3):
            PILImage.fromarray(rng.integers(0, 255, (16, 16, 3), np.uint8)).save(
                tmp_path / "data" / cls / f"{i}.png")
    refused(capsys, ["finetune", "--data", tmp_path / "data", "--n-train", "1"],
            "a folder's pictures are all used")


def test_a_one_pixel_strip_is_segmented_at_a_bounded_size(capsys, tmp_path):
    """1x4000 pixels: scaled by its short side it was 128x512000 (gigabytes, minutes)."""
    from explorer.app.pictures import open_picture
    from explorer.segment.run import MAX_ASPECT, load_segmenter, network_input, seg_picture

    strip = tmp_path / "strip.png"
    PILImage.fromarray(np.full((1, 4000, 3), 200, np.uint8)).save(strip)
    net = load_segmenter("unet-shapes")
    x = network_input(net, seg_picture(open_picture(strip)))
    assert max(x.shape[-2:]) <= MAX_ASPECT * min(net.input_size)
    assert main(["segment", "-i", str(strip), "--models", "unet-shapes", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data


def test_augment_names_each_variant_once(capsys):
    assert main(["augment", "-i", "sample:shape-crop", "--variants",
                 "original,darker,darker", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [v["name"] for v in data["variants"]] == ["original", "darker"]


def test_compare_names_its_own_weights_option(capsys):
    refused(capsys, ["compare", "-i", "sample:shape-crop", "--model-b", "file"],
            "--weights-b")


@pytest.mark.parametrize("argv, words", [
    (["detect", "-i", "sample:shapes", "--head", "rcnn"], "--head chooses"),
    (["detect", "-i", "sample:shapes", "--method", "proposals", "--impl", "naive"],
     "--impl chooses"),
    (["detect", "-i", "sample:shapes", "--show-proposals"], "needs --method proposals"),
    (["detect", "-i", "sample:shapes", "--method", "proposals", "--show-proposals"],
     "and --out"),
    (["segment", "-i", "scene:1", "--models", "fcn-shapes", "--seed", "5"],
     "takes no seed"),
], ids=["head-sliding", "impl-proposals", "show-proposals-sliding",
        "show-proposals-no-out", "segment-seed-image"])
def test_an_option_the_method_never_reads_is_refused(capsys, argv, words):
    refused(capsys, argv, words)
