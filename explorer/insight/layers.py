"""Finding the layers the insight tools work on: the last spatial layer (where class
activation maps are taken) and the final Linear layer (whose input is the last hidden
layer, the features nearest neighbours and transfer learning use)."""

from __future__ import annotations

from torch import nn

from explorer.app.tracing import layers_of
from explorer.core.network import Network
from explorer.core.trace import LayerInfo
from explorer.errors import UserError


def require_classifier(network: Network) -> None:
    """Raise UserError unless `network` names classes (CAMs and neighbours need scores)."""
    if network.task != "classify":
        raise UserError(f"{network.name} is a {network.task} network; this needs a "
                        "classifier")


def find_layer(network: Network, name: str) -> LayerInfo:
    """The layer called `name`, or a UserError that names a few that exist."""
    layers = layers_of(network)
    for layer in layers:
        if layer.name == name:
            return layer
    close = [lay.name for lay in layers if name and name in lay.name][:5]
    close = close or [lay.name for lay in layers if lay.spatial][-5:]
    raise UserError(f"{network.name} has no layer {name!r}; layers include "
                    f"{', '.join(close)} (see `cnn-explorer layers`)")


def is_map(layer: LayerInfo) -> bool:
    """A stack of 2-D maps bigger than 1x1: something a heat map can be made from."""
    return layer.spatial and layer.out_shape[1] > 1 and layer.out_shape[2] > 1


def default_cam_layer(network: Network) -> str:
    """The last layer with spatial output [C, H, W], H, W > 1, before global pooling.

    The last such layer in ``named_modules`` order may sit inside a block (ResNet's
    ``layer4.1.bn2`` comes before that block's residual sum), so the answer climbs to the
    outermost enclosing block that still has a spatial output: ``layer4`` for ResNets,
    ``features`` for VGG-style networks, ``inception5b`` for GoogLeNet.
    """
    layers = layers_of(network)
    maps = [lay for lay in layers if is_map(lay)]
    if not maps:
        raise UserError(f"{network.name} has no layer with spatial feature maps")
    last = maps[-1]
    by_name = {lay.name: lay for lay in layers}
    best = last.name
    parts = last.name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        parent = by_name.get(".".join(parts[:i]))
        if parent is not None and is_map(parent):
            best = parent.name
    return best


def final_linear(network: Network) -> tuple[str, nn.Linear]:
    """The classifier's last Linear layer, as (qualified name, module).

    Its input is the last hidden layer: AlexNet's 4096 units, TinyVGG's 128, LeNet-5's F6.
    """
    found = [(n, m) for n, m in network.module.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise UserError(f"{network.name} has no Linear layer at its end (it scores classes "
                        "with a convolution), so it has no last hidden layer to compare")
    return found[-1]
