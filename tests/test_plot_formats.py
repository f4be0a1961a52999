"""DOT and Mermaid: the DOT renders with Graphviz where it is installed (skipped otherwise),
the Mermaid text follows the flowchart grammar subset it promises, and both carry every
layer and every edge."""
from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import CONFIGS, SPECS
from nnctl.model import load_model
from nnctl.plot import PlotOptions, draw

SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))
OPTIONS = [PlotOptions(), PlotOptions(rankdir="LR", show_dtype=True, show_trainable=True,
                                      show_layer_activations=True),
           PlotOptions(show_shapes=False, show_layer_names=False)]
needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None,
                                    reason="Graphviz' dot is not installed")


def expected_edges(model):
    shown = {node.name for node in model.layers}
    return {(src, node.name) for node in model.layers for src in node.inbound if src in shown}


# --- Mermaid: a validator for the flowchart subset nnctl writes ---------------------------

ID = r"[A-Za-z][A-Za-z0-9_]*"
HEADER = re.compile(r"flowchart (TB|TD|BT|RL|LR)")
NODE = re.compile(rf"    ({ID})\[\"([^\"]*)\"\]")
EDGE = re.compile(rf"    ({ID}) --> ({ID})")
CLASSDEF = re.compile(r"    classDef ([A-Za-z_][\w-]*) ([a-z-]+:[^,;\s]+(?:,[a-z-]+:[^,;\s]+)*)")
CLASS = re.compile(rf"    class ({ID}(?:,{ID})*) ([A-Za-z_][\w-]*)")
RESERVED = {"end", "graph", "flowchart", "subgraph", "class", "classDef", "style", "click"}
ENTITY = re.compile(r"#(?:[a-z]+|\d+);")


def parse_mermaid(text: str):
    """Check the grammar line by line; return {id: label} and the edges (ids)."""
    lines = text.splitlines()
    assert text.endswith("\n") and lines, "empty or unterminated"
    assert HEADER.fullmatch(lines[0]), f"bad header {lines[0]!r}"
    nodes, edges, classes = {}, [], set()
    for n, line in enumerate(lines[1:], start=2):
        if m := NODE.fullmatch(line):
            node_id, label = m.groups()
            assert node_id not in nodes, f"line {n}: {node_id} defined twice"
            assert node_id.lower() not in RESERVED, f"line {n}: reserved id {node_id}"
            # no raw quote, and a `#` only as the start of an entity code
            assert '"' not in label
            assert "#" not in ENTITY.sub("", label), f"line {n}: stray # in {label!r}"
            assert not re.search(r"<(?!/?b>|br/>)", label), f"line {n}: stray < in {label!r}"
            nodes[node_id] = label
        elif m := EDGE.fullmatch(line):
            a, b = m.groups()
            assert a in nodes and b in nodes, f"line {n}: edge between undefined nodes"
            edges.append((a, b))
        elif m := CLASSDEF.fullmatch(line):
            classes.add(m.group(1))
        elif m := CLASS.fullmatch(line):
            assert m.group(2) in classes, f"line {n}: class {m.group(2)} not defined"
            assert all(i in nodes for i in m.group(1).split(","))
        else:
            raise AssertionError(f"line {n} is not in the grammar: {line!r}")
    return nodes, edges


def unescape_mermaid(label: str) -> str:
    label = re.sub(r"</?b>", "", label).replace("<br/>", "\n")
    named = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}
    return re.sub(r"#([a-z]+|\d+);",
                  lambda m: named.get(m.group(1)) or chr(int(m.group(1))), label)


@pytest.mark.parametrize("options", OPTIONS, ids=["keras", "everything-lr", "bare"])
@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_mermaid_grammar_and_content(spec, options):
    model = load_model(str(spec))
    text = draw(model, "mermaid", options)
    nodes, edges = parse_mermaid(text)
    assert text.splitlines()[0] == f"flowchart {options.rankdir}"
    names = {}
    for node_id, label in nodes.items():
        title = unescape_mermaid(label).splitlines()[0]
        names[node_id] = title.split(" (")[0] if options.show_layer_names else None
    if options.show_layer_names:
        assert sorted(names.values()) == sorted(n.name for n in model.layers)
        assert {(names[a], names[b]) for a, b in edges} == expected_edges(model)
    assert len(edges) == len(expected_edges(model))


