"""Two designed themes for the whole window, and zoom.

The normal theme is a light one; presentation mode is a high-contrast dark theme for a
projector, with larger text. Both are a QPalette for the whole application plus one
style sheet written from the same colours, so every text that takes the palette's colour
stays readable in both (widgets must never hard-code a text colour; plots take
:func:`current`'s colours). Zoom scales every font; it is remembered in the settings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSettings, Qt
from PySide6.QtGui import QColor, QFont, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory

#: point size of ordinary text at zoom 1 (Qt's default of 9-10 pt is too small for a room)
BASE_POINT_SIZE = 11.0
#: text in presentation mode is this much larger
PRESENTATION_SCALE = 1.5
ZOOM_STEPS = (0.8, 0.9, 1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0)


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str
    alternate: str
    text: str
    #: secondary text (hints, captions): still at least 4.5:1 on `window`
    hint: str
    button: str
    highlight: str
    highlighted_text: str
    #: the error banner
    error: str
    warning_bg: str
    warning_text: str
    link: str


NORMAL = Theme("normal", window="#f4f4f4", base="#ffffff", alternate="#ececec",
               text="#111111", hint="#454545", button="#e6e6e6", highlight="#0072b2",
               highlighted_text="#ffffff", error="#b00020", warning_bg="#ffd54f",
               warning_text="#111111", link="#0060a0")
PRESENTATION = Theme("presentation", window="#000000", base="#111111", alternate="#1c1c1c",
                     text="#ffffff", hint="#d8d8d8", button="#262626", highlight="#f0e442",
                     highlighted_text="#000000", error="#ff6b6b", warning_bg="#f0e442",
                     warning_text="#000000", link="#56b4e9")

_state: dict = {"theme": NORMAL, "zoom": 1.0, "style": None}
_listeners: list[Callable[[Theme, float], None]] = []


def current() -> Theme:
    return _state["theme"]


def zoom() -> float:
    return _state["zoom"]


def text_scale() -> float:
    """How much larger than ordinary text is now (zoom times presentation)."""
    return _state["zoom"] * (PRESENTATION_SCALE if _state["theme"] is PRESENTATION else 1.0)


def on_change(callback: Callable[[Theme, float], None]) -> Callable[[], None]:
    """Call ``callback(theme, text_scale)`` after every change; returns a remover."""
    _listeners.append(callback)
    return lambda: _listeners.remove(callback) if callback in _listeners else None


def palette(theme: Theme) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        for r, c in ((role.Window, theme.window), (role.WindowText, theme.text),
                     (role.Base, theme.base), (role.AlternateBase, theme.alternate),
                     (role.Text, theme.text), (role.Button, theme.button),
                     (role.ButtonText, theme.text), (role.BrightText, theme.text),
                     (role.Highlight, theme.highlight),
                     (role.HighlightedText, theme.highlighted_text),
                     (role.ToolTipBase, theme.base), (role.ToolTipText, theme.text),
                     (role.PlaceholderText, theme.hint), (role.Link, theme.link),
                     (role.Mid, theme.hint), (role.Dark, theme.hint), (role.Light, theme.base)):
            p.setColor(group, r, QColor(c))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(theme.hint))
    for r, c in ((role.Window, theme.window), (role.Base, theme.base),
                 (role.Button, theme.button)):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c))
    return p


def style_sheet(theme: Theme, scale: float) -> str:
    """The application's style sheet: sizes relative to the current text size."""
    pt = BASE_POINT_SIZE * scale
    # no rule for every QWidget: text and selection colours come from the palette (its
    # disabled text is the hint colour, still 4.5:1), and a rule that matches all of the
    # window's ~1,700 widgets made each theme switch (F11) a second slower
    return f"""
QLabel#panelTitle {{ font-size: {pt * 1.3:.1f}pt; font-weight: bold; }}
QGroupBox {{ font-weight: bold; font-size: {pt * 1.1:.1f}pt; margin-top: {pt * 1.3:.0f}px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px;
                   color: {theme.text}; }}
QLabel#hint, QLabel#caption {{ color: {theme.hint}; }}
QLabel#readout {{ font-family: monospace; }}
QLabel#randomBanner, QLabel#warningBanner {{ background: {theme.warning_bg};
    color: {theme.warning_text}; padding: 6px; border-radius: 4px; font-weight: bold; }}
QFrame#errorBanner {{ background: {theme.error}; border-radius: 4px; }}
QFrame#errorBanner QLabel {{ color: {theme.window if theme is PRESENTATION else '#ffffff'};
    font-weight: bold; }}
QFrame#errorBanner QToolButton {{ color: {theme.window if theme is PRESENTATION else '#ffffff'};
    border: none; font-size: {pt * 1.3:.1f}pt; }}
QTabWidget::pane {{ border-top: 1px solid {theme.hint}; }}
QTabBar::tab {{ padding: 6px 14px; color: {theme.text}; background: {theme.button}; }}
QTabBar::tab:selected {{ background: {theme.highlight}; color: {theme.highlighted_text}; }}
QToolTip {{ color: {theme.text}; background: {theme.base}; border: 1px solid {theme.hint}; }}
"""


