"""Seeded training of the shipped networks, evaluation on held-out data, model cards.

``train(name)`` builds the network, draws its data, trains it on the CPU with AdamW and a
one-cycle learning-rate schedule, scores it on held-out data and writes ``NAME.pt`` (the state
dict) and ``NAME.json`` (the model card) into `out_dir`. Everything random is seeded: the
same command on the same machine gives the same weights.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from explorer import PRETRAINED
from explorer.app import checks
from explorer.core.tasks import NullTask, Task, sub_task
from explorer.errors import UserError
from explorer.nets.shipped import load_all
from explorer.segment.metrics import segmentation_scores
from explorer.train.recipes import RECIPES, Recipe, augment, build, versions

#: more epochs than any recipe needs by far (lenet5-digits trains 40); a typo such as
#: 400000 would otherwise run for weeks before anyone noticed
MAX_EPOCHS = 1000


def trainable() -> list[str]:
    """Names that :func:`train` accepts."""
    return list(RECIPES)


def recipe_for(name: str) -> Recipe:
    if name not in RECIPES:
        raise UserError(f"cannot train {name!r}; trainable networks: {', '.join(RECIPES)}")
    return RECIPES[name]


def _normaliser(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    spec = load_all()[name]
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
    return mean, std


def _prepare(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 or float [0, 1] batch -> normalised float, channels-last (faster CPU convs)."""
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, mean, std, batch: int = 64) -> torch.Tensor:
    """Arg-max predictions: Tensor[N] for a classifier, Tensor[N, H, W] for a segmenter."""
    model.eval()
    out = [model(_prepare(x[i : i + batch], mean, std)).argmax(1) for i in range(0, len(x), batch)]
    return torch.cat(out)


def evaluate(recipe: Recipe, model: nn.Module, x, y, mean, std) -> dict[str, float]:
    """Held-out scores: accuracy for a classifier; mIoU, pixel accuracy and boundary F-score
    (tolerance 2 px) for a segmenter."""
    pred = predict(model, x, mean, std)
    if recipe.task == "classify":
        return {"accuracy": float((pred == y).float().mean())}
    from explorer.data.shapes import NUM_CLASSES

    return segmentation_scores(list(pred.numpy()), list(y.numpy()), NUM_CLASSES, tolerance=2)


def output_paths(out_dir: str | Path, names: Iterable[str]) -> Path:
    """Check, before any training, that ``NAME.pt`` and ``NAME.json`` of every name in
    `names` can be written into `out_dir`; returns `out_dir` as a Path.

    `out_dir` may be missing (it is made when the files are written, so a cancelled run
    leaves not even an empty folder), but then its parent must be a writable folder.

    Raises:
        UserError: one sentence: `out_dir` is a file, sits in a missing or read-only
            folder, or one of the files is a folder or cannot be replaced.
    """
    if str(out_dir).strip() == "":
        raise UserError("no output folder was given")
    p = checks.expand(out_dir)
    try:
        st = p.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:  # a name too long, a loop of links, no permission
        raise UserError(f"{str(p)[:80]}: cannot be used as the output folder "
                        f"({exc.strerror})") from None
    except ValueError:
        raise UserError(f"{str(p)[:80]!r}: not a valid folder name") from None
    if st is None:
        parent = p.parent
        if not parent.is_dir():
            raise UserError(f"{p}: the folder {parent} does not exist")
        if not _writable(parent):
            raise UserError(f"{p}: cannot be made, the folder {parent} cannot be written")
        return p
    if not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{p}: is not a folder (the weights and the card go into a folder)")
    if not _writable(p):
        raise UserError(f"{p}: the folder cannot be written")
    for name in names:
        for suffix in (".pt", ".json"):
            checks.output_file(p / f"{name}{suffix}", (suffix,), what="output")
    return p


