"""Page 2, pooling: max / min / average pooling of the lecture's table with any window and
stride (default the slide's 5x5 max pooling, stride 5: [[617, 614], [614, 625]]), and the
"move the maximum" demonstration of *local* translation invariance.

Numbers come from :mod:`explorer.lab.pool`, as ``cnn-explorer lab pool`` prints them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.errors import UserError
from explorer.gui.lab.common import (
    CHANGED,
    CHANGED_MARK,
    SOURCE,
    UNCHANGED,
    UNCHANGED_MARK,
    LabPage,
    NumberGrid,
    big_label,
    error_text,
    fmt,
    swatch,
    wrapped_label,
)
from explorer.gui.lab.conv_page import size_formula
from explorer.lab import pool
from explorer.lab.table import lecture_table

#: two tints that tell neighbouring pooling windows apart
TINTS = (QColor("#fff3b0"), QColor("#cfe8ff"))


def _matrix_text(a: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(fmt(v, 1) for v in row) + "]" for row in a) + "]"


class PoolPage(LabPage):
    title = "2  Pooling"
    slide = "“Max pooling”, “Dimensionality reduction”"
    hint = ("Each tinted block is one pooling window; the framed cell is the value it passes "
            "on. Click a cell to move the chosen window's maximum there. Space / → moves it "
            "inside its window, then across the border.")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x = lecture_table()
        self.output = np.zeros((0, 0))
        self.move: pool.MoveResult | None = None
        self.demo_step = 0
        self._build()
        self.recompute()

    def _build(self) -> None:
        box = QGroupBox("Pooling")
        form = QFormLayout(box)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["max", "min", "avg"])
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, 10)
        self.size_spin.setValue(5)
        self.stride_spin = QSpinBox()
        self.stride_spin.setRange(1, 10)
        self.stride_spin.setValue(5)
        form.addRow("type", self.mode_combo)
        form.addRow("window k", self.size_spin)
        form.addRow("stride s", self.stride_spin)
        self.mode_combo.currentIndexChanged.connect(self._settings_changed)
        self.size_spin.valueChanged.connect(self._settings_changed)
        self.stride_spin.valueChanged.connect(self._settings_changed)

        mbox = QGroupBox("Move the maximum")
        mlay = QVBoxLayout(mbox)
        row = QHBoxLayout()
        row.addWidget(QLabel("of window"))
        self.win_row = QSpinBox()
        self.win_col = QSpinBox()
        self.win_row.setToolTip("the window's row among the output's rows")
        self.win_col.setToolTip("the window's column among the output's columns")
        for spin in (self.win_row, self.win_col):
            spin.valueChanged.connect(self.reset_move)
            row.addWidget(spin)
        mlay.addLayout(row)
        self.inside_button = QPushButton("inside its window")
        self.across_button = QPushButton("across the border")
        self.reset_button = QPushButton("put it back")
        self.inside_button.clicked.connect(self.move_inside)
        self.across_button.clicked.connect(self.move_across)
        self.reset_button.clicked.connect(self.reset_move)
        for b in (self.inside_button, self.across_button, self.reset_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            mlay.addWidget(b)
        self.map_check = QCheckBox("where would it change the output?")
        self.map_check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.map_check.toggled.connect(self._redraw)
        mlay.addWidget(self.map_check)
        self.map_legend = wrapped_label(
            f"{swatch(UNCHANGED, UNCHANGED_MARK)} unchanged, "
            f"{swatch(CHANGED, CHANGED_MARK)} changed", "hint", rich=True)
        mlay.addWidget(self.map_legend)

        controls = QVBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(box)
        controls.addWidget(mbox)
        controls.addStretch(1)
        left = QWidget()
        left.setLayout(controls)

        self.input_grid = NumberGrid()
        self.input_grid.setCursor(Qt.CursorShape.PointingHandCursor)
        self.input_grid.cellPicked.connect(self.move_to)
        self.output_grid = NumberGrid(cell=64, decimals=1)
        self.before_grid = NumberGrid(cell=64, decimals=1)
        self.input_title = wrapped_label(rich=True)
        self.output_title = wrapped_label("<b>output</b>", rich=True)
        self.before_title = wrapped_label("<b>before the move</b>", rich=True)
        col_in = QVBoxLayout()
        col_in.addWidget(self.input_title)
        col_in.addWidget(self.input_grid, 1)
        col_out = QVBoxLayout()
        col_out.addWidget(self.output_title)
        col_out.addWidget(self.output_grid, 1)
        col_out.addWidget(self.before_title)
        col_out.addWidget(self.before_grid, 1)
        col_out.addStretch(0)
        grids = QHBoxLayout()
        grids.addLayout(col_in, 3)
        grids.addLayout(col_out, 1)
        self.formula_label = big_label(scale=1.0)
        self.formula_label.setTextFormat(Qt.TextFormat.RichText)
        self.verdict = big_label(scale=1.15)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        text = QHBoxLayout()
        text.addWidget(self.formula_label, 1)
        text.addWidget(self.verdict, 1)
        right = QVBoxLayout()
        right.addLayout(grids, 1)
        right.addLayout(text)
        main = QHBoxLayout()
        main.addWidget(left)
        main.addLayout(right, 1)
        self.body.addLayout(main, 1)

    # -- settings ---------------------------------------------------------------------
    def settings(self) -> tuple[str, int, int]:
        return self.mode_combo.currentText(), self.size_spin.value(), self.stride_spin.value()

    def set_settings(self, mode: str, size: int, stride: int) -> None:
        self.mode_combo.setCurrentText(mode)
        self.size_spin.setValue(size)
        self.stride_spin.setValue(stride)
        self.recompute()

    def _settings_changed(self) -> None:
        self.move = None
        self.demo_step = 0
        self.recompute()

    def recompute(self) -> None:
        mode, k, s = self.settings()
        try:
            self.output = pool.pool(self.x, mode, k, s)
        except UserError as exc:
            self.output = np.zeros((0, 0))
            self.formula_label.setText(error_text(str(exc)))
            self.input_grid.set_values(self.x)
            self.output_grid.set_values(np.zeros((0, 0)))
            return
        h, w = self.output.shape
        for spin, n in ((self.win_row, h), (self.win_col, w)):
            spin.blockSignals(True)
            spin.setRange(0, n - 1)
            spin.blockSignals(False)
        self.formula_label.setText(
            "<b>Output size</b><br>" + "<br>".join(
                size_formula(axis, m, k, s, (0, 0), 1)
                for axis, m in (("rows", self.x.shape[0]), ("cols", self.x.shape[1]))))
        self.extreme_movable = mode in ("max", "min")
        for b in (self.inside_button, self.across_button, self.map_check, self.win_row,
                  self.win_col):
            b.setEnabled(self.extreme_movable)
        self._redraw()

    # -- drawing ----------------------------------------------------------------------
    def _shown_input(self) -> np.ndarray:
        if self.move is None:
            return self.x
        moved = self.x.copy()
        src, dst = self.move.source, self.move.target
        moved[src], moved[dst] = self.x[dst], self.x[src]
        return moved

    def _redraw(self) -> None:
        mode, k, s = self.settings()
        shown = self._shown_input()
        current = pool.pool(shown, mode, k, s)
        self.input_grid.set_values(shown, shade=False)
        groups = []
        h, w = current.shape
        tint_cells: dict[int, list] = {0: [], 1: []}
        for i in range(h):
            for j in range(w):
                cells = [(r, c) for r in range(i * s, i * s + k) for c in range(j * s, j * s + k)]
                tint_cells[(i + j) % 2].extend(cells)
        groups += [(TINTS[0], tint_cells[0]), (TINTS[1], tint_cells[1])]
        marks = {}
        if self.map_check.isChecked() and self.extreme_movable:
            changed = pool.invariance_map(self.x, self._window(), mode, k, s)
            same = [(int(r), int(c)) for r, c in np.argwhere(~changed)]
            differ = [(int(r), int(c)) for r, c in np.argwhere(changed)]
            groups += [(UNCHANGED, same), (CHANGED, differ)]
            marks = {**dict.fromkeys(same, UNCHANGED_MARK), **dict.fromkeys(differ, CHANGED_MARK)}
        bold = []
        if mode in ("max", "min"):
            src = pool.pool_sources(shown, mode, k, s).reshape(-1, 2)
            bold = [(int(r), int(c)) for r, c in src]
            groups.append((SOURCE, bold))
        self.input_grid.highlight(groups, bold=bold, marks=marks)
        self.input_title.setText(
            f"<b>input</b>: lecture table, {self.x.shape[0]}x{self.x.shape[1]} — "
            f"{k}x{k} {mode} pooling, stride {s}")
        self.output_grid.set_values(current, shade=False)
        self.output_title.setText(f"<b>output</b> {h}x{w}" + (
            " after the move" if self.move is not None else ""))
        self.map_legend.setVisible(self.map_check.isChecked())
        self.before_title.setVisible(self.move is not None)
        self.before_grid.setVisible(self.move is not None)
        if self.move is None:
            self.verdict.setText(f"Pooled: {_matrix_text(current)}")
            return
        self.before_grid.set_values(self.move.before, shade=False)
        self.output_grid.highlight([(CHANGED, self.move.changed_cells)],
                                   marks=dict.fromkeys(self.move.changed_cells, CHANGED_MARK))
        src, dst = self.move.source, self.move.target
        where = "inside its window" if self.move.same_window else "into another window"
        if not self.move.changed:
            self.verdict.setText(
                f"Moved {fmt(self.move.value)} from {src} to {dst} ({where}): "
                f"<b>= output unchanged</b> — "
                "pooling is invariant to small shifts inside a window.")
        else:
            cells = ", ".join(
                f"{c}: {fmt(self.move.before[c], 1)} → {fmt(self.move.after[c], 1)}"
                for c in self.move.changed_cells)
            self.verdict.setText(
                f"Moved {fmt(self.move.value)} from {src} to {dst} ({where}): "
                f"<b>≠ output changed</b> at {cells} — "
                "the invariance is only local.")

    # -- moving -----------------------------------------------------------------------
    def _window(self) -> tuple[int, int]:
        return self.win_row.value(), self.win_col.value()

    def extreme_cell(self) -> tuple[int, int]:
        """(row, col) of the chosen window's maximum (its minimum for min pooling)."""
        mode, k, s = self.settings()
        if mode == "min":
            i, j = self._window()
            block = self.x[i * s:i * s + k, j * s:j * s + k]
            r, c = np.unravel_index(int(np.argmin(block)), block.shape)
            return int(i * s + r), int(j * s + c)
        return pool.window_maximum(self.x, self._window(), k, s)

    def move_to(self, row: int, col: int) -> None:
        """Swap the chosen window's max (min) with cell (row, col) and pool again."""
        mode, k, s = self.settings()
        if mode not in ("max", "min") or not self.output.size:
            return
        self.move = pool.move_value(self.x, self.extreme_cell(), (row, col), mode, k, s)
        self._redraw()

    def move_inside(self) -> None:
        """Move it to the window's cell farthest from where it is (same window)."""
        _, k, s = self.settings()
        i, j = self._window()
        r0, c0 = i * s, j * s
        src = self.extreme_cell()
        cells = [(r, c) for r in range(r0, r0 + k) for c in range(c0, c0 + k) if (r, c) != src]
        if cells:
            far = max(cells, key=lambda rc: abs(rc[0] - src[0]) + abs(rc[1] - src[1]))
            self.move_to(*far)

    def move_across(self) -> None:
        """Move it one cell past the nearest window border (right, or left at the edge)."""
        _, k, s = self.settings()
        i, j = self._window()
        src = self.extreme_cell()
        right = j * s + k  # first column after the window
        if right < self.x.shape[1]:
            self.move_to(src[0], right)
        elif j * s - 1 >= 0:
            self.move_to(src[0], j * s - 1)

    def reset_move(self) -> None:
        self.move = None
        self.demo_step = 0
        self._redraw()

    # -- presentation keys: original -> inside -> across ------------------------------
    def step_forward(self) -> bool:
        if self.demo_step >= 2 or not self.output.size or not self.extreme_movable:
            return False
        self.demo_step += 1
        (self.move_inside if self.demo_step == 1 else self.move_across)()
        return True

    def step_back(self) -> bool:
        if self.demo_step <= 0:
            return False
        self.demo_step -= 1
        if self.demo_step == 0:
            self.reset_move()
        else:
            self.move_inside()
        return True
