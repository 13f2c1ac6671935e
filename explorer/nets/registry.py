"""Every network the explorer can open, and where its weights come from.

Weights are looked for in this order: the project's own ``pretrained/`` (shipped
networks), the torch hub cache (torchvision's ImageNet weights, if a download put them
there), a file the user picks, a download only when the user asks for it; otherwise the
network gets random weights and says so.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import tempfile
import urllib.request
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from explorer import PRETRAINED
from explorer.core.device import pick_device
from explorer.core.network import IMAGENET_MEAN, IMAGENET_STD, Network
from explorer.errors import ModelError
from explorer.nets import shipped, tv_catalogue

Progress = Callable[[float, str], None]


@dataclass
class ModelEntry:
    name: str
    family: str  # "shipped" | "torchvision"
    task: str
    weights_source: str  # "shipped" | "hub cache" | "none"
    available: bool  # trained weights are on this machine
    description: str = ""


def torchvision_names() -> list[str]:
    # from the stored catalogue: listing networks does not import torchvision (issue 17)
    return sorted(tv_catalogue.catalogue())


def _tv_weights(name: str):
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import torchvision

    return torchvision.models.get_model_weights(name).DEFAULT


def hub_cache_file(name: str) -> Path:
    """Where torch.hub keeps torchvision's ImageNet weights for `name`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / tv_catalogue.catalogue()[name]


def list_models() -> list[ModelEntry]:
    entries = []
    for spec in shipped.load_all().values():
        ok = (PRETRAINED / f"{spec.name}.pt").exists()
        entries.append(ModelEntry(spec.name, "shipped", spec.task,
                                  "shipped" if ok else "none", ok, spec.description))
    for name in torchvision_names():
        ok = hub_cache_file(name).exists()
        entries.append(ModelEntry(name, "torchvision", "classify",
                                  "hub cache" if ok else "none", ok,
                                  "torchvision ImageNet classifier"))
    return entries


def list_timm() -> list[ModelEntry]:
    """timm's CNNs as ``timm:NAME``, available where a download put their weights in the
    Hugging Face or torch hub cache; empty when timm is not installed."""
    from explorer.nets import timm_catalogue

    # from the stored catalogue: listing networks does not import timm (issue 17)
    known = timm_catalogue.catalogue()
    if known is None:
        return []
    entries = []
    for name, fields in known.items():
        ok = fields is not None and timm_catalogue.cached_file(*fields) is not None
        entries.append(ModelEntry(TIMM_PREFIX + name, "timm", "classify",
                                  "hub cache" if ok else "none", ok, f"timm {name}"))
    return entries


#: the whole-network files a person can bring, as `cnn-explorer models` lists them
_FILE_ENTRIES = (
    ("file --weights NET.onnx", "ONNX file, converted to PyTorch by onnx2torch"),
    ("file --weights NET.pt2", "torch.export program (torch.export.save)"),
    ("file --weights NET.ts", "TorchScript file (torch.jit.script / trace)"),
    ("file --weights NET.pt", "a whole pickled module, only with --trust-pickle (it runs "
                              "its code)"),
)


def list_file_kinds() -> list[ModelEntry]:
    """The kinds of network file `--model file --weights FILE` opens (weights: the file's
    own). ``--model NAME --weights FILE`` opens the same files with NAME's labels."""
    return [ModelEntry(name, "file", "classify", "file", True, what)
            for name, what in _FILE_ENTRIES]


def model_names() -> list[str]:
    return [e.name for e in list_models()]


