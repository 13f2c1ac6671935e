"""Small sets of pictures the insight tools compare an image with or train on: the shapes
world's training crops, scikit-learn's digits, or a folder the user picks (one subfolder per
class, or loose images)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from explorer.core.images import Image, load_image
from explorer.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: a folder gallery stops here: features for more would take minutes on a CPU
MAX_FOLDER_IMAGES = 2000
#: the first items of the shapes training set (item i is the same whatever the count)
SHAPES_COUNT = 300
SHIPPED = ("shapes", "digits")


@dataclass
class Gallery:
    """Pictures with labels. `pixels` (Tensor[N, H, W, 3] float in [0, 1]) holds shipped
    sets; a folder keeps `files` and reads each one when asked."""

    key: str  # what the caches are keyed by: "shapes", "digits", "dir:/abs/path"
    name: str
    labels: list[str]
    pixels: torch.Tensor | None = None
    files: list[Path] = field(default_factory=list)
    #: changes when the content changes (file list, sizes, times); part of the cache key
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.labels)

    def array(self, i: int) -> np.ndarray:
        """Item i as np.float32 [H, W, 3] in [0, 1]."""
        if self.pixels is not None:
            return self.pixels[i].numpy()
        return load_image(self.files[i]).array

    def image(self, i: int) -> Image:
        if self.pixels is not None:
            return Image(self.array(i), f"{self.name}[{i}]", None, "gallery item")
        return load_image(self.files[i])

    def item_name(self, i: int) -> str:
        return self.files[i].name if self.files else f"{self.name}[{i}]"

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels), key=self.labels.index)


@lru_cache(maxsize=4)
def _shipped(name: str) -> Gallery:
    if name == "shapes":
        from explorer.data import shapes

        x, y = shapes.classification_set(SHAPES_COUNT, shapes.TRAIN_SEED)
        return Gallery("shapes", "shapes", [shapes.CLASSES[int(i)] for i in y],
                       pixels=x.permute(0, 2, 3, 1).contiguous(),
                       fingerprint=f"shapes-train-{SHAPES_COUNT}")
    from explorer.data import digits

    x, y, _, _ = digits.digits_split()
    return Gallery("digits", "digits", [digits.CLASS_NAMES[int(i)] for i in y],
                   pixels=x.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).contiguous(),
                   fingerprint=f"digits-train-{len(y)}")


def folder_gallery(path: str | Path) -> Gallery:
    """Images under `path`: each subfolder is a class (its name the label); loose images
    are labelled by their file name. Sorted, so the order is the same every time."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UserError(f"{path}: not a folder of images")
    files = sorted(p for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise UserError(f"{path}: no images (.png, .jpg, ...) in this folder")
    if len(files) > MAX_FOLDER_IMAGES:
        raise UserError(f"{path}: {len(files)} images is too many (at most "
                        f"{MAX_FOLDER_IMAGES}); pick a smaller folder")
    labels = [p.parent.name if p.parent != root else p.stem for p in files]
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return Gallery(f"dir:{root.resolve()}", root.name, labels, files=files,
                   fingerprint=h.hexdigest()[:16])


def get_gallery(spec: str | Path) -> Gallery:
    """"shapes", "digits", or a folder path."""
    if str(spec) in SHIPPED:
        return _shipped(str(spec))
    return folder_gallery(spec)
