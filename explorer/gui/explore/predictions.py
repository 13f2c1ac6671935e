"""The network's top guesses with probability bars (classifiers only)."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget


class PredictionsPanel(QWidget):
    """Top-k labels, each with a bar; a sentence instead for networks that do not classify."""

    def __init__(self, k: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.k = k
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("hint")
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(6)  # five of them fit the column of a 1024x768 window
        self.labels: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        for i in range(k):
            label = QLabel("")
            label.setWordWrap(True)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setMinimumHeight(22)
            grid.addWidget(label, 2 * i, 0, 1, 2)
            grid.addWidget(bar, 2 * i + 1, 0, 1, 2)
            self.labels.append(label)
            self.bars.append(bar)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.top: list[tuple[str, float]] = []
        self.show_trace(None)

    def show_trace(self, trace) -> None:
        """Fill the bars from `trace.topk(k)`; explain when there is nothing to show."""
        top: list[tuple[str, float]] = []
        if trace is not None and getattr(trace, "probs", None) is not None:
            top = list(trace.topk(self.k))
        self.top = top
        for i, (label, bar) in enumerate(zip(self.labels, self.bars, strict=True)):
            visible = i < len(top)
            label.setVisible(visible)
            bar.setVisible(visible)
            if visible:
                name, p = top[i]
                label.setText(f"{i + 1}.  {name}")
                bar.setValue(round(float(p) * 1000))
                bar.setFormat(f"{float(p) * 100:.1f} %")
        if trace is None:
            self.note.setText("")
        elif not top:
            self.note.setText(f"{trace.network.name} does not classify whole images, "
                              "so there are no class probabilities to show.")
        elif trace.network.random_weights:
            self.note.setText("Random weights: these guesses mean nothing yet.")
        else:
            self.note.setText("")
