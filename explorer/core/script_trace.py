"""The layers inside a TorchScript file, reached by replaying its graph.

A TorchScript module cannot be hooked, but its children can be called, and its graph
(``module.graph``: ``prim::CallMethod`` on ``prim::GetAttr`` children, ``aten::`` ops such
as ``flatten`` or the residual ``add_`` between them, ``prim::If`` and ``prim::Loop``)
says in which order and on what. :func:`unscript` builds an eager stand-in: a tree of
``nn.Module`` objects named as the script's submodules, whose ``forward`` replays that
graph and calls the stand-ins of the children, so forward hooks, receptive-field
tracking, Grad-CAM and every other tool that needs an eager module work on it. Leaves
(``Conv2d``, ``BatchNorm2d``, ...) run their TorchScript code as it is.

Nothing is taken on trust: every replayed module is checked against the module's own
output (within 1e-5 of its largest value, 1e-2 in half precision) when the stand-in is
built, and the stand-in's root checks its whole output against the script's on every
call. A module whose replay fails or differs (a function outside torch, a graph that sets
attributes, ...) is kept as one opaque layer, and :attr:`StandIn.note` says so in one
line. The stand-in's parameters and buffers are the script's own tensor objects (freezing
or reading a weight acts on the script's); move the script module, not the stand-in.
"""

from __future__ import annotations

import inspect
import operator
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from explorer.core import fields


class Unreplayable(Exception):
    """A graph holds something this replay does not do; the message says what."""


def is_script(module: object) -> bool:
    return isinstance(module, torch.jit.ScriptModule)


def type_name(module: nn.Module) -> str:
    """The class name the module was written as (``Conv2d``, not RecursiveScriptModule)."""
    name = getattr(module, "original_name", None) if isinstance(
        module, (torch.jit.ScriptModule, ScriptLeaf, Replayed)) else None
    return name if isinstance(name, str) and name else type(module).__name__


# --- per-thread state of one call ------------------------------------------------------

class _State(threading.local):
    def __init__(self) -> None:
        self.strict = False  # every replayed module checks itself (building, or a retry)
        self.failed: dict[str, str] = {}  # qualified name -> why its replay was not used
        self.on_retry: Callable[[], None] | None = None


_STATE = _State()


def last_hidden() -> dict[str, str]:
    """The modules whose replay this thread's last call could not use (name -> why)."""
    return dict(_STATE.failed)


def verified(name: str) -> bool:
    """Whether layer `name`'s output in this thread's last call of a stand-in was checked:
    False when it lies inside a module whose replay could not be used for that input."""
    return not any(h == "" or name.startswith(h + ".") for h in _STATE.failed)


# --- comparing outputs -----------------------------------------------------------------

