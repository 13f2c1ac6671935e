"""TinyVGG: a small VGG-style classifier for 64x64 shapes-world crops, and its fully
convolutional twin for sliding-window detection.

features: three blocks of two 3x3 convolutions (16, 32, 64 channels; batch norm and ReLU after
each), each block ending in 2x2 max-pooling: 64x64 -> 8x8. classifier: flatten, a hidden layer
of 128 units, dropout, 6 class scores. Batch norm (as in torchvision's ``vgg11_bn``) makes it
train in a few CPU minutes.

:func:`fully_convolutional` rewrites the classifier's Linear layers as convolutions with the
same weights: the first becomes an 8x8 convolution over the 64x8x8 feature map, the second a
1x1 convolution. On a 64x64 input it gives the same logits; on a bigger picture it gives a map
of class scores, one per 64x64 window, windows 8 pixels apart, in one pass. (Each score is
close to, not identical with, classifying the bare 64x64 window: the 3x3 convolutions are
zero-padded, so a cell's receptive field is 92 px and inside a bigger picture a window's
border sees its neighbours' pixels instead of zeros. Cut out with that context, 16 px before
and 14 after, and run through this network, a window gets exactly its cell's scores: what
the naive sliding window in :mod:`explorer.detect.sliding` does.)
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from explorer.data import shapes
from explorer.nets.shipped import ShippedNet, register

INPUT = 64
#: the feature map after three 2x2 poolings of a 64x64 input
FEATURE_SIZE = INPUT // 8
FEATURE_CHANNELS = 64
HIDDEN = 128


def _block(layers: OrderedDict, i: int, cin: int, cout: int) -> None:
    layers[f"conv{i}"] = nn.Conv2d(cin, cout, 3, padding=1)
    layers[f"bn{i}"] = nn.BatchNorm2d(cout)
    layers[f"relu{i}"] = nn.ReLU(inplace=True)


class TinyVGG(nn.Module):
    """Tensor[N, 3, 64, 64] (normalised) -> logits Tensor[N, 6]."""

    def __init__(self, num_classes: int = len(shapes.CLASSES)):
        super().__init__()
        f: OrderedDict[str, nn.Module] = OrderedDict()
        widths = [(3, 16), (16, 16), (16, 32), (32, 32), (32, FEATURE_CHANNELS),
                  (FEATURE_CHANNELS, FEATURE_CHANNELS)]
        for i, (cin, cout) in enumerate(widths, start=1):
            _block(f, i, cin, cout)
            if i % 2 == 0:
                f[f"pool{i // 2}"] = nn.MaxPool2d(2)
        self.features = nn.Sequential(f)
        self.classifier = nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(),
                fc1=nn.Linear(FEATURE_CHANNELS * FEATURE_SIZE * FEATURE_SIZE, HIDDEN),
                relu=nn.ReLU(inplace=True),
                dropout=nn.Dropout(0.3),
                fc2=nn.Linear(HIDDEN, num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def tinyvgg() -> TinyVGG:
    return TinyVGG()


class FullyConvolutional(nn.Module):
    """TinyVGG with its classifier as convolutions: Tensor[N, 3, H, W] -> scores Tensor[N, 6,
    (H - 64) // 8 + 1, (W - 64) // 8 + 1] for H, W >= 64 (one score vector per 64x64 window,
    windows 8 pixels apart; window (i, j) starts at pixel (8 i, 8 j))."""

    #: input pixels between neighbouring windows, and the window size
    stride = 8
    window = INPUT

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def fully_convolutional(model: TinyVGG) -> FullyConvolutional:
    """Copy of `model` whose Linear layers are Conv2d with the same weights (see module doc).

    The features are shared copies too, so the original model is left untouched.
    """
    import copy

    fc1: nn.Linear = model.classifier.fc1
    fc2: nn.Linear = model.classifier.fc2
    conv1 = nn.Conv2d(FEATURE_CHANNELS, fc1.out_features, FEATURE_SIZE)
    conv2 = nn.Conv2d(fc2.in_features, fc2.out_features, 1)
    with torch.no_grad():
        # Flatten orders (C, H, W), which is exactly a conv kernel's (in, kh, kw) layout.
        conv1.weight.copy_(fc1.weight.view(fc1.out_features, FEATURE_CHANNELS,
                                           FEATURE_SIZE, FEATURE_SIZE))
        conv1.bias.copy_(fc1.bias)
        conv2.weight.copy_(fc2.weight.view(fc2.out_features, fc2.in_features, 1, 1))
        conv2.bias.copy_(fc2.bias)
    classifier = nn.Sequential(
        OrderedDict(fc1=conv1, relu=nn.ReLU(inplace=True), dropout=nn.Dropout(0.3), fc2=conv2)
    )
    out = FullyConvolutional(copy.deepcopy(model.features), classifier)
    out.train(model.training)
    return out


SPEC = register(
    ShippedNet(
        name="tinyvgg-shapes",
        build=tinyvgg,
        task="classify",
        input_size=(INPUT, INPUT),
        in_channels=3,
        mean=shapes.MEAN,
        std=shapes.STD,
        class_names=shapes.CLASSES,
        default_image="shape-crop",
        description=(
            "A small VGG-style network (3x3 convolutions, 2x2 max-pooling, 16-32-64 channels) "
            "that names the shape in the middle of a 64x64 window, or says 'background'; "
            "run fully convolutionally it scores every window of a bigger picture at once."
        ),
        extra={"window": INPUT, "stride": 8},
    )
)
