"""Colours and label placement for detections, and boxes drawn onto a PNG (``--out``).

Colours are Okabe and Ito's colour-blind-safe set, one meaning each: five for object
classes, sky blue for the windows or proposals looked at, yellow for the window the
animation shows, white-on-black dashes for the ground truth. :func:`place_labels` puts each
box's label where it hides no other label and no other box (above the box, below it, or
beside it), so the window and the PNG never stack "cross 0.90" over "star 0.85".
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer.detect.boxes import Detections

#: Okabe-Ito colours for object classes (cycled over the non-background classes)
CLASS_COLOURS = ["#E69F00", "#009E73", "#CC79A7", "#D55E00", "#0072B2"]
#: windows and proposals looked at
WINDOW_COLOUR = "#56B4E9"
#: the window or proposal the animation shows
CURRENT_COLOUR = "#F0E442"
#: ground truth: white dashes over a black line
TRUTH_COLOURS = ("#FFFFFF", "#000000")
#: kept for callers of the old name: one colour per class index
PALETTE = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in CLASS_COLOURS]


def class_colour(label: int, class_names: list[str] | None = None) -> str:
    """The colour of class index `label` (background, if any, is index 0)."""
    has_background = bool(class_names) and class_names[0] in ("background", "not face")
    k = int(label) - 1 if has_background else int(label)
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def text_on(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (WCAG contrast)."""
    def lin(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb(colour)
    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#FFFFFF"


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _cuts_edge(label, box) -> float:
    """Area of `label` that lies over the outline of `box` (0 when the label is wholly
    inside or wholly outside it)."""
    inter = _overlap(label, box)
    if inter == 0:
        return 0.0
    inside = (label[0] >= box[0] and label[1] >= box[1] and label[2] <= box[2]
              and label[3] <= box[3])
    return 0.0 if inside else inter


def place_labels(boxes: np.ndarray, sizes: np.ndarray, bounds: tuple[float, float, float, float],
                 picture: tuple[float, float, float, float] | None = None, gap: float = 6.0
                 ) -> np.ndarray:
    """Top-left corners (np [N, 2]) for labels of `sizes` (np [N, 2]: width, height) that
    belong to `boxes` (np [N, 4], best first), all in the same units.

    Each label is tried above its box's left corner, below it, above and below the right
    corner, left and right of the box, then inside its own top; the first place inside
    `bounds` (x1, y1, x2, y2) that hides no label already placed and no other box (its
    outline or what it holds) wins. When the boxes are too crowded for that and the
    `picture`'s rectangle is given, the label goes beside the picture (left, right, above
    or below it), in the free slot nearest its box: :func:`leader` then gives the line that
    joins it to its box. Only if that is full too, the place that hides least.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    placed: list[tuple[float, float, float, float]] = []
    out = np.zeros((len(boxes), 2))
    bx1, by1, bx2, by2 = bounds

    def hides(rect, i: int) -> float:
        cost = sum(_overlap(rect, p) for p in placed) * 4
        for j, other in enumerate(boxes):
            if j != i:
                cost += _overlap(rect, other) + 3 * _cuts_edge(rect, other)
        return cost

    def inside_bounds(cx, cy, w, h) -> bool:
        return cx >= bx1 - 1e-6 and cy >= by1 - 1e-6 and cx + w <= bx2 + 1e-6 \
            and cy + h <= by2 + 1e-6

    for i, (b, (w, h)) in enumerate(zip(boxes, sizes)):
        x1, y1, x2, y2 = b
        candidates = [(x1, y1 - h), (x1, y2), (x2 - w, y1 - h), (x2 - w, y2),
                      (x1 - w, y1), (x2, y1), (x1 - w, y2 - h), (x2, y2 - h),
                      (x1, y1), (x1, y2 - h)]
        best, best_cost = None, None
        for cx, cy in candidates:
            # slide a candidate into the bounds where it sticks out a little
            cx = min(max(cx, bx1), bx2 - w)
            cy = min(max(cy, by1), by2 - h)
            rect = (cx, cy, cx + w, cy + h)
            cost = hides(rect, i)
            if cost == 0:
                best, best_cost = (cx, cy), 0.0
                break
            if best_cost is None or cost < best_cost:
                best, best_cost = (cx, cy), cost
        if best_cost and picture is not None:
            slot = _gutter_slot(b, w, h, picture, gap, placed, inside_bounds)
            if slot is not None:
                best = slot
        out[i] = best
        placed.append((best[0], best[1], best[0] + w, best[1] + h))
    return out


def _gutter_slot(box, w, h, picture, gap, placed, inside_bounds):
    """The free place beside the picture nearest to `box`'s centre, or None."""
    px1, py1, px2, py2 = picture
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    step = h + 2
    found = []
    sides = [("left", px1 - gap - w), ("right", px2 + gap)]
    for _name, x in sides:
        n = int((py2 - py1 + 2 * step) // step) + 1
        for k in range(n):
            for y in (cy - h / 2 + k * step, cy - h / 2 - k * step):
                found.append((x, y))
    rows = [py1 - gap - h, py2 + gap]
    for y in rows:
        n = int((px2 - px1 + 2 * w) // (w / 2)) + 1
        for k in range(n):
            for x in (cx - w / 2 + k * w / 2, cx - w / 2 - k * w / 2):
                found.append((x, y))
    best, best_d = None, None
    for x, y in found:
        if not inside_bounds(x, y, w, h):
            continue
        rect = (x, y, x + w, y + h)
        if _overlap(rect, picture) or any(_overlap(rect, p) for p in placed):
            continue
        d = (x + w / 2 - cx) ** 2 + (y + h / 2 - cy) ** 2
        if best_d is None or d < best_d:
            best, best_d = (x, y), d
    return best


def leader(label: tuple[float, float, float, float], box: tuple[float, float, float, float],
           touch: float = 3.0) -> tuple[float, float, float, float] | None:
    """The line (x1, y1, x2, y2) from a label that does not touch its box to the nearest
    point of that box's outline, or None when the label sits at its box."""
    lx1, ly1, lx2, ly2 = label
    bx1, by1, bx2, by2 = box
    dx = max(bx1 - lx2, lx1 - bx2, 0.0)
    dy = max(by1 - ly2, ly1 - by2, 0.0)
    if dx <= touch and dy <= touch:
        return None
    # from the label's point nearest the box to the box's point nearest the label
    ax = min(max((bx1 + bx2) / 2, lx1), lx2)
    ay = min(max((by1 + by2) / 2, ly1), ly2)
    return ax, ay, min(max(ax, bx1), bx2), min(max(ay, by1), by2)


def label_text(det: Detections, i: int) -> str:
    return f"{det.class_names[int(det.labels[i])]} {float(det.scores[i]):.2f}"


def draw_detections(image: np.ndarray, det: Detections, *, proposals: bool = False,
                    ground_truth: tuple[np.ndarray, list[str]] | None = None,
                    min_side: int = 512) -> np.ndarray:
    """The picture (np [H, W, 3], float in [0, 1] or uint8) with the detections drawn.

    Small pictures are enlarged (nearest neighbour, integer factor) to at least `min_side`
    so labels stay readable; a margin around the picture leaves room for labels outside
    the boxes. proposals: also draw the proposals (thin, sky blue). ground_truth:
    (boxes np [G, 4], names) drawn as white-on-black dashes. Returns np.uint8 [H', W', 3].
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    h, w = arr.shape[:2]
    f = max(1, -(-min_side // max(h, w)))
    font = ImageFont.load_default(size=max(14, min(24, (w * f) // 32)))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    texts = [label_text(det, i) for i in range(len(det))]
    sizes, offsets = [], []
    for text in texts:
        tb = probe.textbbox((0, 0), text, font=font)
        sizes.append((tb[2] - tb[0] + 8, tb[3] - tb[1] + 8))
        offsets.append((4 - tb[0], 4 - tb[1]))  # the text's ink 4 px inside its label
    margin = max((s[1] for s in sizes), default=0)
    label_sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    # first without side gutters; if the boxes are too crowded for every label to sit by
    # its box, again with a gutter each side where labels go, joined to their boxes
    gutter = 0
    for attempt in range(2):
        ox, oy = margin + gutter, margin
        size = (w * f + 2 * ox, h * f + 2 * oy)
        boxes = (np.asarray(det.boxes.tolist(), np.float64).reshape(-1, 4) * f
                 + [ox, oy, ox, oy])
        picture = (ox, oy, ox + w * f, oy + h * f) if attempt else None
        corners = place_labels(boxes, label_sizes, (0, 0, *size), picture=picture)
        if attempt or not labels_hide(corners, label_sizes, boxes):
            break
        gutter = int(label_sizes[:, 0].max()) + 12
    pic = Image.new("RGB", size, (255, 255, 255))
    pic.paste(Image.fromarray(arr).resize((w * f, h * f), Image.Resampling.NEAREST), (ox, oy))
    d = ImageDraw.Draw(pic)

    def to_px(b):
        return [v * f + (ox if k % 2 == 0 else oy) for k, v in enumerate(b)]

    if proposals and det.proposals is not None:
        for b in det.proposals[:300].tolist():
            d.rectangle(to_px(b), outline=rgb(WINDOW_COLOUR), width=1)
    if ground_truth is not None:
        for b in ground_truth[0].tolist():
            _dashed_rect(d, to_px(b))
    for i in range(len(det))[::-1]:  # best drawn last, on top
        colour = rgb(class_colour(int(det.labels[i]), det.class_names))
        x1, y1, x2, y2 = boxes[i]
        # a black line under the colour keeps every box visible on any picture
        d.rectangle([x1 - 1, y1 - 1, x2 + 1, y2 + 1], outline=(0, 0, 0), width=5)
        d.rectangle([x1, y1, x2, y2], outline=colour, width=3)
    for i in range(len(det)):
        colour = class_colour(int(det.labels[i]), det.class_names)
        x, y = corners[i]
        tw, th = sizes[i]
        line = leader((x, y, x + tw, y + th), tuple(boxes[i]))
        if line is not None:
            d.line(line, fill=rgb(colour), width=2)
        d.rectangle([x, y, x + tw - 1, y + th - 1], fill=rgb(colour), outline=(0, 0, 0))
        d.text((x + offsets[i][0], y + offsets[i][1]), texts[i], fill=rgb(text_on(colour)),
               font=font)
    return np.asarray(pic)


def labels_hide(corners: np.ndarray, sizes: np.ndarray, boxes: np.ndarray) -> bool:
    """Whether a label placed at `corners` covers another label or a box not its own."""
    rects = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(np.asarray(corners).tolist(),
                                                           np.asarray(sizes).tolist())]
    for i, r in enumerate(rects):
        if any(_overlap(r, q) > 1 for q in rects[i + 1:]):
            return True
        if any(j != i and _overlap(r, tuple(b)) > 1 for j, b in enumerate(boxes.tolist())):
            return True
    return False


def _dashed_rect(d: ImageDraw.ImageDraw, b, dash: int = 6) -> None:
    x1, y1, x2, y2 = b
    d.rectangle([x1, y1, x2, y2], outline=rgb(TRUTH_COLOURS[1]), width=3)
    for (ax, ay, bx, by) in ((x1, y1, x2, y1), (x2, y1, x2, y2), (x1, y2, x2, y2),
                             (x1, y1, x1, y2)):
        length = max(abs(bx - ax), abs(by - ay))
        n = int(length // (2 * dash)) + 1
        for k in range(n):
            t0, t1 = 2 * k * dash / max(length, 1), min(1.0, (2 * k + 1) * dash / max(length, 1))
            d.line([ax + (bx - ax) * t0, ay + (by - ay) * t0, ax + (bx - ax) * t1,
                    ay + (by - ay) * t1], fill=rgb(TRUTH_COLOURS[0]), width=1)
