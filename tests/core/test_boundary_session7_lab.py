"""The boundary of `lab` found by the seventh probe: input sizes a network cannot take,
options that were ignored, a refusal about an option nobody typed, a shrink note beside an
error, a negative unit argparse took for an option, blank options taken as the default.
Every bad input is one line on stderr and exit 2, or a right answer (helpers from
test_boundary_foundation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_boundary_foundation import refused, run

from explorer.lab import rf

#: the smallest input side whose every conv/pool layer keeps an output, worked out by hand
#: from torchvision's and LeCun's layer geometry
SMALLEST = {"alexnet": 63, "lenet5": 32, "vgg16": 32, "resnet18": 1}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    sizes = {"one": (1, 1), "two": (2, 2), "tall": (3, 100_000)}  # rows, columns
    paths = {name: folder / f"{name}.png" for name in sizes}
    for name, shape in sizes.items():
        Image.fromarray(np.full(shape, 100, np.uint8)).save(paths[name])
    return paths


# --- rf and equivariance: inputs smaller than the network ---------------------------

def _main_path(key: str) -> torch.nn.Module:
    """The conv/pool part of `key` on the meta device: it runs where the table says so."""
    with torch.device("meta"):
        model = rf.build_model(key)
    return model[:7] if key == "lenet5" else getattr(model, "features", model)


@pytest.mark.parametrize("key", rf.MODEL_NAMES)
def test_the_smallest_input_is_exact(key):
    n = rf.min_input_size(rf.model_path(key))
    assert n == SMALLEST[key]
    net = _main_path(key)
    net(torch.zeros(1, rf.MODEL_CHANNELS[key], n, n, device="meta"))
    if n > 1:  # one pixel less and torch refuses too
        with pytest.raises(RuntimeError):
            net(torch.zeros(1, rf.MODEL_CHANNELS[key], n - 1, n - 1, device="meta"))


@pytest.mark.parametrize("key, size, layer", [
    ("alexnet", 10, "pool1"), ("alexnet", 62, "pool5"), ("lenet5", 3, "c1"),
    ("lenet5", 31, "c5"), ("vgg16", 1, "pool1"), ("vgg16", 31, "pool5"),
])
def test_rf_refuses_an_input_that_leaves_no_output(capsys, key, size, layer):
    n = SMALLEST[key]
    line = refused(capsys, "lab", "rf", "--model", key, "--input-size", size, "--json",
                   match=f"{key} needs an input of at least {n}x{n} pixels")
    assert line.endswith(f"{size}x{size} leaves no output after {layer}")


@pytest.mark.parametrize("key", rf.MODEL_NAMES)
def test_rf_at_the_smallest_input_has_an_output_everywhere(capsys, key):
    n = SMALLEST[key]
    code, out, err = run(capsys, "lab", "rf", "--model", key, "--input-size", n, "--json")
    assert code == 0, err
    assert min(row["out_size"] for row in json.loads(out)["layers"]) >= 1


@pytest.mark.parametrize("size", ["31", "33", "4096", "100000"])
def test_equivariance_lenet5_takes_32_only(capsys, size):
    refused(capsys, "lab", "equivariance", "--model", "lenet5", "--size", size,
            match="--size: lenet5 takes 32x32 pictures only")


def test_equivariance_lenet5_at_32(capsys):
    for argv in ([], ["--size", "32"]):
        code, out, err = run(capsys, "lab", "equivariance", "--model", "lenet5", "--json",
                             *argv)
        assert code == 0, err
        assert json.loads(out)["input_size"] == 32


def test_equivariance_alexnet_below_its_smallest_input(capsys):
    # was a RuntimeError traceback from torch's max_pool2d
    refused(capsys, "lab", "equivariance", "--model", "alexnet", "--size", "62",
            match="at least 63x63 pixels")
    code, out, err = run(capsys, "lab", "equivariance", "--model", "alexnet", "--size", "63",
                         "--dy", "4", "--dx", "4", "--json")
    assert code == 0, err
    assert json.loads(out)["input_size"] == 63


# --- invariance: a picture smaller than the pooling window --------------------------

@pytest.mark.parametrize("argv", [["--image", "one"], ["--image", "two"], ["--size", "100"]])
def test_invariance_window_larger_than_the_picture(capsys, pictures, argv):
    argv = [str(pictures.get(a, a)) for a in argv]
    line = refused(capsys, "lab", "invariance", *argv, match="pooling window does not fit")
    assert "--window" not in line


# --- a shrunk picture: the note only with an answer, one size order -----------------

@pytest.mark.parametrize("command", ["conv", "pool", "hierarchy", "invariance"])
def test_a_refused_shrunk_picture_is_one_line(capsys, pictures, command):
    line = refused(capsys, "lab", command, "--image", pictures["tall"], match="1x512")
    assert "shrunk from 3x100000 to 1x512" in line  # rows x columns, as the error


def test_a_shrunk_picture_notes_it_after_the_answer(capsys, pictures):
    code, out, err = run(capsys, "lab", "conv", "--image", pictures["tall"], "--padding",
                         "same-zeros")
    assert code == 0, err
    assert "(1x512)" in out
    assert err.strip() == "note: tall shrunk from 3x100000 to 1x512 pixels for the lab"


# --- unit-math: a negative unit -------------------------------------------------------

@pytest.mark.parametrize("unit", [["-u", "-1,0,0"], ["--unit", "-1,0,0"], ["-u=-1,0,0"],
                                  ["--unit=-1,0,0"], ["-u", "0,-1,0"]])
def test_unit_math_negative_unit(capsys, unit):
    line = refused(capsys, "unit-math", "-l", "conv1", *unit, match="start at 0")
    assert "expected one argument" not in line


# --- blank options are not the default --------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["conv", "--padding", ""], "--padding"),
    (["conv", "--padding="], "--padding"),
    (["conv", "--transposed", "--padding", " "], "--padding"),
    (["conv", "--kernel", ""], "--kernel"),
    (["vgg", "--config", ""], "--config"),
    (["rf", "--model", ""], "--model"),
    (["equivariance", "--model", " "], "--model"),
])
def test_blank_options_are_refused(capsys, argv, option):
    refused(capsys, "lab", *argv, match=option)


# --- found beside the probe ------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--padding", "5", "--kernel", "3"],
                                  ["--input", "5", "--kernel", "1"]])
def test_sizes_that_never_shrink(capsys, argv):
    # was exit 0 printing the input alone
    refused(capsys, "lab", "sizes", *argv, match="--layers")
    code, out, err = run(capsys, "lab", "sizes", *argv, "--layers", "2", "--json")
    assert code == 0 and len(json.loads(out)["sizes"]) == 3, err
    code, out, err = run(capsys, "lab", "sizes", "--input", "1", "--kernel", "1", "--json")
    assert code == 0 and json.loads(out)["sizes"] == [1], err


def test_transposed_has_no_correlation_mode(capsys):
    # was exit 0 with the very numbers of --mode convolution
    refused(capsys, "lab", "conv", "--transposed", "--mode", "correlation", match="--mode")
    code, _, err = run(capsys, "lab", "conv", "--transposed", "--mode", "convolution")
    assert code == 0, err