def same(a: Any, b: Any) -> bool:
    """Whether a replayed output equals the module's own: tensors within 1e-5 of the
    largest magnitude (1e-2 in half precision), containers element by element."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
            return False
        a, b = a.detach(), b.detach()
        if not a.is_floating_point():
            return bool(torch.equal(a, b))
        tol = 1e-2 if a.dtype in (torch.float16, torch.bfloat16) else 1e-5
        fin = b.isfinite()
        # NaN where NaN, the same infinities, then the finite values within tolerance
        if not (torch.equal(a.isnan(), b.isnan()) and torch.equal(a.isfinite(), fin)
                and torch.equal(a.isposinf(), b.isposinf())):
            return False
        a, b = a[fin].double(), b[fin].double()
        if a.numel() == 0:
            return True
        return float((a - b).abs().max()) <= tol * max(float(b.abs().max()), 1e-12)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared are not the same
        return False


def _bound(script, name: str) -> Callable:
    """Method `name` of a TorchScript module, also of a submodule of a module traced in
    this process (whose Python ``forward`` refuses to run)."""
    c = getattr(script, "_c", None)
    if c is not None:
        try:
            return c._get_method(name)
        except RuntimeError:
            pass
    return getattr(script, name)


def _clone_tensors(args: tuple) -> tuple:
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


# --- what a TorchScript module's code does ---------------------------------------------

_INPLACE_EXEMPT = ("prim::GetAttr",)


def _all_nodes(block):
    for node in block.nodes():
        yield node
        for sub in node.blocks():
            yield from _all_nodes(sub)


def _writes_in_place(script: torch.jit.ScriptModule) -> bool:
    """Whether the module's code runs an in-place op on anything but its own attributes
    (``ReLU(inplace=True)`` overwrites its input, which a view of the layer before would
    then show). Such a module is called on a copy of its input."""
    try:
        graph = script.inlined_graph
    except Exception:  # noqa: BLE001 - no graph to read: assume the worst
        return True
    for node in _all_nodes(graph):
        kind = node.kind()
        if kind.startswith("aten::") and kind.endswith("_") and not kind.endswith("__"):
            first = next(iter(node.inputs()), None)
            if first is None or first.node().kind() not in _INPLACE_EXEMPT:
                return True
    return False


def _constant(value) -> Any:
    """The value of a graph constant (or a list of constants), else raise Unreplayable."""
    node = value.node()
    if node.kind() == "prim::Constant":
        return value.toIValue()
    if node.kind() == "prim::ListConstruct":
        return [_constant(v) for v in node.inputs()]
    raise Unreplayable("not a constant")


_GEOMETRY_OPS = {
    "aten::_convolution": "conv", "aten::conv2d": "conv", "aten::convolution": "conv",
    "aten::conv_transpose2d": "convT", "aten::max_pool2d": "max",
    "aten::max_pool2d_with_indices": "max", "aten::avg_pool2d": "avg",
}


def _geometry_from_graph(script: torch.jit.ScriptModule) -> dict[str, Any]:
    """kernel_size/stride/padding/dilation/groups/transposed of a traced leaf, whose
    TorchScript keeps them only as constants of its one convolution or pooling op."""
    try:
        graph = script.inlined_graph
    except Exception:  # noqa: BLE001
        return {}
    found = [n for n in graph.nodes() if n.kind() in _GEOMETRY_OPS]
    if len(found) != 1:
        return {}
    node = found[0]
    kind = _GEOMETRY_OPS[node.kind()]
    try:
        schema = torch._C.parse_schema(node.schema())
    except RuntimeError:
        return {}
    args = {a.name: v for a, v in zip(schema.arguments, node.inputs())}
    out: dict[str, Any] = {}
    try:
        if kind in ("conv", "convT"):
            transposed = bool(_constant(args["transposed"])) if "transposed" in args \
                else kind == "convT"
            weight = getattr(script, "weight", None)
            if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
                return {}
            out["kernel_size"] = tuple(weight.shape[-2:])
            names = ["stride", "padding", "dilation"]
            if transposed:
                names.append("output_padding")
            for name in names:
                out[name] = _constant(args[name])
            out["groups"] = int(_constant(args["groups"]))
            out["transposed"] = transposed
        else:
            out["kernel_size"] = _constant(args["kernel_size"])
            stride = _constant(args["stride"])
            out["stride"] = stride if stride else out["kernel_size"]  # [] means = kernel
            out["padding"] = _constant(args["padding"])
            if kind == "max":
                out["dilation"] = _constant(args["dilation"])
    except (Unreplayable, KeyError, RuntimeError):
        return {}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in out.items()}


_GEOMETRY_ATTRS = ("kernel_size", "stride", "padding", "dilation", "groups",
                   "output_padding", "mode", "scale_factor", "output_size")


def leaf_geometry(script: torch.jit.ScriptModule) -> dict[str, Any]:
    """What a leaf's TorchScript says about its geometry: the attributes a scripted module
    keeps (``kernel_size``, ``stride``, ...), else the constants of a traced one's op."""
    kept: dict[str, Any] = {}
    for attr in _GEOMETRY_ATTRS:
        try:
            value = getattr(script, attr)
        except (AttributeError, RuntimeError):
            continue
        if isinstance(value, list):
            value = tuple(value)
        if value is None or isinstance(value, (int, float, str, tuple)):
            kept[attr] = value
    if "kernel_size" in kept:
        kept.setdefault("transposed", type_name(script) == "ConvTranspose2d")
        return kept
    return _geometry_from_graph(script)


