"""Networks a person brings: ONNX files, torch.export programs (.pt2) and timm's CNNs.

Each opener returns a plain ``nn.Module`` (evaluation mode) or raises one-sentence
:class:`~explorer.errors.ModelError`; :func:`network_from_module` wraps any module as an
explorer :class:`~explorer.core.network.Network`, guessing what the file does not say
(input channels from the first convolution, the input size from the file when it fixes
one, else 224). :func:`open_network_file` and :func:`open_timm_network` do both steps.

Nothing here downloads unless asked: timm's weights are read from the Hugging Face or
torch hub cache when a download put them there, or from a file.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
import stat
import types
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from explorer.core.network import IMAGENET_MEAN, IMAGENET_STD, Network
from explorer.errors import ModelError

DEFAULT_SIZE = (224, 224)
#: the largest input side a brought network may declare: one 4096x4096 RGB picture is
#: 200 MB of float32 before the first layer; a file that asks for more is refused in one
#: line before the describing pass would try to allocate it
MAX_INPUT_SIDE = 4096

#: timm modules whose networks are convolutional (their transformers and MLP mixers are
#: left out, as registry.py leaves out torchvision's)
TIMM_CNN_MODULES = (
    "byobnet", "convnext", "cspnet", "densenet", "dla", "dpn", "efficientnet", "ghostnet",
    "hardcorenas", "hgnet", "hrnet", "inception_resnet_v2", "inception_v3", "inception_v4",
    "mobilenetv3", "nasnet", "nfnet", "pnasnet", "regnet", "repghost", "res2net",
    "resnest", "resnet", "resnetv2", "rexnet", "selecsls", "senet", "sknet", "tresnet",
    "vgg", "vovnet", "xception", "xception_aligned",
)


def _file(path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelError(f"{p}: no such file") from None
    except OSError as exc:
        raise ModelError(f"{p}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelError(f"{p}: is a folder, not {what}")
    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"{p}: is not a regular file")
    if st.st_size == 0:
        raise ModelError(f"{p.name}: the file is empty")
    return p


def _first_line(exc: BaseException, n: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:n]


# --- ONNX ----------------------------------------------------------------------------

def _load_onnx(path: Path):
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path))
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"{path.name}: not an ONNX file ({_first_line(exc, 100)})") from None
    except Exception as exc:  # noqa: BLE001 - protobuf and onnx raise many kinds
        raise ModelError(f"{path.name}: not an ONNX file ({_first_line(exc, 100)})") from None
    if not model.graph.node:
        raise ModelError(f"{path.name}: not an ONNX model (it holds no graph)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path.name}: not a valid ONNX model ({_first_line(exc, 120)})"
                         ) from None
    return model


def open_onnx(path: str | Path) -> nn.Module:
    """The ONNX model in `path` converted to PyTorch by onnx2torch (an fx.GraphModule whose
    convolutions are ``nn.Conv2d``), in evaluation mode.

    Raises:
        ModelError: not a file, not ONNX, or an operator onnx2torch does not convert.
    """
    path = _file(path, "an ONNX file")
    model = _load_onnx(path)
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    from onnx2torch import convert

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = convert(model)
    except NotImplementedError as exc:
        m = re.search(r"operation_type='([^']+)', version=(\d+)", str(exc))
        what = f"the operator {m.group(1)} (opset {m.group(2)})" if m else _first_line(exc)
        raise ModelError(f"{path.name}: onnx2torch cannot convert {what}") from None
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path.name}: onnx2torch could not convert it "
                         f"({_first_line(exc, 120)})") from None
    return module.eval()


def onnx_input_shape(path: str | Path) -> tuple[int | None, ...] | None:
    """The first graph input's shape ([N, C, H, W]; None for a dimension the file leaves
    open), or None when it states none."""
    import onnx

    model = onnx.load(str(_file(path, "an ONNX file")), load_external_data=False)
    weights = {t.name for t in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in weights:
            continue
        dims = inp.type.tensor_type.shape.dim
        if not dims:
            return None
        return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                     for d in dims)
    return None


# --- torch.export --------------------------------------------------------------------

def open_exported(path: str | Path) -> nn.Module:
    """The program saved by ``torch.export.save`` in `path` (.pt2), as a module with the
    exported network's own layers (``torch.export.unflatten``: ``features.conv1`` and so
    on, each named after the type it was exported from, ``Conv2d``), so that a trace's
    hooks see every layer as they do in the original.

    Raises:
        ModelError: not a file or not a torch.export program.
    """
    program = _load_program(path)
    try:
        module = torch.export.unflatten(program)
    except Exception:  # noqa: BLE001 - a program unflatten cannot split: one graph
        return _guard(open_exported_graph(path))
    for m in module.modules():
        if hasattr(m, "_run_with_interpreter"):
            # each layer's generated code, not torch.fx's Interpreter: faster, and the
            # Interpreter's (disabled) tqdm bar starts a monitor thread on every pass
            m._run_with_interpreter = False
        ty = getattr(m, "_ty", None)
        if isinstance(ty, str) and ty:
            m.__class__ = _named_like(type(m), ty.rsplit(".", 1)[-1])
    return _guard(module)


@functools.lru_cache(maxsize=64)
def _named_like(cls: type, name: str) -> type:
    # the layer table and the window name a layer by its class: "Conv2d" says what
    # unflatten's "InterpreterModule" does not; the behaviour stays unflatten's
    return type(name, (cls,), {"__module__": cls.__module__})


def open_exported_graph(path: str | Path) -> nn.Module:
    """The program in `path` as one GraphModule of aten operators
    (``ExportedProgram.module()``), whose nodes remember the layer they came from
    (``nn_module_stack``): what :func:`explorer.graph.build_graph` draws.

    Raises:
        ModelError: not a file or not a torch.export program.
    """
    program = _load_program(path)
    try:
        module = program.module()
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{Path(path).name}: the exported program cannot run here "
                         f"({_first_line(exc, 100)})") from None
    return _guard(module)


def _load_program(path: str | Path):
    path = _file(path, "a .pt2 file")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path.name}: not a torch.export program (not a .pt2 archive)")
    quiet = logging.getLogger("torch.export")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # torch logs a traceback before raising; one line is ours
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.load(str(path))
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise ModelError(f"{path.name}: not a torch.export program "
                         f"({_first_line(exc, 100)})") from None
    finally:
        quiet.setLevel(level)
    return program


def _guard(module: nn.Module) -> nn.Module:
    # An exported program's graph fixes the mode it was exported in (ExportedProgram.
    # module() refuses eval() and train()). The explorer calls eval() to be sure of
    # inference, which changes nothing here; training is refused with one sentence.
    module.train = types.MethodType(_exported_train, module)
    module.eval = types.MethodType(lambda self: self.train(False), module)
    return module


def _exported_train(self: nn.Module, mode: bool = True) -> nn.Module:
    if mode:
        raise ModelError("a torch.export program cannot be trained: its graph fixes the "
                         "mode it was exported in")
    return self


def _example_shape(module: nn.Module) -> tuple[int, ...] | None:
    """The shape a torch.export program was traced with (its first input)."""
    graph = getattr(module, "graph", None)
    if not isinstance(graph, torch.fx.Graph):  # TorchScript's graph is another thing
        return None
    for node in graph.nodes:
        if node.op == "placeholder":
            val = node.meta.get("val")
            shape = getattr(val, "shape", None)
            if shape is not None and all(isinstance(d, int) for d in shape):
                return tuple(shape)
            return None
    return None


# --- timm ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _timm_names() -> tuple[str, ...]:
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import timm

    have = set(timm.list_modules())
    names: set[str] = set()
    for module in TIMM_CNN_MODULES:
        if module in have:
            names.update(timm.list_models(module=module))
    return tuple(sorted(names))


def timm_names() -> list[str]:
    """timm's convolutional architectures (``resnet50``, ``efficientnet_b0``, ...)."""
    return list(_timm_names())


