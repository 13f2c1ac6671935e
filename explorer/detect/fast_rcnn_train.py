"""Training Fast R-CNN's head on shapes scenes: reproducible, CPU, a few minutes.

Data: ``scene_set(n, TRAIN_SEED)`` 128x128 scenes. Regions per scene: the ground-truth
boxes, 8 jittered copies of each (sizes x exp(U(-0.3, 0.3)), centres moved by up to 20 % of
the size), 16 random boxes, and the scene's selective-search ("fast") proposals, the same
kind of proposals the detector sees at test time. A region whose best IoU with a ground-truth
box is >= 0.5 takes that box's class and learns to move onto it; any other is background.

The trunk (tinyvgg-shapes' ``features``) is frozen, so each scene's feature map is computed
once; every step samples 32 regions per scene (at most half of them objects), cuts them from
the cached maps with RoIAlign and trains the head: cross-entropy plus smooth-L1 on the box
deltas of object regions. The head starts from tinyvgg-shapes' classifier.

Reproduce the shipped weights with ``train_fast_rcnn()`` (300 scenes, 10 epochs, seed 0,
one CPU thread), or ``cnn-explorer train fast-rcnn-shapes`` where that command lists it.
"""

# ruff: noqa: E402 - torchvision comes after ensure_torchvision() (explorer.core.tvimport)

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from explorer.core.tvimport import ensure_torchvision

ensure_torchvision()  # one first import: explorer.core.tvimport
import torchvision
from torchvision.ops import box_iou

from explorer.core.tasks import FlagTask, NullTask, Task, sub_task
from explorer.data import shapes
from explorer.detect.boxes import encode
from explorer.detect.fast_rcnn import head_rois, trunk_input
from explorer.nets.fast_rcnn import FastRCNN

NAME = "fast-rcnn-shapes"
N_TRAIN = 300
N_TEST = 100
EPOCHS = 10


@dataclass
class SceneRegions:
    features: torch.Tensor  # Tensor[1, 64, h, w], frozen trunk output
    rois: torch.Tensor  # Tensor[M, 5] in padded-trunk pixels (context applied)
    labels: torch.Tensor  # Tensor[M]
    targets: torch.Tensor  # Tensor[M, 4] encoded deltas (zeros for background)


def region_boxes(scene: shapes.Scene, proposals: torch.Tensor,
                 g: torch.Generator) -> torch.Tensor:
    """Training regions (Tensor[M, 4]) of one scene (see the module doc)."""
    gt = torch.from_numpy(scene.boxes)
    h, w = scene.image.shape[:2]
    parts = [gt]
    if len(gt):
        rep = gt.repeat_interleave(8, dim=0)
        wh = rep[:, 2:] - rep[:, :2]
        c = (rep[:, :2] + rep[:, 2:]) / 2 + (torch.rand(len(rep), 2, generator=g) - 0.5
                                              ) * 0.4 * wh
        wh = wh * torch.exp((torch.rand(len(rep), 2, generator=g) - 0.5) * 0.6)
        parts.append(torch.cat([c - wh / 2, c + wh / 2], dim=1))
    size = torch.rand(16, 2, generator=g) * 70 + 10
    xy = torch.rand(16, 2, generator=g) * (torch.tensor([w, h]) - size * 0.5)
    parts.append(torch.cat([xy, xy + size], dim=1))
    parts.append(proposals)
    return torch.cat(parts)