def test_mermaid_validator_rejects_what_mermaid_rejects():
    good = 'flowchart TB\n    L0["a"]\n    L1["b"]\n    L0 --> L1\n'
    parse_mermaid(good)
    for bad in ['flowchart XY\n', 'flowchart TB\n    L0["a"b"]\n',
                'flowchart TB\n    L0["a"]\n    L0 --> L9\n',
                'flowchart TB\n    end["a"]\n', 'flowchart TB\n    L0["a#b"]\n']:
        with pytest.raises(AssertionError):
            parse_mermaid(bad)


def test_mermaid_escapes_awkward_names():
    from nnctl.plot.graph import Box, Graph
    from nnctl.plot.mermaid import render_mermaid

    graph = Graph("m", [Box('in"<#&>', "InputLayer", (None, 2), None, "float32"),
                        Box("end", "Dense", (None, 1), [(None, 2)], "float32")],
                  [('in"<#&>', "end")])
    nodes, edges = parse_mermaid(render_mermaid(graph))
    titles = [unescape_mermaid(label).splitlines()[0] for label in nodes.values()]
    assert titles == ['in"<#&> (InputLayer)', "end (Dense)"] and len(edges) == 1


# --- DOT ------------------------------------------------------------------------------------

def dot_statements(text: str):
    """Node and edge statements of the DOT we write (one statement per line)."""
    nodes = re.findall(r'^  ("(?:[^"\\]|\\.)*") \[label=<', text, re.M)
    edges = re.findall(r'^  ("(?:[^"\\]|\\.)*") -> ("(?:[^"\\]|\\.)*");$', text, re.M)
    unq = lambda q: q[1:-1].replace('\\"', '"').replace("\\\\", "\\")  # noqa: E731
    return [unq(n) for n in nodes], [(unq(a), unq(b)) for a, b in edges]


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_dot_statements(spec):
    model = load_model(str(spec))
    text = draw(model, "dot", PlotOptions())
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    nodes, edges = dot_statements(text)
    assert sorted(nodes) == sorted(n.name for n in model.layers)
    assert set(edges) == expected_edges(model) and len(edges) == len(set(edges))


@needs_graphviz
@pytest.mark.parametrize("options", OPTIONS, ids=["keras", "everything-lr", "bare"])
@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_dot_renders_with_graphviz(spec, options):
    model = load_model(str(spec))
    done = subprocess.run(["dot", "-Tsvg"], input=draw(model, "dot", options).encode(),
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.decode().strip() == "", done.stderr.decode()
    root = ET.fromstring(done.stdout)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    titles = [t.text for t in root.iterfind(".//svg:g[@class='node']/svg:title", ns)]
    assert sorted(titles) == sorted(n.name for n in model.layers)
    edges = [t.text for t in root.iterfind(".//svg:g[@class='edge']/svg:title", ns)]
    assert sorted(edges) == sorted(f"{a}->{b}" for a, b in expected_edges(model))


@needs_graphviz
def test_png_with_graphviz():
    png = draw(load_model(str(CONFIGS / "two_input.yaml")), "png", PlotOptions())
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_png_without_graphviz_is_one_clear_error(monkeypatch):
    from nnctl.errors import NnctlError

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NnctlError) as caught:
        draw(load_model(str(CONFIGS / "two_input.yaml")), "png", PlotOptions())
    assert str(caught.value) == ("PNG needs Graphviz' `dot` program, which is not installed "
                                 "(not on PATH); SVG is drawn by nnctl itself")


def test_a_shared_layer_is_one_box_with_the_edges_of_all_its_calls(tmp_path):
    """As Keras' plot_model: one box per layer, an edge from what each call reads (once);
    no edge from a layer to itself (applied to its own output: the layout has no loops)."""
    spec = tmp_path / "shared.yaml"
    spec.write_text("inputs: {a: [3], b: [3]}\nlayers:\n"
                    "  - {name: shared, type: Dense, units: 3, inputs: a}\n"
                    "  - {call: shared, inputs: b}\n"
                    "  - {call: shared, inputs: 'shared[1][0]'}\n"
                    "  - {name: sum, type: Add, inputs: [shared, 'shared[2][0]']}\n")
    model = load_model(str(spec))
    nodes, edges = dot_statements(draw(model, "dot", PlotOptions()))
    assert sorted(nodes) == ["a", "b", "shared", "sum"]
    assert sorted(edges) == [("a", "shared"), ("b", "shared"), ("shared", "sum")]
