"""DESIGN.md's one rule between layers: nothing outside explorer/gui/ imports Qt; and the
tree stays ruff clean."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "pyqtgraph", "superqt", "shiboken6", "PyQt5", "PyQt6")


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_no_qt_outside_gui():
    offenders = []
    for path in (ROOT / "explorer").rglob("*.py"):
        if "gui" in path.relative_to(ROOT / "explorer").parts[:1]:
            continue
        offenders += [f"{path.relative_to(ROOT)}: {m}" for m in _imports(path)
                      if m.split(".")[0] in QT]
    assert not offenders, offenders


def test_core_imports_without_qt():
    code = ("import sys, explorer.cli, explorer.core.trace, explorer.nets.registry;"
            "import explorer.commands.foundation;"
            f"bad=[m for m in sys.modules if m.split('.')[0] in {QT!r}];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the test extra")
def test_ruff_clean():
    result = subprocess.run(["ruff", "check", "explorer", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


#: modules the faces must reach only through explorer/app/ (pictures, networks, tracing)
BEHIND_APP = ("explorer.nets.registry", "explorer.core.images", "explorer.data.samples",
              "explorer.core.trace")


def test_faces_reach_pictures_networks_and_tracing_only_through_app():
    offenders = []
    for face in ("commands", "gui"):
        for path in (ROOT / "explorer" / face).rglob("*.py"):
            offenders += [f"{path.relative_to(ROOT)}: {m}" for m in _imports(path)
                          if m in BEHIND_APP]
    assert not offenders, offenders


def test_app_layer_is_qt_free_and_argparse_free():
    offenders = []
    for path in (ROOT / "explorer" / "app").rglob("*.py"):
        offenders += [f"{path.relative_to(ROOT)}: {m}" for m in _imports(path)
                      if m.split(".")[0] in QT or m == "argparse"]
    assert not offenders, offenders
