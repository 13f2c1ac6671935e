"""MTCNN's three stages: P-Net, R-Net and O-Net (Zhang et al. 2016).

K. Zhang, Z. Zhang, Z. Li and Y. Qiao, "Joint Face Detection and Alignment Using Multitask
Cascaded Convolutional Networks", IEEE Signal Processing Letters 23(10), 2016.

The layer names match the state dicts shipped in the facenet-pytorch 2.6.0 wheel, so those
weights (re-saved as ``pretrained/mtcnn-{pnet,rnet,onet}.pt``) load with ``strict=True``.
The cascade that strings the stages together is :mod:`explorer.detect.mtcnn`.

Outputs. Each stage returns a tuple whose **first element is the face probability** (softmax
over ("not face", "face"), so channel 1 is the face score). facenet-pytorch returns the same
tensors but with the probability last; we put it first so a viewer that takes ``out[0]`` of a
tuple sees the "classification". :class:`FaceProbability` wraps a stage when a single tensor
is needed.

- P-Net ``(prob Tensor[N, 2, H', W'], reg Tensor[N, 4, H', W'])``, fully convolutional:
  one 12x12 window per output cell, stride 2, ``H' = ceil((H - 4) / 2) - 3``.
- R-Net ``(prob Tensor[N, 2], reg Tensor[N, 4])`` on 24x24 crops.
- O-Net ``(prob Tensor[N, 2], reg Tensor[N, 4], landmarks Tensor[N, 10])`` on 48x48 crops;
  landmarks are 5 x-coordinates then 5 y-coordinates, as fractions of the crop.

``reg`` is the bounding-box regression: offsets of (x1, y1, x2, y2) in units of the window's
width/height.

Input normalisation: the networks were trained on ``(p - 127.5) / 128`` for 8-bit pixels p.
On [0, 1] input that is ``(x - 0.5) / (128 / 255)``: mean 0.5, std 128/255 = 0.50196...
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from explorer import PRETRAINED
from explorer.errors import ModelError
from explorer.nets.shipped import ShippedNet, register

#: per-channel mean and std on [0, 1] input equal to facenet's ``(255 x - 127.5) * 0.0078125``
MEAN = (0.5, 0.5, 0.5)
STD = (128 / 255,) * 3

CITATION = (
    "K. Zhang, Z. Zhang, Z. Li and Y. Qiao. Joint Face Detection and Alignment Using "
    "Multitask Cascaded Convolutional Networks. IEEE Signal Processing Letters 23(10), "
    "1499-1503, 2016."
)


def _flatten_tf_order(x: Tensor) -> Tensor:
    """Flatten ``Tensor[N, C, H, W]`` as ``[N, W, H, C]``.

    The dense layers' weights were ported from TensorFlow/Caffe, which flatten in that
    order; flattening PyTorch's way would scramble the features.
    """
    return x.permute(0, 3, 2, 1).contiguous().flatten(1)


class PNet(nn.Module):
    """Proposal network: a 12x12 fully convolutional face / not-face classifier.

    forward(x Tensor[N, 3, H, W]) -> (prob Tensor[N, 2, H', W'], reg Tensor[N, 4, H', W'])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.prelu1(self.conv1(x))
        x = self.pool1(x)
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        prob = self.softmax4_1(self.conv4_1(x))
        reg = self.conv4_2(x)
        return prob, reg


