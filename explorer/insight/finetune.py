"""Transfer learning: keep a trained network's trunk, give it a new head for a new task,
and see what training changed.

Two ways, as in the lecture: ``head`` freezes the trunk (it stays in eval mode, so even
batch-norm statistics stay put) and trains only a new final Linear layer on the trunk's
last-hidden-layer features, computed once; ``full`` trains every weight (the trunk ten
times slower than the new head). Afterwards: held-out accuracy before and after, how far
each layer's weights moved, and how the activations of a probe image changed layer by layer.
Runs are kept short (a few hundred images, a few epochs) so they finish on a CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from explorer.app import checks
from explorer.core.images import Image
from explorer.core.network import Network
from explorer.core.tasks import NullTask, Task, sub_task
from explorer.errors import UserError
from explorer.insight import settings
from explorer.insight.compare import compare_traces
from explorer.insight.gallery import folder_gallery
from explorer.insight.inputs import batch_input
from explorer.insight.layers import final_linear, require_classifier
from explorer.insight.names import TASKS  # shipped tasks: name -> description

#: (step, total steps, loss) after every optimiser step: what a live loss curve draws
#: (progress and cancel go through the task)
OnStep = Callable[[int, int, float], None]
#: the side pictures of a folder task are brought to before they are stacked
FOLDER_SIZE = 96

#: seeds no shipped network was trained or tested on
FINETUNE_SEED, FINETUNE_TEST_SEED = 11, 12


@dataclass
class TaskData:
    """images Tensor[N, 3, H, W] float in [0, 1] (RGB, any size); labels Tensor[N] int64."""

    name: str
    class_names: list[str]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    description: str = ""


def _shapes_task(name: str, n_train: int, n_test: int) -> TaskData:
    from explorer.data import shapes

    if name == "shapes-round-pointed":
        groups = {"round": [1], "pointed": [3, 4]}
    else:
        groups = {"none": [1], "three": [3], "four": [2], "many": [4, 5]}
    old_to_new = {old: new for new, olds in enumerate(groups.values()) for old in olds}

    def draw(n_per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        # item i of classification_set has label i % 6; take the same number of pictures
        # for each new class, split evenly between the old classes it merges
        quota = {old: math.ceil(n_per_class / len(olds))
                 for olds in groups.values() for old in olds}
        x, y = shapes.classification_set(shapes.NUM_CLASSES * max(quota.values()), seed)
        seen: dict[int, int] = {}
        keep = []
        for i, lab in enumerate(y.tolist()):
            if lab in quota and seen.get(lab, 0) < quota[lab]:
                seen[lab] = seen.get(lab, 0) + 1
                keep.append(i)
        idx = torch.tensor(keep)
        return x[idx], torch.tensor([old_to_new[int(v)] for v in y[idx]])

    xtr, ytr = draw(n_train, FINETUNE_SEED)
    xte, yte = draw(n_test, FINETUNE_TEST_SEED)
    return TaskData(name, list(groups), xtr, ytr, xte, yte, TASKS[name])


def _digits_task(name: str, n_train: int, n_test: int) -> TaskData:
    from explorer.data import digits

    xtr, ytr, xte, yte = digits.digits_split()
    classes = list(digits.CLASS_NAMES)
    if name == "digits-odd-even":
        ytr, yte, classes = ytr % 2, yte % 2, ["even", "odd"]
    k = len(classes)
    xtr, ytr = _per_class(xtr, ytr, n_train, k)
    xte, yte = _per_class(xte, yte, n_test, k)
    return TaskData(name, classes, xtr.expand(-1, 3, -1, -1), ytr,
                    xte.expand(-1, 3, -1, -1), yte, TASKS[name])


def _per_class(x: torch.Tensor, y: torch.Tensor, n: int, k: int):
    idx = torch.cat([torch.nonzero(y == c)[:n, 0] for c in range(k)]).sort().values
    return x[idx], y[idx]


def held_out(n: int) -> list[int]:
    """Which of a class's `n` pictures (n >= 2) are held out: every fifth (the 5th, 10th,
    ...), or the last one when there are fewer than five, so every class is tested on a
    picture it was not trained on and trained on at least one."""
    out = [i for i in range(n) if (i + 1) % 5 == 0]
    return out or [n - 1]


def _folder_task(path: str | Path, task: Task | None = None) -> TaskData:
    task = task or NullTask()
    g = folder_gallery(path)
    root = Path(g.key.split(":", 1)[1])
    classes = g.classes
    if len(classes) < 2 or any(f.parent == root for f in g.files):
        raise UserError(f"{path}: fine-tuning needs one subfolder of pictures per class "
                        "(at least two), and no loose pictures beside them")
    per_class: dict[str, list[int]] = {c: [] for c in classes}
    for i, lab in enumerate(g.labels):
        per_class[lab].append(i)
    few = [c for c, items in per_class.items() if len(items) < 2]
    if few:
        raise UserError(f"{path}: class {few[0]!r} has {len(per_class[few[0]])} picture; "
                        "every class needs at least 2 (one to train on, one held out)")
    checks.allocation("the folder's pictures", len(g) * 3.0 * FOLDER_SIZE**2)
    test_items = {items[j] for items in per_class.values() for j in held_out(len(items))}
    tr_x, tr_y, te_x, te_y = [], [], [], []
    for i, lab in enumerate(g.labels):
        task.check()
        t = torch.from_numpy(g.image(i).array).permute(2, 0, 1)[None]
        t = F.interpolate(t, size=(FOLDER_SIZE, FOLDER_SIZE), mode="bilinear",
                          antialias=True, align_corners=False)[0].clamp(0, 1)
        held = i in test_items
        (te_x if held else tr_x).append(t)
        (te_y if held else tr_y).append(classes.index(lab))
        task.progress((i + 1) / len(g), f"reading {g.item_name(i)}")
    return TaskData(g.name, classes, torch.stack(tr_x), torch.tensor(tr_y),
                    torch.stack(te_x), torch.tensor(te_y), f"folder {path}")


def load_task(spec: str | Path, n_train: int = 60, n_test: int = 40,
              task: Task | None = None) -> TaskData:
    """A shipped task (:data:`TASKS`, `n_train`/`n_test` pictures per class) or a folder
    with one subfolder per class (see :func:`held_out` for the pictures held out).

    Raises:
        UserError: an unknown task, a folder that is not one, a class with fewer than two
            pictures, counts out of range or pictures that would not fit in memory.
        Cancelled: the task was cancelled while a folder was read (checked per picture).
    """
    spec = str(spec)
    if spec in TASKS:
        n_train = settings.per_class("the training pictures per class", n_train)
        n_test = settings.per_class("the held-out pictures per class", n_test)
        checks.allocation("the task's pictures", 6.0 * (n_train + n_test) * 3 * 64 * 64)
        if spec.startswith("shapes-"):
            return _shapes_task(spec, n_train, n_test)
        return _digits_task(spec, n_train, n_test)
    if spec.startswith("shapes-") or not spec.strip():
        raise UserError(f"unknown task {spec!r}; choose from {', '.join(TASKS)} "
                        "or a folder")
    try:
        return _folder_task(spec, task)
    except UserError as exc:
        if "no such folder" in str(exc):
            raise UserError(f"{spec!r} is neither a task ({', '.join(TASKS)}) nor a "
                            "folder") from None
        raise


# --- training ------------------------------------------------------------------------

@dataclass
class LayerChange:
    name: str
    type: str
    #: ||W_after - W_before|| / ||W_before||
    weight_change: float


@dataclass
class FinetuneResult:
    network: Network  # the fine-tuned copy; the original is left as it was
    task: str
    mode: str
    class_names: list[str]
    losses: list[float]
    epochs_done: float
    seconds: float
    accuracy_before: float  # held out, trunk as it was and the new head untrained
    accuracy_after: float
    train_accuracy: float
    layer_changes: list[LayerChange]
    first_conv: str | None
    first_conv_change: float | None
    #: per layer, for the probe image: (name, cosine before/after, relative change)
    activation_changes: list[tuple[str, float | None, float | None]] = field(
        default_factory=list)
    probe_before: list[tuple[str, float]] = field(default_factory=list)
    probe_after: list[tuple[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "task": self.task, "mode": self.mode, "classes": self.class_names,
            "steps": len(self.losses), "epochs": self.epochs_done,
            "seconds": self.seconds,
            "loss_first": self.losses[0] if self.losses else None,
            "loss_last": self.losses[-1] if self.losses else None,
            "losses": self.losses,
            "accuracy_before": self.accuracy_before, "accuracy_after": self.accuracy_after,
            "train_accuracy": self.train_accuracy,
            "first_conv": self.first_conv, "first_conv_change": self.first_conv_change,
            "layer_changes": [dataclasses.asdict(c) for c in self.layer_changes],
            "activation_changes": [{"layer": n, "cosine": c, "rel_change": r}
                                   for n, c, r in self.activation_changes],
            "probe_before": [{"label": lab, "probability": p}
                             for lab, p in self.probe_before],
            "probe_after": [{"label": lab, "probability": p}
                            for lab, p in self.probe_after],
        }


def _to_input(network: Network, x: torch.Tensor, task: Task) -> torch.Tensor:
    """RGB pictures (Tensor[N, 3, h, w] in [0, 1]) -> the network's input, on its device."""
    parts = []
    for i in range(0, len(x), 256):
        task.check()
        parts.append(batch_input(network, x[i:i + 256]))
    return torch.cat(parts)


