"""The data flow of a network, from torch.fx.

:func:`build_graph` traces the network symbolically with every module that has children
traced *through* (so a ResNet block's addition and an Inception module's concatenation
are nodes of their own) and every module without children kept as one node. A shape pass
on the meta device (no arithmetic, no memory) gives each node its output shape. A network
torch.fx cannot trace (control flow that depends on the data, TorchScript) becomes its
layers in ``named_modules`` order, joined as a chain, and the graph says so.
"""

from __future__ import annotations

import copy
import operator
import sys
import warnings
from collections.abc import Iterable

import torch
from torch import fx, nn

from explorer.core.fx_safe import ThreadTracer
from explorer.core.network import Network
from explorer.core.trace import first_tensor
from explorer.graph.structure import Block, Graph, Node

#: how many times a module that stops the trace is made a leaf before giving up
_MAX_RETRIES = 8

_FUNCTION_NAMES = {operator.iadd: "add", operator.isub: "sub", operator.imul: "mul",
                   operator.itruediv: "truediv"}


class _Tracer(ThreadTracer):
    """Modules without children are leaves; every module with children (torchvision's
    blocks, Sequential) is traced through so its branches show. torch.nn's own composite
    modules (MultiheadAttention, ...) stay leaves, as torch.fx's default has them, and so
    does any module in `extra_leaves` (one that could not be traced through)."""

    def __init__(self, extra_leaves: Iterable[str] = ()):
        # timm marks the modules and functions torch.fx cannot trace through; when a timm
        # network is open, timm is imported and its lists apply
        timm_fx = sys.modules.get("timm.layers._fx")
        self.leaf_types = tuple(timm_fx.get_notrace_modules()) if timm_fx else ()
        wrap = tuple(f for f in (timm_fx.get_notrace_functions() if timm_fx else ())
                     if callable(f))
        super().__init__(autowrap_functions=wrap)
        self.extra_leaves = set(extra_leaves)

    # trace, call_module and getattr come from ThreadTracer: the window draws a graph in
    # a worker while other threads run networks, which must not become nodes of it

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if (qualname in self.extra_leaves or next(iter(m.children()), None) is None
                or isinstance(m, self.leaf_types)):
            return True
        return super().is_leaf_module(m, qualname)


def build_graph(network: Network | nn.Module, input_size: tuple[int, int] | None = None,
                *, layout: bool = True) -> Graph:
    """The graph of `network` at `input_size` (H, W; default the network's own).

    Every node has its output shape (without the batch dimension), its parameter count,
    the layer it runs (``module``, a name from ``named_modules``) and the block that holds
    it; layers also get their receptive field from :func:`explorer.core.trace.layer_table`.
    With `layout` the nodes get x, y from :func:`explorer.graph.layout.layout_graph`.
    """
    if isinstance(network, nn.Module):
        from explorer.nets.formats import network_from_module

        network = network_from_module(network, input_size=input_size)
    size = tuple(input_size or network.input_size)
    table = _table(network, size)
    module = network.module
    x = torch.zeros(1, network.in_channels, *size)
    try:
        gm, leaves = _trace(_exported_graph(network) or module)
    except Exception as exc:  # noqa: BLE001 - any failure to trace means: use the chain
        graph = _chain(network, size, table, _reason(exc))
    else:
        shapes, note = _shapes(gm, x, network.device)
        graph = _from_fx(gm, shapes, network, size, table)
        if note or leaves:
            graph.note = note or (f"{', '.join(sorted(leaves)[:3])} could not be traced "
                                  "through and each shows as one node.")
    if layout:
        from explorer.graph.layout import layout_graph

        layout_graph(graph)
    return graph


# --- tracing -------------------------------------------------------------------------

def _exported_graph(network: Network) -> fx.GraphModule | None:
    """A torch.export program opened with its layers (``torch.export.unflatten``) is
    drawn from its one flat graph of aten operators, read again from its file: that graph
    holds the branches, and each node remembers its layer."""
    path = network.weights_path or ""
    if not path.lower().endswith(".pt2") or isinstance(network.module, fx.GraphModule):
        return None
    from explorer.nets.formats import open_exported_graph

    try:
        return open_exported_graph(path)
    except Exception:  # noqa: BLE001 - the file changed since: trace the module itself
        return None


