"""Three segmenters for 128x128 shapes-world scenes, built to be compared.

All three are built from the same pieces (3x3 convolution, batch norm, ReLU, 2x2 max-pooling),
have similar parameter counts (214k-304k) and output class scores Tensor[N, 6, H, W] at the
input resolution; what differs is how they get back to full resolution:

* :func:`fcn` — a plain fully convolutional network: pool down to 1/8, score each 16x16 cell
  with a 1x1 convolution, then one learned 16x16 transposed convolution (stride 8, started as
  bilinear interpolation) back up. No skip connections: the coarse 1/8 grid is all the
  upsampler knows, so boundaries come out blurred.
* :func:`fcn_dilated` — pools only to 1/4, then grows the receptive field with dilated 3x3
  convolutions (dilation 2, 4, 8) instead of more pooling (Yu and Koltun, 2016), then a
  stride-4 transposed convolution. A finer grid, no skips.
* :func:`unet` — U-Net (Ronneberger et al., 2015), narrowed to widths 12-24-48-96 so its
  parameter count matches the others: down to 1/8 and back up in three
  2x2 transposed-convolution steps, each joined (concatenated) with the encoder's feature map
  of the same size, so fine detail reaches the output directly.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from explorer.data import shapes
from explorer.nets.shipped import ShippedNet, register

NUM_CLASSES = len(shapes.CLASSES)
INPUT = 128
#: share of pixels of each class in shapes-world scenes (about 89 % background, the rest
#: split evenly), measured on generated scenes and rounded
CLASS_PRIOR = (0.89,) + (0.022,) * 5


def init_score_bias(score: nn.Conv2d, prior=CLASS_PRIOR) -> None:
    """Start the class-score layer at the class prior (bias = log frequency; Lin et al. 2017,
    "Focal loss"): the network then begins by predicting the pixel shares instead of a
    uniform guess. Without it the narrow U-Net spent hundreds of steps just learning that
    most pixels are background; all three segmenters get the same start."""
    with torch.no_grad():
        b = torch.tensor(prior, dtype=torch.float32).log()
        score.bias.copy_(b - b.mean())


def double_conv(cin: int, cout: int, dilation: tuple[int, int] = (1, 1)) -> nn.Sequential:
    """Two (3x3 conv -> batch norm -> ReLU); padding keeps the size (also when dilated)."""
    d1, d2 = dilation
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(cin, cout, 3, padding=d1, dilation=d1, bias=False),
            bn1=nn.BatchNorm2d(cout),
            relu1=nn.ReLU(inplace=True),
            conv2=nn.Conv2d(cout, cout, 3, padding=d2, dilation=d2, bias=False),
            bn2=nn.BatchNorm2d(cout),
            relu2=nn.ReLU(inplace=True),
        )
    )


def bilinear_upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """ConvTranspose2d (per channel, kernel 2*factor, stride factor) that starts out as exact
    bilinear upsampling by `factor`, as in Long et al.'s FCN; training may then adjust it."""
    k = 2 * factor
    up = nn.ConvTranspose2d(channels, channels, k, stride=factor, padding=factor // 2,
                            bias=False)
    centre = (k - 1) / 2 if k % 2 == 1 else factor - 0.5
    og = torch.arange(k, dtype=torch.float32)
    filt = 1 - (og - centre).abs() / factor
    kernel = filt[:, None] * filt[None, :]
    with torch.no_grad():
        up.weight.zero_()
        for c in range(channels):
            up.weight[c, c] = kernel
    return up


