"""Pictures to search for a unit's strongest responses: shapes-world crops, scikit-learn's
digits, the sample photos, a folder of the person's own images, or a tensor in memory.

A gallery is indexed 0..N-1 and reads a range of pictures at a time, so a sweep can be
split into shards that run anywhere (every gallery here pickles small and rebuilds its
pictures where it runs).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from explorer.core.images import EXTENSIONS, MAX_PIXELS
from explorer.errors import UserError

#: the photos among the sample images (the project's own pictures are galleries of
#: their own)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "horse", "china",
          "flower")


class Gallery(Protocol):
    #: identifies the pictures (not the object) for the cache
    key: str

    def __len__(self) -> int: ...

    def load(self, start: int, stop: int) -> torch.Tensor | list[torch.Tensor]:
        """Pictures start..stop-1 in [0, 1]: Tensor[N, C, H, W], or a list of Tensor[C, H,
        W] when their sizes differ (C = 3, or 1 for grey)."""

    def source(self, i: int) -> str:
        """Where picture i comes from, for a person to find it again."""


class ShapesGallery:
    """`n` shapes-world crops; crop i is :func:`explorer.data.shapes.classification_set`'s
    item i for `seed` (its own generator, label i % 6), made on demand."""

    def __init__(self, n: int = 2000, seed: int = 2024, size: int = 64) -> None:
        self.n, self.seed, self.size = int(n), int(seed), int(size)
        self.key = f"shapes:{self.n}:{self.seed}:{self.size}"

    def __len__(self) -> int:
        return self.n

    def load(self, start: int, stop: int) -> torch.Tensor:
        from explorer.data.shapes import NUM_CLASSES, make_crop

        stop = min(stop, self.n)
        out = np.empty((max(0, stop - start), self.size, self.size, 3), np.float32)
        for j, i in enumerate(range(start, stop)):
            out[j] = make_crop(np.random.default_rng((self.seed, i)), self.size,
                               label=i % NUM_CLASSES)[0]
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()

    def source(self, i: int) -> str:
        return f"shapes crop {i} (seed {self.seed})"


class DigitsGallery:
    """scikit-learn's digits at 32x32, grey: the held-out 360 (``split="test"``), the 1,437
    training digits (``"train"``) or all 1,797."""

    def __init__(self, split: str = "test") -> None:
        if split not in ("test", "train", "all"):
            raise ValueError(f"split must be test, train or all, not {split!r}")
        self.split = split
        self.key = f"digits:{split}"
        self._x: torch.Tensor | None = None

    def _images(self) -> torch.Tensor:
        if self._x is None:
            from explorer.data.digits import digits_split

            xtr, _, xte, _ = digits_split()
            self._x = {"test": xte, "train": xtr, "all": torch.cat([xtr, xte])}[self.split]
        return self._x

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_x": None}  # rebuilt where it is unpickled

    def __len__(self) -> int:
        return {"test": 360, "train": 1437, "all": 1797}[self.split]

    def load(self, start: int, stop: int) -> torch.Tensor:
        return self._images()[start:stop]

    def source(self, i: int) -> str:
        return f"digit {i} ({self.split} split)"


class FilesGallery:
    """Image files (read with :func:`explorer.core.images.load_image`), or sample photos by
    name (``sample:NAME``)."""

    def __init__(self, items: list[str], key: str) -> None:
        self.items, self.key = list(items), key

    def __len__(self) -> int:
        return len(self.items)

    def load(self, start: int, stop: int) -> list[torch.Tensor]:
        from explorer.core.images import load_image
        from explorer.data.samples import load_sample

        out = []
        for item in self.items[start:stop]:
            img = (load_sample(item[7:]) if item.startswith("sample:")
                   else load_image(item))
            out.append(torch.from_numpy(np.ascontiguousarray(img.array)).permute(2, 0, 1))
        return out

    def source(self, i: int) -> str:
        return self.items[i]


class TensorGallery:
    """Pictures already in memory: x (Tensor[N, C, H, W] in [0, 1]). ``name`` goes into
    the cache key, with a hash of the pixels."""

    def __init__(self, x: torch.Tensor, name: str = "tensor") -> None:
        self.x = x.detach().cpu().float().contiguous()
        digest = hashlib.sha256(self.x.numpy().tobytes()).hexdigest()[:16]
        self.name, self.key = name, f"{name}:{digest}"

    def __len__(self) -> int:
        return len(self.x)

    def load(self, start: int, stop: int) -> torch.Tensor:
        return self.x[start:stop]

    def source(self, i: int) -> str:
        return f"{self.name} {i}"


def _check_header(path: Path) -> None:
    """Read `path`'s header only (milliseconds), so a text file named .png or a picture
    declaring billions of pixels is refused before the sweep, not after the feature
    visualisation has run."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as pil:
            w, h = pil.size
    except PILImage.DecompressionBombError:
        raise UserError(f"gallery {path.parent}: {path.name} is too large a picture "
                        f"(at most {MAX_PIXELS:,} pixels)") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a bad file
        raise UserError(f"gallery {path.parent}: {path.name} is not a picture "
                        f"({type(exc).__name__})") from None
    if w * h > MAX_PIXELS or w < 1 or h < 1:
        raise UserError(f"gallery {path.parent}: {path.name} is too large a picture "
                        f"({w}x{h}; at most {MAX_PIXELS:,} pixels)")


