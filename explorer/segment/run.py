"""Running segmenters on one picture, so that their answers can be laid side by side.

Every network answers on the same grid: the picture itself (shrunk to at most
:data:`MAX_SIDE` pixels on its longer side, so a 12-megapixel photo stays a quick demo).
Each network gets the whole picture resized to the scale it was trained at (its shorter
side to the network's input size, both sides rounded to a multiple of the network's output
stride), and its class scores are interpolated back to the picture's grid. A 128x128
shapes scene is therefore seen exactly as the shapes networks were trained.

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

from explorer.core.images import Image, load_image
from explorer.core.network import IMAGENET_MEAN, IMAGENET_STD, Network
from explorer.data import shapes
from explorer.errors import ModelError, UserError

#: the project's segmenters, in the order panels show them
SHIPPED_SEGMENTERS = ("fcn-shapes", "fcn-dilated-shapes", "unet-shapes")
#: torchvision's, usable only when their weights are already in the hub cache
TORCHVISION_SEGMENTERS = ("fcn_resnet50", "deeplabv3_resnet50")
SEGMENTERS = SHIPPED_SEGMENTERS + TORCHVISION_SEGMENTERS

#: longest side of the grid the networks' answers are compared on
MAX_SIDE = 512


@dataclass
class Picture:
    """The picture every network is run on, with its ground truth when there is one.

    image (np.float32 [H, W, 3] in [0, 1]); gt (np.int64 [H, W] class indices, or None);
    gt_classes: the class names the ground truth's indices refer to (None: unknown).
    """

    image: np.ndarray
    name: str
    gt: np.ndarray | None = None
    gt_classes: tuple[str, ...] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])


@dataclass
class Prediction:
    """One network's answer on a :class:`Picture`.

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

    def histogram(self) -> dict[str, int]:
        """Pixels per class (classes with no pixel left out)."""
        counts = np.bincount(self.classes.ravel(), minlength=len(self.class_names))
        return {self.class_names[i] if i < len(self.class_names) else f"class {i}": int(c)
                for i, c in enumerate(counts) if c}


# --- networks --------------------------------------------------------------------------

def torchvision_cache_file(name: str) -> Path:
    """Where torch.hub keeps torchvision's weights for segmenter `name`."""
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


def load_segmenter(name: str, device: str | torch.device = "cpu") -> Network:
    """A segmentation :class:`Network` by name.

    Shipped networks without their weights file load with random weights (and say so);
    torchvision's need their weights in the hub cache.

    Raises:
        ModelError: unknown name, a network that does not segment, or torchvision weights
            that are not on this machine.
    """
    from explorer.nets.registry import load_network, model_names

    if name in TORCHVISION_SEGMENTERS:
        return _load_torchvision(name, device)
    if name in SHIPPED_SEGMENTERS:
        return load_network(name, device=device)
    if name in model_names():
        raise ModelError(f"{name} is not a segmentation network; choose from "
                         f"{', '.join(SEGMENTERS)}")
    raise ModelError(f"unknown segmentation network {name!r}; choose from "
                     f"{', '.join(SEGMENTERS)}")


def _load_torchvision(name: str, device) -> Network:
    import torchvision
    from torchvision.models import get_model_weights

    from explorer.core.device import pick_device
    from explorer.nets.registry import _no_inplace, load_state_dict_file

    path = torchvision_cache_file(name)
    if not path.exists():
        raise ModelError(f"{name}'s weights are not in the torch hub cache ({path}); "
                         "the segmentation view never downloads them")
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

def picture_from_image(image: Image | np.ndarray, name: str | None = None,
                       gt: np.ndarray | None = None,
                       gt_classes: tuple[str, ...] | None = None) -> Picture:
    """Shrink `image` to at most MAX_SIDE on its longer side; `gt` (int [H, W] at the
    image's own size) follows with nearest-neighbour sampling."""
    if not isinstance(image, Image):  # grey, RGBA, uint8 ... -> RGB float in [0, 1]
        image = load_image(np.asarray(image), name=name or "image")
    arr = image.array
    name = name or image.name
    h, w = arr.shape[:2]
    if gt is not None:
        gt = np.asarray(gt)
        if gt.shape != (h, w):
            raise UserError(f"the mask is {gt.shape[1]}x{gt.shape[0]} pixels but the image "
                            f"is {w}x{h}; they must be the same size")
        gt = gt.astype(np.int64)
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
    return Picture(np.ascontiguousarray(arr, dtype=np.float32), name, gt, gt_classes)


def scene_picture(seed: int, size: int = 128) -> Picture:
    """Shapes scene number `seed` with its ground-truth mask."""
    scene = shapes.make_scene(np.random.default_rng(seed), (size, size))
    return Picture(scene.image, f"scene:{seed}", scene.mask, tuple(shapes.CLASSES))


#: the "shapes" sample image is this shapes scene (explorer.data.samples)
SHAPES_SAMPLE_SEED = 7