def _writable(folder: Path) -> bool:
    """Whether a file can be made in `folder`: tried, not guessed from permission bits
    (root passes every os.access test, yet not on a read-only file system or /proc)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def write_outputs(out_dir: Path, files: dict[str, Callable[[Path], object]]) -> list[Path]:
    """Write every ``{file name: write(tmp_path)}`` into `out_dir` (made if missing): all
    to temporary files first, then each moved into place, so a failure or an interrupt
    never leaves one half-written and the weights and their card come together."""
    out_dir.mkdir(exist_ok=True)
    tmps: list[tuple[Path, Path]] = []
    try:
        for file_name, write in files.items():
            final = out_dir / file_name
            tmp = final.with_name(f".{file_name}.part")
            write(tmp)
            tmps.append((tmp, final))
        for tmp, final in tmps:
            os.replace(tmp, final)
    except OSError as exc:
        raise UserError(f"{out_dir}: could not write the trained weights "
                        f"({exc.strerror or exc})") from None
    finally:
        for tmp, _final in tmps:
            tmp.unlink(missing_ok=True)
    return [final for _tmp, final in tmps]


def train(
    name: str,
    out_dir: str | Path = PRETRAINED,
    epochs: int | None = None,
    task: Task | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    max_minutes: float | None = None,
) -> dict:
    """Train shipped network `name`; write ``out_dir/NAME.pt`` and ``NAME.json``; return the
    card (a dict, also what the JSON holds).

    `task` (:class:`explorer.core.tasks.Task`) hears ``progress(fraction, message)`` as
    work advances and is checked before every optimisation step: a cancel raises
    :class:`~explorer.errors.Cancelled` after at most one more step, and nothing is
    written (the files are written only at the very end). The output folder is checked
    before any work. `n_train` / `n_test` shrink the data (quick runs, tests); the card
    records them. `max_minutes` (segmenters) stops training after that much wall-clock
    time and keeps the best weights so far; the card says so.
    """
    recipe = recipe_for(name)
    epochs = None if epochs is None else checks.count("epochs", epochs, 1, MAX_EPOCHS)
    task = task or NullTask()
    out_dir = output_paths(out_dir, [name])
    if recipe.converge:
        return _train_to_convergence(recipe, out_dir, epochs, task, n_train, n_test,
                                     max_minutes)
    epochs = recipe.epochs if epochs is None else epochs
    report = task.progress

    # fork_rng: seeding here must not change the random stream of whoever called us
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        report(0.0, "drawing data")
        task.check()
        data = recipe.load(n_train, n_test)
        mean, std = _normaliser(name)
        model = build(recipe).to(memory_format=torch.channels_last)
        n_params = sum(p.numel() for p in model.parameters())
        g = torch.Generator().manual_seed(recipe.seed)
        steps_per_epoch = math.ceil(len(data.x_train) / recipe.batch_size)
        total = epochs * steps_per_epoch
        opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=recipe.lr, total_steps=total, pct_start=0.15
        )
        losses: list[float] = []
        start, cpu_start = time.perf_counter(), time.process_time()
        step = 0
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(data.x_train), generator=g)
            run = 0.0
            for b in range(steps_per_epoch):
                task.check()  # one unit of work = one optimisation step
                idx = order[b * recipe.batch_size : (b + 1) * recipe.batch_size]
                x, y = augment(recipe, data.x_train[idx].clone(), data.y_train[idx].clone(), g)
                loss = F.cross_entropy(model(_prepare(x, mean, std)), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                run += float(loss.detach())
                step += 1
                if step % 5 == 0 or step == total:
                    report(
                        0.95 * step / total,
                        f"epoch {epoch + 1}/{epochs}  loss {run / (b + 1):.4f}",
                    )
            losses.append(run / steps_per_epoch)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start

        task.check()
        report(0.96, "scoring on held-out data")
        metrics = evaluate(recipe, model, data.x_test, data.y_test, mean, std)
        k = min(recipe.check_n, len(data.x_test))
        subset = evaluate(recipe, model, data.x_test[:k], data.y_test[:k], mean, std)

    model = model.to(memory_format=torch.contiguous_format).eval()
    card = {
        "name": name,
        "architecture": recipe.build,
        "task": recipe.task,
        "parameters": n_params,
        "data": {"train": data.train_desc, "held_out": data.test_desc},
        "seed": recipe.seed,
        "epochs": epochs,
        "steps": total,
        "batch_size": recipe.batch_size,
        "optimizer": f"AdamW(weight_decay={recipe.weight_decay}), one-cycle lr, max {recipe.lr}",
        "augmentation": _augment_desc(recipe),
        "loss_per_epoch": [round(v, 5) for v in losses],
        "metrics": {k_: round(v, 5) for k_, v in metrics.items()},
        "metrics_subset": {"n": k, **{k_: round(v, 5) for k_, v in subset.items()}},
        # wall-clock time of the training loop (data drawing and scoring excluded), and the
        # CPU time it used: on a shared machine the wall clock also counts others' work
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "cpu_threads": torch.get_num_threads(),
        "load_average_after": round(os.getloadavg()[0], 2),
        "versions": versions(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"cnn-explorer train {name}"
        + (f" --epochs {epochs}" if epochs != recipe.epochs else ""),
    }
    return _save(model, card, name, out_dir, task, n_train, n_test)


def _train_to_convergence(recipe: Recipe, out_dir: Path, epochs: int | None, task: Task,
                          n_train: int | None, n_test: int | None,
                          max_minutes: float | None = None) -> dict:
    """A segmenter under :data:`explorer.train.convergence.PROTOCOL`: trained until its
    validation mIoU stops improving, then scored once on the test scenes. `epochs`, when
    given, caps the steps at that many passes over the training scenes (quick runs)."""
    from explorer.train.convergence import (
        PROTOCOL,
        scores,
        train_to_convergence,
        validation_set,
    )

    proto = PROTOCOL
    name = recipe.name
    threads = torch.get_num_threads()
    # fork_rng: seeding here must not change the random stream of whoever called us
    with torch.random.fork_rng(devices=[]):
        try:
            torch.set_num_threads(proto.threads)
            torch.manual_seed(recipe.seed)
            task.progress(0.0, "drawing data")
            task.check()
            data = recipe.load(n_train, n_test)
            n_val = proto.n_val if n_test is None else min(proto.n_val, n_test)
            x_val, y_val = validation_set(n_val, proto.val_seed)
            mean, std = _normaliser(name)
            model = build(recipe).to(memory_format=torch.channels_last)
            n_params = sum(p.numel() for p in model.parameters())
            steps_per_epoch = math.ceil(len(data.x_train) / proto.batch_size)
            cap = None if epochs is None else epochs * steps_per_epoch
            run = train_to_convergence(
                model, data.x_train, data.y_train, x_val, y_val,
                prepare=lambda x: _prepare(x, mean, std),
                augment=lambda x, y, g: augment(recipe, x, y, g),
                predict=lambda m, x: predict(m, x, mean, std),
                protocol=proto, seed=recipe.seed, max_steps=cap,
                max_seconds=None if max_minutes is None else 60 * max_minutes,
                on_eval=lambda curve: _write_progress(out_dir, name, curve),
                task=sub_task(task, 0.0, 0.95),
            )
            task.check()
            task.progress(0.96, "scoring on the test scenes")
            pred = predict(run.model, data.x_test, mean, std)
            metrics = scores(pred, data.y_test, proto.tolerances)
            k = min(recipe.check_n, len(data.x_test))
            subset = scores(pred[:k], data.y_test[:k], proto.tolerances)
        finally:
            torch.set_num_threads(threads)
            (out_dir / f".{name}.curve.json").unlink(missing_ok=True)

    model = run.model.to(memory_format=torch.contiguous_format).eval()
    card = {
        "name": name,
        "architecture": recipe.build,
        "task": recipe.task,
        "parameters": n_params,
        "data": {"train": data.train_desc,
                 "validation": f"{n_val} scenes, scene_set(seed={proto.val_seed}): picks "
                               "the stopping step, never the test scenes",
                 "held_out": data.test_desc + " (the test scenes; scored once, after "
                                              "training)"},
        "seed": recipe.seed,
        "protocol": proto.as_dict(),
        "epochs": round(run.steps / steps_per_epoch, 2),
        "steps": run.steps,
        "steps_to_convergence": run.best_step,
        "stopped_by": run.stopped_by,
        "batch_size": proto.batch_size,
        "optimizer": f"AdamW(weight_decay={proto.weight_decay}), lr {proto.lr} after "
                     f"{proto.warmup_steps} warm-up steps, x{proto.lr_factor} on plateau",
        "augmentation": _augment_desc(recipe),
        "curve": run.curve,
        "validation": run.best_val,
        "metrics": {k_: round(v, 5) for k_, v in metrics.items()},
        "metrics_subset": {"n": k, **{k_: round(v, 5) for k_, v in subset.items()}},
        "train_seconds": round(run.seconds, 1),
        "train_cpu_seconds": round(run.cpu_seconds, 1),
        "cpu_threads": proto.threads,
        "load_average_after": round(os.getloadavg()[0], 2),
        "versions": versions(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"cnn-explorer train {name}"
        + (f" --epochs {epochs}" if epochs is not None else "")
        + (f" --max-minutes {max_minutes:g}" if max_minutes is not None else ""),
    }
    return _save(model, card, name, out_dir, task, n_train, n_test)


def _write_progress(out_dir: Path, name: str, curve: list[dict]) -> None:
    """The learning curve so far, as ``out_dir/.NAME.curve.json`` (a long run can be
    watched; removed when the run ends)."""
    try:
        out_dir.mkdir(exist_ok=True)
        (out_dir / f".{name}.curve.json").write_text(json.dumps(curve) + "\n")
    except OSError:
        pass  # watching is a convenience; the run itself must not fail for it


def _augment_desc(recipe: Recipe) -> str:
    parts = []
    if recipe.flips:
        parts.append("random flips and transposes (all 8 symmetries of the square)")
    if recipe.shift:
        parts.append(f"random shifts of up to {recipe.shift} px")
    if recipe.crop:
        parts.append(f"random {recipe.crop}x{recipe.crop} crops (scored on whole scenes)")
    return ", ".join(parts) or "none"


def load_card(name: str, out_dir: str | Path = PRETRAINED) -> dict:
    """The model card ``out_dir/NAME.json`` as a dict."""
    return json.loads((Path(out_dir) / f"{name}.json").read_text())


def load_trained(name: str, out_dir: str | Path = PRETRAINED) -> nn.Module:
    """The network with its trained weights (read with ``weights_only=True``), in eval mode."""
    model = build(recipe_for(name))
    state = torch.load(Path(out_dir) / f"{name}.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


__all__ = ["train", "trainable", "evaluate", "predict", "load_card", "load_trained",
           "output_paths", "write_outputs", "MAX_EPOCHS"]


def _save(model: nn.Module, card: dict, name: str, out_dir: Path, task: Task,
          n_train: int | None, n_test: int | None) -> dict:
    """Write NAME.pt and NAME.json together (nothing if cancelled first); the card, with
    the files written, is returned."""
    if n_train is not None or n_test is not None:
        card["reduced_data"] = {"n_train": n_train, "n_test": n_test}
    task.check()  # the last chance to cancel: after this both files are written
    state = {k_: v.detach().clone().contiguous() for k_, v in model.state_dict().items()}
    files = write_outputs(out_dir, {
        f"{name}.pt": lambda p: torch.save(state, p),
        f"{name}.json": lambda p: p.write_text(json.dumps(card, indent=2) + "\n"),
    })
    task.progress(1.0, "done")
    card["files"] = [str(f) for f in files]
    return card
