"""When an answer cannot mean much, say so in words a student understands.

A network with random weights was never trained: its heat maps, neighbours and
predictions show chance, not knowledge. A network trained on one small world (drawn
shapes, handwritten digits) given a picture from elsewhere still answers with one of its
few classes. Both faces show these sentences beside the answer, never instead of it.
"""

from __future__ import annotations

from explorer.core.images import Image
from explorer.core.network import Network

#: what a shipped network's name ends in -> (its world in words, the pictures from it)
DOMAINS = {
    "-shapes": ("drawn shapes", ("scene:", "sample:shapes", "sample:shape-crop")),
    "-digits": ("handwritten digits", ("sample:digit",)),
}


def domain_of(network: Network) -> tuple[str, tuple[str, ...]] | None:
    for suffix, domain in DOMAINS.items():
        if network.name.endswith(suffix) and network.weights_source != "random":
            return domain
    return None


def caveats(network: Network | None, image: Image | None = None) -> list[str]:
    """Sentences a person must read before trusting an answer of `network` on `image`."""
    out: list[str] = []
    if network is None:
        return out
    if network.random_weights:
        out.append(f"{network.name} has random weights: it was never trained, so what it "
                   "shows is where an untrained network happens to respond, not what it "
                   "has learned.")
    domain = domain_of(network)
    if domain is not None and image is not None:
        world, sources = domain
        source = image.source or ""
        if not any(source == s or (s.endswith(":") and source.startswith(s))
                   for s in sources):
            k = len(network.class_names)
            out.append(f"{network.name} was trained on {world} only: on this picture it "
                       f"still answers one of its {k} classes, so the answer shows what "
                       f"looks most like one of them, not what the picture shows.")
    return out
