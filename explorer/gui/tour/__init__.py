"""The lecture tour in the window: :class:`TourController` walks the steps of
:mod:`explorer.tour` in presentation mode with a caption bar; :mod:`.export` renders them
to PNGs offscreen for ``cnn-explorer tour --export``."""

from explorer.gui.tour.controller import TourController

__all__ = ["TourController"]
