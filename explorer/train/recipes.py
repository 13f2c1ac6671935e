"""What each shipped network is trained on, and for how long.

A :class:`Recipe` names the builder, the data (drawn deterministically from a seed, so the
same recipe always sees the same pixels) and the optimiser settings. The three segmenters
share one recipe body and one protocol (:mod:`explorer.train.convergence`): same scenes,
augmentation, optimiser and schedule, each trained until its validation mIoU stops
improving, so their held-out scores compare each network at its best.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from explorer.data import shapes


@dataclass
class Data:
    """Training and held-out tensors. Images Tensor[N, C, H, W] uint8 or float in [0, 1];
    targets Tensor[N] (class) or Tensor[N, H, W] (segmentation), int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    train_desc: str
    test_desc: str


@dataclass(frozen=True)
class Recipe:
    name: str
    build: str  # "module:function"
    task: str  # "classify" | "segment"
    load: Callable[[int | None, int | None], Data]  # (n_train, n_test) -> Data
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4
    seed: int = 0
    #: random horizontal/vertical flips (and, for shapes, 90-degree turns): the labels of
    #: shapes world do not change under them
    flips: bool = False
    #: random shifts of up to this many pixels (digits: where the pen landed varies)
    shift: int = 0
    #: segmenters: train on random crops of this size (0: whole pictures). A 96x96 crop of a
    #: 128x128 scene is 56 % of its pixels and cuts a training step by 40-55 % (U-Net
    #: 0.63 -> 0.38 CPU-s, FCN 0.37 -> 0.17), which lets every segmenter reach convergence
    #: within 15 minutes of two cores; fully convolutional networks are then scored on the
    #: whole scenes, as Ronneberger et al. trained U-Net on tiles of larger images
    crop: int = 0
    #: size of the fixed held-out subset whose scores the card also records, for quick tests
    check_n: int = 200
    #: trained until the validation score stops improving, under
    #: :data:`explorer.train.convergence.PROTOCOL` (its optimiser, batch and schedule
    #: replace epochs/batch_size/lr above)
    converge: bool = False
    notes: dict = field(default_factory=dict)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    # Stored as 8-bit like any picture: a quarter of the memory of float32.
    return (x * 255).round_().to(torch.uint8)


def _digits(n_train: int | None, n_test: int | None) -> Data:
    from explorer.data.digits import digits_split

    xtr, ytr, xte, yte = digits_split()
    xtr, ytr = xtr[:n_train], ytr[:n_train]
    xte, yte = xte[:n_test], yte[:n_test]
    return Data(
        xtr, ytr, xte, yte,
        f"scikit-learn digits, stratified 80/20 split (seed 0): {len(ytr)} training "
        "images, 8x8 enlarged to 32x32 (bilinear)",
        f"{len(yte)} held-out digits from the same split",
    )


def _crops(n_train: int | None, n_test: int | None) -> Data:
    n_train = 12000 if n_train is None else n_train
    n_test = 1200 if n_test is None else n_test
    xtr, ytr = shapes.classification_set(n_train, shapes.TRAIN_SEED)
    xte, yte = shapes.classification_set(n_test, shapes.TEST_SEED)
    return Data(
        to_uint8(xtr), ytr, to_uint8(xte), yte,
        f"{n_train} shapes-world 64x64 crops, classification_set(seed={shapes.TRAIN_SEED}), "
        "classes balanced",
        f"{n_test} crops, classification_set(seed={shapes.TEST_SEED})",
    )


def _scenes(n_train: int | None, n_test: int | None) -> Data:
    n_train = 1500 if n_train is None else n_train
    n_test = 200 if n_test is None else n_test
    xtr, ytr = shapes.scenes_to_tensors(shapes.scene_set(n_train, shapes.TRAIN_SEED))
    xte, yte = shapes.scenes_to_tensors(shapes.scene_set(n_test, shapes.TEST_SEED))
    return Data(
        to_uint8(xtr), ytr, to_uint8(xte), yte,
        f"{n_train} shapes-world 128x128 scenes, scene_set(seed={shapes.TRAIN_SEED})",
        f"{n_test} scenes, scene_set(seed={shapes.TEST_SEED})",
    )


def _segmenter(name: str, build: str) -> Recipe:
    return Recipe(
        name=name, build=build, task="segment", load=_scenes,
        epochs=6, batch_size=8, lr=3e-3, flips=True, crop=96, check_n=20, converge=True,
    )


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            name="lenet5-digits", build="explorer.nets.lenet:lenet5", task="classify",
            load=_digits, epochs=40, batch_size=32, lr=2e-3, shift=2, check_n=300,
        ),
        Recipe(
            name="tinyvgg-shapes", build="explorer.nets.tinyvgg:tinyvgg", task="classify",
            load=_crops, epochs=6, batch_size=64, lr=3e-3, flips=True, check_n=200,
        ),
        _segmenter("fcn-shapes", "explorer.nets.segnets:fcn"),
        _segmenter("fcn-dilated-shapes", "explorer.nets.segnets:fcn_dilated"),
        _segmenter("unet-shapes", "explorer.nets.segnets:unet"),
    ]
}


def build(recipe: Recipe) -> nn.Module:
    import importlib

    module, fn = recipe.build.split(":")
    return getattr(importlib.import_module(module), fn)()


def augment(
    recipe: Recipe, x: torch.Tensor, y: torch.Tensor, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flips / 90-degree turns / shifts / crops of a batch (x Tensor[B, C, H, W], y
    Tensor[B] or Tensor[B, H, W]); masks move with their images. With ``recipe.crop`` the
    batch comes back as Tensor[B, C, crop, crop] (and Tensor[B, crop, crop]), each picture
    cut at its own random place."""
    seg = y.dim() == 3
    if recipe.flips:
        for dim in (3, 2):
            flip = torch.rand(len(x), generator=g) < 0.5
            x[flip] = x[flip].flip(dim)
            if seg:
                y[flip] = y[flip].flip(dim - 1)
        turn = torch.rand(len(x), generator=g) < 0.5
        x[turn] = x[turn].transpose(2, 3)
        if seg:
            y[turn] = y[turn].transpose(1, 2)
    if recipe.shift:
        s = recipe.shift
        dx, dy = (int(v) for v in torch.randint(-s, s + 1, (2,), generator=g))
        x = torch.roll(x, (dy, dx), (2, 3))
        # the digits' borders are blank, so the wrap-around of roll brings in blank pixels
    c = recipe.crop
    if c and seg and c < min(x.shape[-2:]):
        h, w = x.shape[-2:]
        tops = torch.randint(0, h - c + 1, (len(x),), generator=g).tolist()
        lefts = torch.randint(0, w - c + 1, (len(x),), generator=g).tolist()
        x = torch.stack([p[:, t:t + c, s_:s_ + c] for p, t, s_ in zip(x, tops, lefts)])
        y = torch.stack([m[t:t + c, s_:s_ + c] for m, t, s_ in zip(y, tops, lefts)])
    return x, y


def versions() -> dict[str, str]:
    import platform

    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import torchvision

    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
