"""Drawing a laid-out graph to SVG or PNG without Qt.

:func:`scene` turns the layout into pixels once (boxes, texts, polylines); the SVG writer
prints them as text and the PNG writer rasterises the same primitives with matplotlib
when it is installed, else with Pillow. Each node shows its type, its output shape and
its name; the edges leaving a node carry the shape of the tensor they hold.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from explorer.graph.structure import Graph, Node

COL = 200  # pixels per layout unit across
ROW = 86  # pixels per row
BOX_W, BOX_H = 180, 54
MARGIN = 40
#: the PNG stays within this many pixels (a DenseNet is tens of thousands tall)
MAX_PIXELS = 48_000_000
MAX_SIDE = 30_000

#: (fill, stroke) per kind of step
PALETTE = {
    "conv": ("#dbe9f6", "#3b73b9"),
    "norm": ("#e3f2e1", "#4a8f42"),
    "act": ("#fff1d6", "#c98a16"),
    "pool": ("#efe3f5", "#8a4fa8"),
    "merge": ("#fbe0e0", "#c0392b"),
    "block": ("#f6ead9", "#8b5a2b"),
    "end": ("#e8e8e8", "#333333"),
    "other": ("#f3f3f3", "#777777"),
}
_ACTS = ("relu", "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "mish",
         "elu", "selu", "softmax", "swish", "leakyrelu", "prelu", "relu6", "logsoftmax")


def category(node: Node) -> str:
    op = node.op.lower()
    if node.kind in ("input", "output"):
        return "end"
    if node.kind == "block":
        return "block"
    if "conv" in op:
        return "conv"
    if "norm" in op:
        return "norm"
    if "pool" in op:
        return "pool"
    if op in ("add", "cat", "concat", "mul", "sub", "stack", "add_", "iadd") or \
            op.endswith(("add", "concat")):
        return "merge"
    if op.strip("_") in _ACTS or op.endswith(tuple(_ACTS)):
        return "act"
    return "other"


def shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "×".join(map(str, shape)) if len(shape) else "scalar"


@dataclass
class Box:
    x: float  # top-left corner
    y: float
    w: float
    h: float
    fill: str
    stroke: str
    lines: list[str]
    title: str


@dataclass
class Line:
    points: list[tuple[float, float]]
    dashed: bool = False


@dataclass
class Label:
    x: float
    y: float
    text: str


@dataclass
class Scene:
    width: float
    height: float
    boxes: list[Box] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    note: str | None = None


def scene(graph: Graph) -> Scene:
    """The drawing of `graph` (laid out: every node has x, y) in pixels."""
    if any(n.x is None for n in graph.nodes):
        from explorer.graph.layout import layout_graph

        layout_graph(graph)
    top = MARGIN + (24 if graph.note else 0)

    def px(x: float, y: float) -> tuple[float, float]:
        return MARGIN + BOX_W / 2 + x * COL, top + BOX_H / 2 + y * ROW

    width = MARGIN * 2 + BOX_W + COL * max((n.x for n in graph.nodes), default=0)
    height = top + MARGIN + BOX_H + ROW * max((n.y for n in graph.nodes), default=0)
    out = Scene(width, height, note=graph.note)
    centre = {n.name: px(n.x, n.y) for n in graph.nodes}
    for n in graph.nodes:
        cx, cy = centre[n.name]
        fill, stroke = PALETTE[category(n)]
        name = n.module or n.name  # the layer name the rest of the explorer uses
        params = f"  {n.params:,} params" if n.params else ""
        out.boxes.append(Box(cx - BOX_W / 2, cy - BOX_H / 2, BOX_W, BOX_H, fill, stroke,
                             [n.op, shape_text(n.shape), _clip(name, 30)],
                             f"{n.name}: {n.op} {shape_text(n.shape)}{params}"))
    shapes = {n.name: n.shape for n in graph.nodes}
    routes = graph.routes or [[] for _ in graph.edges]
    routed = graph.routed or [True for _ in graph.edges]
    for (a, b), bends, direct in zip(graph.edges, routes, routed):
        sx, sy = centre[a]
        tx, ty = centre[b]
        start, end = (sx, sy + BOX_H / 2), (tx, ty - BOX_H / 2)
        if direct:
            pts = [start, *(px(x, y) for x, y in bends), end]
        else:
            pts = _curve(start, end)
        out.lines.append(Line(pts, dashed=not direct))
    # every edge out of a node holds the same tensor: its shape is written once, where
    # the edges leave the node
    for a in dict.fromkeys(a for a, _ in graph.edges):
        sx, sy = centre[a]
        out.labels.append(Label(sx + 5, sy + BOX_H / 2 + 6, shape_text(shapes[a])))
    # the curves of long edges bow out to the right of the nodes
    out.width = max([out.width, *(x + MARGIN for ln in out.lines for x, _ in ln.points)])
    return out


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]


def _curve(start, end, steps: int = 16) -> list[tuple[float, float]]:
    """A cubic curve that bows to the right of the column, for edges the layout left
    out (they would otherwise run straight through the nodes between)."""
    (x0, y0), (x3, y3) = start, end
    bow = COL * 0.45 + min(COL * 1.5, (y3 - y0) * 0.05)
    x1, y1 = x0 + bow, y0 + (y3 - y0) * 0.25
    x2, y2 = x3 + bow, y3 - (y3 - y0) * 0.25
    pts = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        pts.append((u ** 3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t ** 3 * x3,
                    u ** 3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t ** 3 * y3))
    return pts


# --- SVG -----------------------------------------------------------------------------

def to_svg(graph: Graph) -> str:
    """`graph` as an SVG document (text)."""
    s = scene(graph)
    w, h = math.ceil(s.width), math.ceil(s.height)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Arial, sans-serif">',
        f"<title>{escape(graph.name)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        f'<rect width="{w}" height="{h}" fill="white"/>',
    ]
    if s.note:
        parts.append(f'<text x="{MARGIN}" y="{MARGIN}" font-size="13" fill="#a33">'
                     f"{escape(s.note)}</text>")
    parts.append('<g fill="none" stroke="#555" stroke-width="1.2">')
    for line in s.lines:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in line.points)
        dash = ' stroke-dasharray="5,4" stroke="#999"' if line.dashed else ""
        parts.append(f'<polyline points="{pts}"{dash} marker-end="url(#arrow)"/>')
    parts.append("</g>")
    parts.append('<g font-size="10" fill="#335" stroke="white" stroke-width="3" '
                 'paint-order="stroke">')
    for lab in s.labels:
        parts.append(f'<text x="{lab.x:.1f}" y="{lab.y + 8:.1f}">{escape(lab.text)}</text>')
    parts.append("</g>")
    for b in s.boxes:
        cx = b.x + b.w / 2
        op, shape, name = (escape(t) for t in b.lines)
        parts.append(
            f'<g><title>{escape(b.title)}</title>'
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.0f}" height="{b.h:.0f}" rx="6" '
            f'fill="{b.fill}" stroke="{b.stroke}" stroke-width="1.5"/>'
            f'<text x="{cx:.1f}" y="{b.y + 17:.1f}" text-anchor="middle" font-size="13" '
            f'font-weight="bold" fill="#111">{op}</text>'
            f'<text x="{cx:.1f}" y="{b.y + 33:.1f}" text-anchor="middle" font-size="12" '
            f'fill="#111">{shape}</text>'
            f'<text x="{cx:.1f}" y="{b.y + 47:.1f}" text-anchor="middle" font-size="10" '
            f'fill="#666">{name}</text></g>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --- PNG -----------------------------------------------------------------------------

def png_engine() -> str:
    """"matplotlib" when it is installed, else "pillow"."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "pillow"
    return "matplotlib"