class ClassroomStyle(QProxyStyle):
    """Fusion, with check boxes and radio buttons outlined in the text colour and as large
    as the text: Fusion frames them a shade darker than the window, which on the
    presentation theme's black is no frame at all (an unticked box vanished)."""

    _INDICATORS = (QStyle.PrimitiveElement.PE_IndicatorCheckBox,
                   QStyle.PrimitiveElement.PE_IndicatorRadioButton)
    _SIZES = (QStyle.PixelMetric.PM_IndicatorWidth, QStyle.PixelMetric.PM_IndicatorHeight,
              QStyle.PixelMetric.PM_ExclusiveIndicatorWidth,
              QStyle.PixelMetric.PM_ExclusiveIndicatorHeight)

    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))

    def pixelMetric(self, metric, option=None, widget=None) -> int:  # noqa: N802 (Qt name)
        size = super().pixelMetric(metric, option, widget)
        return round(size * text_scale()) if metric in self._SIZES else size

    def drawPrimitive(self, element, option, painter, widget=None) -> None:  # noqa: N802
        super().drawPrimitive(element, option, painter, widget)
        if element not in self._INDICATORS:
            return
        painter.save()
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        pen = QPen(option.palette.color(QPalette.ColorRole.Text))
        pen.setWidthF(1.5)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        rect = QRectF(option.rect).adjusted(0.75, 0.75, -0.75, -0.75)
        if element == QStyle.PrimitiveElement.PE_IndicatorCheckBox:
            painter.drawRoundedRect(rect, 2, 2)
        else:
            painter.drawEllipse(rect)
        painter.restore()


def settings() -> QSettings:
    """Where zoom is remembered; ``CNN_EXPLORER_SETTINGS`` (an .ini path) overrides the
    user's own, so tests never touch it."""
    path = os.environ.get("CNN_EXPLORER_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("cnn-explorer", "CNN Explorer")


def saved_zoom() -> float:
    try:
        value = float(settings().value("zoom", 1.0))
    except (TypeError, ValueError):
        return 1.0
    return value if min(ZOOM_STEPS) <= value <= max(ZOOM_STEPS) else 1.0


def apply(app: QApplication | None = None, *, presentation: bool | None = None,
          zoom_to: float | None = None, remember: bool = True) -> Theme:
    """Switch the whole application to the normal or presentation theme and/or a zoom."""
    app = app or QApplication.instance()
    if presentation is not None:
        _state["theme"] = PRESENTATION if presentation else NORMAL
    if zoom_to is not None:
        _state["zoom"] = min(max(float(zoom_to), min(ZOOM_STEPS)), max(ZOOM_STEPS))
        if remember:
            settings().setValue("zoom", _state["zoom"])
    theme, scale = _state["theme"], text_scale()
    if app is not None:
        if not isinstance(_state.get("style"), ClassroomStyle):
            # Fusion: the same look, and the palette honoured, on every desktop
            _state["style"] = ClassroomStyle()
            app.setStyle(_state["style"])
        app.setPalette(palette(theme))
        font = QFont(app.font())
        font.setPointSizeF(BASE_POINT_SIZE * scale)
        app.setFont(font)
        app.setStyleSheet(style_sheet(theme, scale))
        # the window's first frame is drawn before pyqtgraph is imported (issue 17);
        # explorer.gui.app applies the theme again once it is
        pg = sys.modules.get("pyqtgraph")
        if pg is not None:
            pg.setConfigOptions(background=theme.base, foreground=theme.text)
    for callback in list(_listeners):
        callback(theme, scale)
    return theme


def step_zoom(delta: int) -> float:
    """One zoom step up (+1) or down (-1); 0 resets to 1."""
    if delta == 0:
        target = 1.0
    else:
        now = _state["zoom"]
        if delta > 0:
            target = next((z for z in ZOOM_STEPS if z > now + 1e-6), ZOOM_STEPS[-1])
        else:
            target = next((z for z in reversed(ZOOM_STEPS) if z < now - 1e-6), ZOOM_STEPS[0])
    apply(zoom_to=target)
    return target


def contrast(fg: str | QColor, bg: str | QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())
    a, b = lum(QColor(fg)), lum(QColor(bg))
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)
