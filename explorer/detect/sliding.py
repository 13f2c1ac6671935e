"""Sliding-window detection over an image pyramid, two ways.

* ``impl="naive"``: cut out every window of every pyramid level and classify the cut-outs
  in batches, each one through the network on its own: the lecture's first detector, and
  the cost it complains about.
* ``impl="shared"``: run the classifier *as convolutions* over the whole level once
  (OverFeat): the convolutions of overlapping windows are computed once and each cell of
  the output map is one window's class scores. Available for tinyvgg-shapes
  (:func:`explorer.nets.tinyvgg.fully_convolutional`), MTCNN's P-Net (fully convolutional by
  design) and torchvision's AlexNet / VGG (:func:`explorer.detect.classifier.overfeat`).

The two compute the same scores (to float rounding, max |difference| <= 1e-4). A cell of
the shared map sees more than its window when the trunk zero-pads its convolutions
(TinyVGG's 3x3 convolutions, AlexNet, VGG): its receptive field reaches past the window, so
a window cut out alone would see zeros at its border where the whole-level pass sees the
neighbouring pixels (for TinyVGG up to 0.65 apart). So for a classifier with a fully
convolutional form the naive detector cuts each window out *with that context*
(:meth:`WindowClassifier.context`: 16 px before and 14 px after a TinyVGG window, none for
P-Net), clipped to the level so that at the level's border the network's own zero padding
falls where the shared pass has it, runs the fully convolutional network on each crop and
keeps the one output cell that is the window. It still runs every window through the whole
network (TinyVGG: a 94x94 crop per 64x64 window), which is what makes it slow. Like the
shared pass it grows the level so the window becomes the classifier's input; windows off
the trunk's grid (a stride that is not a multiple of it) have no shared cell, and their
crops keep the pooling grid aligned to the window. A classifier without that form
(R-Net, O-Net, other torchvision nets) gets each window, resized to its input, as it is.

Each level is padded by half a window (edge pixels repeated) so a window can centre on an
object at the image border. Window boxes are shrunk to the part of a window the object fills
(``WindowClassifier.box_fraction``), clipped to the image, thresholded per class and merged
by per-class NMS; then a box lying mostly inside a better box of any class is dropped
(``containment``: windows over part of an object or over two objects are named confidently,
and per-class NMS cannot reach those boxes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from explorer.core.tasks import NullTask, Task
from explorer.detect import settings
from explorer.detect.boxes import (
    Detections,
    class_candidates,
    clip,
    nms_detections,
    shrink,
    suppress_contained,
)
from explorer.detect.classifier import WindowClassifier, image_tensor, resize
from explorer.errors import UserError

IMPLS = ("naive", "shared")


@dataclass
class ScaleMap:
    """One pyramid level's window scores.

    probs (Tensor[K, H', W']): class probabilities of window (i, j), whose box in image
    pixels is ``x1 = origin[0] + j * step, y1 = origin[1] + i * step`` and
    ``x2 = x1 + window[1], y2 = y1 + window[0]`` (unshrunk).
    """

    scale: float
    probs: Tensor
    origin: tuple[float, float]
    step: float
    window: tuple[float, float]

    def boxes(self) -> Tensor:
        """Window boxes (Tensor[H' * W', 4]) in image pixels, row-major like ``probs``."""
        nh, nw = self.probs.shape[-2:]
        ys = self.origin[1] + torch.arange(nh, dtype=torch.float32) * self.step
        xs = self.origin[0] + torch.arange(nw, dtype=torch.float32) * self.step
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        x1, y1 = xx.reshape(-1), yy.reshape(-1)
        return torch.stack([x1, y1, x1 + self.window[1], y1 + self.window[0]], dim=1)


@dataclass
class SlidingResult:
    detections: Detections
    maps: list[ScaleMap] = field(default_factory=list)

    @property
    def windows(self) -> int:
        return sum(int(m.probs[0].numel()) for m in self.maps)


def parse_scales(text: str) -> list[float]:
    """"1,0.75,0.5" -> [1.0, 0.75, 0.5]; bad input -> UserError
    (:func:`explorer.detect.settings.scales`)."""
    scales = settings.scales(str(text))
    if scales is None:
        raise UserError("scales must be numbers separated by commas, e.g. 2,1,0.5")
    return list(scales)


def _level(img: Tensor, scale: float) -> Tensor:
    h, w = img.shape[-2:]
    return resize(img, (max(1, round(h * scale)), max(1, round(w * scale))))


def _pad(x: Tensor, win: tuple[int, int], pad: bool) -> tuple[Tensor, int, int]:
    if not pad:
        return x, 0, 0
    py, px = win[0] // 2, win[1] // 2
    return F.pad(x, (px, px, py, py), mode="replicate"), py, px


#: windows classified between two cancel checks in the naive slide
TICK_WINDOWS = 32


def _naive_level(clf: WindowClassifier, x: Tensor, win: tuple[int, int], stride: int,
                 batch: int, tick=None) -> Tensor:
    """x (Tensor[1, C, H, W], normalised) -> Tensor[K, H', W'] by classifying every crop.

    ``tick(fraction of the level done)`` is called before every `TICK_WINDOWS` windows: a
    level can hold tens of thousands, and a cancel must not wait for all of them (one row
    of a 1024-pixel level took 1.8 s on two busy CPU cores)."""
    grid = x.unfold(2, win[0], stride).unfold(3, win[1], stride)  # [1, C, H', W', h, w]
    _, c, nh, nw = grid.shape[:4]
    rows_per_batch = max(1, batch // max(nw, 1))
    step = TICK_WINDOWS if tick is not None else batch * nw
    out = []
    for r in range(0, nh, rows_per_batch):
        crops = grid[0, :, r:r + rows_per_batch].permute(1, 2, 0, 3, 4).reshape(
            -1, c, win[0], win[1])
        for j in range(0, len(crops), step):
            if tick is not None:
                tick((r + j / nw) / max(nh, 1))
            out.append(clf.scores(resize(crops[j:j + step], clf.input_size)))
    probs = torch.cat(out) if out else x.new_zeros(0, len(clf.class_names))
    return probs.T.reshape(-1, nh, nw)


def _spans(n: int, step: int, size: int, length: int, trunk: int,
           context: tuple[int, int]) -> list[tuple[int, int, int]]:
    """Along one axis, for each of `n` windows `step` apart: (crop start, crop length, index
    of the window's cell in the crop's dense map). The crop reaches `context` pixels
    before and after the window but stops at the level's border, and starts a multiple of
    `trunk` before the window."""
    out = []
    for i in range(n):
        p = i * step
        before = min(context[0], (p // trunk) * trunk)
        after = min(context[1], length - p - size)
        out.append((p - before, before + size + after, before // trunk))
    return out


def _naive_context_level(clf: WindowClassifier, x: Tensor, step: int, batch: int,
                         tick=None) -> Tensor:
    """x (Tensor[1, C, H, W], normalised) -> Tensor[K, H', W'] by cutting out every
    input-sized window with its context (:meth:`WindowClassifier.context`) and running the
    fully convolutional network on each crop, keeping the cell that is the window.

    Crops of the same shape (all but those near the border) are batched; ``tick(fraction of
    the level done)`` is called before each batch, as often as in :func:`_naive_level`."""
    (h, w), trunk = clf.input_size, int(clf.stride)
    ctx_y, ctx_x = clf.context()
    H, W = x.shape[-2:]
    nh, nw = (H - h) // step + 1, (W - w) // step + 1
    rows = _spans(nh, step, h, H, trunk, ctx_y)
    cols = _spans(nw, step, w, W, trunk, ctx_x)

    def groups(spans):
        g: dict[tuple[int, int], list[int]] = {}
        for i, (_, length, cell) in enumerate(spans):
            g.setdefault((length, cell), []).append(i)
        return g

    y0 = torch.tensor([span[0] for span in rows])  # crop starts
    x0 = torch.tensor([span[0] for span in cols])
    probs = x.new_zeros(len(clf.class_names), nh, nw)
    img = x[0]
    done, total = 0, nh * nw
    for (ch, cy), ri in groups(rows).items():
        for (cw, cx), ci in groups(cols).items():
            # as much work a batch (or between two cancel checks) as `batch` (or
            # `TICK_WINDOWS`) windows of the classifier's own size: crops are bigger
            per = max(1, (TICK_WINDOWS if tick is not None else batch) * h * w // (ch * cw))
            pairs = torch.cartesian_prod(torch.tensor(ri), torch.tensor(ci))  # [n, 2]
            for k in range(0, len(pairs), per):
                if tick is not None:
                    tick(done / max(total, 1))
                r, c = pairs[k:k + per].unbind(1)
                ys = (y0[r][:, None] + torch.arange(ch)).to(x.device)  # [n, ch]
                xs = (x0[c][:, None] + torch.arange(cw)).to(x.device)  # [n, cw]
                # [C, n, ch, cw] -> [n, C, ch, cw]: one crop per window, each on its own
                crops = img[:, ys[:, :, None], xs[:, None, :]].transpose(0, 1)
                probs[:, r, c] = clf.score_maps(crops)[:, :, cy, cx].T  # [K, n]
                done += len(r)
    return probs


def boxes_from_maps(maps: list[ScaleMap], shape: tuple[int, int], *, box_fraction: float,
                    background: int | None, threshold: float, iou: float,
                    containment: float | None = None, max_detections: int = 100
                    ) -> tuple[Tensor, Tensor, Tensor]:
    """The boxes a slide keeps from its score maps: each window box shrunk to the object
    (`box_fraction`) and clipped to the picture (`shape` (H, W)), thresholded per class
    (background excluded), per-class NMS at `iou`, then (with `containment`) any box at
    least that share inside a better box of any class dropped. Returns (boxes Tensor[N,
    4], scores Tensor[N], labels Tensor[N]), best first. Cheap: settings can be changed
    on the same maps without sliding again."""
    H, W = shape
    boxes = torch.cat([m.boxes() for m in maps])
    probs = torch.cat([m.probs.flatten(1).T for m in maps])
    boxes = clip(shrink(boxes, box_fraction), H, W)
    b, sc, lab = class_candidates(probs, boxes, threshold, background)
    b, sc, lab = nms_detections(b, sc, lab, iou, None if containment else max_detections)
    if containment:
        keep = suppress_contained(b, sc, containment)[:max_detections]
        b, sc, lab = b[keep], sc[keep], lab[keep]
    return b, sc, lab


def slide(
    classifier: WindowClassifier,
    image: np.ndarray | Tensor,
    *,
    window: int | None = None,
    stride: int | None = None,
    scales: list[float] | tuple[float, ...] = (1.0,),
    impl: str = "shared",
    threshold: float = 0.5,
    iou: float = 0.3,
    containment: float | None = None,
    pad: bool = True,
    batch: int = 256,
    max_detections: int = 100,
    task: Task | None = None,
) -> SlidingResult:
    """Slide `classifier` over `image` at every scale and keep confident, non-overlapping boxes.

    Args:
        image: np.float32 [H, W, 3] in [0, 1], or Tensor[1, 3, H, W] in [0, 1].
        window: window side in pyramid-level pixels (default: the classifier's input).
        stride: pixels between windows in a level (default: the trunk's stride when the
            classifier has a fully convolutional form, else a quarter window). "shared"
            uses the nearest multiple of the trunk's stride.
        scales: pyramid levels, as factors of the image size (2 = twice as big, so
            smaller objects fill a window).
        impl: "naive" or "shared".
        threshold: least class probability for a box; iou: NMS overlap (per class).
        containment: after NMS, drop a box lying at least this share inside a better box
            of any class (:func:`explorer.detect.boxes.suppress_contained`); None: off.
        task: progress and cancel (:class:`~explorer.core.tasks.Task`), checked before
            every level (shared) or every `TICK_WINDOWS` windows (naive).
    Returns:
        :class:`SlidingResult`: detections (boxes Tensor[N, 4] in image pixels) and one
        :class:`ScaleMap` per level.
    Raises:
        UserError: a bad setting, a window larger than the picture at every scale, or a
            pyramid too big for memory (see :func:`explorer.detect.settings.sliding_plan`).
        Cancelled: the task was cancelled.
    """
    impl = settings.choice("impl", impl, IMPLS)
    threshold = settings.threshold(threshold)
    iou = settings.iou(iou)
    containment = settings.containment(containment)
    window = settings.window(window)
    stride = settings.stride(stride)
    scales = settings.scales(scales) or (1.0,)
    if impl == "shared" and classifier.dense is None:
        raise UserError(f"{classifier.name} has no fully convolutional form; use --impl naive")
    task = task or NullTask()
    t0 = time.perf_counter()
    dev = classifier.device
    img = image if isinstance(image, Tensor) else image_tensor(image, dev)
    img = img.to(dev, torch.float32)
    H, W = img.shape[-2:]
    in_h, in_w = classifier.input_size
    plan = settings.sliding_plan(
        (H, W), (in_h, in_w), dense=classifier.dense is not None, trunk=classifier.stride,
        impl=impl, window_px=window, stride_px=stride, scale_list=scales, pad=pad,
        classes=len(classifier.class_names), name=classifier.name)
    maps: list[ScaleMap] = []

    def tick(n: int, s: float):
        def report(f: float) -> None:
            task.check()
            task.progress((n + f) / len(plan),
                          f"naive windows at scale {s:g} ({n + 1}/{len(plan)})")
        return report

    with torch.inference_mode():
        for n, lv in enumerate(plan):
            s, level_scale, lw, step = lv.scale, lv.level_scale, lv.window, lv.step
            if impl == "shared":
                task.check()
                task.progress(n / len(plan), f"shared windows at scale {s:g} "
                              f"({n + 1}/{len(plan)})")
            x, py, px = _pad(classifier.normalise(_level(img, level_scale)), lw, pad)
            if impl == "shared":
                trunk = int(classifier.stride)
                k = step // trunk
                probs = classifier.score_map(x)
                nh = (x.shape[-2] - in_h) // trunk + 1
                nw = (x.shape[-1] - in_w) // trunk + 1
                probs = probs[:, :nh:k, :nw:k]
            elif classifier.dense is None:
                probs = _naive_level(classifier, x, lw, step, batch, tick(n, s))
            else:
                probs = _naive_context_level(classifier, x, step, batch, tick(n, s))
            maps.append(ScaleMap(
                scale=s, probs=probs.float().cpu(),
                origin=(-px / level_scale, -py / level_scale), step=step / level_scale,
                window=(lw[0] / level_scale, lw[1] / level_scale)))
    if not maps:
        raise UserError(f"the image ({W}x{H}) is smaller than the window at every scale")
    t_windows = time.perf_counter() - t0
    task.check()
    task.progress(0.95, "non-maximum suppression")
    t1 = time.perf_counter()
    b, sc, lab = boxes_from_maps(maps, (H, W), box_fraction=classifier.box_fraction,
                                 background=classifier.background, threshold=threshold,
                                 iou=iou, containment=containment,
                                 max_detections=max_detections)
    t_nms = time.perf_counter() - t1
    det = Detections(b, sc, lab, list(classifier.class_names), method=f"sliding-{impl}",
                     timings={"windows": t_windows, "nms": t_nms,
                              "total": time.perf_counter() - t0},
                     extra={"windows": sum(int(m.probs[0].numel()) for m in maps),
                            "scales": [m.scale for m in maps], "impl": impl,
                            "threshold": threshold, "containment": containment})
    task.progress(1.0, f"{len(det)} box(es) from {det.extra['windows']} windows")
    return SlidingResult(det, maps)
