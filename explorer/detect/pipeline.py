"""One entry point for every detector, shared by the CLI, the GUI and the evaluation.

:class:`DetectConfig` says which method and settings, and :meth:`DetectConfig.check` is
the one place they are validated (the command line and the window both build a config and
call it); :class:`Detector` runs the method on a picture with the networks it was given
(or loads them, on the config's device), returning
:class:`~explorer.detect.boxes.Detections`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from explorer.core.tasks import NullTask, Task, sub_task
from explorer.detect import settings
from explorer.detect.boxes import Detections
from explorer.detect.settings import HEADS, METHODS  # noqa: F401 - re-exported
from explorer.errors import UserError

#: pyramid for tinyvgg on shapes scenes: objects of 18-52 px, and the classifier's object
#: fills ~41 px of its 64-px window, so levels from 0.8x to 2x the scene
SHAPES_SCALES = (2.0, 1.6, 1.25, 1.0, 0.8)
#: the sliding window's defaults for a classifier with a background class, chosen on 100
#: validation scenes (seed 3, neither trained on nor the test scenes; see
#: benchmarks/detect_false_boxes.py): a box lying half inside a better one is dropped,
#: and a box needs probability 0.9. Before, with 0.5 and per-class NMS alone, 90 % of
#: held-out scenes had a false box (3.4 per scene), nearly all of them windows over part
#: of an object or over two objects, named with probability > 0.9
SLIDING_THRESHOLD = 0.9
SLIDING_CONTAINMENT = 0.5
#: the network each method uses when none is named
DEFAULT_CLASSIFIER = "tinyvgg-shapes"
FAST_RCNN = "fast-rcnn-shapes"


@dataclass
class DetectConfig:
    method: str = "sliding"
    #: the classifier slid or applied to warped proposals (R-CNN)
    model: str = DEFAULT_CLASSIFIER
    #: "shared" (OverFeat), "naive", or "auto": shared when the classifier has a fully
    #: convolutional form, else naive
    impl: str = "auto"
    head: str = "fast-rcnn"
    window: int | None = None
    stride: int | None = None
    #: a tuple, or text such as "2,1,0.5" (``check`` turns it into a tuple)
    scales: tuple[float, ...] | str | None = None
    threshold: float | None = None
    iou: float = 0.3
    #: sliding window: drop a box at least this share inside a better one (any class);
    #: None: :data:`SLIDING_CONTAINMENT`, 0: off
    containment: float | None = None
    mode: str = "fast"
    max_proposals: int = 2000
    device: str = "cpu"
    weights: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.method == "sliding":
            return "sliding" if self.impl == "auto" else f"sliding-{self.impl}"
        if self.method == "proposals":
            return self.head
        return self.method

    @property
    def uses_classifier(self) -> bool:
        """Whether `model` is used: slid, or classifying R-CNN's warped proposals."""
        return self.method == "sliding" or (self.method == "proposals"
                                            and self.head == "rcnn")

    def check(self) -> DetectConfig:
        """Validate every setting (one sentence for the first bad one) and normalise them
        (scales text to a tuple); returns self."""
        settings.choice("the method", self.method, METHODS)
        settings.choice("the head", self.head, HEADS)
        settings.choice("the sliding-window implementation", self.impl, settings.IMPLS)
        settings.choice("the proposal mode", self.mode, settings.MODES)
        self.window = settings.window(self.window)
        self.stride = settings.stride(self.stride)
        self.scales = settings.scales(self.scales)
        if self.threshold is not None:
            self.threshold = settings.threshold(self.threshold)
        self.iou = settings.iou(self.iou)
        if self.containment is not None:
            self.containment = settings.containment(self.containment) or 0.0
        self.max_proposals = settings.max_proposals(self.max_proposals)
        if self.method == "faster-rcnn":
            from explorer.detect import faster_rcnn

            if self.model in (None, "", DEFAULT_CLASSIFIER):
                self.model = faster_rcnn.default_name()
            faster_rcnn.check(self.model, self.weights)
        return self


