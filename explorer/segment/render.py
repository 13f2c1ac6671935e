"""Side-by-side figures for the command line: panels in a row, each with a title above and
an optional caption below, drawn with Pillow (no Qt outside the GUI)."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from explorer.core import colormaps
from explorer.segment import colors
from explorer.segment.compare import DISAGREE_COLOURS, Disagreement, disagreement_image
from explorer.segment.run import Prediction, SegPicture, random_warning, shapes_warning

#: every panel is enlarged (nearest neighbour) to at least this many pixels on its longer
#: side, so a 128x128 scene stays readable on a projector
PANEL_SIDE = 320


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def _enlarge(rgb: np.ndarray, side: int) -> np.ndarray:
    f = max(1, int(np.ceil(side / max(rgb.shape[:2]))))
    return np.repeat(np.repeat(rgb, f, 0), f, 1) if f > 1 else rgb


def panels_row(panels: list[tuple[str, np.ndarray, str]], side: int = PANEL_SIDE,
               legend: list[tuple[str, tuple[int, int, int]]] | None = None,
               notes: list[str] | None = None) -> np.ndarray:
    """(title, uint8 [H, W, 3], caption) panels in a row on white -> uint8 RGB image,
    with an optional colour legend and notes (one line each) along the bottom."""
    big = [(t, _enlarge(img, side), c) for t, img, c in panels]
    title_font, cap_font = _font(18), _font(14)
    pad, top, bottom = 10, 30, 40
    h = max(img.shape[0] for _, img, _ in big)
    w = sum(img.shape[1] for _, img, _ in big) + pad * (len(big) + 1)
    leg_h = 34 if legend else 0
    notes = notes or []
    canvas = PILImage.new("RGB", (w, h + top + bottom + leg_h + 22 * len(notes)), "white")
    draw = ImageDraw.Draw(canvas)
    x = pad
    for title, img, caption in big:
        canvas.paste(PILImage.fromarray(img), (x, top))
        draw.text((x, 6), title, fill="black", font=title_font)
        for i, line in enumerate(caption.splitlines()[:2]):
            draw.text((x, top + img.shape[0] + 4 + 17 * i), line, fill=(60, 60, 60),
                      font=cap_font)
        x += img.shape[1] + pad
    if legend:
        lx, ly = pad, h + top + bottom + 6
        for name, rgb in legend:
            draw.rectangle((lx, ly, lx + 18, ly + 18), fill=tuple(int(v) for v in rgb),
                           outline="black")
            draw.text((lx + 24, ly + 1), name, fill="black", font=cap_font)
            lx += 24 + int(draw.textlength(name, font=cap_font)) + 18
    for i, note in enumerate(notes):
        draw.text((pad, h + top + bottom + leg_h + 4 + 22 * i), f"Note: {note}.",
                  fill=(150, 50, 0), font=cap_font)
    return np.asarray(canvas)


def comparison_figure(picture: SegPicture, preds: dict[str, Prediction],
                      dis: Disagreement | None, scores: dict | None = None,
                      opacity: float = colors.DEFAULT_OPACITY) -> np.ndarray:
    """input | each prediction overlay | ground truth | disagreement -> uint8 RGB."""
    img8 = colormaps.to_uint8_rgb(picture.image)
    panels = [(f"Input ({picture.name})", img8, f"{picture.size[1]}x{picture.size[0]}")]
    legend_classes: list[str] = []
    for name, p in preds.items():
        pal = colors.palette_for(p.class_names)
        cap = f"{p.seconds * 1000:.0f} ms"
        if p.weights_source == "random":
            cap += "  random weights"
        if scores and name in scores:
            s = scores[name]
            cap += f"\nmIoU {s.mean_iou:.2f}  acc {s.pixel_accuracy:.2f}  " \
                   f"bF {s.boundary_f:.2f}"
        panels.append((name, colors.overlay(picture.image, p.classes, pal, opacity), cap))
        present = [p.class_names[i] for i in np.unique(p.classes) if i < len(p.class_names)]
        legend_classes += [c for c in present if c not in legend_classes]
    gt_pal = None
    if picture.gt is not None:
        names = list(picture.gt_classes) if picture.gt_classes else \
            next(iter(preds.values())).class_names
        gt_pal = colors.palette_for(names)
        present = ", ".join(names[i] for i in np.unique(picture.gt) if 0 < i < len(names))
        panels.append(("Ground truth", colors.overlay(picture.image, picture.gt, gt_pal,
                                                      opacity), present or "background only"))
        legend_classes += [names[i] for i in np.unique(picture.gt)
                           if i < len(names) and names[i] not in legend_classes]
    legend: list[tuple[str, tuple[int, int, int]]] = []
    for c in legend_classes:  # each class in the colour of the first label set that has it
        p = next((p for p in preds.values() if c in p.class_names), None)
        if p is not None:
            legend.append((c, tuple(colors.palette_for(p.class_names)[
                p.class_names.index(c)])))
    if dis is not None:
        a = preds[dis.a].classes if dis.a in preds else None
        b = preds[dis.b].classes if dis.b in preds else None
        rgb = disagreement_image(picture.image, dis, picture.gt, a, b)
        cap = f"{dis.fraction:.1%} of pixels differ"
        if dis.a_right is not None:
            cap += f"\n{dis.a} right: {dis.a_right}  {dis.b} right: {dis.b_right}"
        panels.append((f"{_short(dis.a)} vs {_short(dis.b)}", rgb, cap))
        keys = (["first right", "second right", "both wrong"] if picture.gt is not None
                else ["differ"])
        label = {"first right": f"only {_short(dis.a)} right",
                 "second right": f"only {_short(dis.b)} right",
                 "both wrong": "both wrong", "differ": "networks differ"}
        legend += [(label[k], tuple(int(v * 255) for v in DISAGREE_COLOURS[k]))
                   for k in keys]
    notes = [n for n in (shapes_warning(preds, picture), random_warning(preds)) if n]
    return panels_row(panels, legend=legend, notes=notes)


def _short(name: str) -> str:
    return name.replace("-shapes", "")


def upsampling_figure(demo) -> np.ndarray:
    """An :class:`~explorer.segment.upsampling.UpsamplingDemo` as one row: the coarse
    score map, then each way of upsampling it -> uint8 RGB."""
    low = colormaps.apply(demo.low, "inferno")
    h, w = demo.panels[0].channel.shape
    f = max(1, h // max(1, demo.low.shape[0]))
    low = np.repeat(np.repeat(low, f, 0), f, 1)  # same scale as the others, blocks visible
    panels = [(f"Coarse '{demo.channel_name}' scores",
               low, f"{demo.low.shape[1]}x{demo.low.shape[0]}, upsampled {demo.factor}x")]
    for p in demo.panels:
        panels.append((p.title, colormaps.apply(p.channel, "inferno"),
                       f"{p.note}\nripple on a flat input: {p.ripple:.2f}"))
    return panels_row(panels, side=280)
