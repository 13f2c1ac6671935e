"""Shapes world: seeded scenes of coloured shapes for the shipped classifier and segmenters.

Everything is drawn here with numpy and Pillow, so the data ships as code, not files, and the
same seed always gives the same pixels.

* A **scene** (:func:`make_scene`) holds 1-4 shapes of varied size, rotation and colour on a
  flat, gradient, noise or texture background. Later shapes occlude earlier ones; a shape is
  only placed if every earlier shape keeps at least 60 % of its area visible, so no object is
  hidden entirely. ``mask`` is the class of the *visible* shape at each pixel and each box is
  the tight box of that shape's *visible* pixels (what a detector can see, and what the mask
  shows).
* A **crop** (:func:`make_crop`) is a 64x64 window for the classifier: one shape roughly
  centred and filling a good part of it, or background (label 0). Background crops often hold
  clutter: small shapes, or shapes whose centre lies far from the middle so only part of them
  shows. That is what a sliding-window detector sees between objects, so the classifier learns
  a real "nothing centred here" class.

Shapes are rendered at 4x and box-filtered down, so edges are antialiased; a pixel belongs to a
shape in the mask when the shape covers at least half of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from explorer.data.seeds import TEST_SEED, TRAIN_SEED  # noqa: F401 - training / held-out

CLASSES = ("background", "circle", "square", "triangle", "star", "cross")
NUM_CLASSES = len(CLASSES)

#: per-channel statistics of the generated images (measured on 1,000 scenes and 1,200 crops,
#: rounded); the shipped shapes networks normalise with these
MEAN = (0.50, 0.49, 0.50)
STD = (0.25, 0.25, 0.25)

_SS = 4  # supersampling factor for antialiased edges
BACKGROUNDS = ("flat", "gradient", "noise", "texture")


@dataclass
class Scene:
    """One shapes-world picture with its ground truth.

    image (np.float32 [H, W, 3]) in [0, 1]; boxes (np.float32 [N, 4]) x1, y1, x2, y2 in
    pixels (x2, y2 exclusive: the pixel edges around the visible shape); labels (np.int64
    [N]) in 1..5; mask (np.int64 [H, W]) class of each pixel, 0 = background.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    mask: np.ndarray


def _rng(rng_or_seed: np.random.Generator | int | tuple | None) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


# ----------------------------------------------------------------------------- geometry


def _unit_polygon(label: int) -> np.ndarray:
    """Vertices (np.float64 [K, 2]) of a shape of class `label` with outer radius 1."""
    if label == 1:  # circle
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if label == 2:  # square
        t = np.pi / 4 + np.arange(4) * np.pi / 2
        return np.stack([np.cos(t), np.sin(t)], 1)
    if label == 3:  # equilateral triangle (centroid at the centre, so it looks smaller)
        t = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return np.stack([np.cos(t), np.sin(t)], 1) * 1.12
    if label == 4:  # five-pointed star, inner radius 0.45
        t = -np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    if label == 5:  # plus-shaped cross, arm half-width 0.3
        a, w = 0.92, 0.3
        return np.array(
            [
                (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a),
                (-w, a), (-w, w), (-a, w), (-a, -w), (-w, -w), (-w, -a),
            ]
        )
    raise ValueError(f"no shape for class {label}")


def _polygon(label: int, cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    pts = _unit_polygon(label) @ np.array([[c, s], [-s, c]]) * radius
    return pts + (cx, cy)


def _coverage(poly: np.ndarray, h: int, w: int) -> np.ndarray:
    """Fraction (np.float32 [h, w]) of each pixel that the polygon covers (antialiased)."""
    out = np.zeros((h, w), np.float32)
    x0 = int(max(np.floor(poly[:, 0].min()) - 1, 0))
    y0 = int(max(np.floor(poly[:, 1].min()) - 1, 0))
    x1 = int(min(np.ceil(poly[:, 0].max()) + 1, w))
    y1 = int(min(np.ceil(poly[:, 1].max()) + 1, h))
    if x1 <= x0 or y1 <= y0:
        return out
    # Only the shape's own box is drawn at 4x: cheap, and pixel edges stay aligned.
    canvas = Image.new("L", ((x1 - x0) * _SS, (y1 - y0) * _SS), 0)
    pts = [((x - x0) * _SS, (y - y0) * _SS) for x, y in poly]
    ImageDraw.Draw(canvas).polygon(pts, fill=255)
    small = canvas.resize((x1 - x0, y1 - y0), Image.Resampling.BOX)
    out[y0:y1, x0:x1] = np.asarray(small, np.float32) / 255.0
    return out


# ---------------------------------------------------------------------------- colours


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.0, 1.0, 3).astype(np.float32)


