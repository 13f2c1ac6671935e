"""Shared widgets and plumbing of the window: workers, canvas, mosaics, messages."""
