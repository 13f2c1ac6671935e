"""pyqtgraph's plots make their context menus without a parent; the window's plots give
them an owner (explorer.gui.common.canvas.owning_popups), so they go with the widget that
shows the plot even while Python still holds the plot's items."""

import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QMenu, QWidget

from explorer.gui.common.canvas import owning_popups


def _addresses() -> set[int]:
    return {shiboken6.getCppPointer(w)[0] for w in QApplication.topLevelWidgets()}


def test_a_plots_menus_go_with_its_owner_even_if_its_view_lives_on(qapp):
    before = _addresses()
    owner = QWidget()
    with owning_popups(owner):
        plot = pg.PlotWidget()
    plot.setParent(owner)
    menus = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu)
             and shiboken6.getCppPointer(w)[0] not in before and w.parent() is None]
    assert not menus, "a menu made in the block was left without an owner"
    view = plot.getPlotItem().getViewBox()
    assert view.menu is not None and view.menu.parent() is owner
    owner.deleteLater()
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()
    # Python still refers to the ViewBox (a late callback would): no menu is left behind
    assert view is not None
    left = [w for w in QApplication.topLevelWidgets()
            if shiboken6.getCppPointer(w)[0] not in before]
    assert not left, left
