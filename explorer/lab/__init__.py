"""The Lab: one page per slide of the CNN lecture, computed here without Qt.

Every function returns numpy arrays or small dataclasses, so a GUI page and the headless
``cnn-explorer lab ... --json`` command show the same numbers.

- :mod:`explorer.lab.table`: the lecture's 10x10 example image.
- :mod:`explorer.lab.conv`: kernel presets, convolution with padding/stride/dilation,
  transposed convolution, output-size formulas, step-by-step windows.
- :mod:`explorer.lab.pool`: max/min/average pooling and the local-invariance demo.
- :mod:`explorer.lab.params`: fully connected vs convolutional parameter counts, VGG A-E.
- :mod:`explorer.lab.rf`: receptive-field growth per layer, gradient (effective) RF.
- :mod:`explorer.lab.equivariance`: translation equivariance per layer.
- :mod:`explorer.lab.hierarchy`: the hand-built two-layer derivative network.
"""
