"""Selective search is one OpenCV call; with a cancel flag it runs in a child process
that a cancel kills at once, and gives the same proposals as in-process."""

import time

import numpy as np
import pytest

from explorer.data.samples import load_sample
from explorer.detect.mtcnn import DetectionCancelled
from explorer.detect.proposals import selective_search


def test_child_process_gives_the_same_proposals():
    import cv2

    img = load_sample("coffee").array[::4, ::4]  # small: quality mode in well under a second
    cv2.randu(np.zeros((8, 8), np.float32), 0, 1)  # move OpenCV's generator on, as other work would
    here = selective_search(img, "quality")
    child = selective_search(img, "quality", should_stop=lambda: False)
    assert len(here.boxes) > 10 and np.array_equal(here.boxes.numpy(), child.boxes.numpy())


def test_cancel_ends_quality_mode_within_a_second():
    img = load_sample("astronaut").array  # 512 x 512: seconds of quality-mode segmenting
    asked = time.monotonic() + 0.3
    with pytest.raises(DetectionCancelled):
        selective_search(img, "quality", should_stop=lambda: time.monotonic() > asked)
    assert time.monotonic() - asked < 1.0