def load_network(name: str, weights: str | Path | None = None, *, download: bool = False,
                 trust_pickle: bool = False, device: str | torch.device | None = "cpu",
                 progress: Progress | None = None) -> Network:
    """Build network `name` with the best weights at hand.

    Args:
        name: a shipped or torchvision name, or "file" for a TorchScript file or a
            (trusted) pickled module given as `weights`.
        weights: a state-dict file for that architecture (read with
            ``weights_only=True``), overriding the shipped/cached ones.
        download: fetch torchvision's ImageNet weights into the hub cache if absent.
        trust_pickle: allow `weights` to be a whole pickled module (runs its code).
    Raises:
        ModelError: unknown name, unreadable or mismatched weights.
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    known = name in shipped.load_all() or name in torchvision_names()
    kind = network_file_kind(weights) if weights is not None else None
    if name.startswith(TIMM_PREFIX):
        if kind is not None:
            raise ModelError(f"{Path(weights).name} is a whole network ({kind}); give it "
                             "as --model file --weights FILE, not as weights for timm")
        net = _load_timm(name[len(TIMM_PREFIX):], weights, download)
    elif kind is not None and (name == "file" or known):
        # an ONNX file, a torch.export program or a TorchScript file; a known name lends
        # it what the file cannot say (labels, normalisation, input size)
        net = _load_network_file(Path(weights), kind, trust_pickle)
        if known:
            _borrow_card(net, name)
    elif name == "file" or (weights is not None and _is_torchscript(Path(weights))
                            and not known):
        if weights is None:
            raise ModelError("'file' needs a network file: --weights FILE.onnx, FILE.pt2, "
                             "a TorchScript file or (trusted) a pickled module")
        net = _load_whole_file(Path(weights), trust_pickle)
    elif name in shipped.load_all():
        net = _load_shipped(shipped.SHIPPED[name], weights)
    elif name in torchvision_names():
        net = _load_torchvision(name, weights, download, progress)
    elif _is_timm_cnn(name):
        net = _load_timm(name, weights, download)
    else:
        raise ModelError(_unknown(name))
    _no_inplace(net.module)
    net.module.eval()
    return net.to(dev)


def _no_inplace(module: nn.Module) -> None:
    # In-place activations overwrite the output of the layer before them, and a trace
    # would then show post-ReLU values as the convolution's output.
    for m in module.modules():
        if isinstance(m, torch.jit.ScriptModule):
            continue  # its constants cannot be set; the trace copies before in-place ops
        if getattr(m, "inplace", False) is True:
            m.inplace = False


# --- networks a person brings (explorer.nets.formats) --------------------------------

#: ``timm:NAME`` opens timm's NAME even where torchvision has a network of that name
TIMM_PREFIX = "timm:"

#: what each whole-network file is, by how it ends (TorchScript is recognised by content)
FILE_KINDS = {".onnx": "ONNX file", ".pt2": "torch.export program"}


def network_file_kind(path: str | Path) -> str | None:
    """"ONNX file", "torch.export program" or "TorchScript file" when `path` holds a
    whole network, else None (a state dict, a pickle, or nothing readable)."""
    kind = FILE_KINDS.get(Path(path).suffix.lower())
    if kind is None and _is_torchscript(Path(path)):
        kind = "TorchScript file"
    return kind


def _load_network_file(path: Path, kind: str, trust_pickle: bool) -> Network:
    if kind == "TorchScript file":
        return _load_whole_file(path, trust_pickle)
    from explorer.nets import formats

    return formats.open_network_file(path)


def _file_fixes_input(net: Network) -> tuple[int | None, ...] | None:
    """The input shape [N, C, H, W] an ONNX file or torch.export program states."""
    from explorer.nets import formats

    path = Path(net.weights_path or "")
    if path.suffix.lower() == ".onnx":
        try:
            return formats.onnx_input_shape(path)
        except ModelError:
            return None
    if path.suffix.lower() == ".pt2":
        return formats._example_shape(net.module)
    return None  # TorchScript states no input shape


def _borrow_card(net: Network, name: str) -> None:
    """Give a whole-network file what the named network's card says (its task, labels,
    normalisation, extras, and input size where the file fixes none), in place: a person
    who exported tinyvgg-shapes to ONNX opens it as ``--model tinyvgg-shapes --weights
    tinyvgg.onnx`` and sees circles and squares, not class 0 and class 1."""
    if name in shipped.load_all():
        spec = shipped.SHIPPED[name]
        task, size, channels = spec.task, spec.input_size, spec.in_channels
        mean, std, labels, extra = spec.mean, spec.std, list(spec.class_names), spec.extra
    else:
        meta = _tv_weights(name)
        crop = meta.transforms().crop_size[0]
        task, size, channels = "classify", (crop, crop), 3
        mean, std, labels, extra = IMAGENET_MEAN, IMAGENET_STD, meta.meta["categories"], {}
    fixed = _file_fixes_input(net)
    if fixed and len(fixed) == 4 and fixed[1] and fixed[1] != channels:
        raise ModelError(f"{Path(net.weights_path or '').name} takes {fixed[1]}-channel "
                         f"pictures, but {name} takes {channels}: it is not {name}")
    net.task, net.in_channels = task, channels
    net.mean, net.std, net.class_names = tuple(mean), tuple(std), list(labels)
    net.extra = {**dict(extra), **net.extra}
    if not (fixed and len(fixed) == 4 and fixed[2] and fixed[3]):
        net.input_size = tuple(size)
    net.description = f"{net.description or net.name}, read as {name}"


def _unknown(name: str) -> str:
    """Why `name` opens nothing, with the names it may have meant."""
    candidates = model_names()
    try:
        from explorer.core.tvimport import ensure_torchvision

        ensure_torchvision()  # one first import: explorer.core.tvimport
        import timm

        from explorer.nets import formats

        if timm.is_model(name.split(".")[0]):
            return (f"{name} is one of timm's networks but not a convolutional one; the "
                    "explorer opens CNNs (see `cnn-explorer models --family timm`)")
        candidates += [n for n in formats.timm_names() if n not in candidates]
    except ImportError:
        pass
    close = difflib.get_close_matches(name.lower(), candidates, n=5, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else " See `cnn-explorer models`."
    return f"unknown network {name!r}.{hint}"


@functools.lru_cache(maxsize=256)
def _is_timm_cnn(name: str) -> bool:
    """Whether `name` (maybe with a weights tag, ``resnet50.a1_in1k``) is one of timm's
    CNNs; imports timm, so it is asked only about names nothing else knows."""
    try:
        from explorer.nets import formats

        return name.split(".")[0] in formats.timm_names()
    except ImportError:  # timm is an install away; the name is simply unknown
        return False


def _load_timm(name: str, weights: str | Path | None, download: bool) -> Network:
    from explorer.nets import formats

    if not name:
        raise ModelError("timm: needs a network name, e.g. timm:resnet18")
    net = formats.open_timm_network(name, weights, download=download)
    if net.random_weights:
        net.extra["note"] = (f"timm's {name} has no trained weights on this machine, so it "
                             "runs with random weights (--download fetches them)")
    return net


# --- shipped -------------------------------------------------------------------------

def _load_shipped(spec: shipped.ShippedNet, weights: str | Path | None) -> Network:
    module = spec.build()
    path = Path(weights) if weights else PRETRAINED / f"{spec.name}.pt"
    source = "file" if weights else "shipped"
    if path.exists():
        load_state_dict_file(module, path, spec.name)
    elif weights:
        raise ModelError(f"{path}: no such file")
    else:
        source, path = "random", None
    return Network(module, spec.name, spec.task, spec.input_size, spec.in_channels,
                   spec.mean, spec.std, list(spec.class_names), source,
                   str(path) if path else None, description=spec.description,
                   extra=dict(spec.extra))


# --- torchvision ---------------------------------------------------------------------

def _build_torchvision(name: str, pretrained_layout: bool) -> nn.Module:
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import torchvision

    kwargs: dict = {}
    if name in ("googlenet", "inception_v3"):
        # ImageNet weights were saved with the auxiliary heads and transform_input on
        kwargs = ({"aux_logits": True, "transform_input": True, "init_weights": False}
                  if pretrained_layout else {"aux_logits": False, "init_weights": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.get_model(name, weights=None, **kwargs)


def _load_torchvision(name: str, weights: str | Path | None, download: bool,
                      progress: Progress | None) -> Network:
    meta = _tv_weights(name)
    crop = meta.transforms().crop_size[0]
    cached = hub_cache_file(name)
    path, source = None, "random"
    if weights:
        path, source = Path(weights), "file"
    elif cached.exists():
        path, source = cached, "hub cache"
    elif download:
        download_weights(name, progress)
        path, source = cached, "download"
    module = _build_torchvision(name, pretrained_layout=path is not None)
    if path is not None:
        load_state_dict_file(module, path, name)
        if name in ("googlenet", "inception_v3"):
            module.aux_logits = False
            module.aux1 = module.aux2 = None  # type: ignore[assignment]
            if hasattr(module, "AuxLogits"):
                module.AuxLogits = None
    return Network(module, name, "classify", (crop, crop), 3, IMAGENET_MEAN, IMAGENET_STD,
                   list(meta.meta["categories"]), source, str(path) if path else None,
                   description=f"torchvision {name}, ImageNet-1k "
                               f"(top-1 {meta.meta['_metrics']['ImageNet-1K']['acc@1']}%)")


def download_weights(name: str, progress: Progress | None = None,
                     url: str | None = None) -> Path:
    """Fetch torchvision's ImageNet weights for `name` into the hub cache, reporting
    progress, and check the SHA-256 prefix torchvision puts in the file name. Only ever
    called when the user asks for a download."""
    url = url or _tv_weights(name).url
    dest = hub_cache_file(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    expected = re.search(r"-([a-f0-9]{6,})\.", Path(url).name)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=30) as response, \
                tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(1 << 20):
                tmp.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done / total if total else 0.0,
                             f"downloading {name}: {done / 1e6:.1f} MB")
    except OSError as exc:
        raise ModelError(f"could not download {name}'s weights: {exc}") from None
    if expected and not digest.hexdigest().startswith(expected.group(1)):
        Path(tmp.name).unlink(missing_ok=True)
        raise ModelError(f"the download of {name}'s weights is corrupt (checksum mismatch)")
    Path(tmp.name).replace(dest)
    return dest


# --- files ---------------------------------------------------------------------------

def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict with ``weights_only=True`` (never runs code from the file)."""
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ModelError(f"{path.name}: the file is empty")
    other = _other_kind(path)
    if other:  # torch.load would call a picture "Python objects" or print a byte value
        raise ModelError(f"{path.name}: not a weights file (it is {other})")
    try:
        # torch's own warnings (e.g. "Detected pickle protocol 4") would be extra lines
        # on the CLI's stderr, which promises one line for a bad file
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split(". This is an internal miniz error")[0]  # a cut-short zip
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise ModelError(f"{path.name}: not a plain state dict (it holds Python "
                             "objects); open it as a whole module only if you trust it"
                             ) from None
        raise ModelError(f"{path.name}: not a readable weights file ({first[:160]})"
                         ) from None
    for key in ("state_dict", "model_state_dict", "model", "net"):  # checkpoint wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise ModelError(f"{path.name}: does not hold a state dict (name -> tensor)")
    bad_keys = [k for k in obj if not isinstance(k, str)]
    if bad_keys:
        raise ModelError(f"{path.name}: a state dict's keys are layer names, but this one "
                         f"has {type(bad_keys[0]).__name__} keys such as {bad_keys[0]!r}")
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        other = next(k for k, v in obj.items() if not isinstance(v, torch.Tensor))
        raise ModelError(f"{path.name}: does not hold a state dict (name -> tensor): "
                         f"{other} is a {type(obj[other]).__name__}")
    for key, t in obj.items():
        problem = _tensor_problem(t)
        if problem:
            raise ModelError(f"{path.name}: {key} {problem}; weights must be ordinary "
                             "dense tensors")
    if all(k.startswith("module.") for k in obj):  # saved from DataParallel
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


