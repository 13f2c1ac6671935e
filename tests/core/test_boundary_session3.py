"""The boundary of what this session added: tour --list/--export/--steps/--size, gui --tour
--step, lab conv --upsample/--transposed, networks brought as .onnx/.pt2 files, unit
--gallery. Every bad input is one line on stderr and exit 2 before any work, or a right
answer (helpers from test_boundary_foundation)."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_boundary_foundation import refused, run
from torch import nn


@pytest.fixture
def odd_files(tmp_path: Path) -> dict[str, Path]:
    """Files a person might hand in by mistake, named like networks."""
    files = {"fifo": tmp_path / "pipe.onnx", "folder": tmp_path / "dir.onnx",
             "empty": tmp_path / "empty.onnx", "text-onnx": tmp_path / "text.onnx",
             "text-pt2": tmp_path / "text.pt2", "cut-pt2": tmp_path / "cut.pt2",
             "state-pt2": tmp_path / "state.pt2"}
    os.mkfifo(files["fifo"])
    files["folder"].mkdir()
    files["empty"].write_bytes(b"")
    files["text-onnx"].write_text("hello")
    files["text-pt2"].write_text("hello")
    files["cut-pt2"].write_bytes(b"PK\x03\x04")
    torch.save(nn.Conv2d(3, 4, 3).state_dict(), files["state-pt2"])  # a zip, not a program
    return files


# --- tour --------------------------------------------------------------------------------

@pytest.mark.parametrize("steps,match", [
    ("nope", "no tour step"), ("0", "no tour step"), ("28", "no tour step"),
    ("-1", "no tour step"), (str(10**12), "no tour step"), ("", "--steps"), (",", "--steps"),
])
def test_tour_steps_that_do_not_exist(capsys, steps, match):
    refused(capsys, "tour", "--list", "--steps", steps, match=match)


def test_tour_duplicate_steps_are_listed_once_in_tour_order(capsys):
    code, out, err = run(capsys, "tour", "--list", "--json", "--steps", "padding,1,fc-image,4")
    assert code == 0, err
    assert [r["number"] for r in json.loads(out)] == [1, 4]


@pytest.mark.parametrize("size", ["0x0", "99999x99999", "1366x", "abc", "x768", "1366x768x2"])
def test_tour_export_sizes(capsys, tmp_path, size):
    refused(capsys, "tour", "--export", tmp_path / "s", "--size", size, match="--size")
    assert not (tmp_path / "s").exists()


def test_tour_export_folders(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    refused(capsys, "tour", "--export", tmp_path / "file", match="not a folder")
    refused(capsys, "tour", "--export", "/dev/null", match="not a folder")
    refused(capsys, "tour", "--export", tmp_path / "no" / "deeper", match="does not exist")
    refused(capsys, "tour", "--export", tmp_path / ("y" * 300), match="too long")
    # Path("") is the current folder: an empty name must not export into it
    refused(capsys, "tour", "--export", "", match="no slide folder")
    refused(capsys, "tour", "--export", tmp_path / "s", "--device", "mps", match="mps")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_gui_tour_step_and_section(capsys):
    refused(capsys, "gui", "--tour", "--step", "nope", match="no tour step")
    refused(capsys, "gui", "--tour", "--step", "1,2", match="no tour step")
    refused(capsys, "gui", "--step", "3", match="--tour")
    # the tour chooses each step's place: a --section beside it would be overruled silently
    refused(capsys, "gui", "--tour", "--step", "3", "--section", "detection", match="--step")
    refused(capsys, "gui", "--tour", "--page", "conv", match="--step")


# --- lab conv: up-sampling and the transposed convolution --------------------------------

@pytest.mark.parametrize("argv,match", [
    (["--upsample", "0"], "at least 1"),
    (["--upsample", "-1"], "at least 1"),
    (["--upsample", str(10**12)], "at most 64"),
    (["--upsample", "nan"], "--upsample"),
    (["--upsample", "inf"], "--upsample"),
    (["--upsample", "2.5"], "--upsample"),
    (["--upsample", "2", "--transposed"], "choose one"),
    (["--interpolation", "nearest"], "--upsample"),
    (["--transposed", "--padding", "same-zeros"], "number of cells"),
    (["--transposed", "--padding", str(10**12)], "padding"),
    (["--transposed", "--stride", "0"], "stride"),
    (["--transposed", "--padding", "30"], "crops away"),
    # a picture up-sampled 64 times: 40 GB of unfolded windows before this was checked
    (["--upsample", "64", "--image", "sample:chelsea"], "GB of memory"),
    (["--upsample", "16", "--image", "sample:chelsea"], "GB of memory"),
    (["--transposed", "--stride", "64", "--image", "sample:chelsea"], "GB of memory"),
    # every number printed as JSON: 54 million ran past two minutes and 5 GB
    (["--transposed", "--stride", "20", "--image", "sample:chelsea", "--json"], "--json"),
    (["--upsample", "4", "--image", "sample:chelsea", "--json"], "--json"),
])
def test_lab_conv_upsampling_inputs(capsys, argv, match):
    refused(capsys, "lab", "conv", *argv, match=match)


def test_lab_conv_upsampling_by_one_is_the_plain_convolution(capsys):
    code, out, err = run(capsys, "lab", "conv", "--upsample", "1", "--json")
    assert code == 0, err
    up = json.loads(out)
    code, out, err = run(capsys, "lab", "conv", "--padding", "same-zeros", "--json")
    assert code == 0, err
    assert up["output"] == json.loads(out)["output"]


# --- networks brought as files -----------------------------------------------------------

@pytest.mark.parametrize("kind,match", [
    ("fifo", "named pipe"), ("folder", "folder"), ("empty", "empty"),
    ("text-onnx", "not an onnx file"), ("text-pt2", "not a torch.export program"),
    ("cut-pt2", "not a torch.export program"), ("state-pt2", "not a torch.export program"),
])
@pytest.mark.parametrize("command", [
    ["layers"], ["graph"], ["predict", "--image", "sample:shape-crop"],
    ["unit-math", "--image", "sample:shape-crop", "--layer", "x", "--unit", "0,0,0"],
])
def test_network_files_that_are_not_networks(capsys, odd_files, kind, match, command):
    refused(capsys, *command, "--model", "file", "--weights", odd_files[kind], match=match)


def test_network_names_that_are_not_networks(capsys):
    refused(capsys, "layers", "--model", "timm:", match="needs a network name")
    refused(capsys, "layers", "--model", "timm:nope", match="no network")
    refused(capsys, "layers", "--model", "/dev/zero", match="")


def _onnx_declaring(tmp_path: Path, side: int) -> Path:
    onnx = pytest.importorskip("onnx")
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    path = tmp_path / "net.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, 32, 32), str(path), dynamo=False)
    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = side
    onnx.save(model, str(path))
    return path


def test_an_onnx_file_is_opened_and_used(capsys, tmp_path):
    path = _onnx_declaring(tmp_path, 32)
    code, out, err = run(capsys, "layers", "--model", "file", "--weights", path, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["input_size"] == [32, 32] and data["total_params"] == 3 * 4 * 9 + 4
    assert data["layers"][0]["type"] == "Conv2d"
    assert data["layers"][0]["output_shape"] == [4, 30, 30]


def test_an_onnx_file_declaring_a_huge_input_is_refused_before_allocation(capsys, tmp_path):
    path = _onnx_declaring(tmp_path, 99999)
    line = refused(capsys, "layers", "--model", "file", "--weights", path)
    assert "allocate" not in line and "RuntimeError" not in line, line
    assert "4096 pixels a side" in line, line


# --- unit --gallery ----------------------------------------------------------------------


def _png_declaring(path: Path, side: int) -> None:
    """A real 1x1 PNG whose IHDR chunk (with a right CRC) says `side` x `side`."""
    Image.new("RGB", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then the chunk's length and type
    data[ihdr:ihdr + 8] = struct.pack(">II", side, side)
    crc = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13]))
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make,match", [
    ("empty", "holds no images"), ("non-image", "holds no images"), ("file", "not a folder"),
    ("fifo", "not a folder"), ("missing", "no such folder"), ("shapes:0", "shapes:N"),
    ("shapes:nan", "shapes:N"), (f"shapes:{10**12}", "shapes:N"),
    ("text-as-png", "a.png is not a picture"), ("huge-header", "a.png is too large a picture"),
])
def test_unit_galleries(capsys, tmp_path, make, match):
    gallery = tmp_path / "g"
    if make in ("text-as-png", "huge-header"):
        gallery.mkdir()
        Image.new("RGB", (8, 8)).save(gallery / "ok.png")
        if make == "text-as-png":
            (gallery / "a.png").write_text("not a picture")
        else:  # a real PNG whose header says 99999x99999 (Pillow reads only the header)
            _png_declaring(gallery / "a.png", 99999)
    elif make == "empty":
        gallery.mkdir()
    elif make == "non-image":
        gallery.mkdir()
        (gallery / "readme.txt").write_text("x")
    elif make == "file":
        gallery.write_text("x")
    elif make == "fifo":
        os.mkfifo(gallery)
    elif make.startswith("shapes"):
        gallery = make
    out = tmp_path / "card.png"
    refused(capsys, "unit", "--model", "tinyvgg-shapes", "--layer", "features.conv1",
            "--channel", "0", "--steps", "2", "--gallery", gallery, "--out", out,
            match=match)
    assert not out.exists()


@pytest.mark.parametrize("views", ["", ",", " , "])
def test_unit_views_naming_nothing_is_refused(capsys, tmp_path, views):
    out = tmp_path / "card.png"
    refused(capsys, "unit", "--model", "tinyvgg-shapes", "--layer", "features.conv1",
            "--channel", "0", "--steps", "2", "--views", views, "--out", out,
            match="names no view" if views else "no views given")
    assert not out.exists()