def _scale(s: Scene) -> float:
    return min(1.0, MAX_SIDE / max(s.width, s.height),
               math.sqrt(MAX_PIXELS / max(1.0, s.width * s.height)))


def write_png(graph: Graph, path: str | Path, engine: str | None = None) -> str:
    """Rasterise `graph` to a PNG file; returns the engine used."""
    engine = engine or png_engine()
    s = scene(graph)
    if engine == "matplotlib":
        _png_matplotlib(s, Path(path))
    elif engine == "pillow":
        _png_pillow(s, Path(path))
    else:
        raise ValueError(f"unknown PNG engine {engine!r}")
    return engine


def _png_matplotlib(s: Scene, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    k = _scale(s)
    dpi = 100
    fig = Figure(figsize=(s.width * k / dpi, s.height * k / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, s.width)
    ax.set_ylim(s.height, 0)
    ax.axis("off")
    pt = 72 / dpi * k  # points per scene pixel
    solid = [ln.points for ln in s.lines if not ln.dashed]
    dashed = [ln.points for ln in s.lines if ln.dashed]
    ax.add_collection(LineCollection(solid, colors="#555555", linewidths=1.2 * pt))
    ax.add_collection(LineCollection(dashed, colors="#999999", linewidths=1.0 * pt,
                                     linestyles="dashed"))
    for ln in s.lines:  # arrowheads
        ax.add_patch(_arrowhead(ln.points, "#555555" if not ln.dashed else "#999999"))
    for lab in s.labels:
        ax.text(lab.x, lab.y + 4, lab.text, fontsize=10 * pt, color="#333355",
                va="center", ha="left")
    for b in s.boxes:
        ax.add_patch(FancyBboxPatch((b.x, b.y), b.w, b.h, boxstyle="round,pad=0,rounding_size=6",
                                    facecolor=b.fill, edgecolor=b.stroke, linewidth=1.5 * pt))
        cx = b.x + b.w / 2
        ax.text(cx, b.y + 13, b.lines[0], fontsize=13 * pt, ha="center", va="center",
                weight="bold", color="#111111")
        ax.text(cx, b.y + 29, b.lines[1], fontsize=12 * pt, ha="center", va="center",
                color="#111111")
        ax.text(cx, b.y + 44, b.lines[2], fontsize=10 * pt, ha="center", va="center",
                color="#666666")
    if s.note:
        ax.text(MARGIN, MARGIN - 4, s.note, fontsize=13 * pt, color="#aa3333", va="center")
    _atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, facecolor="white"))