#: leaves that work on each position on its own: the field passes through unchanged
_POINTWISE = {
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "InstanceNorm2d",
    "LocalResponseNorm", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU",
    "SELU", "CELU", "GELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "Hardtanh",
    "Sigmoid", "Tanh", "Softplus", "Softsign", "Tanhshrink", "Threshold", "Dropout",
    "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "Identity", "Softmax2d", "ChannelShuffle", "FrozenBatchNorm2d", "StochasticDepth",
    # as the field tracker treats their functions in an eager network: ConvNeXt's
    # layer norms and permutes work across channels at each position
    "LayerNorm", "LayerNorm2d", "Permute",
}


def _field_rule(kind: str, geometry: dict[str, Any], script) -> tuple[str, tuple] | None:
    """(functional name, its arguments after the input) that moves a receptive field
    through this leaf, for :meth:`explorer.core.fields.FieldTracker.leaf`; None when
    the leaf is not one whose geometry is known."""
    g = geometry
    if kind in _POINTWISE or kind in ("Flatten", "Linear"):
        # a flat output sees everything (the tracker's rule says so); a Linear on maps
        # (ConvNeXt's, on channels last) keeps the field, as the tracker's F.linear does
        return ("", ())
    weight = getattr(script, "weight", None)
    has_kernel = "kernel_size" in g and "stride" in g and "padding" in g
    if kind in ("Conv2d", "ConvTranspose2d") and has_kernel and \
            isinstance(weight, torch.Tensor) and weight.dim() == 4:
        if g.get("transposed"):
            return ("conv_transpose2d", (weight, None, g["stride"], g["padding"],
                                         g.get("output_padding", 0), g.get("groups", 1),
                                         g.get("dilation", 1)))
        return ("conv2d", (weight, None, g["stride"], g["padding"], g.get("dilation", 1)))
    if kind == "MaxPool2d" and has_kernel:
        return ("max_pool2d", (g["kernel_size"], g["stride"], g["padding"],
                               g.get("dilation", 1)))
    if kind == "AvgPool2d" and has_kernel:
        return ("avg_pool2d", (g["kernel_size"], g["stride"], g["padding"]))
    if kind in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        return ("adaptive_avg_pool2d", ())
    if kind in ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"):
        mode = g.get("mode") or ("bilinear" if kind == "UpsamplingBilinear2d" else "nearest")
        return ("interpolate", (None, None, mode))
    return None


# --- the stand-ins -----------------------------------------------------------------------

def _own_tensors(module: nn.Module, script, recurse: bool) -> None:
    """Give the stand-in the script's parameters and buffers (the same tensor objects,
    so freezing or reading a weight acts on the script's). A leaf takes those of its
    whole subtree: a hidden block's live in script children that are not stand-ins."""
    object.__setattr__(module, "_parameters",
                       dict(script.named_parameters(recurse=recurse)))
    object.__setattr__(module, "_buffers", dict(script.named_buffers(recurse=recurse)))


def _refer(module: nn.Module, script) -> None:
    # weakly: the stand-in is cached under its script (a WeakKeyDictionary) and must not
    # keep it alive; the script's own submodules live as long as it does
    object.__setattr__(module, "_script_ref", weakref.ref(script))


class _Standing:
    """What both kinds of stand-in share: the script they stand for."""

    @property
    def script(self):
        script = self._script_ref()
        if script is None:
            raise RuntimeError("the TorchScript module behind this stand-in is gone")
        return script


