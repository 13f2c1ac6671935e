"""The architecture as a graph in the window (drawn from :mod:`explorer.graph`), and the
arithmetic of one convolution unit."""
