"""Top-to-bottom layered layout of a graph, by igraph's Sugiyama layout.

igraph places nodes in rows and orders each row to cut few crossings, adding a bend
point per row for every edge that spans several. DenseNet concatenates every earlier
layer of a dense block, so its edges span hundreds of rows (densenet201: 182,000 bend
points, several seconds, and a drawing as wide as it is tall): the layout is given every
edge that joins neighbouring rows (each node has one, so the rows are those of the full
graph) and the longer edges, shortest first, while their bend points stay within a
budget of two per node. ResNet's, Inception's, U-Net's and squeeze-excitation's skips
all fit; a DenseNet keeps its concatenations of the previous layer or two. The edges
left out are drawn directly from one node to the other and marked ``routed = False``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from explorer.graph.structure import Graph

if TYPE_CHECKING:
    import igraph

#: bend points the layout may add for long edges, per node and in all (densenet121
#: would need 26,852 for every edge)
BENDS_PER_NODE = 2
MAX_BENDS = 4000


def layout_graph(graph: Graph, *, max_bends: int | None = None, maxiter: int = 100
                 ) -> Graph:
    """Give every node of `graph` x, y (in place, and return it).

    y is the row (0 at the top, the input); x is in units of the minimum gap between
    neighbours in a row, starting at 0. ``graph.routes`` gets each edge's bend points.
    `max_bends` (default: two per node, at least 200, at most 4000) bounds the bend
    points of the long edges the layout places.
    """
    # imported here: igraph pulls in matplotlib (seconds), and the window imports this
    # module while it starts (issue 17)
    import igraph

    if max_bends is None:
        max_bends = min(MAX_BENDS, max(200, BENDS_PER_NODE * len(graph.nodes)))
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    pairs = [(index[a], index[b]) for a, b in graph.edges]
    full = igraph.Graph(n=len(graph.nodes), edges=pairs, directed=True)
    if not graph.nodes:
        graph.routes, graph.routed = [], []
        return graph
    if full.is_dag():
        rows = _longest_path_rows(full)
        span = [rows[b] - rows[a] for a, b in pairs]
        count = Counter(span)
        longest, bends = 1, 0
        for s in sorted(count):
            bends += max(s - 1, 0) * count[s]
            if bends > max_bends:
                break
            longest = s
        keep = [s <= longest for s in span]
    else:  # a collapsed block can close a loop; igraph breaks cycles itself
        rows, keep = None, [True] * len(pairs)
    kept = [p for p, k in zip(pairs, keep) if k]
    g = igraph.Graph(n=len(graph.nodes), edges=kept, directed=True)
    lay = g.layout_sugiyama(layers=rows, maxiter=maxiter)
    coords = [list(map(float, c)) for c in lay.coords[:len(graph.nodes)]]
    bends = [[list(map(float, p)) for p in points] for points in lay.edge_routing]
    _separate(coords, bends)
    x0 = min(c[0] for c in coords)
    for node, (x, y) in zip(graph.nodes, coords):
        node.x, node.y = x - x0, y
    routing = iter(bends)
    graph.routes, graph.routed = [], []
    for k in keep:
        points = next(routing) if k else []
        graph.routes.append([(px - x0, py) for px, py in points])
        graph.routed.append(k)
    return graph


def _separate(coords: list[list[float]], bends: list[list[list[float]]]) -> None:
    """Push apart what igraph left too close in a row (in place).

    igraph balances four Brandes-Köpf placements by averaging, which can bring two
    neighbours closer than the gap it was asked for (googlenet's Inception branches
    overlapped by half a box). Each row keeps igraph's order; anything closer than a
    node's width (half of it next to an edge's bend point) moves right, and so does
    everything after it in that row.
    """
    rows: dict[float, list[tuple[list[float], bool]]] = {}
    for c in coords:
        rows.setdefault(c[1], []).append((c, True))
    for points in bends:
        for p in points:
            rows.setdefault(p[1], []).append((p, False))
    for items in rows.values():
        items.sort(key=lambda item: item[0][0])
        for (a, a_node), (b, b_node) in zip(items, items[1:]):
            gap = 1.0 if a_node and b_node else 0.5 if a_node or b_node else 0.25
            if b[0] < a[0] + gap:
                b[0] = a[0] + gap


def _longest_path_rows(g: igraph.Graph) -> list[int]:
    """Each node one row below the lowest of its inputs (sources in row 0)."""
    rows = [0] * g.vcount()
    preds = g.get_adjlist(mode="in")
    for v in g.topological_sorting(mode="out"):
        if preds[v]:
            rows[v] = 1 + max(rows[u] for u in preds[v])
    return rows
