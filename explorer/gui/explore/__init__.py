"""The Explore section: layer tree, mosaics, channel view, kernels, predictions."""
