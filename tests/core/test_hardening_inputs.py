"""Hardening: a corpus of bad and odd inputs, each fed to the command line.

The corpus is made by the tests (files written into tmp_path). Every entry says what should
happen: ``OK`` (an odd but valid input is accepted) or a pattern the one-line error must
match. tests/gui/test_hardening_window.py feeds the same corpus to the window.

Contract checked here: bad input -> exit code 2, exactly one line on stderr, no traceback;
a valid odd input -> exit code 0. ``python tests/core/test_hardening_inputs.py`` prints the
CLI column of docs/HARDENING.md.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer.cli import main

#: the network the command line and the window use for the corpus (small and shipped)
NET = "lenet5-digits"
OTHER_NET = "tinyvgg-shapes"
OK = None


@dataclass(frozen=True)
class Case:
    id: str
    #: "image": a picture for NET; "weights": a state dict for NET; "whole": a whole-model
    #: file ("file" network); "camera": a live source spec
    kind: str
    make: Callable[[Path], str]
    #: None: accepted; else a regex the one-line message must match
    expect: str | None
    what: str


def _png(pil: PILImage.Image, path: Path, **kw) -> str:
    pil.save(path, **kw)
    return str(path)


def _noise(h: int, w: int, seed: int = 0) -> PILImage.Image:
    return PILImage.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), np.uint8))


def truncated_png(d: Path) -> str:
    buf = io.BytesIO()
    _noise(64, 64).save(buf, "PNG")
    (d / "cut.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return str(d / "cut.png")


def zero_byte(d: Path) -> str:
    (d / "empty.jpg").write_bytes(b"")
    return str(d / "empty.jpg")


def text_renamed(d: Path) -> str:
    (d / "notes.png").write_text("these are my lecture notes, not a picture\n")
    return str(d / "notes.png")


def bomb(d: Path) -> str:
    """A PNG of a few hundred bytes whose header declares 100000 x 100000 pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    (d / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                 + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
                                 + chunk(b"IEND", b""))
    assert (d / "bomb.png").stat().st_size < 1000
    return str(d / "bomb.png")


def one_pixel(d: Path) -> str:
    return _png(PILImage.new("RGB", (1, 1), (200, 30, 30)), d / "one.png")


def very_wide(d: Path) -> str:
    return _png(PILImage.new("RGB", (100_000, 1), (10, 200, 10)), d / "wide.png")


def sixteen_bit(d: Path) -> str:
    a = (np.arange(40 * 50, dtype=np.uint32).reshape(40, 50) * 30).astype(np.uint16)
    return _png(PILImage.fromarray(a), d / "deep.png")


def cmyk(d: Path) -> str:
    return _png(PILImage.new("CMYK", (40, 30), (0, 255, 255, 0)), d / "print.jpg")


def palette_alpha(d: Path) -> str:
    pil = PILImage.new("P", (40, 40), 0)
    pil.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    for i in range(40):
        pil.putpixel((i, i), 1)
    return _png(pil, d / "pal.png", transparency=0)


