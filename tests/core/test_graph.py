"""explorer.graph: torch.fx's data flow with shapes, blocks, collapse, layout, drawings,
and `cnn-explorer graph`."""

import json
import struct
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
import torch
from torch import nn

from explorer.cli import main
from explorer.core.network import Network
from explorer.errors import UserError
from explorer.graph import blocks_at_depth, build_graph, collapse
from explorer.graph.render import to_svg, write
from explorer.nets.registry import load_network


@pytest.fixture(scope="module")
def resnet18():
    return load_network("resnet18")


@pytest.fixture(scope="module")
def r18graph(resnet18):
    return build_graph(resnet18)


def _net(module, size=(16, 16), channels=3):
    return Network(module.eval(), type(module).__name__, "classify", size, channels)


# --- what the graph holds ------------------------------------------------------------

def test_resnet18_has_its_eight_residual_additions(r18graph, resnet18):
    adds = [n for n in r18graph.nodes if n.op == "add"]
    assert len(adds) == 8
    # one per BasicBlock, each joining the block's path and its shortcut
    assert sorted(n.block for n in adds) == sorted(
        f"layer{i}.{j}" for i in range(1, 5) for j in range(2))
    into = Counter(b for _, b in r18graph.edges)
    assert all(into[n.name] == 2 for n in adds)
    assert r18graph.blocks["layer1.0"].op == "BasicBlock"
    assert r18graph.method == "fx" and r18graph.note is None


def test_every_edge_has_a_shape_and_nodes_map_to_layers(r18graph, resnet18):
    names = dict(resnet18.module.named_modules())
    assert all(r18graph.edge_shape(e) is not None for e in r18graph.edges)
    layers = [n for n in r18graph.nodes if n.kind == "module"]
    assert len(layers) == 20 + 20 + 17 + 2 + 1  # convs, norms, relus, pools, fc
    assert all(n.module in names for n in layers)
    conv1 = r18graph.node("conv1")
    assert (conv1.op, conv1.shape, conv1.params) == ("Conv2d", (64, 112, 112), 64 * 3 * 49)
    assert (conv1.rf, conv1.jump) == (7, 2.0)  # from layer_table
    assert r18graph.node("fc").shape == (1000,)
    assert r18graph.nodes[0].kind == "input" and r18graph.nodes[0].shape == (3, 224, 224)
    assert r18graph.nodes[-1].kind == "output" and r18graph.nodes[-1].shape == (1000,)
    total = sum(p.numel() for p in resnet18.module.parameters())
    assert sum(n.params for n in r18graph.nodes) == total


@pytest.mark.slow
def test_googlenet_has_its_nine_inception_concatenations():
    g = build_graph(load_network("googlenet"))
    cats = [n for n in g.nodes if n.op == "cat" and n.block.startswith("inception")]
    assert len(cats) == 9
    assert {n.block for n in cats} == {"inception3a", "inception3b", "inception4a",
                                       "inception4b", "inception4c", "inception4d",
                                       "inception4e", "inception5a", "inception5b"}
    into = Counter(b for _, b in g.edges)
    assert all(into[n.name] == 4 for n in cats)  # four branches each
    assert g.node(cats[0].name).shape == (256, 28, 28)  # 64 + 128 + 32 + 32
    assert g.blocks["inception3a"].op == "Inception"
    # the four branches side by side, none on top of another
    rows = {}
    for n in g.nodes:
        rows.setdefault(n.y, []).append(n.x)
    assert max(len(xs) for xs in rows.values()) == 4
    assert all(b - a >= 1 for xs in rows.values() for a, b in zip(sorted(xs), sorted(xs)[1:]))


@pytest.mark.slow
def test_densenet121_builds_and_lays_out():
    g = build_graph(load_network("densenet121"))
    assert Counter(n.op for n in g.nodes)["cat"] == 58 + 4  # one per layer, one per block
    assert g.nodes[-1].shape == (1000,)
    assert all(n.x is not None and n.y is not None for n in g.nodes)
    # the layout places the short edges; the longest concatenations are drawn directly
    assert any(g.routed) and not all(g.routed)
    assert len(g.routes) == len(g.edges)


def test_a_block_that_cannot_be_traced_through_becomes_one_node():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            if x.sum() > 0:  # depends on the data: torch.fx cannot follow it
                return self.conv(x)
            return x

    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Branchy(), nn.ReLU())
    g = build_graph(_net(m))
    assert g.method == "fx"
    assert [n.op for n in g.nodes] == ["input", "Conv2d", "Branchy", "ReLU", "output"]
    assert g.node("_1").shape == (4, 16, 16)
    assert "could not be traced through" in g.note


