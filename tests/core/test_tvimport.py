"""Every first import of torchvision (or of a library that imports it) in the explorer
goes through explorer.core.tvimport.ensure_torchvision: two threads importing parts of
torchvision at once deadlock in Python's import locks, and Python breaks the deadlock
with a half-made module (the lecture tour's walk failed that way: a Detection step built
on the GUI thread while a worker loaded a network)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import explorer

IMPORTS_TORCHVISION = ("torchvision", "timm", "onnx2torch", "pytorch_grad_cam")


def _imports(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def _calls_ensure(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "ensure_torchvision")


def _unguarded(tree: ast.AST) -> list[int]:
    """Lines importing torchvision (or a library that does) with no ensure_torchvision()
    call before them in the same block."""
    bad = []
    for block in ast.walk(tree):
        for field in ("body", "orelse", "finalbody", "handlers"):
            stmts = getattr(block, field, None)
            if not isinstance(stmts, list):
                continue
            guarded = False
            for stmt in stmts:
                if not isinstance(stmt, ast.stmt):
                    continue
                guarded = guarded or _calls_ensure(stmt)
                names = _imports(stmt)
                if any(n.split(".")[0] in IMPORTS_TORCHVISION for n in names) and not guarded:
                    bad.append(stmt.lineno)
    return bad


def test_every_import_of_torchvision_is_guarded():
    root = Path(explorer.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "tvimport.py":
            continue
        lines = _unguarded(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [f"{path.relative_to(root.parent)}:{n}" for n in lines]
    assert not offenders, offenders


def test_the_check_finds_an_unguarded_import():
    tree = ast.parse(textwrap.dedent("""
        def f():
            from torchvision.ops import nms
        def g():
            ensure_torchvision()
            import timm
        """))
    assert _unguarded(tree) == [3]


def test_two_threads_importing_parts_of_torchvision_at_once():
    """In a fresh interpreter, one thread imports torchvision.ops (as the Detection
    section does) while another imports a torchvision network (as a worker loading one
    does): both get whole modules."""
    code = textwrap.dedent("""
        import threading
        import torch  # noqa: F401 - as in the window, torch is in first
        from explorer.core.tvimport import ensure_torchvision
        errors = []
        def ops():
            try:
                ensure_torchvision()
                from torchvision.ops import nms, StochasticDepth  # noqa: F401
            except Exception as exc:
                errors.append(repr(exc))
        def nets():
            try:
                ensure_torchvision()
                import torchvision.models.efficientnet as e
                e.efficientnet_b0()
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=ops), threading.Thread(target=nets)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        print("ok")
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
