"""``gui --screenshot --section S`` grabs the section once its own work is done, however
long that takes (it waited a fixed 3 s, and a busy machine got Why & training's Grad-CAM
panes empty)."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image as PILImage

from explorer.gui.app import run_gui


def test_a_slow_section_is_grabbed_finished(tmp_path, qapp, monkeypatch, one_thread):
    import explorer.insight.cam as cam

    real = cam.class_activation_map

    def slow(*args, **kwargs):
        time.sleep(4.0)  # longer than the old fixed wait
        return real(*args, **kwargs)

    monkeypatch.setattr(cam, "class_activation_map", slow)
    out = tmp_path / "why.png"
    assert run_gui("tinyvgg-shapes", None, str(out), "cpu", section="why",
                   size=(1366, 768)) == 0
    shot = np.asarray(PILImage.open(out).convert("RGB")).astype(int)
    # the heat map pane (the middle of the three): an empty pane is one flat grey,
    # a drawn map (inferno, hot spot on the shape) has dark and bright pixels
    pane = shot[250:550, 520:850]
    assert pane.max() - pane.min() > 150, "the Grad-CAM heat map was grabbed before it was drawn"
