"""Where weights come from, and every way a weights file can be wrong."""

import os
import pickle

import pytest
import torch
import torchvision

from explorer.errors import ModelError
from explorer.nets import registry
from explorer.nets.registry import hub_cache_file, list_models, load_network


def _squeeze_state(seed=0):
    torch.manual_seed(seed)
    return torchvision.models.squeezenet1_1(weights=None).state_dict()


def test_hub_cache_is_found_offline():
    path = hub_cache_file("squeezenet1_1")
    assert str(path).startswith(os.environ["TORCH_HOME"])
    assert not path.exists()
    assert load_network("squeezenet1_1").weights_source == "random"
    path.parent.mkdir(parents=True)
    state = _squeeze_state(1)
    torch.save(state, path)
    net = load_network("squeezenet1_1")
    assert net.weights_source == "hub cache" and not net.random_weights
    assert torch.equal(net.module.state_dict()["features.0.weight"], state["features.0.weight"])
    assert len(net.class_names) == 1000 and net.class_names[0] == "tench"
    entry = next(e for e in list_models() if e.name == "squeezenet1_1")
    assert entry.available and entry.weights_source == "hub cache"


def test_googlenet_hub_weights_with_aux_heads_load():
    path = hub_cache_file("googlenet")
    path.parent.mkdir(parents=True, exist_ok=True)
    ref = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    torch.save(ref.state_dict(), path)
    net = load_network("googlenet")
    assert net.weights_source == "hub cache" and net.module.aux1 is None
    assert net.module(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_user_state_dict_file_and_wrappers(tmp_path):
    state = _squeeze_state(2)
    path = tmp_path / "mine.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    net = load_network("squeezenet1_1", path)
    assert net.weights_source == "file"
    assert torch.equal(net.module.state_dict()["classifier.1.bias"], state["classifier.1.bias"])


def test_wrong_architecture_names_keys(tmp_path):
    path = tmp_path / "res.pt"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ModelError, match="missing keys: features.0.weight.*unexpected keys: "
                                         "conv1.weight"):
        load_network("squeezenet1_1", path)


def test_truncated_weights(tmp_path):
    path = tmp_path / "cut.pt"
    torch.save(_squeeze_state(), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ModelError, match="not a readable weights file"):
        load_network("squeezenet1_1", path)


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(ModelError, match="does not hold a state dict"):
        load_network("squeezenet1_1", path)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        load_network("squeezenet1_1", tmp_path / "empty.pt")


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['TORCH_HOME']}/pwned",))


def test_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"weight": _Evil()}, fh)
    with pytest.raises(ModelError, match="not a plain state dict|not a readable"):
        load_network("squeezenet1_1", path)
    with pytest.raises(ModelError, match="trust"):
        load_network("file", path)
    assert not os.path.exists(f"{os.environ['TORCH_HOME']}/pwned")


def test_torchscript_and_trusted_pickle(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, 2))
    ts = tmp_path / "m.ts"
    torch.jit.script(model).save(str(ts))
    net = load_network("file", ts)
    assert net.weights_source == "file" and net.name == "m"
    whole = tmp_path / "whole.pt"
    torch.save(model, whole)
    with pytest.raises(ModelError, match="trust"):
        load_network("file", whole)
    assert isinstance(load_network("file", whole, trust_pickle=True).module,
                      torch.nn.Sequential)


def test_invalid_torchscript(tmp_path):
    import zipfile

    path = tmp_path / "bad.ts"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("bad/constants.pkl", b"garbage")
    with pytest.raises(ModelError, match="TorchScript"):
        load_network("file", path)


def test_unknown_network():
    with pytest.raises(ModelError, match="unknown network 'resnet9'.*resnet"):
        load_network("resnet9")


def test_download_only_on_request_with_progress(tmp_path, monkeypatch):
    """The download path, fed from a local file:// URL (tests never use the network)."""
    import hashlib

    tmp = tmp_path / "w.pth"
    torch.save(_squeeze_state(3), tmp)
    src = tmp_path / f"squeezenet1_1-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.pth"
    tmp.rename(src)
    calls = []
    monkeypatch.setattr(registry, "download_weights",
                        lambda name, progress=None, _real=registry.download_weights:
                        _real(name, progress, url=src.as_uri()))
    net = load_network("squeezenet1_1", download=True,
                       progress=lambda f, m: calls.append(f))
    assert net.weights_source == "download" and calls and calls[-1] == 1.0
    assert hub_cache_file("squeezenet1_1").exists()


def test_download_checksum_mismatch(tmp_path):
    src = tmp_path / "squeezenet1_1-00000000.pth"
    torch.save(_squeeze_state(), src)
    with pytest.raises(ModelError, match="corrupt"):
        registry.download_weights("squeezenet1_1", url=src.as_uri())
    assert not hub_cache_file("squeezenet1_1").exists()


def test_list_models_covers_torchvision_cnns():
    names = {e.name for e in list_models()}
    for n in ("alexnet", "vgg11", "vgg19_bn", "resnet152", "googlenet", "inception_v3",
              "squeezenet1_0", "mobilenet_v3_small", "efficientnet_b0", "densenet121"):
        assert n in names
    assert not any(n.startswith(("vit", "swin")) for n in names)
