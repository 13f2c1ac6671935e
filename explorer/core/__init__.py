"""Tensors in, tensors out: images, devices, tracing, filters, receptive fields. No Qt."""
