"""explorer.app.tracing.prefetch: the window's first request, started before the window
asks (gui start-up), is answered from the early run, and a failed early run is reported
as the request's own failure."""

from __future__ import annotations

import pytest
import torch

from explorer.app import tracing
from explorer.app.networks import NetSpec
from explorer.app.tracing import LoadRequest, prefetch, run_request
from explorer.errors import UserError


def _request(name: str = "tinyvgg-shapes", image: str = "sample:shapes") -> LoadRequest:
    return LoadRequest(device=torch.device("cpu"), net_spec=NetSpec(name), image_spec=image)


def test_an_equal_request_takes_the_early_answer_once():
    assert prefetch(_request())
    first = run_request(_request())
    assert first.network.name == "tinyvgg-shapes" and first.trace is not None
    assert first.picture.shape == (64, 64, 3)
    # taken: the next equal request runs again (a new network object)
    again = run_request(_request())
    assert again.network is not first.network
    assert again.trace.output.shape == first.trace.output.shape


def test_another_request_does_not_take_it():
    prefetch(_request(image="sample:shape-crop"))
    other = run_request(_request())
    assert other.image.source == "sample:shapes"
    # the early one is still there for its own request
    assert run_request(_request(image="sample:shape-crop")).image.source == "sample:shape-crop"
    assert not tracing._PREFETCHED


def test_a_failed_early_run_fails_as_the_request_itself():
    prefetch(_request(name="no-such-network"))
    with pytest.raises(UserError, match="no-such-network"):
        run_request(_request(name="no-such-network"))
    assert not tracing._PREFETCHED


def test_requests_that_keep_what_is_loaded_are_never_prefetched():
    loaded = run_request(_request())
    keep = LoadRequest(device=torch.device("cpu"), network=loaded.network,
                       image_spec="sample:shapes")
    assert not prefetch(keep) and not tracing._PREFETCHED