class Detector:
    """Runs one configuration; networks are loaded on first use and kept.

    `network` is the classifier (sliding window, R-CNN) or fast-rcnn-shapes (the Fast
    R-CNN head); when None, it is loaded on ``config.device``."""

    def __init__(self, config: DetectConfig, network=None):
        self.config = config.check()
        self._network = network
        self._classifier = None
        self._fast = network if network is not None and network.name == FAST_RCNN else None
        self._faster = network if config.method == "faster-rcnn" else None

    # -- networks ------------------------------------------------------------------------
    @property
    def network(self):
        from explorer.nets.registry import load_network

        if self._network is None:
            self._network = load_network(self.config.model, self.config.weights,
                                         device=self.config.device)
        return self._network

    @property
    def classifier(self):
        from explorer.detect.classifier import from_network

        if self._classifier is None:
            self._classifier = from_network(self.network)
        return self._classifier

    @property
    def fast_rcnn(self):
        from explorer.nets.registry import load_network

        if self._fast is None:
            self._fast = load_network(FAST_RCNN, device=self.config.device)
        if self._fast.random_weights:
            raise UserError(f"{FAST_RCNN} has no trained weights "
                            f"(pretrained/{FAST_RCNN}.pt is missing)")
        return self._fast

    @property
    def faster_rcnn(self):
        """torchvision's Faster R-CNN (:class:`~explorer.detect.faster_rcnn.FasterRCNN`)."""
        from explorer.detect import faster_rcnn

        if self._faster is None:
            c = self.config
            self._faster = faster_rcnn.load(c.model, c.device, c.weights)
        return self._faster

    def scales(self) -> tuple[float, ...]:
        c = self.config
        return c.scales or (SHAPES_SCALES if self.classifier.name == DEFAULT_CLASSIFIER
                            else (1.0,))

    def threshold(self) -> float:
        c = self.config
        if c.threshold is not None:
            return c.threshold
        if c.method == "sliding":
            return default_threshold("sliding", background=self.classifier.background
                                     is not None)
        if c.method == "proposals" and c.head == "rcnn":
            return _default_threshold(self.classifier)
        return 0.5 if c.method in ("proposals", "faster-rcnn") else 0.7

    def containment(self) -> float | None:
        """The sliding window's containment share (None: off)."""
        c = self.config.containment
        return SLIDING_CONTAINMENT if c is None else (c or None)

    def impl(self) -> str:
        c = self.config
        return c.impl if c.impl != "auto" else ("shared" if self.classifier.dense else "naive")

    def plan(self, shape: tuple[int, int]) -> None:
        """Refuse, before any work, what cannot run on a picture of `shape` (H, W): a
        window larger than the picture at every scale, a pyramid too big for memory."""
        if self.config.method != "sliding":
            return
        clf, c = self.classifier, self.config
        settings.sliding_plan(shape, clf.input_size, dense=clf.dense is not None,
                              trunk=clf.stride, impl=self.impl(), window_px=c.window,
                              stride_px=c.stride, scale_list=self.scales(),
                              classes=len(clf.class_names), name=clf.name)

    # -- running -------------------------------------------------------------------------
    def __call__(self, image: np.ndarray, task: Task | None = None) -> Detections:
        """image: np.float32 [H, W, 3] in [0, 1]. `task`: progress and cancel."""
        c = self.config
        task = task or NullTask()
        if c.method == "mtcnn":
            return self._mtcnn(image, task)
        if c.method == "faster-rcnn":
            from explorer.detect import faster_rcnn

            return faster_rcnn.detect(self.faster_rcnn, image, threshold=self.threshold(),
                                      iou=c.iou, task=task)
        if c.method == "sliding":
            from explorer.detect.sliding import slide

            clf = self.classifier
            res = slide(clf, image, window=c.window, stride=c.stride, scales=self.scales(),
                        impl=self.impl(), threshold=self.threshold(), iou=c.iou,
                        containment=self.containment(), task=task)
            res.detections.extra["maps"] = res.maps
            res.detections.extra["model"] = clf.name
            return res.detections
        return self._proposals(image, task)

    def proposals(self, image: np.ndarray, task: Task | None = None):
        from explorer.detect.proposals import selective_search

        return selective_search(image, self.config.mode, max_proposals=self.config.max_proposals,
                                task=task)

    def _proposals(self, image, task: Task) -> Detections:
        c = self.config
        # load (and check) the networks before the selective search
        net = self.classifier if c.head == "rcnn" else self.fast_rcnn
        thr = self.threshold()
        props = self.proposals(image, sub_task(task, 0.0, 0.3))
        rest = sub_task(task, 0.3, 1.0)
        if c.head == "rcnn":
            from explorer.detect.rcnn import rcnn_detect

            det = rcnn_detect(net, image, props.boxes, threshold=thr, iou=c.iou, task=rest)
            det.extra["model"] = net.name
        else:
            from explorer.detect.fast_rcnn import fast_rcnn_detect

            det = fast_rcnn_detect(net.module, image, props.boxes, mean=net.mean, std=net.std,
                                   class_names=list(net.class_names), threshold=thr,
                                   iou=c.iou, device=net.device, task=rest)
            det.extra["model"] = net.name
        det.timings = {"proposals": props.seconds, **det.timings,
                       "total": det.timings["total"] + props.seconds}
        det.extra.update({"proposal_mode": c.mode, "threshold": thr})
        task.progress(1.0, f"{len(det)} box(es) from {len(props)} proposals")
        return det

    def _mtcnn(self, image, task: Task) -> Detections:
        from explorer.detect.mtcnn import detect_faces

        thr = self.threshold()
        f = detect_faces(image, device=self.config.device, task=task,
                         thresholds=(0.6, 0.7, thr))
        det = Detections(f.boxes, f.scores, torch.ones(len(f), dtype=torch.long),
                         ["not face", "face"], method="mtcnn", timings=dict(f.timings),
                         proposals=f.stages["pnet"].boxes if "pnet" in f.stages else None)
        det.extra.update({"scales": [round(s, 4) for s in f.scales],
                          "landmarks": [[[round(v, 2) for v in pt] for pt in face]
                                         for face in f.landmarks.tolist()],
                          "stage_counts": {k: len(v) for k, v in f.stages.items()},
                          "threshold": thr, "model": "mtcnn"})
        return det


