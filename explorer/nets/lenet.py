"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) for 32x32 grey digits.

C1 conv 5x5 -> 6 maps 28x28, S2 2x2 subsampling -> 14x14, C3 conv 5x5 -> 16 maps 10x10,
S4 subsampling -> 5x5, C5 conv 5x5 -> 120 maps 1x1, F6 fully connected 84, output 10.
tanh after every layer but the last, as in the paper. Two simplifications, both usual today:
subsampling is plain 2x2 average pooling (the paper's had a trainable weight and bias per map),
and C3 connects to all six S2 maps (the paper used a sparse connection table); the output is
an ordinary linear layer instead of the paper's Euclidean RBF units.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from explorer.data import digits
from explorer.nets.shipped import ShippedNet, register


def lenet5(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5: Tensor[N, 1, 32, 32] (normalised) -> logits Tensor[N, num_classes]."""
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 6, 5),  # C1
            tanh1=nn.Tanh(),
            pool1=nn.AvgPool2d(2),  # S2
            conv2=nn.Conv2d(6, 16, 5),  # C3
            tanh2=nn.Tanh(),
            pool2=nn.AvgPool2d(2),  # S4
            conv3=nn.Conv2d(16, 120, 5),  # C5: a 5x5 conv on a 5x5 map, so 1x1 out
            tanh3=nn.Tanh(),
            flatten=nn.Flatten(),
            fc1=nn.Linear(120, 84),  # F6
            tanh4=nn.Tanh(),
            fc2=nn.Linear(84, num_classes),  # output
        )
    )


SPEC = register(
    ShippedNet(
        name="lenet5-digits",
        build=lenet5,
        task="classify",
        input_size=(digits.SIZE, digits.SIZE),
        in_channels=1,
        mean=digits.MEAN,
        std=digits.STD,
        class_names=digits.CLASS_NAMES,
        default_image="digit",
        description=(
            "LeNet-5, the 1998 digit reader: two rounds of 5x5 convolution and average "
            "pooling with tanh, then fully connected layers; trained on scikit-learn's "
            "8x8 handwritten digits enlarged to 32x32."
        ),
    )
)
