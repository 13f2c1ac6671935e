"""Reading images: any file or array a person is likely to have becomes RGB float.

Pillow does the decoding. What is normalised here, so that every view downstream can
assume ``float32 [H, W, 3] in [0, 1]``: EXIF orientation, grey, grey+alpha, RGBA,
palette (with transparency), 16-bit and 32-bit integer, float, CMYK, bilevel and the
first frame of an animation.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from explorer.errors import ImageError

#: Largest image accepted (pixels). 64 megapixels covers any camera; a decompression bomb
#: declares far more in a tiny file, and is refused before its pixels are decoded.
MAX_PIXELS = 64_000_000

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm",
              ".pgm")
IMAGE_FILTER = "Images (" + " ".join(f"*{e}" for e in EXTENSIONS) + ");;All files (*)"


@dataclass
class GroundTruth:
    """What is known to be in a picture (a shapes scene, say).

    boxes (np.float32 [N, 4]) x1, y1, x2, y2 in pixels; labels (np.int64 [N]) indices into
    `class_names`; mask (np.int64 [H, W] or None) the class of each pixel."""

    boxes: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    mask: np.ndarray | None = None

    @property
    def names(self) -> list[str]:
        """The class name of each box."""
        return [self.class_names[int(i)] for i in self.labels]


@dataclass
class Image:
    """A picture ready for the networks: ``array`` is float32 [H, W, 3] in [0, 1], with
    where it came from and, when known, its ground truth."""

    array: np.ndarray
    name: str
    path: Path | None = None
    #: what the source was, for the status bar: e.g. "PNG 512x512 RGBA"
    info: str = ""
    #: the spec it was opened from ("scene:5", "sample:chelsea", a path), if any
    source: str = ""
    truth: GroundTruth | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)"""
        return self.array.shape[0], self.array.shape[1]


def load_image(src: str | Path | np.ndarray | PILImage.Image, *,
               max_pixels: int = MAX_PIXELS, name: str | None = None) -> Image:
    """Read `src` (a path, a numpy array or a PIL image) into an :class:`Image`.

    Raises:
        ImageError: the file is missing, empty, truncated, not an image, or declares more
            than `max_pixels` pixels.
    """
    if isinstance(src, np.ndarray):
        return Image(_array_to_rgb(src), name or "array", None,
                     f"array {src.shape} {src.dtype}")
    if isinstance(src, PILImage.Image):
        try:
            return Image(_pil_to_rgb(src, max_pixels), name or "image", None,
                         _describe(src))
        except (OSError, SyntaxError, ValueError) as exc:
            if isinstance(exc, ImageError):
                raise
            raise ImageError(f"the image data is damaged ({exc})") from None
    path = Path(src)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    data = path.read_bytes()
    if not data:
        raise ImageError(f"{path.name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            pil = PILImage.open(io.BytesIO(data))
            info = f"{pil.format} " + _describe(pil)
            array = _pil_to_rgb(pil, max_pixels)
    except ImageError as exc:
        raise ImageError(f"{path.name}: {exc}") from None
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ImageError(f"{path.name}: declares too many pixels to be safe to open "
                         f"(limit {max_pixels:,})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path.name}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ImageError(f"{path.name}: the image data is damaged ({exc})") from None
    return Image(array, name or path.stem, path, info)


def _describe(pil: PILImage.Image) -> str:
    return f"{pil.width}x{pil.height} {pil.mode}"


def _pil_to_rgb(pil: PILImage.Image, max_pixels: int) -> np.ndarray:
    if pil.width * pil.height > max_pixels:
        raise ImageError(f"{pil.width}x{pil.height} is more than the {max_pixels:,} pixels "
                         "allowed")
    if pil.width < 1 or pil.height < 1:
        raise ImageError("the image has no pixels")
    pil.seek(0)  # first frame of an animation
    pil.load()
    pil = ImageOps.exif_transpose(pil)
    mode = pil.mode
    if mode == "P":
        pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
    elif mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
        pil = pil.convert("RGB")
    elif mode in ("PA", "La"):
        pil = pil.convert("RGBA")
    return _array_to_rgb(np.asarray(pil))


def _array_to_rgb(a: np.ndarray) -> np.ndarray:
    """Any [H, W], [H, W, 1|2|3|4] array -> float32 [H, W, 3] in [0, 1].

    Alpha is composited over white, which is how a viewer shows a transparent picture.
    """
    if a.ndim == 3 and a.shape[-1] in (1, 2, 3, 4):
        pass
    elif a.ndim == 2:
        a = a[..., None]
    else:
        raise ImageError(f"an image array must be [H, W] or [H, W, C], not {list(a.shape)}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ImageError("the image has no pixels")
    x = _to_unit_float(a)
    alpha = None
    if x.shape[-1] in (2, 4):
        alpha, x = x[..., -1:], x[..., :-1]
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    if alpha is not None:
        x = x * alpha + (1.0 - alpha)
    return np.ascontiguousarray(x, dtype=np.float32)


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16 or a.dtype == np.dtype(">u2"):
        return a.astype(np.float32) / 65535.0
    if np.issubdtype(a.dtype, np.integer):
        # 32-bit grey ("I" mode) usually holds 16-bit data; scale by what is there
        lo, hi = float(a.min()), float(a.max())
        top = 65535.0 if lo >= 0 and hi <= 65535 else max(hi - lo, 1.0)
        return ((a.astype(np.float64) - min(lo, 0.0)) / top).clip(0, 1).astype(np.float32)
    if np.issubdtype(a.dtype, np.floating):
        with np.errstate(over="ignore"):  # float64 beyond float32's range: +-inf, below
            x = a.astype(np.float32)
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            what = "NaN (not a number)" if np.isnan(x).any() else "infinite"
            raise ImageError(f"{bad:,} of its {x.size:,} values are {what}; a picture needs "
                             "finite numbers")
        if x.min() < 0.0 or x.max() > 1.0:  # not already in [0, 1]: stretch
            lo, hi = float(x.min()), float(x.max())
            x = (x - lo) / max(hi - lo, 1e-12)
        return x
    raise ImageError(f"cannot show an array of type {a.dtype}")
