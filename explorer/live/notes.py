"""What a student must be told before trusting what Live shows: a network with random
weights, or one that learned from pictures unlike the frames it is given."""

from __future__ import annotations

from explorer.core.network import Network

#: the kinds of frame source: "synthetic" (moving drawn shapes, or a still picture of
#: the shapes world), "digits" (a still handwritten digit), "camera", "video",
#: "picture" (any other still picture)
SOURCE_KINDS = ("synthetic", "digits", "camera", "video", "picture")

#: samples (explorer.data.samples) drawn in the shapes world, and the digit
_SHAPES_SAMPLES = ("shapes", "shape-crop")
_DIGIT_SAMPLES = ("digit",)


def picture_kind(picture) -> str:
    """The source kind of a still picture (an explorer.core.images.Image): "synthetic"
    for the shapes world (a held-out scene, a shapes sample), "digits" for the digit
    sample, "picture" otherwise."""
    if getattr(picture, "truth", None) is not None:
        return "synthetic"  # only the shapes world carries ground truth
    spec = str(getattr(picture, "source", "") or getattr(picture, "name", ""))
    sample = spec.removeprefix("sample:")
    if sample in _SHAPES_SAMPLES or spec.startswith("scene:"):
        return "synthetic"
    if sample in _DIGIT_SAMPLES:
        return "digits"
    return "picture"


def trained_on(network: Network) -> str:
    """'shapes', 'digits' or 'photos': what the network learned from."""
    if network.name.endswith("-shapes"):
        return "shapes"
    if network.name.endswith("-digits"):
        return "digits"
    return "photos"


def live_note(network: Network | None, source: str) -> str | None:
    """One or two plain sentences about why `network`'s answers on frames from `source`
    (one of :data:`SOURCE_KINDS`) may mean little, or None when they are meaningful."""
    if network is None:
        return None
    name = network.name
    if network.random_weights:
        return (f"{name} has random weights here (its trained weights are not on this "
                "computer): the maps show what untrained filters do, and its top-5 is "
                "meaningless.")
    if network.task != "classify":
        return f"{name} is not a classifier: Live shows its maps but no top-5."
    seen = trained_on(network)
    if seen == "shapes" and source not in ("synthetic",):
        what = {"camera": "camera picture", "video": "video", "digits": "digit"}.get(
            source, "picture that is not a drawn shape")
        return (f"{name} learned from drawn shapes on plain backgrounds; on a {what} its "
                "top-5 is a guess among shape names. Its maps still show which edges and "
                "blobs it picks out.")
    if seen == "digits" and source != "digits":
        return (f"{name} reads one handwritten digit on a blank background; on these "
                "frames its top-5 means little. Watch its maps instead.")
    if seen == "photos" and source in ("synthetic", "digits"):
        return (f"{name} learned from photos of everyday things; on drawn shapes its "
                "top-5 is a guess. Point a camera at objects for real answers.")
    return None
