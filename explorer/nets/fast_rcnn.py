"""Fast R-CNN on TinyVGG (Girshick 2015): one trunk pass over the whole image, then a small
head per region.

The trunk is tinyvgg-shapes' ``features`` (stride 8, 64 channels), frozen. Each region of
interest is cut from the *feature map* with :func:`torchvision.ops.roi_align`
(``spatial_scale = 1/8``) into 8x8 cells, exactly the feature size tinyvgg's classifier
takes, and the head gives 6 class scores (background + 5 shapes) and one class-agnostic box
correction (dx, dy, dw, dh, see :func:`explorer.detect.boxes.encode`). The head starts
from tinyvgg's classifier and is trained on shapes scenes by
:mod:`explorer.detect.fast_rcnn_train`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from explorer.data import shapes
from explorer.nets.shipped import ShippedNet, register
from explorer.nets.tinyvgg import FEATURE_CHANNELS, FEATURE_SIZE, HIDDEN, INPUT, TinyVGG

STRIDE = 8


class FastRCNNHead(nn.Module):
    """Pooled regions Tensor[R, 64, 8, 8] -> (logits Tensor[R, 6], deltas Tensor[R, 4])."""

    def __init__(self, num_classes: int = shapes.NUM_CLASSES):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(FEATURE_CHANNELS * FEATURE_SIZE * FEATURE_SIZE, HIDDEN)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(0.3)
        self.cls = nn.Linear(HIDDEN, num_classes)
        self.bbox = nn.Linear(HIDDEN, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.dropout(self.relu(self.fc1(self.flatten(x))))
        return self.cls(h), self.bbox(h)


class FastRCNN(nn.Module):
    """forward(x Tensor[N, 3, H, W] normalised, rois Tensor[R, 5] (image index, x1, y1, x2,
    y2 in x's pixels) or None) -> (logits Tensor[R, 6], deltas Tensor[R, 4]).

    Without rois every image is one region (so the explorer can trace it like a classifier).
    """

    stride = STRIDE
    roi_size = FEATURE_SIZE

    def __init__(self, num_classes: int = shapes.NUM_CLASSES):
        super().__init__()
        self.features = TinyVGG(num_classes).features
        self.roi_pool = RoIAlign(FEATURE_SIZE, 1.0 / STRIDE)
        self.head = FastRCNNHead(num_classes)

    def forward(self, x: Tensor, rois: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if rois is None:
            n, _, h, w = x.shape
            idx = torch.arange(n, dtype=x.dtype, device=x.device)[:, None]
            rois = torch.cat([idx, x.new_tensor([[0, 0, w, h]]).expand(n, 4)], dim=1)
        return self.head(self.roi_pool(self.features(x), rois))

    @classmethod
    def from_tinyvgg(cls, model: TinyVGG) -> FastRCNN:
        """Trunk and classifier weights copied from a (trained) TinyVGG; box layer zero."""
        net = cls(model.classifier.fc2.out_features)
        net.features.load_state_dict(model.features.state_dict())
        net.head.fc1.load_state_dict(model.classifier.fc1.state_dict())
        net.head.cls.load_state_dict(model.classifier.fc2.state_dict())
        nn.init.zeros_(net.head.bbox.weight)
        nn.init.zeros_(net.head.bbox.bias)
        return net


class RoIAlign(nn.Module):
    """:func:`torchvision.ops.roi_align` as a layer (so a trace lists it):
    features Tensor[N, C, H, W], rois Tensor[R, 5] -> Tensor[R, C, size, size]."""

    def __init__(self, size: int, spatial_scale: float):
        super().__init__()
        self.size = size
        self.spatial_scale = spatial_scale

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        # imported here: torchvision.ops pulls in torch._dynamo (about a third of the
        # program's start), and listing the shipped networks imports this module
        from explorer.core.tvimport import ensure_torchvision

        ensure_torchvision()  # one first import: explorer.core.tvimport
        from torchvision.ops import roi_align

        return roi_align(features, rois.to(features.dtype), (self.size, self.size),
                         spatial_scale=self.spatial_scale, sampling_ratio=2, aligned=True)

    def extra_repr(self) -> str:
        return f"output_size={self.size}, spatial_scale={self.spatial_scale:g}"


def fast_rcnn() -> FastRCNN:
    return FastRCNN()


SPEC = register(
    ShippedNet(
        name="fast-rcnn-shapes",
        build=fast_rcnn,
        task="detect-stage",
        input_size=(INPUT * 2, INPUT * 2),
        in_channels=3,
        mean=shapes.MEAN,
        std=shapes.STD,
        class_names=shapes.CLASSES,
        description=(
            "Fast R-CNN on tinyvgg-shapes' trunk: the convolutions run once over the whole "
            "scene, each region proposal is cut from the feature map with RoIAlign (8x8 "
            "cells) and a trained head names the shape (or background) and corrects its "
            "box. Run alone on a picture it treats the whole picture as one region."
        ),
        default_image="shapes",
        extra={"stride": STRIDE, "roi_size": FEATURE_SIZE, "outputs": ("class logits",
                                                                       "box deltas")},
    )
)
