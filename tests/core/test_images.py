"""Every kind of image a person may bring, and every kind of bad file."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.core.images import load_image
from explorer.data.samples import SAMPLE_NAMES, load_sample
from explorer.errors import ImageError


def _save(tmp_path, pil, name, **kw):
    path = tmp_path / name
    pil.save(path, **kw)
    return path


def _check(img, h, w):
    assert img.array.shape == (h, w, 3)
    assert img.array.dtype == np.float32
    assert 0.0 <= img.array.min() and img.array.max() <= 1.0


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"),
                                     ("TIFF", "tif"), ("WEBP", "webp")])
def test_formats(tmp_path, fmt, ext):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, :15] = (255, 0, 0)
    img = load_image(_save(tmp_path, PILImage.fromarray(rgb), f"a.{ext}", format=fmt))
    _check(img, 20, 30)
    assert img.array[10, 2, 0] > 0.9 and img.array[10, 2, 2] < 0.1
    assert img.array[10, 25].max() < 0.1


def test_grey_is_rgb(tmp_path):
    img = load_image(_save(tmp_path, PILImage.new("L", (8, 6), 128), "g.png"))
    _check(img, 6, 8)
    assert np.allclose(img.array, 128 / 255)


def test_rgba_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    img = load_image(_save(tmp_path, PILImage.fromarray(rgba, "RGBA"), "t.png"))
    assert np.allclose(img.array, 1.0)


def test_16_bit(tmp_path):
    a = np.full((5, 7), 65535, np.uint16)
    a[0, 0] = 0
    img = load_image(_save(tmp_path, PILImage.fromarray(a), "d.png"))
    _check(img, 5, 7)
    assert img.array[0, 0, 0] == 0.0 and img.array[1, 1, 0] == pytest.approx(1.0)


def test_16_bit_array():
    img = load_image(np.full((3, 3), 32768, np.uint16))
    assert img.array[0, 0, 0] == pytest.approx(0.5, abs=1e-3)


def test_palette_with_transparency(tmp_path):
    pil = PILImage.new("P", (6, 6), 0)
    pil.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pil.putpixel((0, 0), 1)
    pil.info["transparency"] = 0
    img = load_image(_save(tmp_path, pil, "p.png", transparency=0))
    assert np.allclose(img.array[3, 3], 1.0)  # transparent red -> white
    assert np.allclose(img.array[0, 0], (0, 1, 0))


def test_cmyk(tmp_path):
    img = load_image(_save(tmp_path, PILImage.new("CMYK", (5, 5), (0, 255, 255, 0)),
                           "c.jpg"))
    _check(img, 5, 5)
    assert img.array[2, 2, 0] > 0.8 and img.array[2, 2, 1] < 0.2  # red


def test_exif_rotation(tmp_path):
    rgb = np.zeros((10, 20, 3), np.uint8)  # wide, stored sideways
    rgb[:, :10] = 255
    pil = PILImage.fromarray(rgb)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 CW when displayed
    img = load_image(_save(tmp_path, pil, "r.jpg", exif=exif))
    assert img.array.shape == (20, 10, 3)  # now tall
    assert img.array[2, 5].mean() > 0.8 and img.array[17, 5].mean() < 0.2


def test_animated_gif_first_frame(tmp_path):
    frames = [PILImage.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "a.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    img = load_image(path)
    assert img.array[0, 0, 0] > 0.9 and img.array[0, 0, 2] < 0.1


def test_extreme_aspect(tmp_path):
    img = load_image(_save(tmp_path, PILImage.new("RGB", (100000, 1)), "w.png"))
    _check(img, 1, 100000)
    _check(load_image(_save(tmp_path, PILImage.new("RGB", (1, 1)), "o.png")), 1, 1)


def test_empty_file(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(tmp_path / "e.png")


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_text_renamed(tmp_path):
    (tmp_path / "t.png").write_text("this is not a picture")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "t.png")


def test_truncated(tmp_path):
    buf = io.BytesIO()
    PILImage.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
                       ).save(buf, "PNG")
    (tmp_path / "cut.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match="damaged"):
        load_image(tmp_path / "cut.png")


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height grey pixels."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


def test_decompression_bomb(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png(100_000, 100_000))
    assert path.stat().st_size < 1000
    with pytest.raises(ImageError, match="too many pixels|more than"):
        load_image(path)


def test_bad_arrays():
    with pytest.raises(ImageError):
        load_image(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ImageError):
        load_image(np.zeros((0, 5)))


def test_float_array_out_of_range_is_stretched():
    img = load_image(np.array([[-2.0, 2.0]]))
    assert img.array[0, 0, 0] == 0.0 and img.array[0, 1, 0] == 1.0


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_samples_load_offline(name):
    img = load_sample(name)
    assert img.array.ndim == 3 and min(img.size) >= 32


def test_unknown_sample():
    with pytest.raises(ImageError, match="unknown sample"):
        load_sample("nope")
