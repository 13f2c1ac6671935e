"""Small sets of pictures the insight tools compare an image with or train on: the shapes
world's training crops, scikit-learn's digits, or a folder the user picks (one subfolder per
class, or loose images)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from explorer.core.images import Image
from explorer.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: a folder gallery stops here: features for more would take minutes on a CPU
MAX_FOLDER_IMAGES = 2000
#: entries (files and folders) looked at before a folder is called too big to search: a
#: gallery of "/" or a home folder is a slip, and walking it would take minutes
MAX_FOLDER_ENTRIES = 50_000
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
        return self.image(i).array

    def image(self, i: int) -> Image:
        """Item i; a folder's file is opened as every picture is (explorer.app.pictures),
        so a damaged file is one sentence naming it."""
        if self.pixels is not None:
            return Image(self.pixels[i].numpy(), f"{self.name}[{i}]", None, "gallery item",
                         source=f"{self.key}[{i}]")
        from explorer.app.pictures import open_picture

        return open_picture(self.files[i])

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


def _image_files(root: Path) -> list[Path]:
    """Regular image files under `root` (hidden ones and symbolic links to folders left
    out, so a link loop cannot trap the walk), or one sentence when the folder is too big
    to search."""
    files: list[Path] = []
    seen = 0
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        seen += len(dirs) + len(names)
        if seen > MAX_FOLDER_ENTRIES:
            raise UserError(f"{root}: more than {MAX_FOLDER_ENTRIES:,} files and folders "
                            "to search; pick a folder that holds only the gallery")
        for name in names:
            p = Path(folder) / name
            # is_file() follows links and is False for FIFOs, devices and sockets
            if not name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                files.append(p)
                if len(files) > MAX_FOLDER_IMAGES:
                    raise UserError(f"{root}: more than {MAX_FOLDER_IMAGES} images is too "
                                    "many; pick a smaller folder")
    return sorted(files)


def folder_gallery(path: str | Path) -> Gallery:
    """Images under `path`: each subfolder is a class (its name the label); loose images
    are labelled by their file name. Sorted, so the order is the same every time."""
    from explorer.app import checks

    if str(path).strip() == "":
        raise UserError("no gallery folder was given")
    try:
        root = checks.input_folder(path, "folder of images").resolve()
    except UserError as exc:
        if str(exc).endswith("no such file"):
            raise UserError(f"{path}: no such folder; a gallery is "
                            f"{', '.join(SHIPPED)} or a folder of images") from None
        raise
    files = _image_files(root)
    if not files:
        raise UserError(f"{path}: no images (.png, .jpg, ...) in this folder")
    labels = [p.parent.name if p.parent != root else p.stem for p in files]
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return Gallery(f"dir:{root}", root.name, labels, files=files,
                   fingerprint=h.hexdigest()[:16])


def get_gallery(spec: str | Path) -> Gallery:
    """"shapes", "digits", or a folder path."""
    if str(spec) in SHIPPED:
        return _shipped(str(spec))
    return folder_gallery(spec)