def _timm_cfg(name: str):
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import timm
    from timm.models import get_pretrained_cfg

    arch = name.split(".")[0]
    if not timm.is_model(arch) or arch not in timm_names():
        if timm.is_model(arch):
            raise ModelError(f"{arch} is not one of timm's convolutional networks")
        close = difflib.get_close_matches(arch.lower(), timm_names(), n=4, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ModelError(f"timm has no network {name!r}{hint}")
    try:
        return get_pretrained_cfg(name)
    except Exception:  # noqa: BLE001 - an unknown pretrained tag
        raise ModelError(f"timm has no weights called {name!r}") from None


def timm_cached_weights(name: str) -> Path | None:
    """The file holding `name`'s pretrained weights if a download already put it in the
    Hugging Face hub cache or the torch hub cache; never downloads."""
    from explorer.nets.timm_catalogue import cached_file

    cfg = _timm_cfg(name)
    if cfg is None:
        return None
    return cached_file(cfg.hf_hub_id, cfg.hf_hub_filename, cfg.url)


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as exc:
            raise ModelError(f"{path.name}: not a readable safetensors file "
                             f"({_first_line(exc, 100)})") from None
    from explorer.nets.registry import read_state_dict

    return read_state_dict(path)  # torch.load(weights_only=True)


def _timm(name: str, weights_path: str | Path | None, download: bool
          ) -> tuple[nn.Module, str, Path | None]:
    from explorer.core.tvimport import ensure_torchvision

    ensure_torchvision()  # one first import: explorer.core.tvimport
    import timm

    _timm_cfg(name)
    path: Path | None = None
    source = "random"
    if weights_path is not None:
        path, source = _file(weights_path, "a weights file"), "file"
    else:
        path = timm_cached_weights(name)
        source = "hub cache" if path else "random"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path is not None:
                state = _read_weights(path)
                # timm adapts the checkpoint (its filter_fn) as it does for its downloads
                module = timm.create_model(name, pretrained=True,
                                           pretrained_cfg_overlay={"state_dict": state})
            elif download:
                module = timm.create_model(name, pretrained=True)
                source = "download"
            else:
                module = timm.create_model(name, pretrained=False)
    except ModelError:
        raise
    except RuntimeError as exc:
        if path is not None:
            raise ModelError(f"{path.name} does not fit {name} "
                             f"({_first_line(exc, 120)})") from None
        raise ModelError(f"could not build {name} ({_first_line(exc, 120)})") from None
    except OSError as exc:
        raise ModelError(f"could not download {name}'s weights ({_first_line(exc, 100)})"
                         ) from None
    return module.eval(), source, path


def open_timm(name: str, weights_path: str | Path | None = None, *, download: bool = False
              ) -> nn.Module:
    """timm's network `name` (``resnet50``, or with a weights tag ``resnet50.a1_in1k``),
    with weights from `weights_path`, else from the hub cache when present, else random
    weights; `download` fetches timm's pretrained weights when none are at hand.

    Raises:
        ModelError: not one of timm's CNNs, or weights that do not fit.
    """
    return _timm(name, weights_path, download)[0]


def _timm_labels(module: nn.Module) -> list[str]:
    try:
        from explorer.core.tvimport import ensure_torchvision

        ensure_torchvision()  # one first import: explorer.core.tvimport
        from timm.data import ImageNetInfo, infer_imagenet_subset

        subset = infer_imagenet_subset(module)
        if not subset:
            return []
        return [d.split(",")[0] for d in
                ImageNetInfo(subset).label_descriptions(detailed=False)]
    except Exception:  # noqa: BLE001 - labels are a nicety
        return []


# --- wrapping ------------------------------------------------------------------------

def guess_in_channels(module: nn.Module, default: int = 3) -> int:
    """The input channels of the first convolution in ``named_modules`` order (or, for a
    torch.export program, of the first 4-d weight)."""
    for _, m in module.named_modules():
        if isinstance(m, nn.modules.conv._ConvNd) and not isinstance(
                m, nn.modules.conv._ConvTransposeNd):
            return m.in_channels
    for name, p in module.named_parameters():
        if p.dim() == 4 and name.endswith("weight"):
            return p.shape[1]
    return default


def _no_inplace(module: nn.Module) -> None:
    # an in-place activation overwrites the output of the layer before it, and a trace
    # would then show post-ReLU values as the convolution's output
    for m in module.modules():
        if getattr(m, "inplace", False) is True:
            m.inplace = False


def network_from_module(module: nn.Module, path: str | Path | None = None, *,
                        name: str | None = None,
                        input_size: tuple[int, int] | None = None,
                        in_channels: int | None = None,
                        mean: tuple[float, ...] | None = None,
                        std: tuple[float, ...] | None = None,
                        class_names: list[str] | None = None,
                        task: str = "classify", weights_source: str = "file",
                        device: str | torch.device = "cpu") -> Network:
    """`module` as an explorer Network, filling in what is not given.

    in_channels: the ONNX file's input shape, else timm's ``pretrained_cfg``, else the
    first convolution's. input_size:
    the ONNX file's static H, W, else the shape a torch.export program was traced with,
    else timm's ``pretrained_cfg``, else 224x224. mean/std: timm's, else ImageNet's for
    three channels and none (0, 1) otherwise.
    """
    fixed: tuple[int | None, ...] | None = None
    if path is not None and Path(path).suffix.lower() == ".onnx" and (
            input_size is None or in_channels is None):
        try:
            fixed = onnx_input_shape(path)
        except ModelError:  # the module is open already; the file only named it
            fixed = None
    if fixed is None:
        fixed = _example_shape(module)
    cfg = getattr(module, "pretrained_cfg", None) or {}
    if in_channels is None:
        if fixed and len(fixed) == 4 and fixed[1]:
            in_channels = int(fixed[1])
        elif cfg.get("input_size"):  # timm's; TResNet's first conv follows space-to-depth
            in_channels = int(cfg["input_size"][0])
        else:
            in_channels = guess_in_channels(module)
    if input_size is None:
        if fixed and len(fixed) == 4 and fixed[2] and fixed[3]:
            input_size = (int(fixed[2]), int(fixed[3]))
        elif cfg.get("input_size"):
            input_size = tuple(cfg["input_size"][-2:])
        else:
            input_size = DEFAULT_SIZE
    if not all(0 < int(side) <= MAX_INPUT_SIDE for side in input_size) or \
            not 0 < in_channels <= 64:
        label = Path(path).name if path is not None else type(module).__name__
        raise ModelError(f"{label}: declares a {in_channels}x{input_size[0]}x{input_size[1]}"
                         f" input; the explorer opens networks of at most 64 channels and "
                         f"{MAX_INPUT_SIDE} pixels a side")
    if mean is None or std is None:
        if cfg.get("mean") and len(cfg["mean"]) == in_channels:
            mean, std = tuple(cfg["mean"]), tuple(cfg["std"])
        elif in_channels == 3:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        else:
            mean, std = (0.0,) * in_channels, (1.0,) * in_channels
    if name is None:
        name = Path(path).stem if path is not None else type(module).__name__
    _no_inplace(module)
    module.eval()
    kind = {".onnx": "ONNX file", ".pt2": "torch.export program"}.get(
        Path(path).suffix.lower() if path is not None else "", "module")
    net = Network(module, name, task, tuple(input_size), in_channels, tuple(mean),
                  tuple(std), list(class_names or []), weights_source,
                  str(path) if path is not None else None,
                  description=f"{kind} {Path(path).name}" if path is not None else "")
    if isinstance(device, str):
        from explorer.core.device import pick_device

        device = pick_device(device)
    return net.to(device)


def open_network_file(path: str | Path, *, device: str | torch.device = "cpu") -> Network:
    """An ONNX file (.onnx) or a torch.export program (.pt2) as a Network.

    Raises:
        ModelError: another suffix, or a file that does not open.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        module = open_onnx(path)
    elif suffix == ".pt2":
        module = open_exported(path)
    else:
        raise ModelError(f"{Path(path).name}: a network file must be .onnx or .pt2")
    return network_from_module(module, path, weights_source="file", device=device)


def open_timm_network(name: str, weights_path: str | Path | None = None, *,
                      download: bool = False, device: str | torch.device = "cpu"
                      ) -> Network:
    """timm's network `name` as a Network, with its own input size, mean, std and class
    names, and where its weights came from ("file", "hub cache", "download", "random")."""
    module, source, path = _timm(name, weights_path, download)
    net = network_from_module(module, None, name=name, weights_source=source,
                              class_names=_timm_labels(module), device=device)
    net.weights_path = str(path) if path is not None else None
    net.description = f"timm {name}" + (" (random weights)" if source == "random" else "")
    return net