class ScriptLeaf(_Standing, nn.Module):
    """A TorchScript submodule shown as one layer: calling it runs its script.

    ``hidden`` says why its inside is not shown when it has children of its own. It
    carries the geometry attributes (``kernel_size``, ``stride``, ``padding``,
    ``dilation``, ``groups``, ``transposed``) its TorchScript keeps."""

    def __init__(self, script: torch.jit.ScriptModule, qualname: str,
                 hidden: str | None = None) -> None:
        super().__init__()
        _refer(self, script)  # not a child: its inside is hidden
        _own_tensors(self, script, recurse=True)
        self.original_name = type_name(script)
        self.qualname = qualname
        self.hidden = hidden
        self._copies_input = _writes_in_place(script)
        geometry = {} if hidden else leaf_geometry(script)
        for attr in ("kernel_size", "stride", "padding", "dilation", "groups",
                     "transposed"):
            if attr in geometry:
                setattr(self, attr, geometry[attr])
        self._field = None if hidden else _field_rule(self.original_name, geometry, script)

    def forward(self, *args, _method: str = "forward"):
        if self._copies_input:
            args = _clone_tensors(args)
        out = _bound(self.script, _method)(*args)
        _tell_tracker(self._field, args, out)
        return out

    def extra_repr(self) -> str:
        return self.original_name + (f", hidden: {self.hidden}" if self.hidden else "")


def _tell_tracker(rule, args: tuple, out) -> None:
    """Receptive fields: the field tracker does not see inside TorchScript code."""
    tracker = fields.active_tracker()
    if tracker is not None and args and isinstance(args[0], torch.Tensor):
        for t in _tensors_of(out):
            tracker.leaf(rule, args[0], t)


class Replayed(_Standing, nn.Module):
    """A TorchScript module with children, run by replaying its graph: each child is
    called through its own stand-in (so hooks on it fire).

    The root (``root=True``) checks its replayed output against the script's own on
    every call; ``opaque=True`` (a root whose graph cannot be replayed) runs the script."""

    def __init__(self, script: torch.jit.ScriptModule, qualname: str,
                 children: dict[str, nn.Module], root: bool = False,
                 opaque: bool = False) -> None:
        super().__init__()
        _refer(self, script)
        _own_tensors(self, script, recurse=opaque)
        for name, child in children.items():
            self.add_module(name, child)
        self.original_name = type_name(script)
        self.qualname = qualname
        self.root = root
        self.opaque = opaque
        self._copies_input = _writes_in_place(script)
        self._programs: dict[str, _Program] = {}

    def _real(self, method: str, args: tuple):
        if self._copies_input:
            args = _clone_tensors(args)
        with torch.no_grad():
            return _bound(self.script, method)(*args)

    def replay(self, method: str, args: tuple):
        program = self._programs.get(method)
        if program is None:
            fn = _bound(self.script, method)
            program = self._programs[method] = _compile(fn.graph)
            # arguments the caller may leave out, as the script itself fills them in
            program.defaults = [a.default_value if a.has_default_value() else _NO_DEFAULT
                                for a in fn.schema.arguments[1:]]
        if len(args) < len(program.defaults):
            args = tuple(args) + tuple(program.defaults[len(args):])
            if any(a is _NO_DEFAULT for a in args):
                raise Unreplayable("it was called without an argument its graph needs")
        return program.run(self, args)

    def forward(self, *args, _method: str = "forward"):
        state = _STATE
        if self.opaque:
            if self._copies_input:
                args = _clone_tensors(args)
            return _bound(self.script, _method)(*args)
        if not self.root:
            return self._checked(_method, args) if state.strict else \
                self.replay(_method, args)
        # the JIT's optimising executor spends seconds on the first call of each of the
        # many small graphs called here, and measured no faster afterwards
        with torch.jit.optimized_execution(False):
            return self._root_forward(_method, args)

    def _root_forward(self, _method: str, args: tuple):
        state = _STATE
        state.failed = {}
        if state.strict:
            return self._checked(_method, args)
        try:
            out = self.replay(_method, args)
            if same(out, self._real(_method, args)):
                return out
        except Exception:  # noqa: BLE001 - the module-by-module pass below says why
            pass
        # this input took a path the check at build time did not: check each module on
        # its own, so that only the ones that differ are left out
        if state.on_retry is not None:
            state.on_retry()
        state.strict = True
        try:
            return self._checked(_method, args)
        finally:
            state.strict = False

    def _checked(self, method: str, args: tuple):
        try:
            out = self.replay(method, args)
        except Exception as exc:  # noqa: BLE001 - any failure: the module stays opaque
            out, why = None, _why(exc)
        else:
            why = None
        real = self._real(method, args)
        if why is None and same(out, real):
            return out
        _STATE.failed[self.qualname] = why or "its replay differs from its own output"
        _tell_tracker(None, args, real)
        return real

    def extra_repr(self) -> str:
        return self.original_name


