"""Where live frames come from: a camera, a video file, or seeded moving shapes.

Every source has the same small interface: ``open()``, ``read()`` -> the next frame as
np.float32 [H, W, 3] RGB in [0, 1] (or None at the end of a file), ``close()``, a
``name`` and ``fps_hint`` (the rate the frames are meant to be shown at; None when the
source is as fast as it is read). Cameras and files are read with OpenCV's
``cv2.VideoCapture``; a camera or file that cannot be opened raises
:class:`~explorer.errors.UserError` in ``open()`` and leaves other sources untouched.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from explorer.core.images import MAX_PIXELS
from explorer.errors import UserError

#: the file-dialog filter for video files
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg);;All files (*)"


class Source(Protocol):
    name: str
    fps_hint: float | None

    def open(self) -> None: ...

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def _to_rgb_float(bgr: np.ndarray) -> np.ndarray:
    """OpenCV's BGR uint8 (or grey) frame -> np.float32 [H, W, 3] RGB in [0, 1]."""
    if bgr.ndim == 2:
        bgr = np.repeat(bgr[..., None], 3, axis=2)
    elif bgr.shape[2] == 4:
        bgr = bgr[..., :3]
    scale = 1.0 / (65535.0 if bgr.dtype == np.uint16 else 255.0)
    # reverse the channel axis while converting: one pass, one new array
    return np.multiply(bgr[..., ::-1], scale, dtype=np.float32)


@contextlib.contextmanager
def _opencv_quiet() -> Iterator[None]:
    """OpenCV's own log ("[ERROR:0@0.04] ... Could not find decoder") silenced meanwhile:
    a file or camera that cannot be opened is said in one sentence, not in log lines
    above it."""
    import cv2

    log = cv2.utils.logging
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        log.setLogLevel(old)


