"""One input grammar for every command and section: a spec becomes a picture.

=====================  ==========================================================
``path/to/photo.jpg``  a file (PNG, JPEG, BMP, TIFF, WebP, GIF, PPM/PGM)
``sample:NAME``        a picture that ships offline (``sample:chelsea``); the
                       ``shapes`` sample carries its ground truth
``scene:N``            held-out shapes scene N with its boxes and mask, the same
                       picture as scene N of ``detect --eval`` and ``segment --eval``
``NAME``               a sample's bare name, when no file of that name exists
=====================  ==========================================================
"""

from __future__ import annotations

from pathlib import Path

from explorer.app import checks
from explorer.app.names import SPEC_HELP  # for argparse help texts
from explorer.core.images import IMAGE_FILTER, GroundTruth, Image, load_image
from explorer.data.samples import SAMPLE_NAMES, load_sample
from explorer.errors import ImageError

#: scene numbers beyond this are refused (the held-out set is drawn on demand, but a
#: number with hundreds of digits is a typo, not a scene)
MAX_SCENE = 10**9

#: a picture is a :class:`~explorer.core.images.Image` that knows its source and truth
Picture = Image

__all__ = ["IMAGE_FILTER", "SAMPLE_NAMES", "SPEC_HELP", "GroundTruth", "Image", "Picture",
           "describe", "open_picture", "open_sample", "open_scene", "picture_from_array",
           "scene_truth"]


def picture_from_array(array, name: str = "picture") -> Picture:
    """A picture from an array a person drew or a camera gave ([H, W] or [H, W, C], any
    dtype), normalised like a file (float32 [H, W, 3] in [0, 1])."""
    return load_image(array, name=name)


def scene_truth(scene) -> GroundTruth:
    """The ground truth of a :class:`explorer.data.shapes.Scene`."""
    from explorer.data.shapes import CLASSES

    return GroundTruth(scene.boxes, scene.labels, tuple(CLASSES), scene.mask)


def open_scene(index: int, size: int = 128) -> Picture:
    """Held-out shapes scene `index` with its ground truth."""
    from explorer.data.shapes import held_out_scene

    index = checks.count("a scene number", index, 0, MAX_SCENE)
    scene = held_out_scene(index, size)
    return Image(scene.image, f"scene:{index}", None, f"shapes scene {size}x{size}",
                 source=f"scene:{index}", truth=scene_truth(scene))


def open_sample(name: str) -> Picture:
    """Sample `name` (see :data:`~explorer.data.samples.SAMPLE_NAMES`)."""
    image = load_sample(name)
    image.source = f"sample:{name}"
    if name == "shapes":
        from explorer.data.shapes import sample_scene

        image.truth = scene_truth(sample_scene())
    return image


def open_picture(spec: str | Path) -> Picture:
    """The picture `spec` names (see the module's table).

    Raises:
        ImageError: one sentence, for a file that is missing, not a regular file,
            unreadable, empty, damaged or too large, an unknown sample or a bad scene.
    """
    text = str(spec).strip()
    if text.startswith("sample:"):
        return open_sample(text.split(":", 1)[1])
    if text.startswith("scene:"):
        number = text.split(":", 1)[1].strip()
        if not number.isdigit():
            raise ImageError(f"{text!r}: a scene is scene:N with N a whole number from 0 "
                             f"(e.g. scene:5)")
        if len(number) > 10 or int(number) > MAX_SCENE:
            raise ImageError(f"{text!r}: scene numbers go up to {MAX_SCENE:,}")
        return open_scene(int(number))
    if text in SAMPLE_NAMES and not Path(text).exists():
        return open_sample(text)
    path = checks.input_file(text, "image", error=ImageError)
    image = load_image(path)
    image.source = str(path)
    return image


def describe(spec: str | Path) -> str:
    """A short label for a spec, for progress messages ("chelsea", "scene:5", "cat.jpg")."""
    text = str(spec)
    if text.startswith("sample:"):
        return text.split(":", 1)[1]
    if text.startswith("scene:") or text in SAMPLE_NAMES:
        return text
    return Path(text).name
