"""Training to convergence: the one protocol of the three shipped segmenters.

A fixed budget of steps (the first recipe gave every segmenter 1,128) compares networks at
one moment of their training, not at their best: a narrow U-Net learns more slowly than a
plain FCN, so a budget that suits the FCN stops the U-Net half-way. Here every segmenter
gets the same data, augmentation, optimiser and schedule, and trains until its mIoU on a
**validation** set stops improving (early stopping with patience; Prechelt, "Early
stopping - but when?", 1998). The weights kept are those of the best validation score.

Three disjoint sets of shapes scenes (scene i of a set is drawn from a generator seeded
``(seed, i)``, so different seeds give different streams):

* training: ``scene_set(1500, TRAIN_SEED=1)``
* validation (picks the stopping step, lowers the learning rate): ``scene_set(100,
  VAL_SEED=3)``
* test (scored once, after training; never seen by the loop): ``scene_set(200,
  TEST_SEED=2)``, the scenes ``cnn-explorer segment --eval 200`` scores and ``scene:N``
  opens.

Everything random is seeded and the stopping rule reads only the validation scores, so the
same command on the same machine stops at the same step with the same weights. The one
exception is the time budget (15 minutes of two cores, counted as CPU seconds of this
process so that other people's work on a shared machine does not count): when it, and not
the patience, ends a run, the card says so (``stopped_by``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.core.tasks import NullTask, Task
from explorer.data import shapes
from explorer.data.seeds import VAL_SEED  # the validation scenes: neither train nor test
from explorer.segment.metrics import segmentation_scores


@dataclass(frozen=True)
class Protocol:
    """The training protocol shared by every segmenter (written whole into the cards)."""

    batch_size: int = 8
    #: AdamW's learning rate after the warm-up, and its weight decay
    lr: float = 2e-3
    weight_decay: float = 1e-4
    #: linear warm-up from lr/10 (BatchNorm statistics settle before large steps)
    warmup_steps: int = 100
    #: validation mIoU is measured every this many steps
    eval_every: int = 150
    #: an evaluation counts as progress only when it beats the best by this much
    min_delta: float = 0.002
    #: evaluations without progress before the learning rate is multiplied by lr_factor
    lr_patience: int = 2
    lr_factor: float = 0.3
    #: evaluations without progress before training stops (the best weights are kept)
    patience: int = 5
    #: hard caps: steps, and CPU seconds of this process (15 minutes of 2 cores)
    max_steps: int = 9000
    cpu_budget_s: float = 1800.0
    n_val: int = 100
    #: torch threads while training (fixed, so the numbers do not depend on the machine's
    #: core count): two, for the two cores the budget counts. On a machine whose cores are
    #: shared with other work one thread is faster (measured under load 6-8: 1.3-2.1 CPU-s
    #: per step with two threads, 0.3-0.5 with one: the two spin-wait for each other)
    threads: int = 2
    val_seed: int = VAL_SEED
    #: boundary F-score tolerances (pixels) the cards report
    tolerances: tuple[float, ...] = (1.0, 2.0)

    def describe(self) -> str:
        return (f"AdamW(lr {self.lr}, weight decay {self.weight_decay}), batch "
                f"{self.batch_size}, {self.warmup_steps}-step linear warm-up; validation "
                f"mIoU on {self.n_val} scenes (seed {self.val_seed}) every "
                f"{self.eval_every} steps; lr x{self.lr_factor} after {self.lr_patience} "
                f"evaluations without a gain of {self.min_delta}, stop after "
                f"{self.patience}; best validation weights kept; at most "
                f"{self.max_steps} steps or {self.cpu_budget_s / 60:.0f} CPU-minutes")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["tolerances"] = list(self.tolerances)
        d["description"] = self.describe()
        return d


PROTOCOL = Protocol()


@dataclass
class Run:
    """What :func:`train_to_convergence` returns: the best model (eval mode) and its story."""

    model: nn.Module
    curve: list[dict]
    steps: int
    best_step: int
    best_val: dict
    stopped_by: str
    seconds: float
    cpu_seconds: float


def validation_set(n: int, seed: int = VAL_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` validation scenes: (images Tensor[n, 3, 128, 128] uint8, masks Tensor[n, 128,
    128] int64)."""
    x, y = shapes.scenes_to_tensors(shapes.scene_set(n, seed))
    return (x * 255).round_().to(torch.uint8), y


def scores(pred: torch.Tensor, y: torch.Tensor,
           tolerances: tuple[float, ...] = (1.0, 2.0)) -> dict[str, float]:
    """mIoU, pixel accuracy and boundary F at each tolerance of class maps `pred` against
    `y` (both Tensor[N, H, W]). ``boundary_f_score`` is the 2-pixel figure (the one the
    project always reported); ``boundary_f_score_1px`` etc. the others."""
    preds, gts = list(pred.numpy()), list(y.numpy())
    out: dict[str, float] = {}
    for tol in tolerances:
        s = segmentation_scores(preds, gts, shapes.NUM_CLASSES, tolerance=tol)
        if not out:
            out["mean_iou"], out["pixel_accuracy"] = s["mean_iou"], s["pixel_accuracy"]
        key = "boundary_f_score" if tol == 2 else f"boundary_f_score_{tol:g}px"
        out[key] = s["boundary_f_score"]
    return out


