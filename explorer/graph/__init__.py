"""The architecture as a graph: torch.fx's data flow with shapes, blocks that collapse,
a layered layout, SVG and PNG drawings, and the arithmetic of one convolution unit.

No Qt here: the window draws the same :class:`Graph` the command line writes to a file.
"""

from explorer.graph.build import build_graph
from explorer.graph.layout import layout_graph
from explorer.graph.structure import (
    Block,
    Graph,
    Node,
    blocks_at_depth,
    collapse,
    subgraph,
)
from explorer.graph.unit_math import unit_math

__all__ = ["Block", "Graph", "Node", "blocks_at_depth", "build_graph", "collapse",
           "layout_graph", "subgraph", "unit_math"]
