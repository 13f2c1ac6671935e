"""The steps of the lecture tour, in the lecture's order (``../shared/seed/``).

Each :class:`TourStep` names the part of the window that answers one section of the
lecture (``section`` as ``gui --section`` takes it, ``page`` a Lab page as ``gui --page``
takes it, or a tab of the section), the preset that reproduces the lecture's example there,
and one caption line. The numbers in the captions are the lecture's own (524,288 weights,
the 10x10 table, 617 614 / 614 625, 128 → 62 → 29 → 13); the pages compute them, and
the tests check that they agree.

Presets are plain dicts whose keys :data:`PRESET_KEYS` lists per target, so that a step
cannot ask a page for something it does not offer; ``explorer.gui.tour.presets`` applies
them through the pages' public methods.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from explorer.errors import UserError

#: the sections of the window, by `gui --section` name (explorer.commands.foundation)
SECTIONS = ("explore", "detection", "segmentation", "lab", "why")
#: the Lab's pages, by `gui --page` name
LAB_PAGES = ("conv", "pool", "params", "equivariance", "rf", "hierarchy", "digit", "gallery")

#: preset keys each target understands: (section, page) -> keys; page None = no page
PRESET_KEYS: dict[tuple[str, str | None], frozenset[str]] = {
    ("explore", None): frozenset({"model", "image", "tab", "layer"}),
    ("lab", "conv"): frozenset({"input", "kernel", "size", "padding", "stride", "dilation",
                                "mode", "operation", "interpolation", "step"}),
    ("lab", "pool"): frozenset({"mode", "size", "stride"}),
    ("lab", "params"): frozenset({"tab", "input", "kernel", "channels", "config"}),
    ("lab", "equivariance"): frozenset({"shift"}),
    ("lab", "rf"): frozenset({"model"}),
    ("lab", "hierarchy"): frozenset(),
    ("lab", "digit"): frozenset(),
    ("lab", "gallery"): frozenset({"tab"}),
    ("detection", None): frozenset({"method", "scene", "run"}),
    ("segmentation", None): frozenset({"networks", "scene", "tab", "run"}),
    ("why", None): frozenset({"tab", "run"}),
}

#: the named tabs a preset's "tab" may pick, per target
TABS: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("explore", None): ("predictions", "layer", "kernels"),
    ("lab", "params"): ("question", "vgg"),
    ("lab", "gallery"): ("lenet", "alexnet", "vgg16", "inception", "resnet"),
    ("segmentation", None): ("compare", "upsampling"),
    ("why", None): ("cam", "neighbours", "augment", "finetune", "compare"),
}


@dataclass(frozen=True)
class TourStep:
    """One section of the lecture: where the window shows it, set up how, and one line."""

    #: short name, used by ``--step`` and in the exported file names
    id: str
    #: the lecture section's title
    title: str
    #: the window's section (`gui --section` name)
    section: str
    #: a Lab page (`gui --page` name) or None
    page: str | None
    #: the caption: one line, the lecture's point with the page's numbers
    caption: str
    #: what the page is set to (keys from :data:`PRESET_KEYS`)
    preset: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _conv(**preset: Any) -> dict[str, Any]:
    """A convolution playground preset: the lecture's table, a kernel, one layer."""
    base = {"input": "lecture table", "kernel": "box", "size": 3, "padding": "valid",
            "stride": 1, "dilation": 1, "mode": "convolution", "operation": "convolution",
            "step": 1}
    base.update(preset)
    return base


