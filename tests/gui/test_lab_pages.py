"""Lab pages: the numbers each page shows are explorer.lab's (the CLI's) numbers."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.lab import conv, params, pool
from explorer.lab.table import lecture_table


@pytest.fixture
def page(qtbot):
    """Build a page class, register it with qtbot and shut its workers down after."""
    made = []

    def make(cls):
        p = cls()
        qtbot.addWidget(p, before_close_func=lambda w: w.shutdown())
        made.append(p)
        return p

    yield make
    for p in made:
        p.shutdown()


def test_conv_page_matches_lab_for_presets(page):
    from explorer.gui.lab.conv_page import ConvPage

    p = page(ConvPage)
    x = lecture_table()
    for name, size in (("box", 3), ("x-derivative", 3), ("laplacian", 5)):
        p.set_preset(name, size)
        expected = conv.convolve(x, conv.kernel(name, size))
        np.testing.assert_allclose(p.output, expected)
    # padding / stride / dilation from the controls reach explorer.lab
    p.set_preset("y-derivative", 3)
    p.padding_combo.setCurrentText("same-symmetric")
    p.stride_spin.setValue(2)
    p.dilation_spin.setValue(2)
    expected = conv.convolve(x, conv.kernel("y-derivative", 3), "same-symmetric", 2, 2)
    np.testing.assert_allclose(p.output, expected)
    assert p.output.shape == (5, 5)


def test_conv_page_box_numbers_and_formula(page):
    from explorer.gui.lab.conv_page import ConvPage

    p = page(ConvPage)
    p.set_preset("box", 3)
    grid = p.output_view.grid
    assert (grid.rowCount(), grid.columnCount()) == (8, 8)
    # the mean of the first 3x3 window of the lecture's table, as the grid prints it
    first = lecture_table()[:3, :3].mean()
    assert grid.text_at(0, 0) == f"{first:.1f}".rstrip("0").rstrip(".")
    assert "⌊(10 − 3) / 1⌋ + 1 = <b>8</b>" in p.formula_label.text()


def test_conv_page_steps_show_sum_of_products(page):
    from explorer.gui.lab.conv_page import ConvPage

    p = page(ConvPage)
    p.set_preset("x-derivative", 3)
    assert p.step_index == -1
    assert p.step_forward() and p.step_forward()
    st = p.steps[p.step_index]
    assert st.out == (0, 1)
    assert st.total == pytest.approx(p.output[0, 1])
    assert f"= <b>{st.total:g}</b>" in p.step_label.text()
    # the highlighted window is the 3x3 block at rows 0..2, cols 1..3 of the table
    assert p.input_view.grid._marked == {(r, c) for r in range(3) for c in range(1, 4)}
    assert p.step_back() and p.step_index == 0
    # animation: the timer walks to the end and stops
    p.speed_slider.setValue(20)
    p.toggle_play()
    assert p.timer.isActive()
    p.timer.stop()


def test_conv_page_transposed_and_errors(page):
    from explorer.gui.lab.conv_page import ConvPage

    p = page(ConvPage)
    p.set_preset("gaussian", 3)
    p.stride_spin.setValue(2)
    p.set_operation("transposed")
    np.testing.assert_allclose(p.output, conv.transposed(lecture_table(),
                                                         conv.kernel("gaussian", 3), 2))
    assert p.output.shape == (21, 21) and "= <b>21</b>" in p.formula_label.text()
    assert not p.steps and p.step_count() == 100  # one scatter step per input cell
    assert not p.padding_combo.isEnabled()
    p.set_operation("convolution")
    p.stride_spin.setValue(1)
    p.dilation_spin.setValue(3)
    p.set_preset("box", 5)  # spans 13 cells: does not fit a 10x10 valid convolution
    assert p.error and "does not fit" in p.formula_label.text()


def test_conv_page_steps_the_transposed_convolution_cell_by_cell(page):
    """The orange input cell, its kernel scaled by the cell, the yellow output cells it adds
    into; the running sum after the last cell is torch's conv_transpose2d."""
    import torch
    import torch.nn.functional as F

    from explorer.gui.lab.conv_page import ConvPage

    p = page(ConvPage)
    p.apply_preset({"input": "table corner 4x4", "kernel": "x-derivative", "size": 3,
                    "stride": 2, "operation": "transposed", "step": 0})
    x, w = lecture_table()[:4, :4], conv.kernel("x-derivative")
    ref = F.conv_transpose2d(torch.from_numpy(x.copy())[None, None],
                             torch.from_numpy(w)[None, None], stride=2)[0, 0].numpy()
    np.testing.assert_allclose(p.output, ref)
    assert p.output.shape == (9, 9) and p.step_count() == 16
    assert "scatters the kernel" in p.hint_label.text()
    assert "(4 − 1)·2 − 2·0 + 1·(3 − 1) + 1 = <b>9</b>" in p.formula_label.text()
    grid = p.output_view.grid
    for k in range(16):
        assert p.step_forward()
        st = p.scatter[k]
        i, j = st.source
        assert st.source == divmod(k, 4)
        # the input cell is marked, the kernel scaled by it is shown, the cells it adds
        # into are the 3x3 block at (2i, 2j)
        assert p.input_view.grid._marked == {(i, j)}
        np.testing.assert_allclose(p.applied_grid.values, x[i, j] * w)
        assert grid._marked == {(2 * i + r, 2 * j + c) for r in range(3) for c in range(3)}
        assert f"x<sub>{i},{j}</sub>" in p.step_label.text()
        # the output grid shows what the cells so far have added up to
        partial = np.zeros((9, 9))
        for s in p.scatter[:k + 1]:
            partial[s.rows, s.cols] += s.contributions
        np.testing.assert_allclose(grid.values, partial)
    assert not p.step_forward()
    np.testing.assert_allclose(grid.values, ref)
    assert p.step_back() and p.step_index == 14
    np.testing.assert_allclose(p.partial_output(), p.partial_output(14))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_conv_page_upsample_then_convolve(page, interpolation):
    import torch
    import torch.nn.functional as F

    from explorer.gui.lab.conv_page import ConvPage

    p = page(ConvPage)
    p.apply_preset({"input": "table corner 4x4", "kernel": "box", "padding": "same-zeros",
                    "stride": 2, "operation": "upsample", "interpolation": interpolation,
                    "mode": "correlation", "step": 3})
    x = torch.from_numpy(lecture_table()[:4, :4].copy())[None, None]
    extra = {"align_corners": False} if interpolation == "bilinear" else {}
    up = F.interpolate(x, scale_factor=2, mode=interpolation, **extra)
    ref = F.conv2d(up, torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64), padding=1)
    np.testing.assert_allclose(p.upsampled, up[0, 0].numpy())
    np.testing.assert_allclose(p.output, ref[0, 0].numpy())
    assert p.stride_label.text() == "factor" and p.output.shape == (8, 8)
    assert "4·2 = 8, ⌊(8 + 1 + 1 − 1·(3−1) − 1) / 1⌋ + 1 = <b>8</b>" in p.formula_label.text()
    # the forward steps run over the up-sampled (and padded) picture
    assert p.step_count() == 64 and p.step_index == 2
    st = p.steps[2]
    assert st.out == (0, 2) and st.total == pytest.approx(p.output[0, 2])
    assert p.input_view.grid.rowCount() == 10  # 8x8 with a 1-cell zero border


