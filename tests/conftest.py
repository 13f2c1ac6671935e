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


def _mode_access(path, mode, *args, **kwargs) -> bool:
    """os.access as the file's owner without root's override: the mode bits decide."""
    import stat as st

    try:
        bits = os.stat(path).st_mode
    except OSError:
        return False
    need = ((mode & os.R_OK and not bits & st.S_IRUSR)
            or (mode & os.W_OK and not bits & st.S_IWUSR)
            or (mode & os.X_OK and not bits & st.S_IXUSR))
    return not need


@pytest.fixture
def unprivileged(monkeypatch):
    """Permission checks as an ordinary user sees them, also where the tests run as root
    (CI's machine does): root may read a file whose mode is 0, so `os.access` is asked to
    honour the owner's mode bits there. The code under test still makes its own check and
    says its own sentence; only the operating system's answer is that of a normal user."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        monkeypatch.setattr(os, "access", _mode_access)


@pytest.fixture
def one_thread():
    """torch on one thread for the test (timing-sensitive tests on a busy 2-core machine,
    and workers that must not oversubscribe it); the count is put back afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