class RNet(nn.Module):
    """Refinement network: re-scores 24x24 crops of P-Net's candidates.

    forward(x Tensor[N, 3, 24, 24]) -> (prob Tensor[N, 2], reg Tensor[N, 4])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.softmax5_1 = nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(_flatten_tf_order(x)))
        prob = self.softmax5_1(self.dense5_1(x))
        reg = self.dense5_2(x)
        return prob, reg


class ONet(nn.Module):
    """Output network: final score, box and five landmarks for 48x48 crops.

    forward(x Tensor[N, 3, 48, 48]) -> (prob Tensor[N, 2], reg Tensor[N, 4],
    landmarks Tensor[N, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(_flatten_tf_order(x)))
        prob = self.softmax6_1(self.dense6_1(x))
        reg = self.dense6_2(x)
        landmarks = self.dense6_3(x)
        return prob, reg, landmarks


class FaceProbability(nn.Module):
    """A stage that returns only its face/not-face probabilities (its first output).

    ``FaceProbability(PNet())(x)`` is ``Tensor[N, 2, H', W']``; for R-Net / O-Net
    ``Tensor[N, 2]``. The wrapped stage is ``.stage``, so its layers stay reachable.
    """

    def __init__(self, stage: nn.Module) -> None:
        super().__init__()
        self.stage = stage

    def forward(self, x: Tensor) -> Tensor:
        return self.stage(x)[0]


#: stage short name -> (class, shipped name, input side)
STAGES: dict[str, tuple[type[nn.Module], str, int]] = {
    "pnet": (PNet, "mtcnn-pnet", 12),
    "rnet": (RNet, "mtcnn-rnet", 24),
    "onet": (ONet, "mtcnn-onet", 48),
}


def load_stage(stage: str, device: str | torch.device = "cpu") -> nn.Module:
    """Build one stage ("pnet", "rnet" or "onet") with its shipped weights, in eval mode."""
    if stage not in STAGES:
        raise ModelError(f"Unknown MTCNN stage {stage!r}; expected one of {sorted(STAGES)}.")
    cls, name, _ = STAGES[stage]
    path = PRETRAINED / f"{name}.pt"
    if not path.is_file():
        raise ModelError(f"The MTCNN weights file {path} is missing.")
    model = cls()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # a corrupt or mismatched file is the user's to fix
        raise ModelError(f"Cannot load the MTCNN weights {path}: {exc}") from exc
    return model.eval().to(device)


_COMMON = dict(
    task="detect-stage",
    in_channels=3,
    mean=MEAN,
    std=STD,
    class_names=("not face", "face"),
    default_image="astronaut",
)

register(
    ShippedNet(
        name="mtcnn-pnet",
        build=PNet,
        input_size=(12, 12),
        description=(
            "MTCNN stage 1 (P-Net): a tiny fully convolutional net that slides a 12x12 window "
            "over every level of an image pyramid (stride 2) and marks where a face might be, "
            "with a rough box for each. 3 conv layers, no dense layer, ~7k weights."
        ),
        extra={
            "outputs": ("face probability", "box regression"),
            "probability_output": 0,
            # already softmaxed: a viewer must not apply softmax again
            "output_is_probability": True,
            "face_channel": 1,
            "fully_convolutional": True,
            "stride": 2,
            "window": 12,
            "paper": CITATION,
        },
        **_COMMON,
    )
)
register(
    ShippedNet(
        name="mtcnn-rnet",
        build=RNet,
        input_size=(24, 24),
        description=(
            "MTCNN stage 2 (R-Net): looks again at each P-Net candidate, resized to 24x24, "
            "rejects most false alarms and refines the box. 3 conv layers + a 128-unit dense "
            "layer."
        ),
        extra={
            "outputs": ("face probability", "box regression"),
            "probability_output": 0,
            # already softmaxed: a viewer must not apply softmax again
            "output_is_probability": True,
            "face_channel": 1,
            "paper": CITATION,
        },
        **_COMMON,
    )
)
register(
    ShippedNet(
        name="mtcnn-onet",
        build=ONet,
        input_size=(48, 48),
        description=(
            "MTCNN stage 3 (O-Net): the final judge on 48x48 crops; gives the face score, "
            "the final box and five landmarks (eyes, nose, mouth corners). 4 conv layers + a "
            "256-unit dense layer."
        ),
        extra={
            "outputs": ("face probability", "box regression", "landmarks"),
            "probability_output": 0,
            # already softmaxed: a viewer must not apply softmax again
            "output_is_probability": True,
            "face_channel": 1,
            "paper": CITATION,
        },
        **_COMMON,
    )
)