def _trace(module: nn.Module) -> tuple[fx.GraphModule, set[str]]:
    """`module` as an fx.GraphModule, and the modules that had to be made leaves."""
    if isinstance(module, fx.GraphModule):
        # ONNX conversions and torch.export programs are graphs already; their node
        # metadata (torch.export's nn_module_stack) is worth keeping
        return module, set()
    if isinstance(module, torch.jit.ScriptModule):
        raise TypeError("it is a TorchScript module")
    leaves: set[str] = set()
    for _ in range(_MAX_RETRIES + 1):
        tracer = _Tracer(leaves)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = tracer.trace(module)
        except Exception:
            # the module being traced through when it failed: try it as a leaf
            stack = [v[0] for v in tracer.module_stack.values() if v and v[0]]
            culprit = stack[-1] if stack else None
            if not culprit or culprit in leaves:
                raise
            leaves.add(culprit)
            continue
        return fx.GraphModule(tracer.root, graph, type(module).__name__), leaves
    raise RuntimeError("too many modules could not be traced through")


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.split(" While executing")[0]  # torch.fx appends the node, unreadably
    return text.split(". ")[0][:120]


def _shapes(gm: fx.GraphModule, x: torch.Tensor, device: torch.device
            ) -> tuple[dict[fx.Node, tuple[int, ...] | None], str | None]:
    """Each node's output shape (None for a value that is not a tensor), from a pass on
    the meta device (shapes without arithmetic), else on real zeros; the nodes the pass
    never reached are missing. Also a note when it stopped early."""
    meta = _ShapePass(gm, meta=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta.run(x.to("meta"))
        return meta.shapes, None
    except Exception:  # noqa: BLE001 - an op without a meta kernel: run it for real
        pass
    real = _ShapePass(gm, meta=False)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            real.run(x.to(device))
        return real.shapes, None
    except Exception as exc:  # noqa: BLE001
        best = max(meta, real, key=lambda p: len(p.shapes))
        at = f" from {best.failed.name} on" if best.failed is not None else ""
        inputs = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
        if len(inputs) > 1:  # a detector's head also takes boxes: the error would be a
            # NoneType's, which says nothing to a person
            return best.shapes, (f"Shapes{at} are unknown: the network takes "
                                 f"{len(inputs)} inputs ({', '.join(inputs)}) and the "
                                 "graph was run on a picture alone.")
        return best.shapes, (f"Shapes{at} are unknown because the graph could not run on "
                             f"a test input ({_reason(exc)}).")


def _same_shape_types() -> tuple[type, ...]:
    from torch.nn.modules import activation, batchnorm, dropout

    acts = [getattr(activation, n) for n in activation.__all__
            if n not in ("MultiheadAttention", "GLU")]
    return (batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm,
            nn.Identity, dropout._DropoutNd, *acts)


#: layers whose output has their input's shape: the meta pass skips their arithmetic
#: (a batch norm's decomposition on the meta device costs more than a real one)
_SAME_SHAPE = _same_shape_types()


class _ShapePass(fx.Interpreter):
    """torch.fx's ShapeProp, quieter and safer: it records each node's output shape as it
    goes (so a failure keeps the shapes before it, and prints no traceback), calls each
    layer's ``forward`` directly so that hooks someone else put on the network (a trace in
    progress) never see it, and with `meta` runs copies of the layers whose parameters
    live on the meta device, leaving the network's own tensors untouched."""

    def __init__(self, gm: fx.GraphModule, meta: bool):
        super().__init__(gm)
        self.meta = meta
        self.shapes: dict[fx.Node, tuple[int, ...] | None] = {}
        self.failed: fx.Node | None = None
        self._copies: dict[str, nn.Module] = {}

    def run(self, *args):
        # Interpreter.run makes a tqdm bar even when progress is off, and tqdm starts its
        # monitor thread for any bar: a thread the window would leave running. This is
        # its loop without the bar, freeing each value after its last use as it does.
        self.env = {}
        self.args_iter = iter(self.graph.process_inputs(*args))
        for node in self.graph.nodes:
            self.env[node] = self.run_node(node)
            for used in self.user_to_last_uses.get(node, []):
                del self.env[used]
            if node.op == "output":
                return self.graph.process_outputs(self.env[node])
        return None

    def run_node(self, n: fx.Node):
        try:
            result = super().run_node(n)
        except Exception:
            self.failed = n
            raise
        t = first_tensor(result)
        self.shapes[n] = tuple(t.shape) if t is not None else None
        return result

    def get_attr(self, target, args, kwargs):
        value = super().get_attr(target, args, kwargs)
        return value.to("meta") if self.meta and isinstance(value, torch.Tensor) else value

    def call_module(self, target, args, kwargs):
        m = self.fetch_attr(target)
        if (self.meta and isinstance(m, _SAME_SHAPE) and len(args) == 1 and not kwargs
                and isinstance(args[0], torch.Tensor)):
            return torch.empty_like(args[0])
        if self.meta:
            m = self._copies[target] if target in self._copies else self._meta_copy(target, m)
        return m.forward(*args, **kwargs)

    def _meta_copy(self, target: str, m: nn.Module) -> nn.Module:
        # a shallow copy with its own parameter and buffer dicts: the network's own
        # tensors are neither copied nor touched
        c = copy.copy(m)
        c._parameters = {k: None if v is None else nn.Parameter(v.detach().to("meta"),
                                                               v.requires_grad)
                         for k, v in m._parameters.items()}
        c._buffers = {k: None if v is None else v.to("meta") for k, v in m._buffers.items()}
        self._copies[target] = c
        return c


def _op_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target)
    target = node.target
    if target in _FUNCTION_NAMES:
        return _FUNCTION_NAMES[target]
    if isinstance(target, torch._ops.OpOverload):  # torch.export's aten.conv2d.default
        return target._schema.name.split("::")[-1]
    return getattr(target, "__name__", str(target)).split(".")[0]