def _why(exc: BaseException) -> str:
    if isinstance(exc, Unreplayable):
        return str(exc)
    text = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    detail = text[-1][:100] if text else ""
    return f"its replay failed: {type(exc).__name__}{': ' + detail if detail else ''}"


def _tensors_of(out):
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, (tuple, list)):
        for o in out:
            yield from _tensors_of(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _tensors_of(o)


# --- replaying a graph -------------------------------------------------------------------

def _py_format(fmt, *args):
    return fmt.format(*args)


def _py_append(lst, x):
    lst.append(x)
    return lst


#: ops on plain Python values (ints, lists, strings) that torch.ops cannot take as such
_PY_OPS: dict[str, Callable] = {
    "__getitem__": operator.getitem, "len": len, "__is__": operator.is_,
    "__isnot__": operator.is_not, "__not__": operator.not_, "eq": operator.eq,
    "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
    "ge": operator.ge, "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "floordiv": operator.floordiv, "div": operator.truediv, "neg": operator.neg,
    "remainder": operator.mod, "__and__": operator.and_, "__or__": operator.or_,
    "Int": int, "Float": float, "Bool": bool, "list": list, "append": _py_append,
    "__contains__": lambda c, x: x in c, "format": _py_format, "warn": lambda *a: None,
    "slice": lambda s, start=None, end=None, step=1: s[start:end:step],
    "__range_length": lambda lo, hi, step: max(0, -(-(hi - lo) // step)) if step > 0
    else max(0, -(-(lo - hi) // -step)),
    "__derive_index": lambda i, start, step: start + i * step,
    "min": min, "max": max, "abs": abs,
}

_PRIM_VALUE_OPS: dict[str, Callable] = {
    "prim::unchecked_cast": lambda x: x,
    "prim::Uninitialized": lambda: None,
    "prim::device": lambda t: t.device,
    "prim::dtype": lambda t: t.dtype,
    "prim::is_cuda": lambda t: t.is_cuda,
    "prim::shape": lambda t: list(t.shape),
    "prim::NumToTensor": lambda v: torch.scalar_tensor(v),
    "prim::min": lambda *a: min(*a),
    "prim::max": lambda *a: max(*a),
    "prim::TupleConstruct": lambda *a: tuple(a),
    "prim::ListConstruct": lambda *a: list(a),
    "prim::DictConstruct": lambda *a: dict(zip(a[::2], a[1::2])),
    "prim::TupleIndex": lambda t, i: t[i],
    "prim::Print": lambda *a: None,
    "prim::data": lambda t: t.detach(),
}


def _aten_call(node) -> Callable:
    """A callable that runs the ``aten::`` op of `node` from Python: the exact overload
    of its schema through ``torch.ops.aten`` (keyword-only arguments by name), or plain
    Python for the ops on ints, lists and strings."""
    name = node.kind().split("::", 1)[1]
    py = _PY_OPS.get(name)
    try:
        schema = torch._C.parse_schema(node.schema())
        packet = getattr(torch.ops.aten, name)
        op = getattr(packet, schema.overload_name or "default")
        kw = [a.name if a.kwarg_only else None for a in schema.arguments]
    except (RuntimeError, AttributeError):
        op = kw = None
    if op is None and py is None:
        raise Unreplayable(f"it uses {node.kind()}, which cannot be replayed")
    inplace = name.endswith("_") and not name.endswith("__")

    def call(*args):
        # ints, lists (of tensors too: DenseNet's features.append(x)), strings: Python
        if py is not None and args and not isinstance(args[0], torch.Tensor):
            return py(*args)
        if op is None:
            raise Unreplayable(f"it uses {node.kind()} on tensors")
        if inplace and args and isinstance(args[0], torch.Tensor):
            # the input may be a layer's output that is shown: change a copy instead
            args = (args[0].clone(),) + tuple(args[1:])
        pos, named = [], {}
        for name_, value in zip(kw, args):
            if name_ is None:
                pos.append(value)
            else:
                named[name_] = value
        return op(*pos, **named)

    return call


#: where a ``prim::CallFunction`` may lead: TorchScript functions that torch and
#: torchvision compile from their own Python code (F.relu, channel_shuffle, ...)
_FUNCTION_MODULES = ("torch.nn.functional", "torch.functional")
_FUNCTION_PACKAGES = ("torchvision.models.", "torchvision.ops.")


def _torch_function(node) -> Callable:
    """The Python function behind a ``prim::CallFunction``: one that torch or torchvision
    compiled from their own code (``torch.nn.functional.relu``), found in a module this
    process has already imported. A file names its functions as it likes, so nothing
    is imported for it and nothing outside those homes is called; the replay is checked
    against the script's own output anyway."""
    qual = str(next(iter(node.inputs())).type())
    parts = [p for p in qual.split(".") if not p.startswith("___torch_mangle")]
    if parts[:1] == ["__torch__"]:
        parts = parts[1:]
    name = ".".join(parts)
    home = ".".join(parts[:-1])
    module = sys.modules.get(home)
    fn = getattr(module, parts[-1], None) if module is not None else None
    if not (home in _FUNCTION_MODULES or home.startswith(_FUNCTION_PACKAGES)) or \
            not inspect.isfunction(fn):
        raise Unreplayable(f"it calls {name}, which cannot be replayed")
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    if "inplace" not in params:
        return fn
    where = params.index("inplace")

    def call(*args):
        if len(args) > where and args[where]:
            # F.relu(x, inplace=True) would overwrite a layer's output that is shown
            args = _clone_tensors(args)
        return fn(*args)

    return call


@dataclass
class _Step:
    kind: str
    ins: tuple[int, ...]
    outs: tuple[int, ...]
    data: Any = None
    blocks: list[_Program] = field(default_factory=list)


_NO_DEFAULT = object()


@dataclass
class _Program:
    """A compiled graph or block: steps over value ids."""

    params: tuple[int, ...]
    steps: list[_Step]
    returns: tuple[int, ...]
    #: default values of a method's arguments after self (_NO_DEFAULT: none)
    defaults: list = field(default_factory=list)

    def run(self, owner: Replayed, args: tuple):
        env: dict[int, Any] = {self.params[0]: owner}
        if len(args) != len(self.params) - 1:
            raise Unreplayable("it was called with other arguments than its graph takes")
        env.update(zip(self.params[1:], args))
        _run_steps(self.steps, env, owner)
        outs = tuple(env[i] for i in self.returns)
        return outs[0] if len(outs) == 1 else outs


def _compile_block(block, params) -> _Program:
    steps = []
    for node in block.nodes():
        kind = node.kind()
        ins = tuple(v.unique() for v in node.inputs())
        outs = tuple(v.unique() for v in node.outputs())
        step = _Step(kind, ins, outs)
        if kind == "prim::Constant":
            out = node.output()
            if out.type().kind() == "FunctionType":
                step.data = None  # only ever the first input of a prim::CallFunction
            else:
                step.data = out.toIValue()
        elif kind in ("prim::GetAttr", "prim::CallMethod"):
            step.data = node.s("name")
        elif kind == "prim::CallFunction":
            step.data = _torch_function(node)
        elif kind in ("prim::If", "prim::Loop"):
            step.blocks = [_compile_block(b, tuple(v.unique() for v in b.inputs()))
                           for b in node.blocks()]
        elif kind in ("prim::TupleUnpack", "prim::ListUnpack", "prim::RaiseException"):
            pass
        elif kind in _PRIM_VALUE_OPS:
            step.data = _PRIM_VALUE_OPS[kind]
        elif kind.startswith("aten::"):
            step.data = _aten_call(node)
        else:
            raise Unreplayable(f"its graph uses {kind}, which cannot be replayed")
        steps.append(step)
    ret = block.returnNode() if hasattr(block, "returnNode") else block.return_node()
    returns = tuple(v.unique() for v in ret.inputs())
    return _Program(tuple(params), steps, returns)


def _compile(graph) -> _Program:
    return _compile_block(graph, tuple(v.unique() for v in graph.inputs()))


def _get_attr(obj, name: str):
    if isinstance(obj, (Replayed, ScriptLeaf)):
        child = obj._modules.get(name)
        if child is not None:
            return child
        return getattr(obj.script, name)
    return getattr(obj, name)


def _run_block(program: _Program, env: dict, owner: Replayed, args) -> tuple:
    env.update(zip(program.params, args))
    _run_steps(program.steps, env, owner)
    return tuple(env[i] for i in program.returns)


def _run_steps(steps: list[_Step], env: dict, owner: Replayed) -> None:
    for step in steps:
        kind = step.kind
        if kind == "prim::Constant":
            env[step.outs[0]] = step.data
            continue
        args = [env[i] for i in step.ins]
        if kind == "prim::GetAttr":
            env[step.outs[0]] = _get_attr(args[0], step.data)
        elif kind == "prim::CallMethod":
            obj, method = args[0], step.data
            if obj is owner:
                out = owner.replay(method, tuple(args[1:]))
            elif isinstance(obj, (Replayed, ScriptLeaf)):
                out = obj(*args[1:]) if method == "forward" else \
                    obj(*args[1:], _method=method)
            else:
                out = _bound(obj, method)(*args[1:])
            _bind(step, env, out)
        elif kind == "prim::CallFunction":
            _bind(step, env, step.data(*args[1:]))
        elif kind == "prim::If":
            block = step.blocks[0] if args[0] else step.blocks[1]
            _bind(step, env, _run_block(block, env, owner, ()), many=True)
        elif kind == "prim::Loop":
            trips, go, carried = args[0], args[1], tuple(args[2:])
            body = step.blocks[0]
            i = 0
            while go and i < trips:
                result = _run_block(body, env, owner, (i,) + carried)
                go, carried = result[0], tuple(result[1:])
                i += 1
            _bind(step, env, carried, many=True)
        elif kind in ("prim::TupleUnpack", "prim::ListUnpack"):
            _bind(step, env, tuple(args[0]), many=True)
        elif kind == "prim::RaiseException":
            raise Unreplayable(f"its code raised {args[0]!r}"[:120])
        else:
            _bind(step, env, step.data(*args))


def _bind(step: _Step, env: dict, out, many: bool = False) -> None:
    if not many:
        if step.outs:
            env[step.outs[0]] = out
        return
    out = tuple(out)
    if len(out) != len(step.outs):
        raise Unreplayable(f"{step.kind} gave {len(out)} values, not {len(step.outs)}")
    env.update(zip(step.outs, out))


# --- building the stand-in ---------------------------------------------------------------

@dataclass
class StandIn:
    """An eager stand-in for a TorchScript module, checked on one input.

    ``module``: the root (:class:`Replayed`), whose submodules carry the script's names;
    ``hidden``: the modules kept opaque, name -> why (outermost only); ``note``: one line
    for the person, or None when every layer was reached."""

    module: Replayed
    hidden: dict[str, str]
    note: str | None


def _build(script, qualname: str, hidden: dict[str, str], root: bool = False):
    if root and qualname in hidden:
        return Replayed(script, qualname, {}, root=True, opaque=True)
    if qualname in hidden:
        return ScriptLeaf(script, qualname, hidden[qualname])
    kids = list(script.named_children())
    if not kids and not root:
        return ScriptLeaf(script, qualname)
    children = {n: _build(c, f"{qualname}.{n}" if qualname else n, hidden)
                for n, c in kids}
    return Replayed(script, qualname, children, root=root)


def unscript(script: torch.jit.ScriptModule, *example: torch.Tensor,
             run: Callable[[nn.Module], Any] | None = None) -> StandIn:
    """Build the eager stand-in of `script` and check it on `example` (e.g. x
    (Tensor[1, C, H, W])): every module whose replay fails or differs from its own output
    is made opaque. ``run(module)``, when given, makes the checking pass (with hooks or a
    field tracker of the caller's) instead of ``module(*example)``; it runs again after
    a module had to be made opaque. Errors of the script itself propagate."""
    hidden: dict[str, str] = {}
    for _ in range(8):
        module = _build(script, "", hidden, root=True)
        state = _STATE
        before = state.strict, state.on_retry
        state.strict, state.on_retry = True, None
        try:
            with torch.no_grad(), torch.jit.optimized_execution(False):
                if run is not None:
                    run(module)
                else:
                    module(*example)
        finally:
            state.strict, state.on_retry = before
        failed = dict(state.failed)
        if not failed:
            break
        for name, why in failed.items():
            if not any(name.startswith(h + ".") or h == "" for h in hidden):
                hidden[name] = why
    outer = {n: w for n, w in hidden.items()
             if not any(n != h and (h == "" or n.startswith(h + ".")) for h in hidden)}
    return StandIn(module, outer, hidden_note(outer))


def hidden_note(hidden: dict[str, str]) -> str | None:
    """One line that says which modules a TorchScript file keeps opaque, and why."""
    if not hidden:
        return None
    if "" in hidden:
        return (f"this TorchScript file hides every layer ({hidden['']}); only its "
                "output is shown")
    names = sorted(hidden)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    reasons = sorted(set(hidden.values()))
    why = reasons[0] if len(reasons) == 1 else f"{reasons[0]}, ..."
    one = len(names) == 1
    return (f"this TorchScript file hides the inside of {shown} ({why}); "
            f"{'its' if one else 'their'} output{'' if one else 's'} and the layers "
            f"around {'it' if one else 'them'} are shown")


def call(standin: nn.Module, *args, on_retry: Callable[[], None] | None = None):
    """Run the stand-in's root on args and return (output, hidden_now): the output
    checked against the script's own, and the modules whose replay could not be used
    for this input (their own outputs and those around them are right; what is inside
    them is not). ``on_retry`` is called before a second, module-by-module pass."""
    state = _STATE
    before = state.on_retry
    state.on_retry = on_retry
    try:
        out = standin(*args)
    finally:
        state.on_retry = before
    return out, dict(state.failed)


def find(standin: nn.Module, name: str) -> nn.Module | None:
    """The stand-in's submodule called `name` ("" is the root), or None."""
    return dict(standin.named_modules()).get(name)
