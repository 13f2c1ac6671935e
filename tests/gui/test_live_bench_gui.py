"""The live benchmark's Qt rows (frame to screen, drawing cost) on a tiny network: their
structure, not their speed."""

import pytest
import torch

from tests.core.test_live_engine import tiny_net


@pytest.fixture
def live_fps(monkeypatch):
    from benchmarks import live_fps

    monkeypatch.setattr(live_fps, "load", lambda name, device: tiny_net().to(device))
    return live_fps


def test_screen_rate_row(qtbot, live_fps):
    torch.set_num_threads(1)
    headless = {"value_s": 0.01}
    row = live_fps.screen_rate("tiny", 32, "cpu", 10.0, 0.5, headless)
    assert row["fps"] > 0 and row["frames"] >= 2
    assert row["value_s"] == pytest.approx(1 / row["fps"])
    assert row["ratio"] == pytest.approx(row["value_s"] / 0.01)
    assert row["ok"] == (row["fps"] >= 10.0)
    # beside the headless row run with the thread count the panel settled on
    rows = [{"value_s": 0.001, "baseline_s": 0.001, "threads": 99},
            {"value_s": 0.02, "baseline_s": 0.004, "threads": 1},
            {"value_s": 0.01, "baseline_s": 0.002, "threads": 2}]
    paired = live_fps.screen_rate("tiny", 32, "cpu", 10.0, 0.5, rows)
    assert paired["threads"] in (1, 2) and paired["baseline_threads"] == paired["threads"]
    chosen = next(r for r in rows if r["threads"] == paired["threads"])
    assert paired["baseline_s"] == chosen["value_s"]
    assert paired["ratio_to_batched"] == pytest.approx(paired["value_s"] / chosen["baseline_s"])
    skipped = live_fps.screen_rate("tiny", 32, "cpu", 10.0, 0.5, None)
    assert skipped["ok"] is None and "skipped" in skipped["note"]


def test_draw_cost_row(qtbot, live_fps):
    row = live_fps.draw_cost("tiny", 32, repeats=2)
    assert row["value_s"] > 0 and row["baseline_s"] > 0
    assert row["ratio"] == pytest.approx(row["value_s"] / row["baseline_s"])
    assert row["mosaic_px"] == [32 * 2 + 1, 32 * 2 + 1]  # 4 maps of 32 x 32, 2 x 2, 1 px gaps
    assert "ms" in live_fps.format_row(row)