def label_regions(boxes: torch.Tensor, scene: shapes.Scene) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels Tensor[M], box targets Tensor[M, 4]) by best IoU >= 0.5 with the ground truth."""
    gt = torch.from_numpy(scene.boxes)
    labels = torch.zeros(len(boxes), dtype=torch.long)
    targets = torch.zeros(len(boxes), 4)
    if len(gt):
        best, idx = box_iou(boxes, gt).max(dim=1)
        fg = best >= 0.5
        labels[fg] = torch.from_numpy(scene.labels)[idx[fg]]
        targets[fg] = encode(boxes[fg], gt[idx[fg]])
    return labels, targets


def prepare(model: FastRCNN, scenes: list[shapes.Scene], seed: int,
            task: Task | None = None) -> list[SceneRegions]:
    """Regions, labels, targets and the frozen feature map of every scene; `task` is
    checked before each scene (progress over [0, 1])."""
    from explorer.detect.proposals import selective_search

    task = task or NullTask()
    g = torch.Generator().manual_seed(seed)
    out = []
    model.features.eval()
    with torch.inference_mode():
        for i, scene in enumerate(scenes):
            task.check()
            if i % 20 == 0:
                task.progress(i / len(scenes), f"regions of scene {i + 1}/{len(scenes)}")
            props = selective_search(scene.image, "fast").boxes
            boxes = region_boxes(scene, props, g)
            labels, targets = label_regions(boxes, scene)
            feats = model.features(trunk_input(scene.image, shapes.MEAN, shapes.STD, "cpu"))
            out.append(SceneRegions(feats.clone(), head_rois(boxes), labels, targets))
    return out


def _sample(r: SceneRegions, per_scene: int, g: torch.Generator) -> torch.Tensor:
    fg = (r.labels > 0).nonzero().flatten()
    bg = (r.labels == 0).nonzero().flatten()
    nf = min(len(fg), per_scene // 2)
    fg = fg[torch.randperm(len(fg), generator=g)[:nf]]
    bg = bg[torch.randperm(len(bg), generator=g)[:per_scene - nf]]
    return torch.cat([fg, bg])


def train_head(model: FastRCNN, data: list[SceneRegions], *, epochs: int, seed: int,
               lr: float = 1e-3, scenes_per_step: int = 8, per_scene: int = 32,
               task: Task | None = None) -> list[dict]:
    """Train ``model.head`` in place; returns per-epoch losses and accuracies. `task` is
    checked before every step (progress over [0, 1] by epoch)."""
    task = task or NullTask()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    for p in model.features.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.head.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(epochs * 0.7)], 0.1)
    history = []
    for epoch in range(epochs):
        model.head.train()
        order = torch.randperm(len(data), generator=g).tolist()
        tot = cls_tot = box_tot = correct = seen = 0.0
        for s in range(0, len(order), scenes_per_step):
            task.check()
            pooled, labels, targets = [], [], []
            for k in order[s:s + scenes_per_step]:
                r = data[k]
                idx = _sample(r, per_scene, g)
                rois = r.rois[idx].clone()
                rois[:, 0] = 0
                pooled.append(model.roi_pool(r.features, rois))
                labels.append(r.labels[idx])
                targets.append(r.targets[idx])
            x, y, t = torch.cat(pooled), torch.cat(labels), torch.cat(targets)
            logits, deltas = model.head(x)
            loss_cls = F.cross_entropy(logits, y)
            fg = y > 0
            loss_box = (F.smooth_l1_loss(deltas[fg], t[fg], beta=1 / 9, reduction="sum")
                        / max(len(y), 1))
            loss = loss_cls + loss_box
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(y)
            cls_tot += loss_cls.item() * len(y)
            box_tot += loss_box.item() * len(y)
            correct += float((logits.argmax(1) == y).sum())
            seen += len(y)
        sched.step()
        history.append({"epoch": epoch + 1, "loss": tot / seen, "loss_cls": cls_tot / seen,
                        "loss_box": box_tot / seen, "region_accuracy": correct / seen})
        task.progress((epoch + 1) / epochs,
                      f"epoch {epoch + 1}/{epochs}: loss {tot / seen:.3f}, "
                      f"region accuracy {correct / seen:.3f}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return history


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""


def train_fast_rcnn(
    out_dir: Path | str | None = None,
    epochs: int | None = None,
    task: Task | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    tinyvgg_weights: Path | str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Train fast-rcnn-shapes and write ``NAME.pt`` + ``NAME.json`` into `out_dir`
    (default ``pretrained/``). Returns the model card.

    Defaults: 300 training scenes, 10 epochs, 100 held-out scenes. Runs on one CPU thread
    (same numbers on any machine). Needs tinyvgg-shapes' trained weights (its trunk and
    starting head). `task` reports progress and is checked between scenes and steps; a
    cancel raises :class:`~explorer.errors.Cancelled` and nothing is written.
    `progress(fraction, message)` is accepted for callers that have no task yet (it
    becomes a task that is never cancelled).
    """
    if task is None:
        task = FlagTask(progress) if progress is not None else NullTask()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(out_dir, epochs or EPOCHS, task,
                      N_TRAIN if n_train is None else n_train,
                      N_TEST if n_test is None else n_test, seed, tinyvgg_weights)
    finally:
        torch.set_num_threads(threads)