class FCN(nn.Module):
    """Plain FCN, output stride 8, no skips: Tensor[N, 3, H, W] -> Tensor[N, 6, H, W]
    (H, W multiples of 8)."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.enc1 = double_conv(3, 16)
        self.pool1 = nn.MaxPool2d(2)
        self.enc2 = double_conv(16, 32)
        self.pool2 = nn.MaxPool2d(2)
        self.enc3 = double_conv(32, 64)
        self.pool3 = nn.MaxPool2d(2)
        self.enc4 = double_conv(64, 128)  # at 1/8
        self.score = nn.Conv2d(128, num_classes, 1)
        self.upsample = bilinear_upsampler(num_classes, 8)
        if num_classes == NUM_CLASSES:
            init_score_bias(self.score)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.enc1(x))
        x = self.pool2(self.enc2(x))
        x = self.pool3(self.enc3(x))
        return self.upsample(self.score(self.enc4(x)))


class DilatedFCN(nn.Module):
    """FCN with output stride 4 and dilated convolutions (dilation 1, 2, 4, 8) in place of
    further pooling: Tensor[N, 3, H, W] -> Tensor[N, 6, H, W] (H, W multiples of 4)."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.enc1 = double_conv(3, 16)
        self.pool1 = nn.MaxPool2d(2)
        self.enc2 = double_conv(16, 32)
        self.pool2 = nn.MaxPool2d(2)
        self.context1 = double_conv(32, 64, dilation=(1, 2))  # at 1/4
        self.context2 = double_conv(64, 96, dilation=(4, 8))
        self.score = nn.Conv2d(96, num_classes, 1)
        self.upsample = bilinear_upsampler(num_classes, 4)
        if num_classes == NUM_CLASSES:
            init_score_bias(self.score)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.enc1(x))
        x = self.pool2(self.enc2(x))
        x = self.context2(self.context1(x))
        return self.upsample(self.score(x))


class UNet(nn.Module):
    """Small U-Net (widths 12-24-48-96, three skip connections): Tensor[N, 3, H, W] ->
    Tensor[N, 6, H, W] (H, W multiples of 8)."""

    def __init__(self, num_classes: int = NUM_CLASSES, widths=(12, 24, 48, 96)):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.down1 = double_conv(3, w1)
        self.pool1 = nn.MaxPool2d(2)
        self.down2 = double_conv(w1, w2)
        self.pool2 = nn.MaxPool2d(2)
        self.down3 = double_conv(w2, w3)
        self.pool3 = nn.MaxPool2d(2)
        self.bottom = double_conv(w3, w4)  # at 1/8
        self.up3 = nn.ConvTranspose2d(w4, w3, 2, stride=2)
        self.dec3 = double_conv(2 * w3, w3)
        self.up2 = nn.ConvTranspose2d(w3, w2, 2, stride=2)
        self.dec2 = double_conv(2 * w2, w2)
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.dec1 = double_conv(2 * w1, w1)
        self.score = nn.Conv2d(w1, num_classes, 1)
        if num_classes == NUM_CLASSES:
            init_score_bias(self.score)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.down1(x)
        s2 = self.down2(self.pool1(s1))
        s3 = self.down3(self.pool2(s2))
        x = self.bottom(self.pool3(s3))
        x = self.dec3(torch.cat([self.up3(x), s3], 1))
        x = self.dec2(torch.cat([self.up2(x), s2], 1))
        x = self.dec1(torch.cat([self.up1(x), s1], 1))
        return self.score(x)


def fcn() -> FCN:
    return FCN()


def fcn_dilated() -> DilatedFCN:
    return DilatedFCN()


def unet() -> UNet:
    return UNet()


def _spec(name: str, build, description: str, output_stride: int) -> ShippedNet:
    return register(
        ShippedNet(
            name=name,
            build=build,
            task="segment",
            input_size=(INPUT, INPUT),
            in_channels=3,
            mean=shapes.MEAN,
            std=shapes.STD,
            class_names=shapes.CLASSES,
            default_image="shapes",
            description=description,
            extra={"output_stride": output_stride},
        )
    )


FCN_SPEC = _spec(
    "fcn-shapes", fcn,
    "A plain fully convolutional network: it pools down to a 16x16 grid, labels each cell, "
    "and blows the labels back up 8x with one learned upsampling, so edges come out coarse.",
    8,
)
DILATED_SPEC = _spec(
    "fcn-dilated-shapes", fcn_dilated,
    "A fully convolutional network that pools only to 1/4 and then widens its view with "
    "dilated (holey) 3x3 convolutions instead of more pooling, keeping a finer grid.",
    4,
)
UNET_SPEC = _spec(
    "unet-shapes", unet,
    "A small U-Net: it pools down to 1/8 and climbs back up, joining each step with the "
    "same-sized feature map from the way down, so fine detail reaches the output directly.",
    1,
)
