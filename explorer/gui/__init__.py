"""The window: PySide6 + pyqtgraph. The only package that imports Qt."""

from explorer.gui.common.qt_fixes import pin_singletons

# before any widget exists: see qt_fixes for the PySide6 reference leak this guards against
pin_singletons()
