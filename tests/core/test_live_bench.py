"""`cnn-explorer bench` and `cnn-explorer live`: output structure on tiny, quick runs
(nothing here is a timing test: the numbers only have to be there and consistent)."""

import json
import types

import pytest
import torch

from benchmarks import live_fps
from explorer.cli import main
from explorer.commands import live as live_cmd

KEYS = {"name", "baseline", "baseline_s", "value_s", "ratio", "target", "ok"}


@pytest.fixture
def tiny_bench(monkeypatch):
    from benchmarks import live_fps
    from tests.core.test_live_engine import tiny_net

    monkeypatch.setattr(live_fps, "CASES", [("tiny", 32, "cpu", 20.0),
                                            ("tiny", 32, "cuda", 60.0)])
    monkeypatch.setattr(live_fps, "load", lambda name, device: tiny_net().to(device))
    monkeypatch.setattr(live_fps, "QUICK", (0.3, 2))
    monkeypatch.setattr(live_fps, "SCREEN_CASES", [])  # Qt rows: tests/gui/test_live_bench_gui
    monkeypatch.setattr(live_fps, "DRAW_MODELS", [])
    monkeypatch.setattr(live_fps, "thread_counts", lambda quick: [1])
    return live_fps


def test_bench_json_structure(tiny_bench, capsys):
    assert main(["bench", "--only", "live_fps", "--quick", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["quick"] is True and data["cpu_count"] >= 1
    rows = data["results"]
    assert all(KEYS <= set(r) and r["module"] == "live_fps" for r in rows)
    cpu = [r for r in rows if r["device"] == "cpu"]
    assert len(cpu) >= 1
    for r in cpu:
        assert r["fps"] > 0 and r["frames"] >= 2 and r["baseline_s"] > 0
        assert r["value_s"] == pytest.approx(1 / r["fps"])
        assert r["ratio"] == pytest.approx(r["value_s"] / r["baseline_s"])
        assert r["ok"] == (r["fps"] >= 20.0) and r["layer"] == "conv1"
        # 4 x the target, or the network's batched rate where faster (capped)
        assert r["batch1_s"] > 0 and 80.0 <= r["source_fps"] <= live_fps.MAX_SOURCE_FPS
    cuda = [r for r in rows if r["device"] == "cuda"]
    if not torch.cuda.is_available():
        assert len(cuda) == 1 and cuda[0]["ok"] is None and "no CUDA" in cuda[0]["note"]


def test_bench_text_prints_figure_beside_baseline(tiny_bench, capsys):
    assert main(["bench", "--only", "live_fps", "--quick"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "live tiny 32x32 cpu" in ln)
    assert "fps" in line and "plain forward" in line and "x  target >= 20 fps" in line


def test_bench_discovers_modules_and_survives_bad_ones(monkeypatch):
    names = live_cmd.benchmark_modules()
    assert "live_fps" in names and "trace_overhead" in names and "run_all" not in names
    fakes = {
        "no_run": types.SimpleNamespace(),
        "broken": types.SimpleNamespace(run=lambda: 1 / 0),
        "repeats": types.SimpleNamespace(run=lambda repeats=10: [
            {"name": f"r{repeats}", "baseline": "b", "baseline_s": 1.0, "value_s": 2.0,
             "ratio": 2.0, "target": "<= 3x", "ok": True}]),
    }
    monkeypatch.setattr(live_cmd, "_import", lambda name: fakes[name])
    rows = live_cmd.run_benchmarks(["no_run", "broken", "repeats"], quick=True)
    by = {r["module"]: r for r in rows}
    assert by["no_run"]["ok"] is None and "no run()" in by["no_run"]["note"]
    assert by["broken"]["ok"] is None and "ZeroDivisionError" in by["broken"]["note"]
    assert by["repeats"]["name"] == "r3"  # --quick asks run(repeats=...) for fewer
    assert "2000.00 ms" in live_cmd.format_row(by["repeats"])


def test_bench_unknown_module_is_a_user_error(capsys):
    assert main(["bench", "--only", "nope"]) == 2
    assert "no benchmark nope" in capsys.readouterr().err


def test_live_command_json_and_png(tmp_path, capsys):
    out = tmp_path / "mosaic.png"
    code = main(["live", "--model", "tinyvgg-shapes", "--device", "cpu", "--frames", "3",
                 "--unpaced", "--threads", "1", "--layer", "features.conv3", "--out",
                 str(out), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["frames"] == 3 and data["layer"] == "features.conv3"
    assert data["shape"] == [32, 32, 32] and len(data["top5"]) == 5
    assert out.stat().st_size > 1000


def test_live_command_errors(tmp_path, capsys):
    assert main(["live", "--source", "99", "--frames", "1"]) == 2
    assert "camera 99" in capsys.readouterr().err
    assert main(["live", "--source", str(tmp_path / "none.mp4"), "--frames", "1"]) == 2
    assert main(["live", "--layer", "nope", "--frames", "1", "--device", "cpu"]) == 2
    assert "no layer 'nope'" in capsys.readouterr().err