def _batches(n: int, batch: int, g: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches forever: a fresh permutation of 0..n-1 every epoch."""
    while True:
        order = torch.randperm(n, generator=g)
        for b in range(math.ceil(n / batch)):
            yield order[b * batch : (b + 1) * batch]


def train_to_convergence(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    prepare,
    augment,
    predict,
    protocol: Protocol = PROTOCOL,
    seed: int = 0,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    on_eval=None,
    task: Task | None = None,
) -> Run:
    """Train `model` under `protocol` until its validation mIoU stops improving.

    x_* Tensor[N, 3, H, W] uint8, y_* Tensor[N, H, W] int64. `prepare(x)` normalises a
    batch, `augment(x, y, g)` draws the random flips, `predict(model, x)` gives class maps
    Tensor[N, H, W] (all three from :mod:`explorer.train.loop`, so this loop is the same
    for every network). `max_steps` lowers the protocol's cap (quick runs, tests);
    `max_seconds` stops after that much wall-clock time (a person in a hurry; the run then
    says ``stopped_by="wall-clock limit"``). ``on_eval(curve)`` hears the learning curve
    after every evaluation. The task is checked before every step and every evaluation.
    """
    task = task or NullTask()
    cap = protocol.max_steps if max_steps is None else min(max_steps, protocol.max_steps)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=protocol.lr,
                            weight_decay=protocol.weight_decay)
    lr = protocol.lr
    batches = _batches(len(x_train), protocol.batch_size, g)
    curve: list[dict] = []
    best = -math.inf
    best_state = copy.deepcopy(model.state_dict())
    best_step, best_val = 0, {}
    since_best = since_lr = 0
    stopped_by = "step cap"
    run_loss, run_n = 0.0, 0
    start, cpu_start = time.perf_counter(), time.process_time()
    step = 0
    while step < cap:
        task.check()
        if step < protocol.warmup_steps:
            for group in opt.param_groups:
                group["lr"] = lr * (0.1 + 0.9 * step / protocol.warmup_steps)
        elif step == protocol.warmup_steps:
            for group in opt.param_groups:
                group["lr"] = lr
        model.train()
        idx = next(batches)
        x, y = augment(x_train[idx].clone(), y_train[idx].clone(), g)
        loss = F.cross_entropy(model(prepare(x)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run_loss += float(loss.detach())
        run_n += 1
        step += 1
        if step % 10 == 0:
            task.progress(0.9 * step / cap, f"step {step}  loss {run_loss / run_n:.4f}  "
                          f"best val mIoU {max(best, 0):.3f}")
        if step % protocol.eval_every and step != cap:
            continue
        task.check()
        val = scores(predict(model, x_val), y_val, protocol.tolerances)
        curve.append({"step": step, "train_loss": round(run_loss / run_n, 5),
                      "val_mean_iou": round(val["mean_iou"], 5),
                      "val_boundary_f_score": round(val["boundary_f_score"], 5),
                      "lr": lr})
        run_loss, run_n = 0.0, 0
        if on_eval is not None:
            on_eval(curve)
        if val["mean_iou"] > best + protocol.min_delta:
            best, best_step, best_val = val["mean_iou"], step, val
            best_state = copy.deepcopy(model.state_dict())
            since_best = since_lr = 0
        else:
            since_best += 1
            since_lr += 1
            if since_best >= protocol.patience:
                stopped_by = "patience"
                break
            if since_lr >= protocol.lr_patience:
                lr *= protocol.lr_factor
                since_lr = 0
                for group in opt.param_groups:
                    group["lr"] = lr
        if time.process_time() - cpu_start > protocol.cpu_budget_s:
            stopped_by = "time budget"
            break
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            stopped_by = "wall-clock limit"
            break
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    model.load_state_dict(best_state)
    model.eval()
    return Run(model, curve, step, best_step, {k: round(v, 5) for k, v in best_val.items()},
               stopped_by, seconds, cpu_seconds)


def disjoint_seeds() -> dict[str, int]:
    """The seeds of the three sets, by role (a test asserts they differ)."""
    return {"train": shapes.TRAIN_SEED, "validation": VAL_SEED, "test": shapes.TEST_SEED}


def same_scenes(a: torch.Tensor, b: torch.Tensor) -> int:
    """How many pictures of `a` (Tensor[N, 3, H, W]) also occur, pixel for pixel, in `b`
    (Tensor[M, 3, H, W]): a leak check that does not trust the seeds."""
    ha = {bytes(np.ascontiguousarray(t.numpy()).data) for t in a}
    return sum(bytes(np.ascontiguousarray(t.numpy()).data) in ha for t in b)


__all__ = ["Protocol", "PROTOCOL", "VAL_SEED", "Run", "train_to_convergence",
           "validation_set", "scores", "disjoint_seeds", "same_scenes"]
