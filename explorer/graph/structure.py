"""The architecture as a graph: nodes (layers and the functions between them), the edges
tensors travel along, and the blocks nodes belong to, which can be collapsed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

from explorer.errors import UserError


@dataclass
class Node:
    """One step of the forward pass.

    ``op`` is the module type for a layer (``Conv2d``), the function or method for
    anything else (``add``, ``cat``, ``flatten``), ``input`` or ``output`` at the ends,
    and the block's type for a collapsed block. ``shape`` is the output without the batch
    dimension (``(64, 56, 56)``), None where unknown.
    """

    name: str  # unique in the graph (torch.fx's node name, or the block path)
    op: str
    kind: str  # "input" | "module" | "function" | "method" | "output" | "block" | "layer"
    shape: tuple[int, ...] | None
    params: int = 0
    #: the layer name (``named_modules``) this node runs, or None for a function
    module: str | None = None
    #: the innermost block holding this node ("" at the top level), e.g. "layer1.0"
    block: str = ""
    #: receptive field in input pixels and jump, for layers the explorer describes
    rf: int | None = None
    jump: float | None = None
    rf_global: bool = False
    #: position from the layout, in layout units (one unit between neighbours in a row,
    #: one per row from the top)
    x: float | None = None
    y: float | None = None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape) if self.shape is not None else None
        return d


@dataclass
class Block:
    """A module with children (a ResNet BasicBlock, an Inception module, a U-Net level)."""

    path: str
    op: str  # its type, e.g. "BasicBlock"
    params: int
    shape: tuple[int, ...] | None = None
    rf: int | None = None
    jump: float | None = None

    @property
    def parent(self) -> str:
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""

    @property
    def depth(self) -> int:
        return self.path.count(".")


@dataclass
class Graph:
    """Nodes in the order the forward pass runs them; ``edges`` as (from, to) names.

    After a layout, ``routes[i]`` holds the bend points of ``edges[i]`` (empty for a
    straight edge) and ``routed[i]`` says whether the layout placed that edge (very long
    edges, such as DenseNet's concatenations of every earlier layer, are drawn directly).
    """

    name: str
    nodes: list[Node]
    edges: list[tuple[str, str]]
    blocks: dict[str, Block] = field(default_factory=dict)
    input_size: tuple[int, int] | None = None
    #: "fx" when torch.fx traced the network, "chain" for the named_modules fallback
    method: str = "fx"
    #: one sentence when the graph is less than the real data flow (the chain fallback)
    note: str | None = None
    collapsed: tuple[str, ...] = ()
    routes: list[list[tuple[float, float]]] = field(default_factory=list)
    routed: list[bool] = field(default_factory=list)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def edge_shape(self, edge: tuple[str, str]) -> tuple[int, ...] | None:
        """The shape of the tensor along `edge`: its source's output."""
        return self.node(edge[0]).shape

    def members(self, block: str) -> list[Node]:
        """The nodes inside `block` (at any depth)."""
        return [n for n in self.nodes if _inside(n, block)]

    def as_dict(self) -> dict:
        shapes = {n.name: n.shape for n in self.nodes}
        return {
            "name": self.name,
            "method": self.method,
            "note": self.note,
            "input_size": list(self.input_size) if self.input_size else None,
            "collapsed": list(self.collapsed),
            "nodes": [n.as_dict() for n in self.nodes],
            "edges": [[a, b] for a, b in self.edges],
            "edge_shapes": [list(shapes[a]) if shapes.get(a) is not None else None
                            for a, _ in self.edges],
            "blocks": [{"path": b.path, "op": b.op, "params": b.params,
                        "shape": list(b.shape) if b.shape else None}
                       for b in self.blocks.values()],
        }


def _within(path: str | None, block: str) -> bool:
    return bool(path) and (path == block or path.startswith(block + "."))


def _inside(node: Node, block: str) -> bool:
    if node.kind in ("input", "output"):
        return False
    return _within(node.module, block) or _within(node.block, block)


def collapse(graph: Graph, blocks: Iterable[str], *, layout: bool = True) -> Graph:
    """`graph` with each of `blocks` (module paths such as ``layer1.0``) drawn as one node.

    A block inside another chosen block disappears into the outer one. The new node takes
    the block's type, parameter count and output shape; edges into and out of the block
    are kept (once each) and edges inside it vanish. The result is laid out again unless
    `layout` is False.

    Raises:
        UserError: a name that is not a block of this graph.
    """
    chosen = list(dict.fromkeys(blocks))
    unknown = [b for b in chosen if b not in graph.blocks]
    if unknown:
        some = ", ".join(list(graph.blocks)[:6]) or "none"
        raise UserError(f"{unknown[0]!r} is not a block of {graph.name} (blocks include "
                        f"{some})")
    # outermost first, so that a chosen block inside another one is absorbed by it
    chosen = [b for b in chosen if not any(o != b and _within(b, o) for o in chosen)]
    owner: dict[str, str] = {}
    for n in graph.nodes:
        for b in chosen:
            if _inside(n, b):
                owner[n.name] = b
                break
    taken = {n.name for n in graph.nodes}
    label = {b: (b if b not in taken else f"block:{b}") for b in chosen}
    nodes: list[Node] = []
    placed: set[str] = set()
    last_shape: dict[str, tuple[int, ...] | None] = {}
    for n in graph.nodes:
        b = owner.get(n.name)
        if b is None:
            nodes.append(replace(n, x=None, y=None))
            continue
        last_shape[b] = n.shape
        if b not in placed:
            placed.add(b)
            info = graph.blocks[b]
            nodes.append(Node(name=label[b], op=info.op, kind="block", shape=info.shape,
                              params=info.params, module=b, block=info.parent,
                              rf=info.rf, jump=info.jump))
    for node in nodes:  # a block the layer table did not describe: its last node's shape
        if node.kind == "block" and node.shape is None:
            node.shape = last_shape.get(node.module)
    rename = {name: label[b] for name, b in owner.items()}
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for a, b in graph.edges:
        e = (rename.get(a, a), rename.get(b, b))
        if e[0] != e[1] and e not in seen:
            seen.add(e)
            edges.append(e)
    out = Graph(name=graph.name, nodes=nodes, edges=edges, blocks=graph.blocks,
                input_size=graph.input_size, method=graph.method, note=graph.note,
                collapsed=tuple(sorted(set(graph.collapsed) | set(chosen))))
    if layout:
        from explorer.graph.layout import layout_graph

        layout_graph(out)
    return out


def blocks_at_depth(graph: Graph, depth: int) -> list[str]:
    """The block paths with `depth` dots (0: ``layer1``, 1: ``layer1.0``), for collapsing
    a whole network at one level."""
    return [p for p, b in graph.blocks.items() if b.depth == depth]


def subgraph(graph: Graph, block: str, *, layout: bool = True) -> Graph:
    """The inside of `block` (a module path such as ``inception3a``) as a graph of its
    own, as the lecture draws an Inception module or a residual block: its nodes, an
    input node for each tensor that comes in from outside (named after where it comes
    from) and one output node.

    Raises:
        UserError: a name that is not a block of this graph.
    """
    if block not in graph.blocks:
        some = ", ".join(list(graph.blocks)[:6]) or "none"
        raise UserError(f"{block!r} is not a block of {graph.name} (blocks include {some})")
    inside = {n.name for n in graph.members(block)}
    nodes: list[Node] = []
    edges: list[tuple[str, str]] = []
    outside: dict[str, str] = {}
    for a, b in graph.edges:
        if b in inside and a not in inside and a not in outside:
            source = graph.node(a)
            outside[a] = f"input:{a}"
            nodes.append(Node(name=outside[a], op="input", kind="input", shape=source.shape,
                              module=None, block=""))
    nodes += [replace(n, x=None, y=None) for n in graph.nodes if n.name in inside]
    leaves: list[str] = []
    for a, b in graph.edges:
        if b in inside and a in outside:
            edges.append((outside[a], b))
        elif a in inside and b in inside:
            edges.append((a, b))
        elif a in inside and b not in inside and a not in leaves:
            leaves.append(a)
    info = graph.blocks[block]
    if leaves:
        nodes.append(Node(name=f"output:{block}", op="output", kind="output",
                          shape=info.shape or graph.node(leaves[-1]).shape))
        edges += [(a, f"output:{block}") for a in leaves]
    blocks = {p: b for p, b in graph.blocks.items() if p == block or p.startswith(block + ".")}
    out = Graph(name=f"{graph.name} {block}", nodes=nodes, edges=edges, blocks=blocks,
                input_size=graph.input_size, method=graph.method, note=graph.note)
    if layout:
        from explorer.graph.layout import layout_graph

        layout_graph(out)
    return out