def test_conv_page_stride_chain_corrects_the_slide(page):
    from explorer.gui.lab.conv_page import ConvPage

    p = page(ConvPage)
    p.apply_preset({"kernel": "box", "size": 5, "stride": 2})
    assert p.chain == conv.size_chain(128, 5, 2) == [128, 62, 29, 13, 5, 1]
    text = p.formula_label.text()
    assert "128 → 62 → 29 → 13 → 5 → 1" in text
    assert "(slide: 12; ⌊(29−5)/2⌋+1 = <b>13</b>)" in text
    p.apply_preset({"kernel": "box", "size": 5, "stride": 1})
    assert p.chain[:4] == [128, 124, 120, 116] and "slide:" not in p.formula_label.text()
    p.apply_preset({"kernel": "box", "size": 3, "padding": "same-zeros"})
    assert p.chain == [] and "repeated" not in p.formula_label.text()


def test_pool_page_default_is_the_lecture_example(page):
    from explorer.gui.lab.pool_page import PoolPage

    p = page(PoolPage)
    assert p.settings() == ("max", 5, 5)
    np.testing.assert_array_equal(p.output, [[617, 614], [614, 625]])
    g = p.output_grid
    assert [g.text_at(r, c) for r in range(2) for c in range(2)] == ["617", "614", "614", "625"]
    # where the maxima came from: 617 at (1, 3), 625 at (9, 5)
    assert {(1, 3), (9, 5)} <= set(p.input_grid._bold)


def test_pool_page_moving_the_maximum(page):
    from explorer.gui.lab.pool_page import PoolPage

    p = page(PoolPage)
    assert p.extreme_cell() == (1, 3)
    assert p.step_forward()  # inside its window
    assert p.move.same_window and not p.move.changed
    assert "unchanged" in p.verdict.text()
    assert p.step_forward()  # across the border into window (0, 1)
    assert not p.move.same_window
    assert p.move.changed_cells == [(0, 0), (0, 1)]
    assert p.output_grid.text_at(0, 1) == "617"
    assert not p.step_forward()
    assert p.step_back() and p.step_back() and p.move is None
    # a click moves it too; same numbers as explorer.lab.pool
    p.input_grid.cellPicked.emit(4, 0)
    expected = pool.move_value(lecture_table(), (1, 3), (4, 0), "max", 5, 5)
    assert p.move.changed == expected.changed
    p.set_settings("avg", 2, 2)
    np.testing.assert_allclose(p.output, pool.pool(lecture_table(), "avg", 2, 2))