def test_a_network_fx_cannot_trace_becomes_a_chain_with_a_note():
    class Whole(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 8, 3)
            self.b = nn.Conv2d(8, 2, 3)

        def forward(self, x):
            x = self.a(x)
            if x.mean() > 10:  # data-dependent, in the network's own forward
                x = x * 2
            return self.b(x)

    g = build_graph(_net(Whole()))
    assert g.method == "chain"
    assert [n.name for n in g.nodes] == ["input", "a", "b", "output"]
    assert [n.shape for n in g.nodes] == [(3, 16, 16), (8, 14, 14), (2, 12, 12), (2, 12, 12)]
    assert g.note.count(". ") == 0 and g.note.endswith(".")  # one sentence
    assert g.edges == [("input", "a"), ("a", "b"), ("b", "output")]


def test_shapes_stop_where_the_graph_cannot_run_and_the_rest_is_kept():
    class TwoInputs(nn.Module):  # like fast-rcnn-shapes: boxes as a second input
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.head = nn.Linear(4, 2)

        def forward(self, x, boxes=None):
            x = self.conv(x).mean((2, 3))
            return self.head(x * boxes.sum())

    g = build_graph(_net(TwoInputs()))
    assert g.method == "fx"
    assert g.node("conv").shape == (4, 14, 14) and g.node("mean").shape == (4,)
    assert g.node("head").shape is None and g.node("head").op == "Linear"
    assert g.node("boxes").kind == "input"
    assert g.note.startswith("Shapes from ") and "While executing" not in g.note


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_torchscript_falls_back_to_the_chain():
    m = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval())
    g = build_graph(_net(m))
    assert g.method == "chain" and "TorchScript" in g.note
    assert [n.op for n in g.nodes][1:3] == ["Conv2d", "ReLU"]


# --- collapse and layout -------------------------------------------------------------

def test_collapse_draws_blocks_as_single_nodes(r18graph):
    blocks = blocks_at_depth(r18graph, 1)
    assert len(blocks) == 8
    c = collapse(r18graph, blocks)
    ops = [n.op for n in c.nodes]
    assert ops.count("BasicBlock") == 8 and "add" not in ops
    b = c.node("layer2.0")
    assert b.shape == (128, 28, 28) and b.params == r18graph.blocks["layer2.0"].params
    # a chain now: every node has one way in and one way out
    assert len(c.edges) == len(c.nodes) - 1
    assert ("layer1.1", "layer2.0") in c.edges
    # nesting: layer1 swallows layer1.0 when both are chosen
    c2 = collapse(r18graph, ["layer1.0", "layer1"])
    assert "layer1" in [n.name for n in c2.nodes] and "layer1.0" not in [
        n.name for n in c2.nodes]
    with pytest.raises(UserError, match="not a block"):
        collapse(r18graph, ["layer9"])


def test_collapsing_a_block_used_in_two_places_closes_a_loop_and_still_lays_out():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 3, 1)
            self.c2 = nn.Conv2d(3, 3, 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = Pair()
            self.mid = nn.ReLU()

        def forward(self, x):  # pair.c1, then something outside, then pair.c2
            return self.pair.c2(self.mid(self.pair.c1(x)))

    g = build_graph(_net(Net()))
    assert [n.block for n in g.nodes if n.kind == "module"] == ["pair", "", "pair"]
    c = collapse(g, ["pair"])
    assert ("pair", "mid") in c.edges and ("mid", "pair") in c.edges
    assert all(n.x is not None for n in c.nodes)


def test_layout_rows_follow_the_data_flow(r18graph):
    g = r18graph
    pos = {n.name: (n.x, n.y) for n in g.nodes}
    assert all(pos[b][1] > pos[a][1] for a, b in g.edges)  # top to bottom
    assert len(set(pos.values())) == len(pos)  # no two nodes on one spot
    assert min(x for x, _ in pos.values()) == 0
    # a shortcut spanning several rows gets bend points from the layout
    assert any(len(r) > 0 for r in g.routes) and all(g.routed)


# --- drawings ------------------------------------------------------------------------

def test_svg_has_a_box_per_node_with_type_and_shape(r18graph):
    svg = to_svg(r18graph)
    root = ET.fromstring(svg.split("\n", 1)[1])
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f".//{ns}g/{ns}rect")) == len(r18graph.nodes)
    assert len(root.findall(f".//{ns}polyline")) == len(r18graph.edges)
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "BasicBlock" not in texts and texts.count("add") >= 8
    assert "64×56×56" in texts and "BatchNorm2d" in texts


