"""The one small protocol every section of the window implements, and what the window
offers them.

Each section stands on its own: its own network and picture, chosen in the section,
computed on the window's device. The window builds the sections from
:data:`SECTIONS` (each the first time it is shown), gives each a :class:`SectionHost`, and
talks to them only through :class:`Section`: no special case by class, no ``hasattr``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch


def _nothing() -> tuple[Any, Any]:
    return None, None


def _ignore(_text: str) -> None:
    pass


def _ignore_flag(_on: bool) -> None:
    pass


def _false() -> bool:
    return False


@dataclass
class SectionHost:
    """What the window offers a section."""

    #: where the section computes (the window's device; CPU when the GPU runs out)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    #: Explore's current (network, picture), for a section's "Use Explore's" button
    explore: Callable[[], tuple[Any, Any]] = _nothing
    #: one sentence in the window's error banner
    show_error: Callable[[str], None] = _ignore
    #: switch the whole window's presentation mode on (True) or off (False)
    set_presentation: Callable[[bool], None] = _ignore_flag
    #: whether the window is in presentation mode now
    presenting: Callable[[], bool] = _false


@runtime_checkable
class Section(Protocol):
    """A section of the window (Detection, Segmentation, Lab, Live, Why & training).

    ``status`` is a ``Signal(str)`` whose messages go to the window's status bar."""

    status: Any

    def set_device(self, device: torch.device) -> None:
        """Compute on `device` from now on."""

    def set_picture(self, picture: Any) -> None:
        """Show `picture` (an :class:`explorer.core.images.Image`): the person's choice,
        or Explore's when they ask for it."""

    def shutdown(self) -> None:
        """Stop every worker, timer and camera; called once when the window closes."""


@dataclass(frozen=True)
class SectionEntry:
    """A section the window builds the first time it is shown: tab title, module, class."""

    title: str
    module: str
    cls: str
    #: the name `gui --section` and the tour use ("detection", "lab", ...)
    key: str


SECTIONS = [
    SectionEntry("Detection", "explorer.gui.detect.section", "DetectionTab", "detection"),
    SectionEntry("Segmentation", "explorer.gui.segment.section", "SegmentationTab",
                 "segmentation"),
    SectionEntry("Lab", "explorer.gui.lab", "LabPanel", "lab"),
    SectionEntry("Live", "explorer.gui.live.section", "LiveView", "live"),
    SectionEntry("Why && training", "explorer.gui.insight.section", "InsightTab", "why"),
]