def _pick_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A colour that stands out against (almost) every pixel in `under` (np [K, 3])."""
    best, best_d = None, -1.0
    for _ in range(40):
        c = _random_colour(rng)
        d = float(np.quantile(np.linalg.norm(under - c, axis=1), 0.1)) if len(under) else 1.0
        if d > best_d:
            best, best_d = c, d
        if d >= 0.35:
            break
    return best


# ------------------------------------------------------------------------- backgrounds


def _background(rng: np.random.Generator, h: int, w: int, kind: str | None = None) -> np.ndarray:
    """A background picture (np.float32 [h, w, 3]) of a random (or the given) kind."""
    kind = kind or BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "flat":
        img = np.broadcast_to(_random_colour(rng), (h, w, 3)).copy()
    elif kind == "gradient":
        a, b = _random_colour(rng), _random_colour(rng)
        t = rng.uniform(0, 2 * np.pi)
        p = xx * np.cos(t) + yy * np.sin(t)
        p = (p - p.min()) / max(float(p.max() - p.min()), 1e-6)
        img = a + (b - a) * p[..., None]
    elif kind == "noise":
        # smooth coloured blobs: a coarse random grid upsampled, plus a little fine grain
        g = int(rng.integers(3, 12))
        coarse = rng.uniform(0, 1, (g, g, 3)).astype(np.float32)
        base = _random_colour(rng)
        coarse = base + (coarse - base) * rng.uniform(0.3, 0.8)
        up = Image.fromarray((coarse * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC
        )
        img = np.asarray(up, np.float32) / 255.0
        img = img + rng.normal(0, 0.04, (h, w, 3)).astype(np.float32)
    elif kind == "texture":
        a, b = _random_colour(rng), _random_colour(rng)
        b = a + (b - a) * rng.uniform(0.3, 0.7)  # keep texture contrast moderate
        t = rng.uniform(0, np.pi)
        period = rng.uniform(4, 16)
        u = xx * np.cos(t) + yy * np.sin(t)
        if rng.random() < 0.5:  # stripes
            p = 0.5 + 0.5 * np.sin(2 * np.pi * u / period)
        else:  # checks / weave
            v = -xx * np.sin(t) + yy * np.cos(t)
            p = 0.5 + 0.5 * np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period)
        img = a + (b - a) * p[..., None]
    else:
        raise ValueError(f"unknown background {kind!r}")
    return np.clip(img, 0, 1).astype(np.float32)


# ------------------------------------------------------------------------------ drawing


def _paint(img: np.ndarray, cov: np.ndarray, colour: np.ndarray, rng: np.random.Generator):
    """Composite a shape of coverage `cov` onto `img` in place, with gentle shading."""
    h, w = cov.shape
    ys, xs = np.nonzero(cov > 0)
    if len(ys) == 0:
        return
    # a soft linear shading across the shape so fills are not perfectly flat
    t = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    p = xx * np.cos(t) + yy * np.sin(t)
    lo, hi = p[ys, xs].min(), p[ys, xs].max()
    p = (p - lo) / max(hi - lo, 1e-6) - 0.5
    fill = np.clip(colour + rng.uniform(0, 0.15) * p[..., None], 0, 1)
    a = cov[..., None]
    img *= 1 - a
    img += a * fill


def _place(rng, label, cx, cy, radius, h, w):
    angle = rng.uniform(0, 2 * np.pi)
    return _coverage(_polygon(label, cx, cy, radius, angle), h, w)


def make_scene(
    rng_or_seed: np.random.Generator | int | tuple | None = None,
    size: tuple[int, int] = (128, 128),
    n_shapes: tuple[int, int] = (1, 4),
) -> Scene:
    """Draw one scene of ``size`` (H, W) with between n_shapes[0] and n_shapes[1] shapes.

    A shape that cannot be placed without hiding more than 40 % of an earlier one after 30
    tries is left out, so a crowded scene may hold fewer shapes than drawn.
    """
    rng = _rng(rng_or_seed)
    h, w = size
    img = _background(rng, h, w)
    n = int(rng.integers(n_shapes[0], n_shapes[1] + 1))
    owner = np.full((h, w), -1, np.int64)  # index of the visible shape at each pixel
    areas: list[int] = []
    labels: list[int] = []
    side = min(h, w)
    for _ in range(n):
        label = int(rng.integers(1, NUM_CLASSES))
        for _try in range(30):
            radius = rng.uniform(0.08, 0.22) * side
            cx = rng.uniform(radius, w - radius)
            cy = rng.uniform(radius, h - radius)
            cov = _place(rng, label, cx, cy, radius, h, w)
            inside = cov >= 0.5
            if inside.sum() < 20:
                continue
            ok = all(
                ((owner == j) & ~inside).sum() >= 0.6 * areas[j] for j in range(len(areas))
            )
            if ok:
                break
        else:
            continue
        ys, xs = np.nonzero(cov > 0.5)
        y0, y1 = max(ys.min() - 2, 0), min(ys.max() + 3, h)
        x0, x1 = max(xs.min() - 2, 0), min(xs.max() + 3, w)
        colour = _pick_colour(rng, img[y0:y1, x0:x1].reshape(-1, 3))
        _paint(img, cov, colour, rng)
        owner[inside] = len(areas)
        areas.append(int(inside.sum()))
        labels.append(label)
    img += rng.normal(0, rng.uniform(0.0, 0.03), img.shape).astype(np.float32)
    img = np.clip(img, 0, 1).astype(np.float32)

    mask = np.zeros((h, w), np.int64)
    boxes, keep = [], []
    for j, label in enumerate(labels):
        ys, xs = np.nonzero(owner == j)
        if len(ys) == 0:  # cannot happen with the 60 % rule, but stay safe
            continue
        mask[owner == j] = label
        boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
        keep.append(label)
    return Scene(
        image=img,
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        labels=np.asarray(keep, np.int64),
        mask=mask,
    )


def make_crop(
    rng_or_seed: np.random.Generator | int | tuple | None = None,
    size: int = 64,
    label: int | None = None,
) -> tuple[np.ndarray, int]:
    """One classifier window: (image np.float32 [size, size, 3] in [0, 1], label).

    Label 1..5: that shape, centre within 8 % of the middle, outer radius 26-42 % of the
    window, sometimes with a cut-off neighbour at the border behind it. Label 0: background,
    usually with clutter: small shapes (radius <= 14 %) or big shapes whose centre is at least
    30 % of the window away from the middle. Labels are uniform when `label` is None.
    """
    rng = _rng(rng_or_seed)
    label = int(rng.integers(NUM_CLASSES)) if label is None else int(label)
    img = _background(rng, size, size)
    mid = size / 2

    def clutter(kind: str):
        lab = int(rng.integers(1, NUM_CLASSES))
        if kind == "small":
            r = rng.uniform(0.06, 0.14) * size
            cx, cy = rng.uniform(r, size - r, 2)
        else:  # off-centre: far enough from the middle that it is not "this window's" shape
            r = rng.uniform(0.2, 0.5) * size
            d = rng.uniform(0.3, 0.75) * size
            t = rng.uniform(0, 2 * np.pi)
            cx, cy = mid + d * np.cos(t), mid + d * np.sin(t)
        cov = _place(rng, lab, cx, cy, r, size, size)
        if (cov > 0.5).sum() < 4:
            return
        ys, xs = np.nonzero(cov > 0.5)
        _paint(img, cov, _pick_colour(rng, img[ys, xs]), rng)

    if label == 0:
        for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
            clutter("small" if rng.random() < 0.4 else "far")
    else:
        if rng.random() < 0.3:
            clutter("far")
        r = rng.uniform(0.26, 0.42) * size
        cx, cy = mid + rng.uniform(-0.08, 0.08, 2) * size
        cov = _place(rng, label, cx, cy, r, size, size)
        ys, xs = np.nonzero(cov > 0.5)
        _paint(img, cov, _pick_colour(rng, img[ys, xs].reshape(-1, 3)), rng)
    img += rng.normal(0, rng.uniform(0.0, 0.03), img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32), label


# ----------------------------------------------------------------------------- datasets


def classification_set(n: int, seed: int, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` crops as (X Tensor[N, 3, size, size] in [0, 1], y Tensor[N] int64).

    Item i is drawn from its own generator seeded (seed, i) with label i % 6, so classes are
    balanced and the first k items of a set are the same whatever `n` is.
    """
    X = np.empty((n, size, size, 3), np.float32)
    y = np.empty(n, np.int64)
    for i in range(n):
        X[i], y[i] = make_crop(np.random.default_rng((seed, i)), size, label=i % NUM_CLASSES)
    return torch.from_numpy(X).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)


