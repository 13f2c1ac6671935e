"""Property tests: whatever array or encoded file comes in, the loader gives RGB float in
[0, 1] of the same size, or one clear ImageError — never anything else."""

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from PIL import Image as PILImage

from explorer.core.images import load_image
from explorer.errors import ImageError

dtypes = st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_])


@given(arrays(dtypes, array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=12)))
@settings(max_examples=150, deadline=None)
def test_any_array_becomes_rgb_or_clear_error(a):
    try:
        img = load_image(a)
    except ImageError as exc:
        assert str(exc)
        with np.errstate(over="ignore"):
            nonfinite = a.dtype.kind == "f" and not np.isfinite(a.astype(np.float32)).all()
        wrong_shape = a.ndim == 3 and a.shape[-1] not in (1, 2, 3, 4)
        if nonfinite and not wrong_shape:  # NaN and inf are reported in words
            assert "NaN" in str(exc) or "infinite" in str(exc)
        else:
            assert wrong_shape
        return
    assert img.array.shape == (a.shape[0], a.shape[1], 3)
    assert img.array.dtype == np.float32
    assert np.isfinite(img.array).all()
    assert img.array.min() >= 0.0 and img.array.max() <= 1.0


@given(st.binary(max_size=2048))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes_are_refused_cleanly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "x.png"
    path.write_bytes(data)
    try:
        load_image(path)
    except ImageError as exc:
        assert "\n" not in str(exc)


@given(st.integers(1, 40), st.integers(1, 40),
       st.sampled_from(["L", "RGB", "RGBA", "P", "I;16", "CMYK", "1", "LA"]),
       st.sampled_from(["PNG", "TIFF", "BMP", "WEBP", "JPEG"]))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_encoded_images_keep_their_size(w, h, mode, fmt):
    pil = PILImage.new(mode, (w, h))
    buf = io.BytesIO()
    try:
        pil.save(buf, fmt)
    except (OSError, ValueError, KeyError):
        return  # that format cannot store that mode; nothing to load
    img = load_image(PILImage.open(io.BytesIO(buf.getvalue())))
    assert img.array.shape == (h, w, 3)


@given(st.integers(0, 2**20), st.sampled_from(["PNG", "JPEG", "TIFF", "WEBP", "BMP"]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_truncation_anywhere_is_an_image_error(tmp_path_factory, seed, fmt):
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    PILImage.fromarray(rng.integers(0, 255, (16, 16, 3), np.uint8)).save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path_factory.mktemp("t") / f"cut.{fmt.lower()}"
    path.write_bytes(data[: int(rng.integers(1, len(data) - 1))])
    try:
        img = load_image(path)
    except ImageError as exc:
        assert "\n" not in str(exc)
    else:  # some decoders fill a short tail with grey: then the size must still hold
        assert img.array.shape == (16, 16, 3)
