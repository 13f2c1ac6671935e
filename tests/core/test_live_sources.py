"""Live sources: seeded moving shapes, video files read back, clear errors for a missing
camera or an unreadable file."""

import numpy as np
import pytest

from explorer.errors import UserError
from explorer.live.sources import (
    CameraSource,
    SyntheticSource,
    VideoFileSource,
    _bounce,
    open_source,
)


def test_synthetic_is_deterministic_and_moves():
    a, b = SyntheticSource((48, 80), seed=3), SyntheticSource((48, 80), seed=3)
    frames_a = [a.read() for _ in range(5)]
    frames_b = [b.read() for _ in range(5)]
    for fa, fb in zip(frames_a, frames_b):
        assert fa.shape == (48, 80, 3) and fa.dtype == np.float32
        assert 0.0 <= fa.min() and fa.max() <= 1.0
        np.testing.assert_array_equal(fa, fb)
    # the shapes move: consecutive frames differ, and frame_at(i) is read()'s i-th frame
    assert np.abs(frames_a[4] - frames_a[0]).max() > 0.2
    np.testing.assert_array_equal(SyntheticSource((48, 80), seed=3).frame_at(4), frames_a[4])
    other = SyntheticSource((48, 80), seed=4).frame_at(0)
    assert np.abs(other - frames_a[0]).mean() > 0.01


def test_synthetic_shapes_stay_inside_for_many_frames():
    src = SyntheticSource((32, 40), seed=1, speed=0.2)
    for i in range(0, 500, 7):
        frame = src.frame_at(i)
        assert frame.shape == (32, 40, 3) and np.isfinite(frame).all()


def test_bounce_reflects_between_walls():
    assert [_bounce(p, 10) for p in (0, 4, 10, 13, 20, 23, -3)] == [0, 4, 10, 7, 0, 3, 3]


def test_synthetic_rejects_tiny_frames():
    with pytest.raises(UserError):
        SyntheticSource((4, 100))


def _write_video(path, frames, fps=20.0):
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write((f[..., ::-1] * 255).round().astype(np.uint8))  # RGB -> BGR
    writer.release()


def test_video_file_round_trip(tmp_path):
    synth = SyntheticSource((64, 96), seed=2)
    frames = [synth.read() for _ in range(8)]
    path = tmp_path / "clip.avi"
    _write_video(path, frames)
    src = VideoFileSource(path)
    src.open()
    assert src.fps_hint == pytest.approx(20.0)
    got = []
    while (f := src.read()) is not None:
        got.append(f)
    src.close()
    assert len(got) == 8
    for original, back in zip(frames, got):
        assert back.shape == (64, 96, 3) and back.dtype == np.float32
        # JPEG-compressed, colours in RGB order (a BGR mix-up would be far off)
        assert np.abs(original - back).mean() < 0.03


def test_video_file_loops(tmp_path):
    path = tmp_path / "clip.avi"
    _write_video(path, [SyntheticSource((32, 32)).frame_at(i) for i in range(3)])
    src = VideoFileSource(path, loop=True)
    with src:
        assert all(src.read() is not None for _ in range(7))


def test_missing_camera_is_a_user_error_and_others_still_work():
    cam = CameraSource(99)
    with pytest.raises(UserError, match="camera 99"):
        cam.open()
    assert not cam.is_open
    assert SyntheticSource((16, 16)).read().shape == (16, 16, 3)


def test_bad_video_paths_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such video file"):
        VideoFileSource(tmp_path / "missing.mp4").open()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(UserError, match="not a video"):
        VideoFileSource(junk).open()
    with pytest.raises(UserError):
        VideoFileSource(tmp_path).open()  # a folder


def test_open_source_specs(tmp_path):
    assert isinstance(open_source("synthetic", (20, 30)), SyntheticSource)
    assert open_source("synthetic", (20, 30)).read().shape == (20, 30, 3)
    assert isinstance(open_source("3"), CameraSource) and open_source("camera:2").index == 2
    assert isinstance(open_source(str(tmp_path / "a.mp4")), VideoFileSource)
    with pytest.raises(UserError):
        open_source("camera:x")


class FakeCapture:
    """Stands in for cv2.VideoCapture on a camera: BGR uint8 frames, pure red."""

    def __init__(self, index):
        self.index, self.released, self.props = index, False, {}

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return not self.released

    def grab(self):
        return True

    def read(self):
        frame = np.zeros((6, 8, 3), np.uint8)
        frame[..., 2] = 255  # red, in OpenCV's BGR order
        return True, frame

    def get(self, prop):
        return 0.0  # frame rate unknown

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def release(self):
        self.released = True


def test_camera_frames_are_rgb_float(monkeypatch):
    import cv2

    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    cam = CameraSource(2, size=(640, 480))
    with cam:
        frame = cam.read()
        assert cam._cap.props == {cv2.CAP_PROP_FRAME_WIDTH: 640,
                                  cv2.CAP_PROP_FRAME_HEIGHT: 480}
    assert frame.dtype == np.float32 and frame.shape == (6, 8, 3)
    np.testing.assert_array_equal(frame[0, 0], [1.0, 0.0, 0.0])
    assert cam.fps_hint == 30.0 and not cam.is_open and cam.name == "camera 2"


def test_special_files_and_camera_numbers_are_refused_in_one_sentence(tmp_path):
    import os

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    for path, words in ((fifo, "named pipe"), ("/dev/zero", "a device"), (tmp_path, "folder")):
        with pytest.raises(UserError, match=words):
            VideoFileSource(path).open()  # refused before OpenCV could block on it
    for spec in ("-1", "camera:-2", "camera:100"):
        with pytest.raises(UserError, match="camera number"):
            open_source(spec)
    with pytest.raises(UserError, match="at most 4,096"):
        SyntheticSource((10_000, 64))
