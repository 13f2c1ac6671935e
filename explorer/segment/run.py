"""Running segmenters on one picture, so that their answers can be laid side by side.

Pictures come from :func:`explorer.app.pictures.open_picture` (``scene:N`` is held-out
shapes scene N with its mask, the same picture as in Detection and ``segment --eval``).
Every network answers on the same grid, a :class:`SegPicture`: the picture shrunk to at
most :data:`MAX_SIDE` pixels on its longer side (so a 12-megapixel photo stays a quick
demo) with its mask. Each network gets the whole picture resized to the scale it was
trained at (its shorter side to the network's input size, both sides rounded to a
multiple of the network's output stride), and its class scores are interpolated back to
the picture's grid. A 128x128 shapes scene is therefore seen exactly as the shapes
networks were trained.

Networks: the project's shapes segmenters (``fcn-shapes``, ``fcn-dilated-shapes``,
``unet-shapes``) and torchvision's ``fcn_resnet50`` / ``deeplabv3_resnet50`` (Pascal VOC's
21 classes) when their weights are in the torch hub cache; they are never downloaded here.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from explorer.app import checks
from explorer.core.images import Image, load_image
from explorer.core.network import IMAGENET_MEAN, IMAGENET_STD, Network
from explorer.core.tasks import NullTask, Task
from explorer.data import shapes
from explorer.errors import ImageError, ModelError, UserError

#: the project's segmenters, in the order panels show them
SHIPPED_SEGMENTERS = ("fcn-shapes", "fcn-dilated-shapes", "unet-shapes")
#: torchvision's, usable only when their weights are already in the hub cache
TORCHVISION_SEGMENTERS = ("fcn_resnet50", "deeplabv3_resnet50")
SEGMENTERS = SHIPPED_SEGMENTERS + TORCHVISION_SEGMENTERS

#: longest side of the grid the networks' answers are compared on
MAX_SIDE = 512


@dataclass
class SegPicture:
    """The picture every network is run on, with its ground truth when there is one.

    image (np.float32 [H, W, 3] in [0, 1]) at most :data:`MAX_SIDE` on its longer side;
    gt (np.int64 [H, W] class indices on the same grid, or None); gt_classes: the class
    names the ground truth's indices refer to (None: unknown); source: the spec it was
    opened from; shapes_world: a shapes scene (what the shapes networks were trained on).
    """

    image: np.ndarray
    name: str
    gt: np.ndarray | None = None
    gt_classes: tuple[str, ...] | None = None
    source: str = ""
    shapes_world: bool = False

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])


@dataclass
class Prediction:
    """One network's answer on a :class:`SegPicture`.

    classes (np.int64 [H, W]) and probs (np.float32 [K, H, W]) are on the picture's grid;
    x (Tensor[1, 3, h, w]) is what the network was given, at its own resolution (h, w),
    and logits (Tensor[1, K, h', w']) what it returned.
    """

    name: str
    network: Network
    classes: np.ndarray
    probs: np.ndarray
    class_names: list[str]
    seconds: float  # the forward pass alone
    x: torch.Tensor
    logits: torch.Tensor
    weights_source: str
    extra: dict = field(default_factory=dict)

    @property
    def net_size(self) -> tuple[int, int]:
        """(h, w) of the network's input."""
        return int(self.x.shape[-2]), int(self.x.shape[-1])

    @property
    def shapes_trained(self) -> bool:
        """Trained on the shapes world (its classes are the shapes classes)."""
        return tuple(self.class_names) == tuple(shapes.CLASSES)

    def histogram(self) -> dict[str, int]:
        """Pixels per class (classes with no pixel left out)."""
        counts = np.bincount(self.classes.ravel(), minlength=len(self.class_names))
        return {self.class_names[i] if i < len(self.class_names) else f"class {i}": int(c)
                for i, c in enumerate(counts) if c}


# --- networks --------------------------------------------------------------------------

def torchvision_cache_file(name: str) -> Path:
    """Where torch.hub keeps torchvision's weights for segmenter `name`."""
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    from torchvision.models import get_model_weights

    url = get_model_weights(name).DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def available_segmenters() -> list[tuple[str, bool, str]]:
    """(name, has trained weights here, where they come from) for every segmenter."""
    from explorer import PRETRAINED

    rows = [(n, (PRETRAINED / f"{n}.pt").exists(), "shipped") for n in SHIPPED_SEGMENTERS]
    rows += [(n, torchvision_cache_file(n).exists(), "hub cache")
             for n in TORCHVISION_SEGMENTERS]
    return rows


