"""The Lab: one page per slide of the CNN lecture, for a teacher to drive in class.

:class:`LabPanel` (a QWidget) holds the page list and the pages; each page calls the same
:mod:`explorer.lab` functions as ``cnn-explorer lab ...``, so both show the same numbers.
"""

from explorer.gui.lab.lab_panel import LabPanel

__all__ = ["LabPanel"]
