"""The lecture tour: the lecture's sections in order, each one page of the explorer with
the lecture's preset and one caption line (no Qt here; ``explorer.gui.tour`` plays it)."""

from explorer.tour.steps import STEPS, TourStep, find_step, step_index

__all__ = ["STEPS", "TourStep", "find_step", "step_index"]