def _recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch: int, task: Task
                           ) -> None:
    """Batch-norm running statistics as the plain average over `x` for the trained weights.

    Training moved them by a momentum of 0.1 per step from wherever they were, so after
    a few dozen steps eval mode would see a different network than training did.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch):
                task.check()
                model(x[i:i + batch])
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom
        model.eval()


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, task: Task
              ) -> float:
    preds = []
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            task.check()
            preds.append(model(x[i:i + batch]).flatten(1).argmax(1).cpu())
    pred = torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)
    return float((pred == y).float().mean()) if len(y) else 0.0


def _layer_changes(before: nn.Module, after: nn.Module, skip: str
                   ) -> list[LayerChange]:
    b = dict(before.named_modules())
    out = []
    for name, m in after.named_modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear)) or name == skip or name not in b:
            continue
        w0, w1 = b[name].weight.detach().cpu(), m.weight.detach().cpu()
        if w0.shape != w1.shape:
            continue
        out.append(LayerChange(name, type(m).__name__,
                               float((w1 - w0).norm() / w0.norm().clamp_min(1e-12))))
    return out


def finetune(network: Network, data: TaskData | str, *, mode: str = "head",
             epochs: int = 3, batch_size: int = 32, lr: float | None = None,
             seed: int = 0, task: Task | None = None, on_step: OnStep | None = None,
             probe: Image | None = None) -> FinetuneResult:
    """Fine-tune a copy of `network` on `data` (a :class:`TaskData` or :func:`load_task`
    spec). `network` itself is never changed.

    Args:
        mode: "head" (frozen trunk, new final Linear) or "full" (every weight).
        lr: Adam's learning rate for the head (default 1e-2 head mode, 1e-3 full mode);
            the trunk, in full mode, learns at a tenth of it.
        task: progress and cancel; ``task.check()`` runs before every optimiser step (and
            every batch of the passes around training), so at most one more step runs
            after a cancel, which raises :class:`~explorer.errors.Cancelled`.
        on_step: called after every optimiser step with (step, total steps, loss), for a
            live loss curve.
        probe: an image whose activations are compared before/after, layer by layer.

    Raises:
        UserError: not a classifier, no final Linear layer, a bad setting, or data and
            activations that would not fit in memory.
        Cancelled: the task was cancelled.
    """
    task = task or NullTask()
    require_classifier(network)
    mode = settings.finetune_mode(mode)
    epochs = settings.epochs(epochs)
    batch_size = settings.batch_size(batch_size)
    lr = settings.lr(lr)
    seed = settings.seed(seed)
    head_name, old_head = final_linear(network)
    data = load_task(data, task=sub_task(task, 0.0, 0.1)) if isinstance(
        data, (str, Path)) else data
    c, h, w = network.in_channels, *network.input_size
    n_all = len(data.y_train) + len(data.y_test)
    checks.allocation(f"{n_all} pictures at {network.name}'s input size", float(n_all) * c * h * w)
    settings.activation_budget(network, batch_size, "one training batch",
                               factor=3.0 if mode == "full" else 1.0)
    infer = settings.fit_batch(network, 128)
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = copy.deepcopy(network.module).to(network.device)
    head = nn.Linear(old_head.in_features, len(data.class_names)).to(network.device)
    _set_submodule(model, head_name, head)
    model.eval()
    dev = network.device
    task.progress(-1, "preparing the pictures…")
    x_train = _to_input(network, data.x_train, task).to(dev)
    x_test = _to_input(network, data.x_test, task).to(dev)
    y_train = data.y_train.to(dev)
    acc_before = _accuracy(model, x_test, data.y_test.cpu(), infer, task)

    n = len(x_train)
    steps_per_epoch = math.ceil(n / batch_size)
    total = steps_per_epoch * epochs
    g = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    if mode == "head":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in head.parameters():
            p.requires_grad_(True)
        # the trunk is frozen and in eval mode: its features never change, so compute
        # them once and train the head alone (same numbers, a fraction of the time)
        feats: list[torch.Tensor] = []
        hook = head.register_forward_pre_hook(lambda _m, inp: feats.append(inp[0]))
        try:
            with torch.inference_mode():
                for i in range(0, n, infer):
                    task.check()
                    model(x_train[i:i + infer])
        finally:
            hook.remove()
        feats_all = torch.cat(feats).flatten(1).clone()
        # Trained features can be tiny (random trunks: ~1e-3): the head learns on
        # standardised features and the scaling is folded back into it afterwards.
        mu = feats_all.mean(0)
        sd = feats_all.std(0) if n > 1 else torch.ones_like(mu)
        sd = torch.where(sd > 1e-8, sd, torch.ones_like(sd))
        inputs = (feats_all - mu) / sd
        probe_head = nn.Linear(head.in_features, head.out_features).to(dev)
        params = [{"params": probe_head.parameters(), "lr": lr or 1e-2}]

        def forward(batch_idx):
            return probe_head(inputs[batch_idx])
    else:
        for p in model.parameters():
            p.requires_grad_(True)
        base = lr or 1e-3
        trunk = [p for name, p in model.named_parameters()
                 if not name.startswith(head_name + ".")]
        params = [{"params": trunk, "lr": base / 10}, {"params": head.parameters(),
                                                        "lr": base}]
        model.train()

        def forward(batch_idx):
            return model(x_train[batch_idx]).flatten(1)

    opt = torch.optim.Adam(params)
    step = 0
    for _epoch in range(epochs):
        order = torch.randperm(n, generator=g).to(dev)
        for s in range(steps_per_epoch):
            task.check()
            idx = order[s * batch_size:(s + 1) * batch_size]
            with torch.enable_grad():
                loss = F.cross_entropy(forward(idx), y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
            step += 1
            losses.append(float(loss.detach()))
            task.progress(0.1 + 0.8 * step / total,
                          f"{mode}: step {step}/{total}, loss {losses[-1]:.3f}")
            if on_step:
                on_step(step, total, losses[-1])
    task.check()
    if mode == "head":
        with torch.no_grad():  # z = (f - mu) / sd, so W z + b = (W / sd) f + b - W mu / sd
            head.weight.copy_(probe_head.weight / sd)
            head.bias.copy_(probe_head.bias - (probe_head.weight * (mu / sd)).sum(1))
    if mode == "full":
        _recalibrate_batchnorm(model, x_train, infer, task)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    task.progress(0.95, "measuring what changed…")
    changes = _layer_changes(network.module, model, head_name)
    convs = [c for c in changes if c.type == "Conv2d"]
    tuned = dataclasses.replace(
        network, module=model, name=f"{network.name}+{data.name}-{mode}",
        class_names=list(data.class_names), weights_source="fine-tuned", weights_path=None,
        description=f"{network.name} fine-tuned ({mode}) on {data.description}")
    result = FinetuneResult(
        network=tuned, task=data.name, mode=mode, class_names=list(data.class_names),
        losses=losses, epochs_done=step / steps_per_epoch,
        seconds=0.0, accuracy_before=acc_before,
        accuracy_after=_accuracy(model, x_test, data.y_test.cpu(), infer, task),
        train_accuracy=_accuracy(model, x_train, data.y_train.cpu(), infer, task),
        layer_changes=changes, first_conv=convs[0].name if convs else None,
        first_conv_change=convs[0].weight_change if convs else None)
    if probe is not None:
        from explorer.app.tracing import trace_picture

        task.check()
        tb, _, _ = trace_picture(network, probe, task)
        ta, _, _ = trace_picture(tuned, probe, task)
        cmp = compare_traces(tb, ta, task=task)
        result.activation_changes = [(p.name_a, p.cosine, p.rel_change) for p in cmp.pairs]
        result.probe_before, result.probe_after = tb.topk(5), ta.topk(5)
    result.seconds = time.perf_counter() - t0
    task.progress(1.0, "done")
    return result