STEPS: tuple[TourStep, ...] = (
    TourStep("fc-image", "A fully connected network on an image", "lab", "params",
             "Flatten a 64x64 image into a 128-neuron layer: 524,288 weights in the first "
             "layer alone.",
             {"tab": "question", "input": 64, "kernel": 5, "channels": 16}),
    TourStep("convolution", "Remember convolution w * x", "lab", "conv",
             "The kernel slides over the lecture's 10x10 table: each output is the sum of "
             "a window times the flipped kernel.",
             _conv()),
    TourStep("channels", "Channels and weight sharing", "explore", None,
             "Each channel is an image of neurons; one small kernel per channel pair, "
             "shared by every position.",
             {"model": "tinyvgg-shapes", "image": "shape-crop", "tab": "kernels"}),
    TourStep("padding", "Valid and same padding", "lab", "conv",
             "Valid loses a pixel at each end; same padding adds a border (italic) and "
             "keeps the 10x10 size.",
             _conv(padding="same-zeros")),
    TourStep("parameters", "Question: number of parameters", "lab", "params",
             "64x64 → 256 → 128 → 64 → 16 fully connected against three 5x5 valid "
             "convolutions of 16 channels.",
             {"tab": "question", "input": 64, "kernel": 5, "channels": 16}),
    TourStep("hierarchy", "Hierarchically gathering local spatial statistics", "lab",
             "hierarchy",
             "Layer 1: x and y derivatives after ReLU; layer 2: weighted sums of second "
             "derivatives.",
             {}),
    TourStep("equivariance", "Translation equivariance and invariance", "lab",
             "equivariance",
             "Shift the input and the convolution maps shift with it (equivariance); the "
             "class stays only in part.",
             {"shift": [8, 8]}),
    TourStep("strides", "Strides", "lab", "conv",
             "5x5 valid kernels with stride 2: 128 → 62 → 29 → 13 → 5 → 1 (the "
             "slide's 12 is 13).",
             _conv(size=5, stride=2, step=0)),
    TourStep("pooling", "Max pooling and dimensionality reduction", "lab", "pool",
             "5x5 max pooling with stride 5 reduces the 10x10 table to 617 614 / 614 625.",
             {"mode": "max", "size": 5, "stride": 5}),
    TourStep("cnn-softmax", "Putting it all together: the CNN and its softmax", "explore",
             None,
             "Convolutions and pooling, then a fully connected layer and a softmax: class "
             "probabilities that sum to 1.",
             {"model": "tinyvgg-shapes", "image": "shape-crop", "tab": "predictions"}),
    TourStep("lenet", "LeNet-5 (1998)", "lab", "digit",
             "LeNet-5: convolutions, subsampling and fully connected layers read a "
             "handwritten digit.",
             {}),
    TourStep("alexnet", "AlexNet (2012)", "lab", "gallery",
             "AlexNet: 11x11 filters with stride 4 in its first layer, five convolutions, "
             "three fully connected layers.",
             {"tab": "alexnet"}),
    TourStep("vgg", "VGGNet (2014): configurations A-E", "lab", "params",
             "VGG A-E: 3x3 filters throughout, 11 to 19 weight layers, 133 to 144 million "
             "parameters.",
             {"tab": "vgg", "config": "D"}),
    TourStep("inception", "Inception (2014)", "lab", "gallery",
             "Inception combines 1x1, 3x3 and 5x5 filters in one module; 1x1 convolutions "
             "mix channels only.",
             {"tab": "inception"}),
    TourStep("resnet", "ResNet (2015)", "lab", "gallery",
             "A residual block adds its input to its output: h = f(h) + h makes the "
             "identity easy.",
             {"tab": "resnet"}),
    TourStep("sliding-window", "Detection via classification: sliding window", "detection",
             None,
             "Slide a window over the scene and classify every position: a brute force of "
             "many local decisions.",
             {"method": "sliding", "scene": 3, "run": True}),
    TourStep("rcnn", "Regions with CNN features: R-CNN", "detection", None,
             "R-CNN: selective search proposes regions, each warped and classified by a "
             "CNN.",
             {"method": "rcnn", "scene": 3, "run": True}),
    TourStep("fast-rcnn", "Fast R-CNN", "detection", None,
             "Fast R-CNN: one pass over the image, RoI pooling cuts every proposal from the "
             "shared feature map.",
             {"method": "fast-rcnn", "scene": 3, "run": True}),
    TourStep("fcn", "Fully convolutional network", "segmentation", None,
             "A fully convolutional network classifies every pixel: good in context, "
             "coarse at the boundaries.",
             {"networks": ["fcn-shapes"], "scene": 5, "tab": "compare", "run": True}),
    TourStep("transposed-conv", "Transposed convolution", "lab", "conv",
             "Transposed convolution: each input cell scatters the kernel, scaled by its "
             "value, and the copies add up.",
             _conv(input="table corner 4x4", kernel="identity", stride=2,
                   operation="transposed")),
    TourStep("upsample-conv", "Up-sampling followed by convolution", "lab", "conv",
             "Up-sample first (bilinear, 4x4 to 8x8), then an ordinary 3x3 convolution "
             "slides over the larger grid.",
             _conv(input="table corner 4x4", padding="same-zeros", stride=2,
                   operation="upsample", interpolation="bilinear")),
    TourStep("upsampling", "Transposed convolution against up-sampling", "segmentation",
             None,
             "Up-sampling the FCN's coarse scores: learned transposed convolution against "
             "bilinear then convolution.",
             {"tab": "upsampling"}),
    TourStep("receptive-fields", "Receptive fields", "lab", "rf",
             "Each unit sees a receptive field of the input that grows with every "
             "convolution, pooling and stride.",
             {"model": "alexnet"}),
    TourStep("dilated", "Alternative I: dilated convolutions", "segmentation", None,
             "Dilated convolutions grow the receptive field without pooling: no loss of "
             "resolution.",
             {"networks": ["fcn-shapes", "fcn-dilated-shapes"], "scene": 5,
              "tab": "compare", "run": True}),
    TourStep("unet", "Alternative II: skip connections, U-Net", "segmentation", None,
             "U-Net's skip connections carry high-resolution features past the bottleneck "
             "to the boundaries.",
             {"networks": ["fcn-shapes", "unet-shapes"], "scene": 5, "tab": "compare",
              "run": True}),
    TourStep("augmentation", "Data augmentation", "why", None,
             "Augment the training set with random transformations: rotations, scaling, "
             "flips.",
             {"tab": "augment", "run": True}),
    TourStep("transfer", "Transfer learning: fine-tuning", "why", None,
             "Start from weights learned on another task and retrain all of it or only "
             "its head: press Fine-tune.",
             {"tab": "finetune"}),
)


def step_index(step_id: str) -> int:
    """The position of step `step_id` (0-based); one sentence naming the steps if none."""
    key = str(step_id).strip().lower()
    for i, step in enumerate(STEPS):
        if step.id == key:
            return i
    if key.isdigit() and 1 <= int(key) <= len(STEPS):  # "step 5", as the caption counts
        return int(key) - 1
    raise UserError(f"no tour step {step_id!r}; give a number 1-{len(STEPS)} or one of "
                    f"{', '.join(s.id for s in STEPS)}")


def find_step(step_id: str) -> TourStep:
    return STEPS[step_index(step_id)]


def file_name(index: int, step: TourStep) -> str:
    """The exported picture's name: ``NN_id.png``, numbered from 01 in tour order."""
    return f"{index + 1:02d}_{step.id}.png"