def _stack(node: fx.Node) -> list[tuple[str, str]]:
    """(path, type name) of the modules the node ran inside, outermost first."""
    out = []
    for value in (node.meta.get("nn_module_stack") or {}).values():
        path, typ = value[0], value[1]
        name = typ.__name__ if isinstance(typ, type) else str(typ).rsplit(".", 1)[-1]
        if path and (not out or out[-1][0] != path):
            out.append((path, name))
    return out


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def _from_fx(gm: fx.GraphModule, shapes: dict, network: Network, size, table) -> Graph:
    modules = dict(network.module.named_modules())
    stacks = {n: _stack(n) for n in gm.graph.nodes}
    # a module no other module ran inside is a layer; torch.export keeps that in its
    # nn_module_stack even for the layers without parameters, which it does not keep
    outer = {p for st in stacks.values() for p, _ in st[:-1]}
    types: dict[str, str] = {}
    nodes: list[Node] = []
    kept: dict[fx.Node, Node] = {}
    feeds: dict[fx.Node, set[fx.Node]] = {}
    edges: list[tuple[str, str]] = []
    for n in gm.graph.nodes:
        for path, typ in stacks[n]:
            types.setdefault(path, typ)
        full = shapes.get(n)
        inputs = [a for a in n.all_input_nodes if a.op != "get_attr"]
        tensor = full is not None or n not in shapes  # not reached: shown, shape unknown
        if n.op == "get_attr" or (not tensor and n.op not in ("placeholder", "output")):
            # parameters and non-tensor values (sizes, None) are not steps of the data
            # flow; a tensor computed from them still hangs on what they came from
            feeds[n] = set().union(*(feeds.get(a, set()) for a in inputs))
            continue
        shape = tuple(full[1:]) if full else (() if full is not None else None)
        params = sum(_numel(gm, a.target) for a in n.all_input_nodes if a.op == "get_attr")
        module, block = None, ""
        if n.op == "placeholder":
            kind, op = "input", "input"
            if shape is None and not nodes:  # the image, if even that did not run
                shape = (network.in_channels, *size)
        elif n.op == "output":
            kind, op = "output", "output"
        elif n.op == "call_module":
            kind, module = "module", str(n.target)
            sub = gm.get_submodule(module)
            op = type(sub).__name__
            params += sum(p.numel() for p in sub.parameters())
            block = _parent(module)
        else:
            kind, op = ("method" if n.op == "call_method" else "function"), _op_name(n)
            inner = stacks[n][-1][0] if stacks[n] else ""
            if inner and inner not in outer:  # torch.export: the aten op of a layer
                module, block = inner, _parent(inner)
            else:
                block = inner
        node = Node(name=n.name, op=op, kind=kind, shape=shape, params=params,
                    module=module, block=block)
        info = table.get(module) if module else None
        if info is not None:
            node.rf, node.jump, node.rf_global = info.rf, info.jump, info.rf_global
        kept[n] = node
        nodes.append(node)
        feeds[n] = {n}
        sources: dict[fx.Node, None] = {}
        for a in inputs:
            for s in sorted(feeds.get(a, ()), key=lambda s: s.name):
                sources[s] = None
        edges += [(kept[s].name, node.name) for s in sources]
    blocks = _blocks(nodes, modules, types, table)
    return Graph(name=network.name, nodes=nodes, edges=edges, blocks=blocks,
                 input_size=size, method="fx")