def segmenter_classes(name: str) -> tuple[str, ...]:
    """The class names segmenter `name` labels pixels with, without loading it."""
    check_segmenter(name)
    if name in SHIPPED_SEGMENTERS:
        return tuple(shapes.CLASSES)
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    from torchvision.models import get_model_weights

    return tuple(get_model_weights(name).DEFAULT.meta["categories"])


def check_segmenter(name: str) -> str:
    """`name` if it names a segmenter that can run here.

    Raises:
        ModelError: unknown name, a network that does not segment, or torchvision weights
            that are not on this machine.
    """
    if name in SHIPPED_SEGMENTERS:
        return name
    if name in TORCHVISION_SEGMENTERS:
        path = torchvision_cache_file(name)
        if not path.exists():
            raise ModelError(f"{name}'s weights are not in the torch hub cache ({path}); "
                             "segmentation never downloads them")
        return name
    from explorer.nets.registry import model_names

    if name in model_names():
        raise ModelError(f"{name} is not a segmentation network; choose from "
                         f"{', '.join(SEGMENTERS)}")
    raise ModelError(f"unknown segmentation network {name[:60]!r}; choose from "
                     f"{', '.join(SEGMENTERS)}")


def load_segmenter(name: str, device: str | torch.device = "cpu",
                   task: Task | None = None) -> Network:
    """A segmentation :class:`Network` by name, on `device`.

    Shipped networks open through :func:`explorer.app.networks.open_network` (without
    their weights file they get random ones and say so); torchvision's need their weights
    in the hub cache.

    Raises:
        ModelError: see :func:`check_segmenter`.
    """
    from explorer.app.networks import NetSpec, open_network

    check_segmenter(name)
    if name in TORCHVISION_SEGMENTERS:
        if task is not None:
            task.progress(-1, f"Loading {name}…")
        net = _load_torchvision(name, device)
        if task is not None:
            task.check()
        return net
    return open_network(NetSpec(name), device, task)


def _load_torchvision(name: str, device) -> Network:
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import torchvision
    from torchvision.models import get_model_weights

    from explorer.core.device import pick_device
    from explorer.nets.registry import _no_inplace, load_state_dict_file

    path = torchvision_cache_file(name)
    meta = get_model_weights(name).DEFAULT.meta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the published weights include the auxiliary head
        module = torchvision.models.get_model(name, weights=None, weights_backbone=None,
                                              num_classes=len(meta["categories"]),
                                              aux_loss=True)
    load_state_dict_file(module, path)
    _no_inplace(module)
    module.eval()
    dev = device if isinstance(device, torch.device) else pick_device(device)
    net = Network(module, name, "segment", (520, 520), 3, IMAGENET_MEAN, IMAGENET_STD,
                  list(meta["categories"]), "hub cache", str(path),
                  description=f"torchvision {name} (COCO subset, Pascal VOC classes)",
                  extra={"output_stride": 8})
    return net.to(dev)


def input_multiple(network: Network) -> int:
    """What the network's input sides must be a multiple of: its coarsest grid (all the
    segmenters here pool three times, or use stride 8)."""
    return int(network.extra.get("input_multiple", 8))


# --- pictures --------------------------------------------------------------------------

def seg_picture(image: Image | np.ndarray, mask: np.ndarray | None = None,
                mask_classes: tuple[str, ...] | None = None) -> SegPicture:
    """`image` (from :func:`explorer.app.pictures.open_picture`) on the comparison grid:
    shrunk to at most :data:`MAX_SIDE` on its longer side, its ground truth following with
    nearest-neighbour sampling.

    The ground truth is `mask` (int [H, W] at the image's own size, class indices of
    `mask_classes`) when given, else the image's own (``image.truth.mask``: a shapes scene
    or the shapes sample)."""
    if not isinstance(image, Image):  # grey, RGBA, uint8 ... -> RGB float in [0, 1]
        image = load_image(np.asarray(image), name="array")
    arr = image.array
    h, w = arr.shape[:2]
    truth = image.truth
    shapes_world = truth is not None and tuple(truth.class_names) == tuple(shapes.CLASSES)
    classes: tuple[str, ...] | None = None
    if mask is not None:
        gt = np.asarray(mask)
        if gt.shape != (h, w):
            raise UserError(f"the mask is {gt.shape[1]}x{gt.shape[0]} pixels but the image "
                            f"is {w}x{h}; they must be the same size")
        classes = tuple(mask_classes) if mask_classes is not None else None
    elif truth is not None and truth.mask is not None:
        gt, classes = np.asarray(truth.mask), tuple(truth.class_names)
    else:
        gt = None
    gt = None if gt is None else gt.astype(np.int64)
    scale = min(1.0, MAX_SIDE / max(h, w))
    if scale < 1.0:
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None]
        arr = F.interpolate(t, size=(nh, nw), mode="bilinear", antialias=True,
                            align_corners=False)[0].permute(1, 2, 0).clamp(0, 1).numpy()
        if gt is not None:
            yi = np.minimum(((np.arange(nh) + 0.5) * h / nh).astype(np.int64), h - 1)
            xi = np.minimum(((np.arange(nw) + 0.5) * w / nw).astype(np.int64), w - 1)
            gt = gt[yi[:, None], xi[None, :]]
    return SegPicture(np.ascontiguousarray(arr, dtype=np.float32), image.name, gt, classes,
                      source=image.source or image.name, shapes_world=shapes_world)


