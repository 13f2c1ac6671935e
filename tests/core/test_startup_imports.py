"""The start path stays light (issue 17): `--help` and every command's `--help`, the `lab`
arithmetic, `models` and the window's first frame import nothing they do not need.

Each check runs a fresh interpreter (``sys.modules`` of this test process already holds
everything) and reads back which top-level packages it imported. Speed itself is measured
by benchmarks/startup.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

#: packages that cost tenths of a second to seconds to import
HEAVY = {"torch", "torchvision", "PySide6", "pyqtgraph", "PIL", "cv2", "scipy", "sklearn",
         "skimage", "timm", "captum", "pytorch_grad_cam", "ray"}


def _imported(code: str, env: dict | None = None) -> set[str]:
    """Top-level packages a fresh interpreter holds after running `code`."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json as _json, sys as _sys
        print("MODULES=" + _json.dumps(sorted({m.split(".")[0] for m in _sys.modules})))
        """)
    full_env = {**os.environ, **(env or {})}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, env=full_env)
    assert out.returncode == 0, out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MODULES=")][-1]
    return set(json.loads(line[len("MODULES="):]))


def test_every_parser_and_its_help_import_nothing_heavy():
    mods = _imported("""
        import argparse, contextlib, io
        from explorer.cli import build_parser, main

        def walk(parser):
            yield parser
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for sub in action.choices.values():
                        yield from walk(sub)

        parsers = list(walk(build_parser()))
        assert len(parsers) > 30, len(parsers)  # every command and the lab's pages
        for parser in parsers:
            assert parser.format_help()
        for argv in (["--help"], ["models", "--help"], ["lab", "pool", "--help"],
                     ["cam", "--help"], ["gui", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()) as text:
                try:
                    main(argv)
                except SystemExit as exc:
                    assert exc.code == 0
            assert "usage:" in text.getvalue()
        """)
    # numpy too: at 0.1-0.2 s it alone would spend most of --help's 0.3 s
    assert not mods & (HEAVY | {"numpy"}), sorted(mods & (HEAVY | {"numpy"}))


@pytest.mark.parametrize("argv", ["lab pool", "lab conv", "lab sizes", "lab invariance",
                                  "lab hierarchy", "lab params", "lab vgg", "lab vgg --config D",
                                  "lab rf", "lab rf --model resnet18", "lab rf --model lenet5"])
def test_lab_arithmetic_does_not_import_torchvision(argv):
    mods = _imported(f"""
        import contextlib, io
        from explorer.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as text:
            assert main({argv.split()!r}) == 0
        assert text.getvalue().strip()
        """)
    assert "torchvision" not in mods and "PySide6" not in mods


def test_stored_lab_geometry_is_torchvisions_own_answer():
    """lab params / vgg / rf read VGG's configurations and the main paths from a file made
    for the installed torchvision; it must say what torchvision says."""
    from explorer.lab import architectures
    from explorer.nets import tv_catalogue

    stored = json.loads(architectures.STORE.read_text())
    assert stored["torchvision"] == tv_catalogue.installed_version()
    assert {k: v for k, v in stored.items() if k != "torchvision"} == \
        architectures.from_torchvision()
    # and the tables built from it are the lecture's numbers
    from explorer.lab.rf import rf_table

    assert rf_table("alexnet")[-1].rf == 195 and rf_table("resnet18")[-1].rf == 435


def test_models_lists_torchvision_networks_without_importing_torchvision():
    mods = _imported("""
        import contextlib, io, json
        from explorer.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as text:
            assert main(["models", "--json"]) == 0
        rows = json.loads(text.getvalue())
        names = {row["name"] for row in rows}
        assert {"tinyvgg-shapes", "resnet18", "vgg16", "convnext_tiny",
                "timm:resnet50"} <= names, sorted(names)[:20]
        """)
    assert not {"torchvision", "timm", "PySide6"} & mods


def test_stored_catalogue_is_torchvisions_own_answer():
    from explorer.nets import tv_catalogue

    stored = json.loads(tv_catalogue.CATALOGUE.read_text(encoding="utf-8"))
    # made for the installed torchvision, so no run falls back to importing it
    assert stored["torchvision"] == tv_catalogue.installed_version()
    assert stored["models"] == tv_catalogue.from_torchvision()
    assert "resnet18" in stored["models"] and "vit_b_16" not in stored["models"]


def test_stored_timm_catalogue_is_timms_own_answer():
    from explorer.nets import timm_catalogue

    stored = json.loads(timm_catalogue.CATALOGUE.read_text(encoding="utf-8"))
    assert stored["timm"] == timm_catalogue.installed_version()
    answer = {name: list(fields) if fields else None
              for name, fields in timm_catalogue.from_timm().items()}
    assert stored["models"] == answer
    assert "resnet50" in answer and "vit_base_patch16_224" not in answer


def test_catalogue_of_another_version_falls_back_to_torchvision(tmp_path, monkeypatch):
    from explorer.nets import tv_catalogue

    stale = tmp_path / "cnns.json"
    stale.write_text(json.dumps({"torchvision": "0.0.1", "models": {"resnet18": "x.pth"}}))
    monkeypatch.setattr(tv_catalogue, "CATALOGUE", stale)
    tv_catalogue.catalogue.cache_clear()
    try:
        answer = tv_catalogue.catalogue()
    finally:
        tv_catalogue.catalogue.cache_clear()
    assert answer == tv_catalogue.from_torchvision() and answer["resnet18"] != "x.pth"


QT_ENV = {"QT_QPA_PLATFORM": "offscreen"}


def test_window_first_frame_is_shown_before_torch_is_imported():
    """What run_gui shows first: the frame with its progress line, from Qt alone."""
    mods = _imported("""
        from explorer.gui.app import show_start_window
        app, shell = show_start_window(size=(900, 600))
        assert shell.isVisible() and shell.progress_text
        assert not shell.grab().isNull()
        # the frame answers events: a resize is honoured
        shell.resize(1000, 700)
        app.processEvents()
        assert shell.width() == 1000
        """, QT_ENV)
    assert "PySide6" in mods
    assert not mods & (HEAVY - {"PySide6"}), sorted(mods & HEAVY)


def test_window_replaces_its_first_frame_and_draws_the_mosaic(tmp_path):
    """`gui --screenshot` end to end: the frame is shown, the imports finish, the main
    window takes the frame's place and draws the default network's mosaic, in that order."""
    out = tmp_path / "shot.png"
    env = {**os.environ, **QT_ENV, "CNN_EXPLORER_STARTUP": "1"}
    run = subprocess.run([sys.executable, "-m", "explorer", "gui", "--screenshot", str(out),
                          "--size", "900x640"], capture_output=True, text=True, timeout=600,
                         env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    marks = {}
    for line in run.stderr.splitlines():
        if line.startswith("startup: "):
            _, name, when = line.split()
            marks[name] = float(when)
    assert list(marks) == ["shown", "imported", "window", "mosaic", "collector"], marks
    assert marks["shown"] <= marks["imported"] <= marks["window"] <= marks["mosaic"]
    # the garbage collector waited for the mosaic and then came back (explorer.gui.app)
    assert marks["mosaic"] <= marks["collector"]
    from PIL import Image

    with Image.open(out) as img:
        assert img.size == (900, 640)
        # the mosaic is drawn: the window is not the empty frame's flat grey
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20)) > 200


def test_collector_waits_for_start_up_and_comes_back():
    """hold_collector / settle_collector in a process of their own: the collector is off
    while held, then on, with what existed frozen (never scanned again)."""
    _imported("""
        import gc
        from explorer.gui.app import hold_collector, settle_collector
        hold_collector()
        assert not gc.isenabled()
        settle_collector()
        assert gc.isenabled() and gc.get_freeze_count() > 1000
        """, QT_ENV)


def test_start_frame_names_the_main_windows_sections():
    """The frame's tab bar shows the sections the main window will have, in order."""
    _imported("""
        import sys
        from explorer.gui.app import show_start_window
        from explorer.gui.start_window import SECTION_TITLES
        app, shell = show_start_window()
        bar = shell.section_bar
        assert [bar.tabText(i) for i in range(bar.count())] == list(SECTION_TITLES)
        assert "torch" not in sys.modules
        from explorer.gui.common.section import SECTIONS
        assert list(SECTION_TITLES) == ["Explore"] + [e.title for e in SECTIONS]
        """, QT_ENV)


def test_main_window_builds_without_the_libraries_only_other_tabs_need():
    """What the start pays for after torch: the main window itself. torchvision (its ops
    import torch._dynamo), timm, igraph (it imports matplotlib), OpenCV and the scientific
    stacks wait until a tab or network needs them."""
    mods = _imported("""
        from explorer.gui.app import make_app
        from explorer.gui.main_window import MainWindow
        app = make_app()
        window = MainWindow(device="cpu")
        assert window.network_panel is not None
        window.close()
        """, QT_ENV)
    late = {"torchvision", "timm", "matplotlib", "igraph", "cv2", "sklearn", "skimage",
            "scipy", "captum", "pytorch_grad_cam", "onnx", "ray"}
    assert "torch" in mods and not mods & late, sorted(mods & late)
