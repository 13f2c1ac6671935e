"""Beyond feature maps: why a network decided (class activation maps, nearest neighbours,
augmentations) and how training shapes it (transfer learning, layer-by-layer comparison).

Tensors in, tensors and numpy out; no Qt here. The window's insight tabs and the
``cam``/``neighbours``/``augment``/``finetune``/``compare`` commands call these modules.
"""
