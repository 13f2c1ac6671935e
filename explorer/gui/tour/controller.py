"""The lecture tour in the window: one step per section of the lecture, in presentation
mode, with a caption bar ("step k of n", the lecture's title, one caption line).

Keys while the tour runs: Space, → and PgDown go on, ← and PgUp go back, Esc leaves the
tour to explore freely (presentation mode stays; Esc again leaves it as usual) and F5 (or
Tour → Resume) comes back at the same step. Space and the arrows stay with a slider, spin
box, text field or combo box that has the keyboard, as in the Lab; PgDown / PgUp always
turn the step (a presenter's clicker).

The keys are taken in an application event filter, installed only while the tour runs:
the filter accepts the ShortcutOverride of these keys, so neither the Lab's nor Explore's
shortcuts on the same keys fire (two shortcuts on one key would cancel each other), and
then handles the key press itself.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QPalette, QWindow
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from explorer.gui.common import theme
from explorer.gui.lab.common import follow_theme
from explorer.gui.lab.lab_panel import EDITORS
from explorer.gui.tour.presets import apply_step
from explorer.tour.steps import STEPS, TourStep

#: keys that turn the step, and whether an editor with the focus keeps them
NEXT_KEYS = {Qt.Key.Key_Space: True, Qt.Key.Key_Right: True, Qt.Key.Key_PageDown: False}
BACK_KEYS = {Qt.Key.Key_Left: True, Qt.Key.Key_PageUp: False}
#: the key (and menu shortcut) that starts the tour or resumes it at its step
RESUME_KEY = "F5"


class CaptionBar(QFrame):
    """The tour's line at the bottom of the window: ◀, "k / n", the section's title and
    the caption, ▶, and a button to leave. Its buttons never take the keyboard."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tourBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.back_button = QPushButton("◀")
        self.next_button = QPushButton("▶")
        self.leave_button = QPushButton("Esc")
        self.back_button.setToolTip("previous step (← or PgUp)")
        self.next_button.setToolTip("next step (Space, → or PgDown)")
        self.leave_button.setToolTip(f"leave the tour to explore freely; {RESUME_KEY} "
                                     "comes back to this step")
        for button in (self.back_button, self.next_button, self.leave_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space belongs to the tour
        self.counter = QLabel("")
        self.counter.setObjectName("tourCounter")
        self.caption = QLabel("")
        self.caption.setObjectName("tourCaption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        # no least width of its own: a long word of the caption must not hold the window
        # wider than the --size asked (a 640-wide tour export came out 1199 wide); it
        # wraps, and its height follows its width
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.caption.setSizePolicy(policy)
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 4)
        self._layout.addWidget(self.back_button, 0, 0)
        self._layout.addWidget(self.counter, 0, 1)
        self._layout.addWidget(self.next_button, 0, 3)
        self._layout.addWidget(self.leave_button, 0, 4)
        self._layout.setColumnStretch(2, 1)
        #: whether the caption has a line of its own under the buttons (a narrow window)
        self.stacked: bool | None = None
        self._arrange(stacked=False)
        follow_theme(self, self._restyle)
        self._restyle(theme.current(), theme.text_scale())

    def _arrange(self, stacked: bool) -> None:
        """The caption between the buttons, or on a line of its own under them."""
        if stacked == self.stacked:
            return
        self.stacked = stacked
        self._layout.removeWidget(self.caption)
        if stacked:
            self._layout.addWidget(self.caption, 1, 0, 1, 5)
        else:
            self._layout.addWidget(self.caption, 0, 2)

    def _best_arrangement(self, width: int) -> bool:
        """Whether the caption on its own line makes the bar lower at `width` (between
        the buttons, a narrow window wraps it into a tall column of short lines)."""
        m = self._layout.contentsMargins()
        gap = max(0, self._layout.horizontalSpacing())
        others = [self.back_button, self.counter, self.next_button, self.leave_button]
        buttons_w = sum(w.sizeHint().width() for w in others) + gap * len(others)
        buttons_h = max(w.sizeHint().height() for w in others)
        inner = max(1, width - m.left() - m.right())
        beside = max(buttons_h, self.caption.heightForWidth(max(1, inner - buttons_w)))
        under = buttons_h + max(0, self._layout.verticalSpacing()) + \
            self.caption.heightForWidth(inner)
        return under < beside

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._arrange(self._best_arrangement(self.width()))

    def _restyle(self, _theme, _scale: float) -> None:
        # the window's text size (large in presentation mode), in the palette's colours
        app = QApplication.instance()
        size = app.font().pointSizeF() if app is not None else theme.BASE_POINT_SIZE
        for label, factor, bold in ((self.counter, 1.0, True), (self.caption, 1.0, False)):
            font = QFont(label.font())
            font.setPointSizeF(max(6.0, size * factor))
            font.setBold(bold)
            label.setFont(font)
        self._arrange(self._best_arrangement(self.width()))  # text of another size

    def show_step(self, index: int, total: int, step: TourStep) -> None:
        from html import escape

        self.counter.setText(f"step {index + 1} of {total}")
        self.caption.setText(f"<b>{escape(step.title)}</b> — {escape(step.caption)}")
        self._arrange(self._best_arrangement(self.width()))  # another length of text
        self.back_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < total - 1)

    @property
    def text(self) -> str:
        """What the bar says, as plain text (tests, the status line)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.caption.text())
        return f"{self.counter.text()}  {doc.toPlainText()}"


class TourController(QObject):
    """Plays :data:`explorer.tour.steps.STEPS` in `window` (a MainWindow).

    Public: ``steps``, ``index`` (the step shown, or to resume at), ``active``,
    ``start(step)``, ``resume()``, ``leave()``, ``go(index)``, ``next()``, ``previous()``,
    ``bar`` (the CaptionBar), ``widget`` (what shows the step now).
    """

    #: the step shown (index into ``steps``)
    stepChanged = Signal(int)
    #: the tour started (True) or was left (False)
    activeChanged = Signal(bool)

    def __init__(self, window, steps: tuple[TourStep, ...] = STEPS) -> None:
        super().__init__(window)
        self.window = window
        self.steps = steps
        self.index = 0
        self.active = False
        self.widget: QWidget | None = None
        self._full_screen = True
        self.bar = CaptionBar()
        self.bar.hide()
        self.bar.back_button.clicked.connect(self.previous)
        self.bar.next_button.clicked.connect(self.next)
        self.bar.leave_button.clicked.connect(self.leave)
        window.centralWidget().layout().addWidget(self.bar)
        self._build_menu()

    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        menu = bar.addMenu("&Tour")
        help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"),
                         None)
        if help_menu is not None:  # the tour before Help, as menus usually go
            bar.insertMenu(help_menu, menu)
        app_wide = Qt.ShortcutContext.ApplicationShortcut
        self.start_action = menu.addAction("Start the lecture tour from the beginning")
        self.start_action.triggered.connect(lambda _checked=False: self.start(0))
        self.resume_action = menu.addAction("Resume the tour at its step")
        self.resume_action.setShortcut(QKeySequence(RESUME_KEY))
        self.resume_action.setShortcutContext(app_wide)
        self.resume_action.triggered.connect(lambda _checked=False: self.resume())
        self.window.addAction(self.resume_action)  # works while the menu bar is hidden
        menu.addSeparator()
        self.next_action = menu.addAction("Next step\tSpace / → / PgDown")
        self.next_action.triggered.connect(lambda _checked=False: self.next())
        self.previous_action = menu.addAction("Previous step\t← / PgUp")
        self.previous_action.triggered.connect(lambda _checked=False: self.previous())
        self.leave_action = menu.addAction("Leave the tour to explore\tEsc")
        self.leave_action.triggered.connect(lambda _checked=False: self.leave())
        self._sync_actions()

    def _sync_actions(self) -> None:
        self.resume_action.setText(
            f"Resume the tour at step {self.index + 1}" if not self.active
            else "Resume the tour at its step")
        for action in (self.next_action, self.previous_action, self.leave_action):
            action.setEnabled(self.active)
        self.resume_action.setEnabled(not self.active)

    # -- playing ----------------------------------------------------------------------
    @property
    def step(self) -> TourStep:
        return self.steps[self.index]

    def start(self, index: int = 0, full_screen: bool = True) -> None:
        """Start the tour at step `index` (0-based), in presentation mode."""
        self.index = max(0, min(len(self.steps) - 1, int(index)))
        self.resume(full_screen)

    def resume(self, full_screen: bool | None = None) -> None:
        """Come back to the tour at the step it was left at (or start it)."""
        if full_screen is not None:
            self._full_screen = full_screen
        if not self.active:
            self.active = True
            QApplication.instance().installEventFilter(self)
            self.window.statusBar().hide()  # the caption bar takes its place
            self.bar.show()
            self.activeChanged.emit(True)
        if not self.window.presentation:
            self.window.set_presentation(True, full_screen=self._full_screen)
        self.go(self.index)

    def leave(self) -> None:
        """Leave the tour to explore freely; the window stays as the step left it and F5
        comes back to the same step."""
        if not self.active:
            return
        self.active = False
        QApplication.instance().removeEventFilter(self)
        self.bar.hide()
        self.window.statusBar().show()
        self.window.statusBar().showMessage(
            f"Left the tour at step {self.index + 1} of {len(self.steps)}: "
            f"{RESUME_KEY} comes back to it", 10000)
        self._sync_actions()
        self.activeChanged.emit(False)

    def go(self, index: int) -> QWidget | None:
        """Show step `index` with its preset and caption."""
        self.index = max(0, min(len(self.steps) - 1, int(index)))
        step = self.step
        self.bar.show_step(self.index, len(self.steps), step)
        self.widget = apply_step(self.window, step)
        self._sync_actions()
        self.stepChanged.emit(self.index)
        return self.widget

    def next(self) -> bool:
        if self.index >= len(self.steps) - 1:
            return False
        self.go(self.index + 1)
        return True

    def previous(self) -> bool:
        if self.index <= 0:
            return False
        self.go(self.index - 1)
        return True

    # -- keys -------------------------------------------------------------------------
    def _action_for(self, event) -> str | None:
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return None
        key = Qt.Key(event.key())
        focus = QApplication.focusWidget()
        editing = isinstance(focus, EDITORS)
        if key in NEXT_KEYS and not (NEXT_KEYS[key] and editing):
            return "next"
        if key in BACK_KEYS and not (BACK_KEYS[key] and editing):
            return "previous"
        if key == Qt.Key.Key_Escape:
            return "leave"
        return None

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        # only keys meant for this window (not a dialog's, not another window's); with no
        # focus widget the key goes to the window's QWindow
        if isinstance(obj, QWidget):
            if obj.window() is not self.window:
                return False
        elif not (isinstance(obj, QWindow) and obj is self.window.windowHandle()):
            return False
        action = self._action_for(event)
        if action is None:
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # "the widget takes this key": no shortcut fires on it
            return True
        getattr(self, action)()
        return True
