"""Shared test set-up: headless Qt, no network, a private torch hub cache."""

import os
import socket

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the window remembers zoom in its settings: tests keep their own, never the user's
os.environ["CNN_EXPLORER_SETTINGS"] = os.path.join(
    __import__("tempfile").mkdtemp(prefix="cnn-explorer-settings-"), "settings.ini")


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Tests never touch the network, and never see the machine's own hub cache."""

    def refuse(*args, **kwargs):
        raise OSError("tests must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    import torch.hub

    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