FASTER_RCNN_EVAL = ("Faster R-CNN knows COCO's 80 objects, not the shapes; --eval scores the "
                "shapes detectors (sliding, proposals)")


def default_threshold(method: str, head: str = "fast-rcnn", background: bool = True
                      ) -> float:
    """The threshold a method uses when none is given (the window shows it too): the
    sliding window :data:`SLIDING_THRESHOLD` with a background class (0.6 without: every
    window is some ImageNet class), MTCNN O-Net's 0.7, else 0.5."""
    if method == "sliding":
        return SLIDING_THRESHOLD if background else 0.6
    if method == "mtcnn":
        return 0.7
    if method == "proposals" and head == "rcnn" and not background:
        return 0.6
    return 0.5


def _default_threshold(clf) -> float:
    # Without a background class every window is *some* ImageNet class: only a confident
    # one is worth a box.
    return 0.5 if clf.background is not None else 0.6


def evaluate(config: DetectConfig, n: int, task: Task | None = None, network=None):
    """mAP@0.5 etc. of one configuration on `n` held-out shapes scenes, made one at a
    time; `task` is checked before every scene (and inside each detection)."""
    from explorer.detect.evaluate import evaluate_on_scenes

    if config.method == "mtcnn":
        raise UserError("MTCNN finds faces; the shapes scenes have none to evaluate it on")
    if config.method == "faster-rcnn":
        raise UserError(FASTER_RCNN_EVAL)
    n = settings.eval_scenes(n)
    det = Detector(config, network)
    names = (list(det.fast_rcnn.class_names) if config.method == "proposals"
             and config.head == "fast-rcnn" else det.classifier.class_names)
    if "background" not in names[:1]:
        raise UserError(f"{det.network.name} does not know the shapes classes; evaluate "
                        f"with {DEFAULT_CLASSIFIER}")
    det.plan((128, 128))
    task = task or NullTask()

    class _Quiet:
        # each scene's own detection reports no progress (the bar counts scenes) but
        # still checks the cancel between its windows and batches
        def progress(self, fraction: float, message: str = "") -> None:
            pass

        def check(self) -> None:
            task.check()

    quiet = _Quiet()

    def run(image):
        d = det(image, quiet)
        if d.proposals is not None:
            return d.boxes, d.scores, d.labels, d.proposals
        return d.boxes, d.scores, d.labels

    ev = evaluate_on_scenes(run, n, names, method=config.label, task=task)
    ev.extra["settings"] = settings_of(config, det)
    return ev


def settings_of(config: DetectConfig, det: Detector | None = None) -> dict:
    """The settings an evaluation ran with, for its report."""
    out = {"method": config.method, "iou_nms": config.iou}
    if config.method == "sliding":
        out.update(impl=config.impl, model=det.network.name if det else config.model,
                   window=config.window, stride=config.stride,
                   scales=list(det.scales() if det else config.scales or SHAPES_SCALES),
                   threshold=det.threshold() if det else config.threshold,
                   containment=det.containment() if det else config.containment)
    elif config.method == "proposals":
        out.update(head=config.head, mode=config.mode,
                   threshold=det.threshold() if det else config.threshold)
        if config.head == "rcnn":
            out["model"] = det.network.name if det else config.model
    if out.get("threshold") is None:
        out["threshold"] = 0.5
    return out


def methods_for_eval(method: str | None, head: str | None, base: DetectConfig
                     ) -> list[DetectConfig]:
    """The configurations `detect --eval` compares: all three shapes methods by default."""
    if method == "mtcnn":
        raise UserError("MTCNN finds faces; --eval scores detectors on shapes scenes")
    if method == "faster-rcnn":
        raise UserError(FASTER_RCNN_EVAL)
    out = [replace(base, method="sliding")] if method in (None, "sliding") else []
    if method in (None, "proposals"):
        heads: Iterable[str] = [head] if head else list(HEADS)
        out += [replace(base, method="proposals", head=h) for h in heads]
    return out