def animated_gif(d: Path) -> str:
    frames = [PILImage.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    return str(d / "anim.gif")


def exif_rotated(d: Path) -> str:
    pil = _noise(30, 60)
    exif = pil.getexif()
    exif[0x0112] = 6
    return _png(pil, d / "rot.jpg", exif=exif)


def _lenet_state() -> dict:
    from explorer.nets.registry import load_network

    return load_network(NET).module.state_dict()


def weights_truncated(d: Path) -> str:
    path = d / "cut.pt"
    torch.save(_lenet_state(), path)
    path.write_bytes(path.read_bytes()[:3000])
    return str(path)


def weights_other_arch(d: Path) -> str:
    from explorer.nets.registry import load_network

    torch.save(load_network(OTHER_NET).module.state_dict(), d / "other.pt")
    return str(d / "other.pt")


def weights_not_state_dict(d: Path) -> str:
    torch.save([1, 2, 3], d / "list.pt")
    return str(d / "list.pt")


#: a file the evil pickle would create if it ran (checked to be absent)
MARKER = "pwned-by-pickle"


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil_pickle(d: Path) -> str:
    with open(d / "evil.pt", "wb") as fh:
        pickle.dump({"conv1.weight": _Evil(str(d / MARKER))}, fh)
    return str(d / "evil.pt")


def invalid_torchscript(d: Path) -> str:
    with zipfile.ZipFile(d / "bad.ts", "w") as z:
        z.writestr("bad/constants.pkl", b"garbage")
        z.writestr("bad/code/__torch__.py", "def nonsense(:")
    return str(d / "bad.ts")


CORPUS: list[Case] = [
    Case("truncated-png", "image", truncated_png, r"damaged", "PNG cut in half"),
    Case("zero-byte", "image", zero_byte, r"empty", "zero-byte .jpg"),
    Case("text-renamed", "image", text_renamed, r"not an image", "text file named .png"),
    Case("bomb", "image", bomb, r"too many pixels|more than", "decompression bomb "
         "(100000 x 100000 declared, < 1 kB file)"),
    Case("1x1", "image", one_pixel, OK, "1 x 1 image"),
    Case("100000x1", "image", very_wide, OK, "100000 x 1 image"),
    Case("16-bit", "image", sixteen_bit, OK, "16-bit grey PNG"),
    Case("cmyk", "image", cmyk, OK, "CMYK JPEG"),
    Case("palette-alpha", "image", palette_alpha, OK, "palette PNG with transparency"),
    Case("animated-gif", "image", animated_gif, OK, "animated GIF (first frame used)"),
    Case("exif-rotated", "image", exif_rotated, OK, "JPEG with EXIF orientation 6"),
    Case("weights-truncated", "weights", weights_truncated, r"not a readable weights file",
         "weights file cut short"),
    Case("weights-other-arch", "weights", weights_other_arch,
         r"missing keys: .*unexpected keys", f"{OTHER_NET} weights given to {NET}"),
    Case("weights-not-state-dict", "weights", weights_not_state_dict,
         r"does not hold a state dict", "a pickled list, not a state dict"),
    Case("weights-evil-pickle", "weights", evil_pickle, r"not a plain state dict|not a "
         r"readable", "pickle whose loading would run `touch` (as weights)"),
    Case("whole-evil-pickle", "whole", evil_pickle, r"trust",
         "the same pickle as a whole model, without --trust-pickle"),
    Case("invalid-torchscript", "whole", invalid_torchscript, r"TorchScript",
         "zip that claims to be TorchScript"),
    Case("missing-camera", "camera", lambda d: "camera:99", r"camera 99", "camera 99"),
]
IDS = [c.id for c in CORPUS]


def corpus_case(case_id: str) -> Case:
    return next(c for c in CORPUS if c.id == case_id)


def cli_argv(case: Case, path: str) -> list[str]:
    if case.kind == "image":
        return ["predict", "-m", NET, "-i", path, "--device", "cpu"]
    if case.kind == "weights":
        return ["predict", "-m", NET, "-w", path, "-i", "sample:digit", "--device", "cpu"]
    if case.kind == "whole":
        return ["predict", "-m", "file", "-w", path, "-i", "sample:digit", "--device", "cpu"]
    return ["live", "-m", NET, "--source", path, "--frames", "1", "--device", "cpu"]


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """main(argv) -> (exit code, stdout, stderr). A warning would be printed to stderr
    outside pytest (which captures them), so any warning is added to stderr here."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    out, err = capsys.readouterr()
    err += "".join(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n"
                   for w in caught)
    return code, out, err


@pytest.mark.parametrize("case_id", IDS)
def test_cli_on_the_corpus(case_id, tmp_path, capsys):
    case = corpus_case(case_id)
    path = case.make(tmp_path)
    code, out, err = run_cli(capsys, cli_argv(case, path))
    assert "Traceback" not in err and "Traceback" not in out
    if case.expect is OK:
        assert code == 0, err
        assert out.startswith(f"{NET} on ") and "%" in out
        assert err.strip() == ""
    else:
        assert code == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("error: ") and re.search(case.expect, lines[0]), lines[0]
        assert out == ""
    assert not (tmp_path / MARKER).exists(), "the pickle's code ran"


# --- a CUDA out-of-memory error, simulated on a machine without (or with) a GPU ---------

def fake_cuda_oom(monkeypatch) -> list[str]:
    """Pretend there is a CUDA device whose every forward pass runs out of memory.

    The network "moves" to cuda without moving (its device says cuda), preprocessing runs on
    the CPU, and a trace on the fake device raises torch.OutOfMemoryError. Returns the list of
    devices the traces were asked to run on."""
    from explorer.app import tracing as tracing_mod
    from explorer.core import device as device_mod
    from explorer.core import network as network_mod
    from explorer.core import trace as trace_mod
    from explorer.nets import registry

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    real_to, real_pre, real_trace = (network_mod.Network.to, network_mod.preprocess,
                                     trace_mod.trace)
    asked: list[str] = []

    def to(self, device):
        device = torch.device(device)
        if device.type == "cuda":
            self.device = cuda
            return self
        return real_to(self, device)

    def preprocess(net, image):
        dev, net.device = net.device, cpu
        try:
            return real_pre(net, image)
        finally:
            net.device = dev

    def trace(net, x):
        asked.append(net.device.type)
        if net.device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_trace(net, x)

    def pick_device(name=None):
        return cuda if name in ("cuda", "auto", None) else torch.device(name)

    monkeypatch.setattr(network_mod.Network, "to", to)
    monkeypatch.setattr(network_mod, "preprocess", preprocess)
    monkeypatch.setattr(trace_mod, "trace", trace)
    monkeypatch.setattr(registry, "pick_device", pick_device)
    monkeypatch.setattr(device_mod, "pick_device", pick_device)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(tracing_mod, "preprocess", preprocess)
    monkeypatch.setattr(tracing_mod, "trace", trace)
    return asked


def test_run_with_oom_fallback_reruns_on_the_cpu():
    from explorer.core.device import run_with_oom_fallback

    calls = []

    def fn(device):
        calls.append(device.type)
        if device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory")
        return 42

    result, used, note = run_with_oom_fallback(fn, torch.device("cuda"))
    assert (result, used.type, calls) == (42, "cpu", ["cuda", "cpu"])
    assert "ran out of memory" in note
    # other errors, and OOM on the CPU, are not swallowed
    with pytest.raises(ValueError):
        run_with_oom_fallback(lambda d: (_ for _ in ()).throw(ValueError("x")),
                              torch.device("cuda"))
    def always_oom(device):
        raise torch.OutOfMemoryError("out of memory")

    with pytest.raises(torch.OutOfMemoryError):
        run_with_oom_fallback(always_oom, torch.device("cpu"))


def test_cli_predict_falls_back_to_the_cpu_on_cuda_oom(monkeypatch, capsys):
    asked = fake_cuda_oom(monkeypatch)
    code, out, err = run_cli(capsys, ["predict", "-m", NET, "-i", "sample:digit",
                                      "--device", "cuda"])
    assert code == 0, err
    assert asked == ["cuda", "cpu"]
    assert err.strip().splitlines() == [
        "note: the GPU ran out of memory; this ran on the CPU instead"]
    assert out.startswith(f"{NET} on digit")


def cli_rows() -> list[tuple[str, str, str]]:
    """(case, exit code, stderr) for every corpus entry: the CLI column of HARDENING.md."""
    import tempfile
    from contextlib import redirect_stderr, redirect_stdout

    rows = []
    for case in CORPUS:
        with tempfile.TemporaryDirectory() as d:
            err, out = io.StringIO(), io.StringIO()
            with redirect_stderr(err), redirect_stdout(out):
                code = main(cli_argv(case, case.make(Path(d))))
            rows.append((case.id, str(code), err.getvalue().strip() or "(nothing)"))
    return rows


if __name__ == "__main__":
    for row in cli_rows():
        print(" | ".join(row))