@pytest.mark.parametrize("engine", ["matplotlib", "pillow"])
def test_png_is_drawn_by_either_engine(tmp_path, engine):
    if engine == "matplotlib":
        pytest.importorskip("matplotlib")
    g = build_graph(load_network("tinyvgg-shapes"))
    out = tmp_path / "g.png"
    assert write(g, out, engine) == engine
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", head[16:24])
    assert h > w > 100 and h > 28 * 80  # 28 nodes in a column, top to bottom


# --- the command ---------------------------------------------------------------------

def test_cli_graph_json_and_svg(tmp_path, capsys):
    out = tmp_path / "g.svg"
    assert main(["graph", "--model", "tinyvgg-shapes", "--out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert out.read_text().startswith("<?xml")
    assert {"name", "op", "shape", "params"} <= set(data["nodes"][0])
    first_conv = next(n for n in data["nodes"] if n["op"] == "Conv2d")
    assert first_conv["shape"] == [16, 64, 64] and first_conv["module"] == "features.conv1"
    names = {n["name"] for n in data["nodes"]}
    assert all(len(e) == 2 and set(e) <= names for e in data["edges"])
    assert len(data["edges"]) == len(data["nodes"]) - 1


def test_cli_graph_collapsed_png(tmp_path, capsys):
    out = tmp_path / "g.png"
    assert main(["graph", "--model", "tinyvgg-shapes", "--depth", "0", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Sequential" in text and out.stat().st_size > 1000


@pytest.mark.parametrize("argv, message", [
    (["--out", "{tmp}/g.txt"], "must end in .svg or .png"),
    (["--out", "{tmp}/missing/g.svg"], "does not exist"),
    (["--out", "{tmp}"], "is a folder"),
    (["--depth", "-1"], "depth starts at 0"),
    (["--collapse", "nothing"], "not a block"),
    (["--model", "no-such-net"], "unknown network"),
])
def test_cli_graph_bad_input_exits_2(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["graph", "--model", "tinyvgg-shapes", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_cli_checks_the_output_before_opening_the_network(tmp_path, capsys, monkeypatch):
    import explorer.commands.graph as cmd

    def never(args):
        raise AssertionError("the network was opened before the output was checked")

    monkeypatch.setattr(cmd, "_open_network", never)
    assert main(["graph", "--out", str(tmp_path / "nope" / "g.svg")]) == 2


def test_networks_run_normally_in_other_threads_while_a_graph_is_traced():
    """torch.fx patches torch.nn.Module for the whole process while it traces; the window
    draws graphs in a worker while other threads run networks. Those passes must stay
    plain passes (with torch.fx.symbolic_trace they get proxies or an AssertionError)."""
    import threading

    import torchvision

    from explorer.nets.registry import load_network

    net = load_network("googlenet")
    other = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = other(x)
    errors: list[str] = []
    runs = [0]
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                with torch.no_grad():
                    assert torch.allclose(other(x), ref, atol=1e-5)
                    assert isinstance(net.module(x), torch.Tensor)
                runs[0] += 1
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc)[:200])
                return

    thread = threading.Thread(target=run)
    thread.start()
    try:
        for _ in range(3):
            g = build_graph(net, layout=False)
    finally:
        stop.set()
        thread.join()
    assert errors == [] and runs[0] >= 1
    assert sum(n.op == "cat" for n in g.nodes) == 9


def test_subgraph_of_a_block_is_the_lectures_figure():
    """inception3a alone: one input (the previous pooling), four branches meeting in one
    concatenation, one output of its shape; resnet18's layer1.0: the skip and the two
    convolutions meeting in one addition."""
    from explorer.graph import subgraph

    g = build_graph(load_network("googlenet"), layout=False)
    inc = subgraph(g, "inception3a")
    inputs = [n for n in inc.nodes if n.kind == "input"]
    assert len(inputs) == 1 and inputs[0].shape == (192, 28, 28)
    cat = next(n for n in inc.nodes if n.op == "cat")
    assert len([e for e in inc.edges if e[1] == cat.name]) == 4
    assert inc.nodes[-1].kind == "output" and inc.nodes[-1].shape == (256, 28, 28)
    assert all(n.x is not None for n in inc.nodes)
    assert sum(n.params for n in inc.nodes) == g.blocks["inception3a"].params
    res = subgraph(build_graph(load_network("resnet18"), layout=False), "layer1.0")
    add = next(n for n in res.nodes if n.op == "add")
    into = [a for a, b in res.edges if b == add.name]
    assert len(into) == 2 and any(res.node(a).kind == "input" for a in into)
    with pytest.raises(UserError, match="not a block"):
        subgraph(res, "layer9")