def scene_set(n: int, seed: int, size: int = 128) -> list[Scene]:
    """`n` scenes of size x size; scene i is drawn from a generator seeded (seed, i)."""
    return [make_scene(np.random.default_rng((seed, i)), (size, size)) for i in range(n)]


def held_out_scene(index: int, size: int = 128) -> Scene:
    """Held-out scene number `index`: the same picture as ``scene_set(n, TEST_SEED)[index]``,
    so "scene 5" is one picture in every command, section and evaluation."""
    return make_scene(np.random.default_rng((TEST_SEED, int(index))), (size, size))


#: the "shapes" sample picture is this scene (explorer.data.samples): a star, a circle,
#: a square and a triangle, so a class sees four different labels (seed 7 drew three
#: squares, and a detector naming every box "square" looked broken though it was right)
SAMPLE_SCENE_SEED = 17


def sample_scene() -> Scene:
    """The "shapes" sample: one 128x128 scene with its ground truth."""
    return make_scene(SAMPLE_SCENE_SEED, size=(128, 128))


def scenes_to_tensors(scenes: list[Scene]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack scenes into (images Tensor[N, 3, H, W] in [0, 1], masks Tensor[N, H, W] int64)."""
    X = torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2).contiguous()
    Y = torch.from_numpy(np.stack([s.mask for s in scenes]))
    return X, Y
