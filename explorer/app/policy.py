"""What the window loads, and what it falls back on: the Explore section's policy,
testable without Qt.

- A request replaces what it names and keeps the rest.
- A request in flight that is superseded is not forgotten: a new picture chosen while a
  network loads still gets that network.
- Nothing loaded yet and the first request failed: load what did not fail with the
  default for what did, so any one choice gives a working window.
- Choosing a shipped network while its predecessor's own sample is shown brings the new
  network's own sample (a digit for LeNet-5, a shape for TinyVGG).
- A cancel forgets the cancelled request.
"""

from __future__ import annotations

import torch

from explorer.app.networks import DEFAULT_IMAGE, DEFAULT_MODEL, NetSpec
from explorer.app.tracing import LoadRequest, LoadResult
from explorer.core.images import Image
from explorer.core.network import Network
from explorer.errors import ImageError, ModelError


class LoadPolicy:
    """The state of what is loaded and asked for. The window owns one and submits the
    :class:`LoadRequest` s it returns to its worker."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.network: Network | None = None
        self.image: Image | None = None
        self.pending: tuple[NetSpec | None, str | None] = (None, None)

    @property
    def sample(self) -> str | None:
        src = self.image.source if self.image is not None else ""
        return src.split(":", 1)[1] if src.startswith("sample:") else None

    def request(self, net_spec: NetSpec | None = None, image_spec: str | None = None,
                chosen_name: str | None = None) -> LoadRequest:
        """The request that loads `net_spec` and/or `image_spec` (a picture spec), keeping
        what is loaded and what a superseded request still asked for. `chosen_name` is
        the network to bring along when none is loaded yet."""
        net_spec = net_spec or self.pending[0]
        image_spec = image_spec or self.pending[1]
        if net_spec is None and self.network is None:
            net_spec = NetSpec(chosen_name or DEFAULT_MODEL)
        if image_spec is None and self.image is None:
            image_spec = DEFAULT_IMAGE
        self.pending = (net_spec, image_spec)
        return LoadRequest(device=self.device,
                           network=None if net_spec else self.network, net_spec=net_spec,
                           image=None if image_spec else self.image, image_spec=image_spec)

    def choose_network(self, name: str) -> tuple[NetSpec, str | None]:
        """(spec, picture spec or None) for switching to registry network `name`: keep the
        picture, unless it was the old shipped network's own sample (or there is none)."""
        from explorer.nets import shipped

        new = shipped.load_all().get(name)
        old = shipped.SHIPPED.get(self.network.name) if self.network is not None else None
        image = None
        if new is not None and new.default_image and (
            self.image is None
            or (old is not None and old.default_image and self.sample == old.default_image)
        ):
            image = new.default_image
        return NetSpec(name), image

    def loaded(self, result: LoadResult) -> None:
        self.pending = (None, None)
        self.network, self.image = result.network, result.image

    def cancel(self) -> None:
        self.pending = (None, None)

    def failed(self, exc: BaseException | None) -> LoadRequest | None:
        """Forget the failed request; when nothing is loaded yet, the fallback request
        (what did not fail, with the default for what did), else None."""
        net_spec, image_spec = self.pending
        self.pending = (None, None)
        if self.network is not None and self.image is not None:
            return None
        if isinstance(exc, ImageError) and net_spec is not None and image_spec != DEFAULT_IMAGE:
            return self.request(net_spec, DEFAULT_IMAGE)
        if isinstance(exc, ModelError) and (net_spec is None or net_spec.name != DEFAULT_MODEL):
            return self.request(NetSpec(DEFAULT_MODEL), image_spec or DEFAULT_IMAGE)
        return None