def load_mask(path: str | Path, size: tuple[int, int] | None = None,
              classes: tuple[str, ...] | list[str] | None = None,
              network: str = "the network") -> np.ndarray:
    """A ground-truth mask image whose pixel values are class indices -> np.int64 [H, W].

    `size` (H, W): the image's; `classes`: the class names the indices must refer to (the
    networks'), named `network` in messages. Grey PNGs, palette PNGs (their indices) and
    colour PNGs whose R == G == B are read; anything else is refused.

    Raises:
        ImageError: one sentence: not a regular readable file, not an image, another size,
            colours or fractions instead of indices, negative values, or a value that is
            not one of `classes`.
    """
    from PIL import Image as PILImage

    from explorer.app import checks

    p = checks.input_file(path, "mask", error=ImageError)
    try:
        with PILImage.open(p) as pil:
            if size is not None and (pil.height, pil.width) != tuple(size):
                raise ImageError(f"the mask {p.name} is {pil.width}x{pil.height} pixels but "
                                 f"the image is {size[1]}x{size[0]}; they must be the same "
                                 "size")
            pil.load()
            arr = _mask_values(pil, p.name)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a bad file
        raise ImageError(f"{p.name}: not a readable mask image ({type(exc).__name__})"
                         ) from None
    if arr.ndim != 2:
        raise ImageError(f"{p.name}: a mask must be a single-channel image of class indices")
    if arr.size and arr.min() < 0:
        raise ImageError(f"{p.name}: holds the value {int(arr.min())}; class indices cannot "
                         "be negative")
    if classes is not None and arr.size and arr.max() >= len(classes):
        names = ", ".join(f"{i} {c}" for i, c in enumerate(classes)) if len(classes) <= 8 \
            else f"0 {classes[0]} … {len(classes) - 1} {classes[-1]}"
        raise ImageError(f"{p.name}: holds the value {int(arr.max())}, but {network} has "
                         f"only {len(classes)} classes ({names})")
    return arr


def _mask_values(pil, name: str) -> np.ndarray:
    """The class index of every pixel of an opened Pillow image (int64 [H, W])."""
    mode = pil.mode
    if mode in ("P", "L", "1", "I", "I;16", "I;16B", "I;16L"):
        return np.asarray(pil).astype(np.int64)
    if mode == "LA":
        return np.asarray(pil)[..., 0].astype(np.int64)
    if mode in ("RGB", "RGBA"):
        rgb = np.asarray(pil.convert("RGB")).astype(np.int64)
        if not (np.array_equal(rgb[..., 0], rgb[..., 1])
                and np.array_equal(rgb[..., 1], rgb[..., 2])):
            raise ImageError(f"{name}: a mask must hold class indices (grey levels 0, 1, "
                             "2, ...), not colours")
        return rgb[..., 0]
    if mode == "F":
        values = np.asarray(pil)
        if not np.all(np.isfinite(values)) or not np.array_equal(values, np.round(values)):
            raise ImageError(f"{name}: a mask must hold whole class indices, not fractions "
                             "or NaN")
        return values.astype(np.int64)
    raise ImageError(f"{name}: a {mode} image is not a mask; save the class indices as a "
                     "grey PNG (0, 1, 2, ...)")


# --- running ---------------------------------------------------------------------------

#: the longest side a picture is given to a segmenter, in multiples of its input size
MAX_ASPECT = 8