def _quiet_ffmpeg() -> None:
    """Keep FFmpeg (inside OpenCV) from printing its complaints about a cut or garbage
    file ("moov atom not found") on stderr. OpenCV reads this variable once, when it
    first opens a video, so it must be set before that; a person who set it to debug
    keeps theirs."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


class _Capture:
    """Shared part of camera and file sources: a cv2.VideoCapture opened on demand."""

    name = "capture"
    fps_hint: float | None = None

    def __init__(self) -> None:
        self._cap = None

    def _make(self):  # -> cv2.VideoCapture
        raise NotImplementedError

    def _failed(self) -> str:
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        return self._cap is not None

    def open(self) -> None:
        if self._cap is not None:
            return
        cap = self._make()
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise UserError(self._failed())
        self._cap = cap
        fps = float(cap.get(5))  # cv2.CAP_PROP_FPS; 0 when unknown
        self.fps_hint = fps if 0 < fps < 1000 else self.fps_hint

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            self.open()
        ok, frame = self._cap.read()
        if not ok or frame is None:
            return None
        return _to_rgb_float(frame)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: camera numbers accepted (OpenCV reads -1 as "any camera"; nobody has 100 cameras)
MAX_CAMERA = 99


def camera_number(value) -> int:
    """`value` as a camera number in [0, MAX_CAMERA], or one sentence."""
    from explorer.app.checks import count

    return count("the camera number", value, 0, MAX_CAMERA)


class CameraSource(_Capture):
    """Camera number `index` (0 is the first). A camera that is absent or busy raises
    UserError on ``open()``; a number outside [0, MAX_CAMERA] at once."""

    def __init__(self, index: int = 0, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.index = camera_number(index)
        #: asked-for (width, height); the camera may pick another
        self.size = size
        self.name = f"camera {self.index}"
        self.fps_hint = 30.0

    def _make(self):
        import cv2

        # a camera that is not there makes OpenCV log warnings to stderr; keep them quiet
        with _opencv_quiet():
            cap = cv2.VideoCapture(self.index)
        if cap.isOpened() and self.size is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        # a camera that opens but gives no frame (no permission, in use) is no camera
        if cap.isOpened() and not cap.grab():
            cap.release()
        return cap

    def _failed(self) -> str:
        return (f"camera {self.index} could not be opened: no such camera, or it is in use; "
                "try another number or the synthetic source")


#: the most pixels a video frame may have: as many as a picture the explorer opens (64
#: megapixels; 8K video has 33). A frame is 12 bytes a pixel as float32 RGB, several
#: times over in the pipeline, so a larger one (or a header that claims one) would fill
#: memory rather than be shown
MAX_VIDEO_PIXELS = MAX_PIXELS


class VideoFileSource(_Capture):
    """A video file, read frame by frame; ``loop`` starts it again at its end.

    ``open()`` reads the first frame to be sure the file can be decoded, and ``read()``
    hands that frame out first: seeking back to it (``CAP_PROP_POS_FRAMES`` = 0) says it
    worked but does not, on a one-frame file, which then gave no frames at all. A loop
    reopens the file for the same reason."""

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self.name = self.path.name
        self.fps_hint = 25.0
        #: the frame open() decoded to test the file, not yet handed out (BGR uint8)
        self._first: np.ndarray | None = None

    def _make(self):
        import cv2

        from explorer.app.checks import input_file

        try:
            self.path.lstat()
        except FileNotFoundError:
            return None  # "no such video file"
        except (OSError, ValueError):
            pass  # a name too long, a loop of links: input_file says which
        # a FIFO would block OpenCV for good, /dev/zero or a folder would confuse it:
        # one sentence instead (the same check as every other file the explorer reads)
        input_file(self.path, "video file")
        _quiet_ffmpeg()
        # FFmpeg alone when OpenCV has it: after it fails, OpenCV's other readers try the
        # file, and its own AVI reader prints "Unexpected element. Expected: LIST" on
        # stderr with no way to silence it
        api = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else \
            cv2.CAP_ANY
        with _opencv_quiet():
            cap = cv2.VideoCapture(str(self.path), api)
            if not cap.isOpened():
                return cap
            # refused before a frame is decoded: a header can claim any size
            w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            self._check_size(cap, w, h)
            # some containers "open" without a decodable stream: insist on one frame
            ok, frame = cap.read()
        if not ok or frame is None or frame.size == 0:
            cap.release()  # not opened: "not a video OpenCV can read"
            return cap
        self._check_size(cap, frame.shape[1], frame.shape[0])
        self._first = frame
        return cap

    def _check_size(self, cap, w: int, h: int) -> None:
        limit = MAX_VIDEO_PIXELS
        if w * h > limit:
            cap.release()
            raise UserError(f"{self.path.name}: its frames are {w:,} x {h:,} pixels, more "
                            f"than a live view shows (at most {limit:,} pixels)")

    def _failed(self) -> str:
        if not self.path.exists():
            return f"{self.path}: no such video file"
        return f"{self.path}: not a video OpenCV can read"

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            self.open()
        if self._first is not None:
            first, self._first = self._first, None
            return _to_rgb_float(first)
        frame = super().read()
        if frame is None and self.loop:
            self.close()
            self.open()  # from the first frame again (see the class's note on seeking)
            return self.read() if self._first is not None else None
        return frame

    def close(self) -> None:
        self._first = None
        super().close()


#: the largest side of a synthetic frame, in pixels
MAX_SYNTHETIC = 4096


class SyntheticSource:
    """Coloured shapes moving across a background, for tests and rooms without a camera.

    Frame ``i`` depends only on (seed, size, i): :meth:`frame_at` gives any frame, and
    ``read()`` walks through them. Shapes bounce off the borders; drawing costs a few
    sprite pastes per frame (the sprites are rendered once, antialiased, by the shapes
    world's helpers).

    Args:
        size: (height, width) of the frames.
        shapes: how many shapes move.
        speed: pixels per frame, as a fraction of the shorter side.
        fps_hint: the rate a player should show it at (None: as fast as it is read).
    """

    def __init__(self, size: tuple[int, int] = (128, 128), seed: int = 0, shapes: int = 4,
                 speed: float = 0.02, fps_hint: float | None = 30.0) -> None:
        from explorer.app.checks import count
        from explorer.data import shapes as world

        # 4096 x 4096 x 3 float32 is 200 MB a frame already; larger is a typo
        h = count("the synthetic frame height", size[0], 8, MAX_SYNTHETIC)
        w = count("the synthetic frame width", size[1], 8, MAX_SYNTHETIC)
        self.size = (h, w)
        self.seed = int(seed)
        self.name = f"synthetic {w}x{h} (seed {seed})"
        self.fps_hint = fps_hint
        rng = np.random.default_rng(self.seed)
        self._background = world._background(rng, h, w, "gradient")
        short = min(h, w)
        self._sprites: list[tuple[np.ndarray, np.ndarray]] = []  # (alpha [s, s, 1], colour)
        self._motion: list[tuple[float, float, float, float]] = []  # y0, x0, vy, vx
        for k in range(shapes):
            label = 1 + k % (world.NUM_CLASSES - 1)
            radius = short * rng.uniform(0.12, 0.22)
            s = int(math.ceil(2 * radius)) + 2
            cov = world._coverage(world._polygon(label, s / 2, s / 2, radius,
                                                 rng.uniform(0, 2 * math.pi)), s, s)
            colour = world._pick_colour(rng, self._background.reshape(-1, 3)[::97])
            self._sprites.append((cov[..., None], colour.astype(np.float32)))
            angle = rng.uniform(0, 2 * math.pi)
            v = speed * short * rng.uniform(0.6, 1.4)
            self._motion.append((rng.uniform(0, max(h - s, 1)), rng.uniform(0, max(w - s, 1)),
                                 v * math.sin(angle), v * math.cos(angle)))
        self.index = 0
        self._open = False

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False

    def read(self) -> np.ndarray:
        frame = self.frame_at(self.index)
        self.index += 1
        return frame

    def frame_at(self, i: int) -> np.ndarray:
        """Frame number `i`: np.float32 [H, W, 3] in [0, 1]."""
        h, w = self.size
        img = self._background.copy()
        for (alpha, colour), (y0, x0, vy, vx) in zip(self._sprites, self._motion):
            s = alpha.shape[0]
            y = _bounce(y0 + vy * i, max(h - s, 0))
            x = _bounce(x0 + vx * i, max(w - s, 0))
            # clip the sprite where it is bigger than the frame
            sh, sw = min(s, h - y), min(s, w - x)
            a = alpha[:sh, :sw]
            patch = img[y:y + sh, x:x + sw]
            patch += a * (colour - patch)
        return img


class PictureSource:
    """One still picture as an endless run of frames: a room without a camera, or
    Explore's picture watched while the layer changes. ``array`` can be replaced while
    the loop runs; the next frame shows the new picture.

    Args:
        array: np.float32 [H, W, 3] in [0, 1].
        fps_hint: how often the picture goes through the network again (it does not
            change, so a low rate only delays a layer switch).
    """

    def __init__(self, array: np.ndarray, name: str = "picture",
                 fps_hint: float | None = 15.0) -> None:
        a = np.asarray(array, dtype=np.float32)
        if a.ndim != 3 or a.shape[2] != 3:
            shape = " x ".join(map(str, a.shape))
            raise UserError(f"{name}: a picture must be H x W x 3, not {shape}")
        self.array = a
        self.name = name
        self.fps_hint = fps_hint

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def read(self) -> np.ndarray:
        return self.array


def _bounce(p: float, span: int) -> int:
    """Position `p` reflected into [0, span] (a ball bouncing between two walls)."""
    if span <= 0:
        return 0
    p = abs(p) % (2 * span)
    return int(round(2 * span - p if p > span else p))


#: a camera number as the command line takes it
_CAMERA = re.compile(r"[+-]?\d+")


def open_source(spec: str, size: tuple[int, int] = (128, 128), seed: int = 0) -> Source:
    """A source from a short spec, as the command line takes it: "synthetic", a camera
    number ("0", "camera:1") or a video file path."""
    s = spec.strip()
    if not s:  # a blank is a slip (an unset variable), never a choice of source
        raise UserError("no source was given: synthetic, a camera number (0, camera:1) "
                        "or a video file")
    if s in ("synthetic", "shapes"):
        return SyntheticSource(size, seed=seed)
    # one sign and decimal digits, what int() takes: "²" is a digit and "+-1" starts
    # with signs, and int() refused both with a traceback
    if _CAMERA.fullmatch(s) or s.startswith("camera:"):
        index = s.split(":", 1)[-1].strip()
        if not _CAMERA.fullmatch(index):
            raise UserError(f"camera number expected in {spec!r}, e.g. camera:0")
        if len(index.lstrip("+-").lstrip("0")) > 9:  # int() refuses 4,300 digits, loudly
            raise UserError(f"the camera number must be 0 to {MAX_CAMERA}, not "
                            f"{index[:12]}… ({len(index):,} characters)")
        return CameraSource(int(index))
    return VideoFileSource(s)