#: the first bytes of files people hand over as weights by mistake
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"GIF8", "a GIF image"), (b"\x93NUMPY", "a NumPy array file"),
          (b"%PDF", "a PDF document"), (b"\x1f\x8b", "gzip-compressed"))


def _other_kind(path: Path) -> str | None:
    """What `path` is when its first bytes show it is no PyTorch file (a zip archive or
    a pickle, which starts with byte 0x80), or None."""
    with open(path, "rb") as f:
        head = f.read(8)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head.startswith(b"PK") or head[:1] == b"\x80":
        return None
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "text"
    return None


def _tensor_problem(t: torch.Tensor) -> str | None:
    """Why `t` cannot be a weight, or None."""
    if t.is_meta:
        return "is a meta tensor (it has a shape but no numbers)"
    if t.layout != torch.strided:
        return f"is a sparse tensor ({t.layout})"
    if t.is_quantized:
        return "is a quantized tensor"
    if t.is_complex():
        return "holds complex numbers"
    return None


def nonfinite_weights(state: dict[str, torch.Tensor]) -> str | None:
    """The first floating-point entry of `state` that holds NaN or inf, described in
    words, or None."""
    for key, t in state.items():
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            what = "NaN" if bool(torch.isnan(t).any()) else "infinity"
            return f"{key} holds {what}"
    return None


