"""Two networks side by side on the same image, layer by layer (or one network before and
after training): which layers correspond, their activation shapes, and how alike the
activations are.

Layers are matched by name when the two share most names (the same architecture, e.g.
before/after fine-tuning), otherwise by aligning the sequences of leaf-layer types.
Similarity: cosine of the flattened activations when the shapes are equal, and linear CKA
(Kornblith et al., 2019) between spatial maps, with the positions of a common grid as the
samples, so layers of different widths compare too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from explorer.core.images import Image
from explorer.core.network import Network
from explorer.core.tasks import NullTask, Task, sub_task
from explorer.core.trace import Trace
from explorer.insight.layers import require_classifier


@dataclass
class LayerPair:
    name_a: str
    name_b: str
    type_a: str
    type_b: str
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]
    #: cosine of the flattened activations; None when the shapes differ
    cosine: float | None
    #: linear CKA over spatial positions; None unless both are maps with >= 2 positions
    cka: float | None
    #: ||a - b|| / ||a||; None when the shapes differ
    rel_change: float | None

    def as_dict(self) -> dict:
        return {"a": self.name_a, "b": self.name_b, "type_a": self.type_a,
                "type_b": self.type_b, "shape_a": list(self.shape_a),
                "shape_b": list(self.shape_b), "cosine": self.cosine, "cka": self.cka,
                "rel_change": self.rel_change}


@dataclass
class Comparison:
    name_a: str
    name_b: str
    matched_by: str  # "name" | "type order"
    pairs: list[LayerPair]
    top_a: list[tuple[str, float]]
    top_b: list[tuple[str, float]]
    #: sentences a person must read first (random weights, a picture from elsewhere)
    caveats: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"a": self.name_a, "b": self.name_b, "matched_by": self.matched_by,
                "caveats": self.caveats,
                "top_a": [{"label": lab, "probability": p} for lab, p in self.top_a],
                "top_b": [{"label": lab, "probability": p} for lab, p in self.top_b],
                "layers": [p.as_dict() for p in self.pairs]}


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of x (Tensor[n, p]) and y (Tensor[n, q]), n samples each; in [0, 1]."""
    x = x.double() - x.double().mean(0, keepdim=True)
    y = y.double() - y.double().mean(0, keepdim=True)
    cross = (y.T @ x).norm() ** 2
    norm = (x.T @ x).norm() * (y.T @ y).norm()
    return float((cross / norm).clamp(0, 1)) if norm > 0 else 0.0


def _spatial_samples(a: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Tensor[C, H, W] -> Tensor[h * w, C] after average-pooling to `size`."""
    a = F.adaptive_avg_pool2d(a[None].float(), size)[0]
    return a.flatten(1).T


def similarity(a: torch.Tensor, b: torch.Tensor) -> tuple[float | None, float | None,
                                                           float | None]:
    """(cosine, CKA, relative change) of two activations without batch dim."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    cos = rel = cka = None
    if a.shape == b.shape:
        fa, fb = a.flatten(), b.flatten()
        cos = float(F.cosine_similarity(fa, fb, dim=0, eps=1e-12).clamp(-1, 1))
        rel = float((fa - fb).norm() / fa.norm().clamp_min(1e-12))
    if a.dim() == 3 and b.dim() == 3:
        size = (min(a.shape[1], b.shape[1]), min(a.shape[2], b.shape[2]))
        if size[0] * size[1] >= 2:
            cka = linear_cka(_spatial_samples(a, size), _spatial_samples(b, size))
    return cos, cka, rel


def _match(ta: Trace, tb: Trace, leaves_only: bool) -> tuple[str, list[tuple[str, str]]]:
    la = [lay for lay in ta.layers if lay.is_leaf or not leaves_only]
    lb = [lay for lay in tb.layers if lay.is_leaf or not leaves_only]
    names_b = {lay.name for lay in lb}
    common = [lay.name for lay in la if lay.name in names_b]
    if common and len(common) >= 0.5 * min(len(la), len(lb)):
        return "name", [(n, n) for n in common]
    sm = difflib.SequenceMatcher(None, [lay.type for lay in la], [lay.type for lay in lb],
                                 autojunk=False)
    pairs = []
    for block in sm.get_matching_blocks():
        for k in range(block.size):
            pairs.append((la[block.a + k].name, lb[block.b + k].name))
    return "type order", pairs


def compare_traces(ta: Trace, tb: Trace, *, leaves_only: bool = True,
                   task: Task | None = None) -> Comparison:
    """Layer-by-layer comparison of two traces (see the module docstring).

    ``task.check()`` runs before every layer pair, so at most one more pair is compared
    after a cancel."""
    task = task or NullTask()
    how, matched = _match(ta, tb, leaves_only)
    pairs = []
    for k, (na, nb) in enumerate(matched):
        task.check()
        ia, ib = ta.info(na), tb.info(nb)
        cos, cka, rel = similarity(ta.activation(na), tb.activation(nb))
        pairs.append(LayerPair(na, nb, ia.type, ib.type, tuple(ia.out_shape),
                               tuple(ib.out_shape), cos, cka, rel))
        task.progress((k + 1) / len(matched), f"layer {k + 1}/{len(matched)}")
    task.check()
    return Comparison(ta.network.name, tb.network.name, how, pairs, ta.topk(5), tb.topk(5))


def compare_networks(a: Network, b: Network, image: Image, *, leaves_only: bool = True,
                     task: Task | None = None) -> Comparison:
    """Run `a` and `b` on `image` (each with its own preprocessing, one traced pass each
    through :func:`explorer.app.tracing.trace_picture`) and compare them.

    Raises:
        UserError: either is not a classifier, or cannot run on the picture.
        Cancelled: the task was cancelled (checked between layers).
    """
    from explorer.app.tracing import trace_picture

    require_classifier(a)
    require_classifier(b)
    task = task or NullTask()
    task.progress(-1, f"tracing {a.name}…")
    ta, _, _ = trace_picture(a, image, sub_task(task, 0.0, 0.3))
    task.progress(-1, f"tracing {b.name}…")
    tb, _, _ = trace_picture(b, image, sub_task(task, 0.3, 0.6))
    c = compare_traces(ta, tb, leaves_only=leaves_only, task=sub_task(task, 0.6, 1.0))
    from explorer.insight.caveats import caveats

    c.caveats = list(dict.fromkeys(caveats(a, image) + caveats(b, image)))
    return c
