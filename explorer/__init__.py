"""CNN Explorer: see what every layer of a convolutional network does."""

from pathlib import Path

__version__ = "0.1.0"

#: Repository root: `pretrained/` and `resources/` live beside the package (editable install).
ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "pretrained"
RESOURCES = ROOT / "resources"
