"""What the segmenters' training says about the lecture's claim (skip connections keep
boundaries), read from their model cards and their architectures: Qt-free lines the
Segmentation section shows, and the learning curves it plots.

The lecture's claim is tested, not assumed: the lines compare the U-Net with the plain FCN
on held-out boundary F at 1 and 2 pixels of tolerance, say how each was trained (a fixed
budget of steps, or until the validation mIoU stopped improving), and put beside that the
two other suspects: capacity (parameters in the encoder, where the classes are decided,
and in the decoder) and the receptive field of an output pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from explorer import PRETRAINED

SEGMENTERS = ("fcn-shapes", "fcn-dilated-shapes", "unet-shapes")
#: module-name prefixes of the encoder (the path down to the coarsest grid)
ENCODER_PREFIXES = ("enc", "down", "bottom", "context", "pool")


@dataclass
class Curve:
    """One network's learning curve: steps, mean training loss since the previous
    point, validation mIoU (lists of equal length)."""

    name: str
    steps: list[int]
    train_loss: list[float]
    val_mean_iou: list[float]
    best_step: int | None


def load_cards(names=SEGMENTERS, folder: str | Path = PRETRAINED) -> dict[str, dict]:
    """The model cards that exist, by name (a missing card is left out)."""
    from explorer.train import load_card

    out = {}
    for n in names:
        try:
            out[n] = load_card(n, folder)
        except (OSError, ValueError):
            continue
    return out


def curves(cards: dict[str, dict]) -> dict[str, Curve]:
    """The learning curves the cards hold (cards trained for a fixed budget have none)."""
    out = {}
    for name, card in cards.items():
        pts = card.get("curve") or []
        if pts:
            out[name] = Curve(name, [int(p["step"]) for p in pts],
                              [float(p["train_loss"]) for p in pts],
                              [float(p["val_mean_iou"]) for p in pts],
                              card.get("steps_to_convergence"))
    return out


def parameter_split(module: nn.Module) -> dict[str, int]:
    """Parameters of the encoder (modules named enc*, down*, bottom*, context*) and of the
    rest (decoder, score layer, upsampling): {"encoder", "decoder", "total"}."""
    enc = dec = 0
    for name, p in module.named_parameters():
        if name.split(".")[0].startswith(ENCODER_PREFIXES):
            enc += p.numel()
        else:
            dec += p.numel()
    return {"encoder": enc, "decoder": dec, "total": enc + dec}


def output_field(module: nn.Module, size: int = 128) -> int:
    """Theoretical receptive field (pixels, the larger side) of an output pixel, tracked
    through one pass (:class:`explorer.core.fields.FieldTracker`)."""
    from explorer.core.fields import FieldTracker

    x = torch.zeros(1, 3, size, size)
    tracker = FieldTracker(x)
    with torch.no_grad(), tracker:
        out = module.eval()(x)
    f = tracker.field_of(out)
    return int(round(max(f.rf))) if f is not None else -1


def architecture_facts(names=SEGMENTERS) -> dict[str, dict]:
    """name -> {"encoder", "decoder", "total", "field"} for the shipped segmenters."""
    from explorer.train.recipes import RECIPES, build

    out = {}
    for n in names:
        m = build(RECIPES[n])
        out[n] = {**parameter_split(m), "field": output_field(m)}
    return out


def _metric(card: dict, key: str) -> float | None:
    v = (card.get("metrics") or {}).get(key)
    return float(v) if v is not None else None


def _training(card: dict) -> str:
    if card.get("curve"):
        how = {"patience": "until its validation mIoU stopped improving",
               "time budget": "until the time budget ran out (not converged)",
               "wall-clock limit": "until a wall-clock limit (not converged)",
               "step cap": "until the step cap (not converged)"}.get(
            card.get("stopped_by", ""), "")
        return (f"best at step {card.get('steps_to_convergence', '?'):,} of "
                f"{card.get('steps', 0):,}, trained {how}")
    return f"a fixed budget of {card.get('steps', 0):,} steps"


def explain(cards: dict[str, dict], facts: dict[str, dict] | None = None) -> list[str]:
    """Lines saying what the cards show about U-Net and boundaries, and why: each line a
    finding with its numbers. `facts` from :func:`architecture_facts` (computed when
    None)."""
    if not cards:
        return ["No segmenter cards found in pretrained/."]
    facts = facts if facts is not None else architecture_facts(list(cards))
    lines = []
    for name, card in cards.items():
        bf1, bf2 = _metric(card, "boundary_f_score_1px"), _metric(card, "boundary_f_score")
        bf = (f"boundary F {bf1:.3f} at 1 px, {bf2:.3f} at 2 px" if bf1 is not None
              else f"boundary F {bf2:.3f} at 2 px" if bf2 is not None else "")
        lines.append(f"{name}: mIoU {_metric(card, 'mean_iou') or float('nan'):.3f}, {bf}; "
                     f"{_training(card)}.")
    fcn, unet = cards.get("fcn-shapes"), cards.get("unet-shapes")
    if fcn and unet:
        lines += _verdict(fcn, unet, facts)
    return lines


def _verdict(fcn: dict, unet: dict, facts: dict[str, dict]) -> list[str]:
    out = []
    fixed = not (fcn.get("curve") and unet.get("curve"))
    converged = all(c.get("stopped_by") == "patience" for c in (fcn, unet))
    for tol, key in ((1, "boundary_f_score_1px"), (2, "boundary_f_score")):
        a, b = _metric(fcn, key), _metric(unet, key)
        if a is None or b is None:
            continue
        who = "U-Net keeps boundaries better" if b > a else "the plain FCN scores higher"
        out.append(f"At {tol} px tolerance {who}: U-Net {b:.3f} against FCN {a:.3f}.")
    if fixed:
        out.append("These weights had the same fixed budget of steps, which compares the "
                   "networks at one moment of training, not at their best; train to "
                   "convergence (cnn-explorer train unet-shapes) before judging.")
    elif not converged:
        out.append("At least one network stopped before its validation mIoU stopped "
                   "improving: a budget, not convergence.")
    f, u = facts.get("fcn-shapes"), facts.get("unet-shapes")
    if f and u:
        out.append(f"Capacity: U-Net {u['total']:,} parameters ({u['encoder']:,} in the "
                   f"encoder that decides the class), FCN {f['total']:,} "
                   f"({f['encoder']:,}): U-Net spends {u['decoder']:,} on the way back up, "
                   f"so its encoder has {u['encoder'] / max(f['encoder'], 1):.0%} of the "
                   "FCN's to tell a star from a cross.")
        more = u["field"] >= f["field"]
        m_fcn, m_unet = _metric(fcn, "mean_iou"), _metric(unet, "mean_iou")
        behind = m_fcn is not None and m_unet is not None and m_unet < m_fcn
        out.append(f"Receptive field of an output pixel: U-Net {u['field']} px, FCN "
                   f"{f['field']} px: " + (
                       ("U-Net sees at least as much of a shape, so context does not "
                        f"explain its lower mIoU ({m_unet:.3f} against {m_fcn:.3f}): "
                        "its smaller encoder is the likelier cause." if behind else
                        "U-Net sees at least as much of a shape.") if more else
                       "U-Net sees less of a shape, which can cost it the class of a "
                       "large one."))
    a1, b1 = _metric(fcn, "boundary_f_score_1px"), _metric(unet, "boundary_f_score_1px")
    a2, b2 = _metric(fcn, "boundary_f_score"), _metric(unet, "boundary_f_score")
    if None not in (a1, b1, a2, b2):
        gap1, gap2 = b1 - a1, b2 - a2
        out.append(f"Tolerance: U-Net minus FCN is {gap1:+.3f} at 1 px and {gap2:+.3f} at "
                   "2 px; a 2-px tolerance forgives the FCN's blur, so the skips' gain "
                   "shows best at 1 px." if gap1 > gap2 else
                   f"Tolerance: U-Net minus FCN is {gap1:+.3f} at 1 px and {gap2:+.3f} at "
                   "2 px; the gap is not a matter of tolerance: a wrong class along a "
                   "whole shape (star read as cross) costs boundary pixels at any "
                   "tolerance.")
    return out


__all__ = ["SEGMENTERS", "Curve", "load_cards", "curves", "parameter_split",
           "output_field", "architecture_facts", "explain"]