def test_params_page_totals_equal_lab(page):
    from explorer.gui.lab.params_page import ParamsPage

    p = page(ParamsPage)
    fc, cv = params.fc_vs_conv()
    assert p.fc.total == fc.total == 1_091_024
    assert p.conv.total == cv.total == 705_488
    last = p.fc_table.rowCount() - 1
    assert p.fc_table.item(last, 6).text() == "1,091,024"
    assert p.conv_table.item(p.conv_table.rowCount() - 1, 6).text() == "705,488"
    assert "57,600 + 50,176 + 43,264 = 151,040" in p.conv_total.text()
    assert p.vgg == params.vgg_totals()
    rows = {p.vgg_table.item(r, 0).text(): p.vgg_table.item(r, 3).text()
            for r in range(p.vgg_table.rowCount())}
    assert rows == {k: str(v) for k, v in params.VGG_PAPER_MILLIONS.items()}
    p.config_combo.setCurrentText("E")
    assert p.config_table.item(p.config_table.rowCount() - 1, 3).text() == "143,667,240"


def test_hierarchy_page_shows_lab_maps(page):
    from explorer.gui.lab.hierarchy_page import HierarchyPage
    from explorer.lab.hierarchy import hierarchy

    p = page(HierarchyPage)
    p.image_combo.setCurrentText("lecture table")
    expected = hierarchy(lecture_table())
    np.testing.assert_allclose(p.result.layer1["x+"], expected.layer1["x+"])
    np.testing.assert_allclose(p.grid.items["laplacian"].image, expected.layer2["laplacian"])


def _cli_json(capsys, *argv) -> dict:
    import json

    from explorer.cli import main

    assert main(["lab", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_pages_show_what_the_cli_prints(page, capsys):
    """Each page and its headless twin (`cnn-explorer lab ... --json`) agree."""
    from explorer.gui.lab.conv_page import ConvPage
    from explorer.gui.lab.params_page import ParamsPage
    from explorer.gui.lab.pool_page import PoolPage

    data = _cli_json(capsys, "conv", "--kernel", "laplacian", "--padding", "same-reflect",
                     "--stride", "2")
    p = page(ConvPage)
    p.set_preset("laplacian", 3)
    p.padding_combo.setCurrentText("same-reflect")
    p.stride_spin.setValue(2)
    np.testing.assert_allclose(p.output, data["output"])

    data = _cli_json(capsys, "pool")
    assert page(PoolPage).output.tolist() == data["output"]

    data = _cli_json(capsys, "params")
    pp = page(ParamsPage)
    assert pp.fc.total == data["fully_connected"]["total"]
    assert pp.conv.total == data["convolutional"]["total"]
    data = _cli_json(capsys, "vgg")
    assert pp.vgg == {k: v["params"] for k, v in data.items()}


@pytest.mark.parametrize("preset", [
    {"input": "table corner 4x4", "kernel": "identity", "stride": 2, "operation": "transposed",
     "step": 5},
    {"input": "table corner 4x4", "kernel": "box", "padding": "same-zeros", "stride": 2,
     "operation": "upsample", "step": 5},
    {"kernel": "box", "size": 5, "stride": 2, "step": 0},
    {"kernel": "box", "size": 5, "stride": 2, "step": 1},
])
def test_conv_page_fits_in_both_themes_while_stepping(qtbot, qapp, preset):
    """Transposed, up-sampled and chained: the page still fits 1366x768 and 1920x1080 in
    both themes (the checks of test_lab_fit)."""
    from PySide6.QtWidgets import QFrame, QScrollArea

    from explorer.gui.common import theme
    from explorer.gui.lab import LabPanel
    from tests.gui.test_lab_fit import MODES, SIZES, _settle, check_fits

    holder = QScrollArea()
    holder.setWidgetResizable(True)
    holder.setFrameShape(QFrame.Shape.NoFrame)
    panel = LabPanel()
    holder.setWidget(panel)
    qtbot.addWidget(holder, before_close_func=lambda _w: panel.shutdown())
    try:
        panel.show_page("conv").apply_preset(preset)
        holder.resize(*SIZES[0])
        holder.show()
        for mode in MODES:
            theme.apply(qapp, presentation=mode == "presentation")
            for width, height in SIZES:
                holder.resize(width, height)
                _settle(qapp, panel)
                key = preset.get("operation", "chain")
                check_fits(holder, panel, f"conv {key}, {mode}, {width}x{height}")
                if (width, height) == SIZES[0]:
                    assert holder.grab().save(f"/tmp/lab_conv_{key}_{mode}.png")
    finally:
        theme.apply(qapp, presentation=False)