def _numel(gm: fx.GraphModule, target: str) -> int:
    try:
        value = gm.get_parameter(target)
    except AttributeError:
        return 0  # a buffer or a constant is not a learned parameter
    return value.numel()


def _blocks(nodes: list[Node], modules: dict[str, nn.Module], types: dict[str, str],
            table) -> dict[str, Block]:
    paths: dict[str, None] = {}
    for n in nodes:
        p = n.block
        while p:
            paths[p] = None
            p = _parent(p)
    blocks = {}
    for p in sorted(paths, key=lambda p: (p.count("."), 0)):
        m = modules.get(p)
        op = types.get(p) or (type(m).__name__ if m is not None else "block")
        info = table.get(p)
        blocks[p] = Block(p, op, sum(q.numel() for q in m.parameters()) if m else 0,
                          info.out_shape if info else None,
                          info.rf if info else None, info.jump if info else None)
    order = {p: i for i, p in enumerate(dict.fromkeys(n.block for n in nodes))}
    return dict(sorted(blocks.items(), key=lambda kv: (kv[1].depth, order.get(kv[0], 0))))


# --- the fallback --------------------------------------------------------------------

def _table(network: Network, size) -> dict:
    from explorer.core.trace import layer_table

    try:
        return {info.name: info for info in layer_table(network, size)}
    except Exception:  # noqa: BLE001 - e.g. TorchScript modules take no hooks
        return {}


def _chain(network: Network, size, table: dict, reason: str) -> Graph:
    module = network.module
    modules = dict(module.named_modules())
    names = [p for p, m in modules.items()
             if p and next(iter(m.children()), None) is None
             and (not table or p in table)]
    nodes = [Node("input", "input", "input", (network.in_channels, *size))]
    for p in names:
        info = table.get(p)
        m = modules[p]
        nodes.append(Node(name=p, op=info.type if info else _script_type(m), kind="layer",
                          shape=info.out_shape if info else None,
                          params=sum(q.numel() for q in m.parameters()), module=p,
                          block=_parent(p), rf=info.rf if info else None,
                          jump=info.jump if info else None,
                          rf_global=info.rf_global if info else False))
    out_shape = nodes[-1].shape if len(nodes) > 1 else None
    nodes.append(Node("output", "output", "output", out_shape))
    edges = [(a.name, b.name) for a, b in zip(nodes, nodes[1:])]
    blocks = _blocks(nodes, modules, {}, table)
    note = (f"torch.fx could not trace this network ({reason}), so the graph shows its "
            "layers as a chain in named_modules order, without its branches.")
    return Graph(name=network.name, nodes=nodes, edges=edges, blocks=blocks,
                 input_size=size, method="chain", note=note)


def _script_type(m: nn.Module) -> str:
    name = getattr(m, "original_name", None)  # TorchScript keeps the Python class name
    return name or type(m).__name__
