"""Boxes, class names and scores drawn onto a picture with Pillow (for ``--out``)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer.detect.boxes import Detections

#: one colour per class index (cycled)
PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190)]


def draw_detections(image: np.ndarray, det: Detections, *, proposals: bool = False,
                    ground_truth: tuple[np.ndarray, list[str]] | None = None,
                    min_side: int = 384) -> np.ndarray:
    """The picture (np [H, W, 3], float in [0, 1] or uint8) with the detections drawn.

    Small pictures are enlarged (nearest neighbour, integer factor) to at least `min_side`
    so labels stay readable. proposals: also draw the proposals thinly in grey.
    ground_truth: (boxes np [G, 4], names) drawn dashed-white. Returns np.uint8 [H', W', 3].
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    h, w = arr.shape[:2]
    f = max(1, -(-min_side // max(h, w)))
    pic = Image.fromarray(arr).resize((w * f, h * f), Image.Resampling.NEAREST)
    d = ImageDraw.Draw(pic)
    font = ImageFont.load_default()
    if proposals and det.proposals is not None:
        for b in det.proposals[:300].tolist():
            d.rectangle([v * f for v in b], outline=(150, 150, 150), width=1)
    if ground_truth is not None:
        for b, _name in zip(ground_truth[0].tolist(), ground_truth[1]):
            d.rectangle([v * f for v in b], outline=(255, 255, 255), width=1)
    order = list(range(len(det)))[::-1]  # best drawn last, on top
    for i in order:
        x1, y1, x2, y2 = (float(v) * f for v in det.boxes[i])
        colour = PALETTE[int(det.labels[i]) % len(PALETTE)]
        d.rectangle([x1, y1, x2, y2], outline=colour, width=2)
        text = f"{det.class_names[int(det.labels[i])]} {float(det.scores[i]):.2f}"
        tb = d.textbbox((x1, y1), text, font=font)
        ty = y1 - (tb[3] - tb[1]) - 4 if y1 - (tb[3] - tb[1]) - 4 >= 0 else y1 + 2
        d.rectangle([x1, ty, x1 + tb[2] - tb[0] + 4, ty + tb[3] - tb[1] + 3], fill=colour)
        d.text((x1 + 2, ty), text, fill=(0, 0, 0), font=font)
    return np.asarray(pic)
