"""What the faces name before anything heavy is imported: the default network and picture
and the picture grammar's help line.

Plain constants, no torch, numpy or Pillow: the command line builds every parser from
these, and the window shows its first frame, before PyTorch has been imported (issue 17).
:mod:`explorer.app.networks` and :mod:`explorer.app.pictures` re-export them.
"""

#: what the window opens on: a trained network and a picture that suits it
DEFAULT_MODEL = "tinyvgg-shapes"
DEFAULT_IMAGE = "shape-crop"

#: for argparse help texts (explorer.app.pictures holds the grammar itself)
SPEC_HELP = ("image file, sample:NAME (e.g. sample:chelsea) or scene:N (held-out shapes "
             "scene N, with its ground truth)")
