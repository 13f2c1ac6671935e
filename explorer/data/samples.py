"""Sample images that ship offline: scikit-image's and scikit-learn's photos, and
pictures the project makes itself (a shapes scene, a handwritten digit)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from explorer.core.images import Image, load_image
from explorer.errors import ImageError


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


def _shapes_scene() -> np.ndarray:
    from explorer.data.shapes import sample_scene

    return sample_scene().image


def _shapes_crop() -> np.ndarray:
    from explorer.data.shapes import make_crop

    return make_crop(np.random.default_rng(3), size=64, label=4)[0]


def _digit() -> np.ndarray:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # a held-out 3, light ink on black as in the data set LeNet-5 learned from
    img = digits.images[digits.target == 3][-1] / 16.0
    big = np.kron(img, np.ones((16, 16)))
    return np.pad(big, 16, constant_values=0.0).astype(np.float32)


SAMPLES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "camera": _skimage("camera"),
    "coins": _skimage("coins"),
    "horse": _skimage("horse"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
    "shapes": _shapes_scene,
    "shape-crop": _shapes_crop,
    "digit": _digit,
}
SAMPLE_NAMES = list(SAMPLES)


def load_sample(name: str) -> Image:
    """One of :data:`SAMPLE_NAMES` as an :class:`Image` (offline)."""
    if name not in SAMPLES:
        raise ImageError(f"unknown sample image {name!r}; choose from {', '.join(SAMPLES)}")
    try:
        array = SAMPLES[name]()
    except ModuleNotFoundError as exc:
        raise ImageError(f"sample {name!r} is not available ({exc.name} is missing)") from None
    return load_image(np.asarray(array), name=name)