def _arrowhead(points, colour):
    from matplotlib.patches import Polygon

    (x0, y0), (x1, y1) = points[-2], points[-1]
    d = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / d, (y1 - y0) / d
    return Polygon([(x1, y1), (x1 - 8 * ux - 4 * uy, y1 - 8 * uy + 4 * ux),
                    (x1 - 8 * ux + 4 * uy, y1 - 8 * uy - 4 * ux)], closed=True,
                   facecolor=colour, edgecolor="none")


def _png_pillow(s: Scene, path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    k = _scale(s)
    img = Image.new("RGB", (max(1, round(s.width * k)), max(1, round(s.height * k))),
                    "white")
    draw = ImageDraw.Draw(img)

    def font(size: float):
        try:
            return ImageFont.load_default(size=max(4, size * k))
        except TypeError:  # Pillow before 10.1 has one bitmap size
            return ImageFont.load_default()

    small, mid, big = font(10), font(12), font(13)

    def text(t: str) -> str:  # Pillow's own font has no multiplication sign
        return t.replace("×", "x").replace("…", "...")
    for ln in s.lines:
        pts = [(x * k, y * k) for x, y in ln.points]
        colour = "#999999" if ln.dashed else "#555555"
        draw.line(pts, fill=colour, width=max(1, round(1.2 * k)))
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        d = math.hypot(x1 - x0, y1 - y0) or 1.0
        ux, uy = (x1 - x0) / d, (y1 - y0) / d
        a = 8 * k
        draw.polygon([(x1, y1), (x1 - a * ux - a / 2 * uy, y1 - a * uy + a / 2 * ux),
                      (x1 - a * ux + a / 2 * uy, y1 - a * uy - a / 2 * ux)], fill=colour)
    for lab in s.labels:
        draw.text((lab.x * k, (lab.y + 4) * k), text(lab.text), fill="#333355", font=small,
                  anchor="lm", stroke_width=max(1, round(2 * k)), stroke_fill="white")
    for b in s.boxes:
        draw.rounded_rectangle([b.x * k, b.y * k, (b.x + b.w) * k, (b.y + b.h) * k],
                               radius=6 * k, fill=b.fill, outline=b.stroke,
                               width=max(1, round(1.5 * k)))
        cx = (b.x + b.w / 2) * k
        draw.text((cx, (b.y + 13) * k), text(b.lines[0]), fill="#111111", font=big, anchor="mm")
        draw.text((cx, (b.y + 29) * k), text(b.lines[1]), fill="#111111", font=mid, anchor="mm")
        draw.text((cx, (b.y + 44) * k), text(b.lines[2]), fill="#666666", font=small, anchor="mm")
    if s.note:
        draw.text((MARGIN * k, (MARGIN - 4) * k), text(s.note), fill="#aa3333", font=big,
                  anchor="lm")
    _atomic(path, lambda tmp: img.save(tmp, "PNG"))


def _atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, so an interrupted run leaves
    no half-written picture."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the picture from others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_svg(graph: Graph, path: str | Path) -> None:
    text = to_svg(graph)
    _atomic(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write(graph: Graph, path: str | Path, engine: str | None = None) -> str:
    """Draw `graph` to `path`, SVG or PNG by its suffix; returns what drew it."""
    suffix = Path(path).suffix.lower()
    if suffix == ".svg":
        write_svg(graph, path)
        return "svg"
    if suffix == ".png":
        return write_png(graph, path, engine)
    raise ValueError(f"{path}: the drawing must be .svg or .png")