def folder_gallery(folder: str | Path) -> FilesGallery:
    """Every image file directly in `folder` (by extension), sorted by name.

    Raises:
        UserError: not a folder, or no image files in it.
    """
    from explorer.app import checks

    path = checks.expand(folder)
    if not path.exists():
        raise UserError(f"gallery {folder}: no such folder")
    if not path.is_dir():
        raise UserError(f"gallery {folder} is not a folder")
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise UserError(f"gallery {folder} holds no images ({', '.join(EXTENSIONS)})")
    for p in files:
        _check_header(p)
    listing = "\n".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    key = f"folder:{path.resolve()}:{hashlib.sha256(listing.encode()).hexdigest()[:16]}"
    return FilesGallery([str(p) for p in files], key)


def samples_gallery() -> FilesGallery:
    return FilesGallery([f"sample:{n}" for n in PHOTOS], "samples:" + ",".join(PHOTOS))


#: what ``--gallery`` accepts besides a folder
GALLERY_NAMES = ("shapes", "digits", "samples")


def default_gallery_name(network_name: str) -> str:
    """The gallery that suits a network: digits for LeNet-5, shapes for the networks
    trained on the shapes world, the sample photos for everything else."""
    if network_name.startswith("lenet"):
        return "digits"
    if network_name.endswith("-shapes"):
        return "shapes"
    return "samples"


def gallery_from_spec(spec: str) -> Gallery:
    """``shapes`` (2,000 crops), ``shapes:N``, ``digits`` (the held-out 360),
    ``digits:train|all``, ``samples`` (the sample photos) or a folder of images (a folder
    called like one of these names is given as ``./shapes``).

    Raises:
        UserError: an unknown name, a bad count, or a folder that is missing, not a
            folder, or holds no images.
    """
    name, _, arg = spec.partition(":")
    if name == "shapes":
        if not arg:
            return ShapesGallery()
        if not arg.isdigit() or not 1 <= int(arg) <= 1_000_000:
            raise UserError(f"gallery {spec!r}: shapes:N needs N between 1 and 1000000")
        return ShapesGallery(int(arg))
    if name == "digits":
        if arg not in ("", "test", "train", "all"):
            raise UserError(f"gallery {spec!r}: digits, digits:train or digits:all")
        return DigitsGallery(arg or "test")
    if spec == "samples":
        return samples_gallery()
    return folder_gallery(spec)