def _train(out_dir, epochs, task: Task, n_train, n_eval, seed, tinyvgg_weights):
    from datetime import UTC, datetime

    from explorer import PRETRAINED
    from explorer.detect.evaluate import evaluate_on_scenes
    from explorer.detect.proposals import selective_search
    from explorer.errors import ModelError
    from explorer.nets.registry import load_network

    t0 = time.perf_counter()
    out_dir = Path(out_dir) if out_dir else PRETRAINED
    base = load_network("tinyvgg-shapes", tinyvgg_weights, device="cpu")
    if base.random_weights:
        raise ModelError("train tinyvgg-shapes first: Fast R-CNN starts from its weights")
    torch.manual_seed(seed)
    model = FastRCNN.from_tinyvgg(base.module)
    scenes = shapes.scene_set(n_train, shapes.TRAIN_SEED)
    data = prepare(model, scenes, seed, sub_task(task, 0.0, 0.4))
    n_regions = sum(len(r.labels) for r in data)
    n_fg = sum(int((r.labels > 0).sum()) for r in data)
    history = train_head(model, data, epochs=epochs, seed=seed,
                         task=sub_task(task, 0.4, 0.9))
    train_s = time.perf_counter() - t0
    del data

    task.progress(0.9, f"evaluating on {n_eval} held-out scenes")
    from explorer.detect.fast_rcnn import fast_rcnn_detect

    def detect(image):
        d = fast_rcnn_detect(model, image, selective_search(image, "fast").boxes)
        return d.boxes, d.scores, d.labels

    ev = evaluate_on_scenes(detect, n_eval, shapes.CLASSES, method="fast-rcnn",
                            task=sub_task(task, 0.9, 1.0))
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / f"{NAME}.pt")
    card = {
        "name": NAME,
        "architecture": ("tinyvgg-shapes features (frozen; stride 8, 64 channels) -> "
                         "RoIAlign 8x8 (spatial_scale 1/8, sampling_ratio 2, aligned) -> "
                         "Linear 4096-128, ReLU, Dropout 0.3 -> class Linear 128-6 and box "
                         "Linear 128-4 (class-agnostic, weights 10,10,5,5)"),
        "task": "detect-stage",
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.head.parameters()),
        "classes": list(shapes.CLASSES),
        "input": {"mean": list(shapes.MEAN), "std": list(shapes.STD),
                  "edge_padding": 32, "region_context": 0.64,
                  "proposals": "selective search 'fast' (opencv-contrib)"},
        "data": {
            "train": f"{n_train} shapes scenes 128x128, scene_set(seed={shapes.TRAIN_SEED})",
            "regions": ("ground truth + 8 jittered copies each + 16 random boxes + "
                        "selective search 'fast' proposals per scene; label = class of the "
                        "best-overlapping ground-truth box if IoU >= 0.5, else background"),
            "regions_total": n_regions, "object_regions": n_fg,
            "held_out": f"{n_eval} scenes, scene_set(seed={shapes.TEST_SEED})",
        },
        "seed": seed,
        "epochs": epochs,
        "optimizer": "Adam lr 1e-3 (x0.1 at 70% of the epochs), weight decay 1e-4",
        "batch": "8 scenes x 32 regions (at most half of them objects)",
        "loss": "cross-entropy + smooth L1 (beta 1/9) on the box deltas of object regions",
        "history": history,
        "starts_from": (f"tinyvgg-shapes (pretrained/tinyvgg-shapes.pt, sha256 "
                        f"{_sha256(base.weights_path)[:16]})"),
        "metrics": {"mAP@0.5": round(ev.mAP, 4),
                    **{f"AP@0.5 {c.name}": round(c.ap, 4) for c in ev.classes}},
        "evaluation": {"fast-rcnn": ev.as_dict()},
        "train_seconds": round(train_s, 1),
        "cpu_threads": 1,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": np.__version__,
                     "opencv": __import__("cv2").__version__},
        "device": "cpu",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"cnn-explorer train {NAME}",
    }
    (out_dir / f"{NAME}.json").write_text(json.dumps(card, indent=2) + "\n")
    card["files"] = [str(out_dir / f"{NAME}.pt"), str(out_dir / f"{NAME}.json")]
    task.progress(1.0, f"mAP@0.5 {ev.mAP:.3f} on {n_eval} held-out scenes")
    return card

