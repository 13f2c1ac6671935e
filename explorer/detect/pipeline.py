"""One entry point for every detector, shared by the CLI, the GUI and the evaluation.

:class:`DetectConfig` says which method and settings; :class:`Detector` loads the networks
once and runs the method on a picture, returning :class:`~explorer.detect.boxes.Detections`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from explorer.detect.boxes import Detections
from explorer.errors import UserError

METHODS = ("sliding", "proposals", "mtcnn")
HEADS = ("rcnn", "fast-rcnn")
#: pyramid for tinyvgg on shapes scenes: objects of 18-52 px, and the classifier's object
#: fills ~41 px of its 64-px window, so levels from 0.8x to 2x the scene
SHAPES_SCALES = (2.0, 1.6, 1.25, 1.0, 0.8)


@dataclass
class DetectConfig:
    method: str = "sliding"
    #: the classifier slid or applied to warped proposals (R-CNN)
    model: str = "tinyvgg-shapes"
    #: "shared" (OverFeat), "naive", or "auto": shared when the classifier has a fully
    #: convolutional form, else naive
    impl: str = "auto"
    head: str = "fast-rcnn"
    window: int | None = None
    stride: int | None = None
    scales: tuple[float, ...] | None = None
    threshold: float | None = None
    iou: float = 0.3
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

    def check(self) -> None:
        if self.method not in METHODS:
            raise UserError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.head not in HEADS:
            raise UserError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise UserError(f"the threshold must lie in [0, 1], got {self.threshold}")
        if not 0 < self.iou <= 1:
            raise UserError(f"the NMS IoU must lie in (0, 1], got {self.iou}")
        if self.max_proposals < 1:
            raise UserError("max proposals must be at least 1")


class Detector:
    """Runs one configuration; networks are loaded on first use and kept."""

    def __init__(self, config: DetectConfig, network=None):
        config.check()
        self.config = config
        self._network = network
        self._classifier = None
        self._fast = None

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
            if self._network is not None and self._network.name == "fast-rcnn-shapes":
                self._fast = self._network
            else:
                self._fast = load_network("fast-rcnn-shapes", device=self.config.device)
            if self._fast.random_weights:
                raise UserError("fast-rcnn-shapes has no trained weights "
                                "(pretrained/fast-rcnn-shapes.pt is missing)")
        return self._fast

    # -- running -------------------------------------------------------------------------
    def __call__(self, image: np.ndarray, should_stop: Callable[[], bool] | None = None,
                 progress: Callable[[float, str], None] | None = None) -> Detections:
        """image: np.float32 [H, W, 3] in [0, 1]."""
        c = self.config
        if c.method == "mtcnn":
            return self._mtcnn(image, should_stop, progress)
        if c.method == "sliding":
            from explorer.detect.sliding import slide

            clf = self.classifier
            scales = c.scales or (SHAPES_SCALES if clf.name == "tinyvgg-shapes" else (1.0,))
            thr = c.threshold if c.threshold is not None else _default_threshold(clf)
            impl = c.impl if c.impl != "auto" else ("shared" if clf.dense else "naive")
            res = slide(clf, image, window=c.window, stride=c.stride, scales=scales,
                        impl=impl, threshold=thr, iou=c.iou, should_stop=should_stop,
                        progress=progress)
            res.detections.extra["maps"] = res.maps
            res.detections.extra["threshold"] = thr
            return res.detections
        return self._proposals(image, should_stop, progress)

    def proposals(self, image: np.ndarray, should_stop=None):
        from explorer.detect.proposals import selective_search

        return selective_search(image, self.config.mode, max_proposals=self.config.max_proposals,
                                should_stop=should_stop)

    def _proposals(self, image, should_stop, progress) -> Detections:
        c = self.config
        if progress:
            progress(0.0, f"selective search ({c.mode})")
        props = self.proposals(image, should_stop)
        if c.head == "rcnn":
            from explorer.detect.rcnn import rcnn_detect

            clf = self.classifier
            thr = c.threshold if c.threshold is not None else _default_threshold(clf)
            det = rcnn_detect(clf, image, props.boxes, threshold=thr, iou=c.iou,
                              should_stop=should_stop, progress=progress)
        else:
            from explorer.detect.fast_rcnn import fast_rcnn_detect

            net = self.fast_rcnn
            thr = c.threshold if c.threshold is not None else 0.5
            det = fast_rcnn_detect(net.module, image, props.boxes, mean=net.mean, std=net.std,
                                   class_names=list(net.class_names), threshold=thr,
                                   iou=c.iou, device=net.device, should_stop=should_stop,
                                   progress=progress)
        det.timings = {"proposals": props.seconds, **det.timings,
                       "total": det.timings["total"] + props.seconds}
        det.extra.update({"proposal_mode": c.mode, "threshold": thr})
        return det

    def _mtcnn(self, image, should_stop, progress) -> Detections:
        from explorer.detect.mtcnn import detect_faces

        kw = {}
        if self.config.threshold is not None:
            kw["thresholds"] = (0.6, 0.7, self.config.threshold)
        f = detect_faces(image, device=self.config.device, should_stop=should_stop,
                         progress=progress, **kw)
        det = Detections(f.boxes, f.scores, torch.ones(len(f), dtype=torch.long),
                         ["not face", "face"], method="mtcnn", timings=dict(f.timings),
                         proposals=f.stages["pnet"].boxes if "pnet" in f.stages else None)
        det.extra.update({"scales": [round(s, 4) for s in f.scales],
                          "landmarks": [[[round(v, 2) for v in pt] for pt in face]
                                         for face in f.landmarks.tolist()],
                          "stage_counts": {k: len(v) for k, v in f.stages.items()}})
        return det


def _default_threshold(clf) -> float:
    # Without a background class every window is *some* ImageNet class: only a confident
    # one is worth a box.
    return 0.5 if clf.background is not None else 0.6


def evaluate(config: DetectConfig, n: int, progress=None, network=None):
    """mAP@0.5 etc. of one configuration on `n` held-out shapes scenes."""
    from explorer.detect.evaluate import evaluate_on_scenes

    if config.method == "mtcnn":
        raise UserError("MTCNN finds faces; the shapes scenes have none to evaluate it on")
    if n < 1:
        raise UserError(f"--eval needs at least 1 scene, got {n}")
    det = Detector(config, network)
    names = (list(det.fast_rcnn.class_names) if config.method == "proposals"
             and config.head == "fast-rcnn" else det.classifier.class_names)
    if "background" not in names[:1]:
        raise UserError(f"{config.model} does not know the shapes classes; evaluate with "
                        "tinyvgg-shapes")

    def run(image):
        d = det(image)
        if d.proposals is not None:
            return d.boxes, d.scores, d.labels, d.proposals
        return d.boxes, d.scores, d.labels

    ev = evaluate_on_scenes(run, n, names, method=config.label, progress=progress)
    ev.extra["settings"] = settings(config, det)
    return ev


def settings(config: DetectConfig, det: Detector | None = None) -> dict:
    out = {"method": config.method, "iou_nms": config.iou}
    if config.method == "sliding":
        out.update(impl=config.impl, model=config.model, window=config.window,
                   stride=config.stride,
                   scales=list(config.scales or SHAPES_SCALES), threshold=config.threshold)
    elif config.method == "proposals":
        out.update(head=config.head, mode=config.mode, threshold=config.threshold)
        if config.head == "rcnn":
            out["model"] = config.model
    if out.get("threshold") is None:
        out["threshold"] = 0.5
    return out


def methods_for_eval(method: str | None, head: str | None, base: DetectConfig
                     ) -> list[DetectConfig]:
    """The configurations `detect --eval` compares: all three shapes methods by default."""
    if method in (None, "sliding"):
        out = [replace(base, method="sliding")]
    else:
        out = []
    if method in (None, "proposals"):
        heads = [head] if head else list(HEADS)
        out += [replace(base, method="proposals", head=h) for h in heads]
    if method == "mtcnn":
        raise UserError("MTCNN finds faces; --eval scores detectors on shapes scenes")
    return out