def network_input(network: Network, picture: SegPicture) -> torch.Tensor:
    """The whole picture at the network's scale: Tensor[1, 3, h, w], normalised, with the
    shorter side near the network's input size (the longer at most :data:`MAX_ASPECT`
    times that) and both sides multiples of its stride."""
    h, w = picture.size
    side = min(network.input_size)
    s = input_multiple(network)
    # a 1x4000 strip scaled to a 128-pixel short side would be 128x512000 (gigabytes for
    # a U-Net); such a picture is scaled by its long side instead
    scale = min(side / min(h, w), MAX_ASPECT * side / max(h, w))
    nh = max(s, int(round(h * scale / s)) * s)
    nw = max(s, int(round(w * scale / s)) * s)
    x = torch.from_numpy(np.ascontiguousarray(picture.image)).permute(2, 0, 1)[None]
    x = x.to(network.device)
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False,
                          antialias=True).clamp(0, 1)
    mean = torch.tensor(network.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(network.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def _logits(out) -> torch.Tensor:
    if isinstance(out, dict):  # torchvision's segmenters: {"out": ..., "aux": ...}
        return out["out"]
    return out


def segment(network: Network, picture: SegPicture) -> Prediction:
    """Run one network on `picture` (one forward pass on the network's device); scores
    come back on the picture's grid."""
    x = network_input(network, picture)
    with torch.inference_mode():
        if network.device.type == "cuda":
            torch.cuda.synchronize(network.device)
        t0 = time.perf_counter()
        logits = _logits(network.module(x))
        if network.device.type == "cuda":
            torch.cuda.synchronize(network.device)
        seconds = time.perf_counter() - t0
        grid = logits
        if tuple(logits.shape[-2:]) != picture.size:
            grid = F.interpolate(logits, size=picture.size, mode="bilinear",
                                 align_corners=False)
        probs = grid.float().softmax(1)[0]
        classes = probs.argmax(0)
    return Prediction(network.name, network, classes.cpu().numpy().astype(np.int64),
                      probs.cpu().numpy(), list(network.class_names), seconds,
                      x.detach(), logits.detach(), network.weights_source)


def run_segmenters(names: list[str] | tuple[str, ...], picture: SegPicture,
                   device: str | torch.device = "cpu",
                   networks: dict[str, Network] | None = None,
                   task: Task | None = None) -> dict[str, Prediction]:
    """Each named network's :class:`Prediction` on `picture`, in the order given.

    `networks` caches loaded networks between calls (filled in as they load). A unit of
    work is one network (loaded if needed, then run): `task` is checked before each, so
    after a cancel at most one more network runs."""
    if not names:
        raise UserError("choose at least one segmentation network")
    task = task or NullTask()
    cache = networks if networks is not None else {}
    out: dict[str, Prediction] = {}
    for i, name in enumerate(names):
        task.check()
        task.progress(i / len(names), f"running {name}")
        if name not in cache:
            cache[name] = load_segmenter(name, device, task)
        out[name] = segment(cache[name], picture)
    task.progress(1.0, "segmented")
    return out


def parse_models(text: str) -> list[str]:
    """'fcn-shapes, unet-shapes' -> ['fcn-shapes', 'unet-shapes'] (order kept, no repeats),
    each checked with :func:`check_segmenter`."""
    names = list(dict.fromkeys(checks.comma_items("--models", text, "fcn-shapes,unet-shapes")))
    if not names:
        raise UserError("--models needs at least one network name, e.g. "
                        "--models fcn-shapes,unet-shapes")
    for name in names:
        check_segmenter(name)
    return names


def shapes_warning(preds: dict[str, Prediction] | list[str], picture: SegPicture
                   ) -> str | None:
    """The sentence a person needs when networks trained on synthetic shapes look at a
    picture that is not a shapes scene (their colours there mean little), else None."""
    names = [n for n, p in preds.items() if p.shapes_trained] if isinstance(preds, dict) \
        else [n for n in preds if n in SHIPPED_SEGMENTERS]
    if picture.shapes_world or not names:
        return None
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return (f"{who} {'was' if len(names) == 1 else 'were'} trained only on synthetic "
            "shapes scenes (circles, squares, triangles, stars, crosses), so on this "
            "picture their colours mean little")


def random_warning(preds: dict[str, Prediction]) -> str | None:
    """A sentence when some networks run with random weights (their answers are noise)."""
    names = [n for n, p in preds.items() if p.weights_source == "random"]
    if not names:
        return None
    return (f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} random weights "
            "(no trained weights on this machine), so the colours are noise")


__all__ = ["SEGMENTERS", "SHIPPED_SEGMENTERS", "TORCHVISION_SEGMENTERS", "MAX_SIDE",
           "SegPicture", "Prediction", "available_segmenters", "check_segmenter",
           "segmenter_classes", "load_segmenter", "load_mask", "seg_picture",
           "network_input", "segment", "run_segmenters", "parse_models", "shapes_warning",
           "random_warning"]
