"""grad-cam requires opencv-python-headless, which writes the same ``cv2`` folder as the
opencv-contrib-python-headless build the project needs for selective search. Whichever wheel
is written last owns ``cv2``; this test fails if the plain build won (``pip install
--force-reinstall --no-deps opencv-contrib-python-headless`` repairs it)."""

import importlib


def test_contrib_cv2_and_grad_cam_live_together():
    cv2 = importlib.import_module("cv2")
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation
    assert callable(ss)
    assert ss() is not None
    cam = importlib.import_module("pytorch_grad_cam")
    for name in ("GradCAM", "GradCAMPlusPlus", "XGradCAM", "EigenCAM", "LayerCAM"):
        assert hasattr(cam, name)