def load_state_dict_file(module: nn.Module, path: Path, name: str | None = None) -> None:
    """Load `path` into `module`, naming missing and unexpected keys when it doesn't fit.
    `name` (the network's registry name) is what the message says it does not fit."""
    state = read_state_dict(path)
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    wrong += [f"{k} is {str(state[k].dtype).replace('torch.', '')}, not floating point"
              for k in own if k in state and own[k].is_floating_point()
              and not state[k].is_floating_point()]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing keys: {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_few(unexpected)}")
        if wrong:
            parts.append(f"wrong shapes: {_few(wrong)}")
        raise ModelError(f"{path.name} does not fit {name or type(module).__name__}: "
                         + "; ".join(parts))
    bad = nonfinite_weights(state)
    if bad:
        raise ModelError(f"{path.name}: {bad}, so every output would be meaningless")
    module.load_state_dict(state)


def _few(keys: list[str], n: int = 4) -> str:
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("constants.pkl") for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _load_whole_file(path: Path, trust_pickle: bool) -> Network:
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if _is_torchscript(path):
        try:
            with warnings.catch_warnings():  # "torch.jit.load is deprecated" on stderr
                warnings.simplefilter("ignore")
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # noqa: BLE001
            # torch's C++ message ends in a plea for bug reports: not for the person
            detail = " ".join(str(exc).split("(Could this error message be improved")[0]
                              .split()) or type(exc).__name__
            raise ModelError(f"{path.name}: not a valid TorchScript file ({detail[:160]})"
                             ) from None
        source = "file"
    elif trust_pickle:
        try:
            module = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{path.name}: could not be unpickled ({exc})"[:200]) from None
        if not isinstance(module, nn.Module):
            raise ModelError(f"{path.name}: holds a {type(module).__name__}, not a network")
        source = "file"
    else:
        try:
            read_state_dict(path)
        except ModelError:
            raise ModelError(f"{path.name}: not a TorchScript file; a pickled module runs "
                             "code when opened, so it is only opened if you say you trust "
                             "it (--trust-pickle, or \"I trust this file\" in the window)"
                             ) from None
        raise ModelError(f"{path.name} is a state dict: choose the architecture it was "
                         "made for (--model NAME --weights FILE)")
    # a file carries no input size; ImageNet's is the usual one and any size runs
    return Network(module, path.stem, "classify", (224, 224), 3, IMAGENET_MEAN, IMAGENET_STD,
                   [], source, str(path), description=f"user model from {path.name}")