def sample_truth(image: Image) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """(mask, class names) when `image` is the "shapes" sample, whose ground truth is
    known; None otherwise (checked on the pixels, not only the name)."""
    if image.name != "shapes":
        return None
    scene = shapes.make_scene(SHAPES_SAMPLE_SEED, size=(128, 128))
    if image.array.shape == scene.image.shape and np.allclose(image.array, scene.image,
                                                             atol=2 / 255):
        return scene.mask, tuple(shapes.CLASSES)
    return None


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A ground-truth mask PNG whose pixel values are class indices -> np.int64 [H, W].

    Colour masks are accepted only when R == G == B (a palette PNG's indices are read as
    they are). Raises UserError when the file is unreadable or not `size` (H, W).
    """
    from PIL import Image as PILImage

    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such mask file")
    try:
        with PILImage.open(p) as pil:
            pil.load()
            if pil.mode == "P":
                arr = np.asarray(pil)
            elif pil.mode in ("RGB", "RGBA"):
                rgb = np.asarray(pil.convert("RGB"))
                if not (np.all(rgb[..., 0] == rgb[..., 1]) and
                        np.all(rgb[..., 1] == rgb[..., 2])):
                    raise UserError(f"{p.name}: a mask must hold class indices (grey levels "
                                    "0, 1, 2, ...), not colours")
                arr = rgb[..., 0]
            else:
                arr = np.asarray(pil.convert("I") if pil.mode not in ("L", "I", "I;16")
                                 else pil)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a bad file
        raise UserError(f"{p.name}: not a readable mask image ({type(exc).__name__})"
                        ) from None
    arr = np.asarray(arr).astype(np.int64)
    if arr.ndim != 2:
        raise UserError(f"{p.name}: a mask must be a single-channel image of class indices")
    if size is not None and arr.shape != tuple(size):
        raise UserError(f"the mask {p.name} is {arr.shape[1]}x{arr.shape[0]} pixels but the "
                        f"image is {size[1]}x{size[0]}; they must be the same size")
    if arr.min() < 0:
        raise UserError(f"{p.name}: class indices cannot be negative")
    return arr


def picture_from_spec(spec: str, mask: str | Path | None = None) -> Picture:
    """``scene:SEED`` (a shapes scene with its ground truth), ``sample:NAME`` or a file,
    plus an optional mask PNG at the image's own size."""
    if spec.startswith("scene:"):
        try:
            seed = int(spec.split(":", 1)[1])
        except ValueError:
            raise UserError(f"{spec!r}: a scene is scene:SEED with SEED a whole number"
                            ) from None
        pic = scene_picture(seed)
        if mask is not None:
            pic = Picture(pic.image, pic.name, load_mask(mask, pic.size), None)
        return pic
    if spec.startswith("sample:"):
        from explorer.data.samples import load_sample

        image = load_sample(spec.split(":", 1)[1])
    else:
        image = load_image(spec)
    if mask is not None:
        return picture_from_image(image, gt=load_mask(mask, image.size))
    known = sample_truth(image)
    return picture_from_image(image, gt=known[0] if known else None,
                              gt_classes=known[1] if known else None)


# --- running ---------------------------------------------------------------------------

def network_input(network: Network, picture: Picture) -> torch.Tensor:
    """The whole picture at the network's scale: Tensor[1, 3, h, w], normalised, with the
    shorter side near the network's input size and both sides multiples of its stride."""
    h, w = picture.size
    side = min(network.input_size)
    s = input_multiple(network)
    scale = side / min(h, w)
    nh = max(s, int(round(h * scale / s)) * s)
    nw = max(s, int(round(w * scale / s)) * s)
    x = torch.from_numpy(np.ascontiguousarray(picture.image)).permute(2, 0, 1)[None]
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False,
                          antialias=True).clamp(0, 1)
    mean = torch.tensor(network.mean, dtype=x.dtype).view(1, -1, 1, 1)
    std = torch.tensor(network.std, dtype=x.dtype).view(1, -1, 1, 1)
    return ((x - mean) / std).to(network.device)


def _logits(out) -> torch.Tensor:
    if isinstance(out, dict):  # torchvision's segmenters: {"out": ..., "aux": ...}
        return out["out"]
    return out


def segment(network: Network, picture: Picture) -> Prediction:
    """Run one network on `picture`; scores come back on the picture's grid."""
    x = network_input(network, picture)
    with torch.inference_mode():
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


def run_segmenters(names: list[str] | tuple[str, ...], picture: Picture,
                   device: str | torch.device = "cpu",
                   networks: dict[str, Network] | None = None) -> dict[str, Prediction]:
    """Each named network's :class:`Prediction` on `picture`, in the order given.

    `networks` caches loaded networks between calls (filled in as they load)."""
    if not names:
        raise UserError("choose at least one segmentation network")
    cache = networks if networks is not None else {}
    out: dict[str, Prediction] = {}
    for name in names:
        if name not in cache:
            cache[name] = load_segmenter(name, device)
        out[name] = segment(cache[name], picture)
    return out


def parse_models(text: str) -> list[str]:
    """'fcn-shapes, unet-shapes' -> ['fcn-shapes', 'unet-shapes'] (order kept, no repeats)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError("--models needs at least one network name")
    return list(dict.fromkeys(names))


__all__ = ["SEGMENTERS", "SHIPPED_SEGMENTERS", "TORCHVISION_SEGMENTERS", "MAX_SIDE",
           "Picture", "Prediction", "available_segmenters", "load_segmenter", "load_mask",
           "picture_from_image", "picture_from_spec", "scene_picture", "network_input",
           "segment", "run_segmenters", "parse_models"]
