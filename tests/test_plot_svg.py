"""The SVG drawing: valid XML, every layer once, no overlapping boxes, edges that join the
right boxes and run clear of every other box, computed from the SVG's own geometry."""
from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import CONFIGS, SPECS
from nnctl.model import load_model
from nnctl.plot import PlotOptions, draw

NS = {"svg": "http://www.w3.org/2000/svg"}
SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))
OPTION_SETS = {
    "keras": PlotOptions(),
    "everything-lr": PlotOptions(rankdir="LR", show_dtype=True, show_layer_activations=True,
                                 show_trainable=True),
    "bare": PlotOptions(show_shapes=False, show_layer_names=False),
    "everything-tb": PlotOptions(show_dtype=True, show_layer_activations=True,
                                 show_trainable=True),
}


def expected_edges(model) -> set[tuple[str, str]]:
    """plot_model's edges: every inbound connection between two drawn layers."""
    shown = {node.name for node in model.layers}
    return {(src, node.name) for node in model.layers for src in node.inbound if src in shown}


def parse_path(d: str) -> list[list[tuple[float, float]]]:
    """An SVG path of M, L and C commands -> its pieces as control polygons."""
    tokens = re.findall(r"[MLC]|-?\d+(?:\.\d+)?", d)
    pieces, at, i = [], None, 0
    while i < len(tokens):
        command = tokens[i]
        count = {"M": 1, "L": 1, "C": 3}[command]
        points = [(float(tokens[i + 1 + 2 * k]), float(tokens[i + 2 + 2 * k]))
                  for k in range(count)]
        if command != "M":
            pieces.append([at] + points)
        at = points[-1]
        i += 1 + 2 * count
    return pieces


def sample(piece, steps=24):
    if len(piece) == 2:
        (x0, y0), (x1, y1) = piece
        return [(x0 + (x1 - x0) * t / steps, y0 + (y1 - y0) * t / steps) for t in range(steps + 1)]
    p0, p1, p2, p3 = piece
    out = []
    for k in range(steps + 1):
        t = k / steps
        a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return out


def on_boundary(point, rect, tol=0.6) -> bool:
    x, y = point
    left, top, w, h = rect
    right, bottom = left + w, top + h
    inside_x, inside_y = left - tol <= x <= right + tol, top - tol <= y <= bottom + tol
    return ((inside_x and (abs(y - top) <= tol or abs(y - bottom) <= tol))
            or (inside_y and (abs(x - left) <= tol or abs(x - right) <= tol)))


def strictly_inside(point, rect, inset=1.0) -> bool:
    x, y = point
    left, top, w, h = rect
    return left + inset < x < left + w - inset and top + inset < y < top + h - inset


def read_svg(text: str):
    root = ET.fromstring(text)
    boxes = {}
    for g in root.iterfind(".//svg:g[@class='layer']", NS):
        rect = g.find("svg:rect[@class='box']", NS)
        name = g.get("data-layer")
        assert name not in boxes, f"layer {name} drawn twice"
        boxes[name] = tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))
    edges = [(p.get("data-from"), p.get("data-to"), parse_path(p.get("d")))
             for p in root.iterfind(".//svg:path[@class='edge']", NS)]
    return root, boxes, edges


@pytest.mark.parametrize("options", OPTION_SETS.values(), ids=OPTION_SETS.keys())
@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_svg_geometry(spec, options):
    model = load_model(str(spec))
    root, boxes, edges = read_svg(draw(model, "svg", options))
    width, height = float(root.get("width")), float(root.get("height"))

    # every layer exactly once, with its name in its own box's text
    assert sorted(boxes) == sorted(node.name for node in model.layers)
    for g in root.iterfind(".//svg:g[@class='layer']", NS):
        text = "".join("".join(t.itertext()) for t in g.iterfind("svg:text", NS))
        title = g.get("data-layer") if options.show_layer_names else g.get("data-type")
        assert title in text

    # boxes inside the picture, none overlapping another
    for name, (x, y, w, h) in boxes.items():
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height, name
    for (a, ra), (b, rb) in itertools.combinations(boxes.items(), 2):
        apart = (ra[0] + ra[2] <= rb[0] or rb[0] + rb[2] <= ra[0]
                 or ra[1] + ra[3] <= rb[1] or rb[1] + rb[3] <= ra[1])
        assert apart, f"boxes {a} and {b} overlap"

    # edges: exactly the model's, from the source's outline to the target's outline
    assert {(a, b) for a, b, _ in edges} == expected_edges(model)
    assert len(edges) == len(expected_edges(model))
    for source, target, pieces in edges:
        start, end = pieces[0][0], pieces[-1][-1]
        assert on_boundary(start, boxes[source]), (source, target, start)
        assert on_boundary(end, boxes[target]), (source, target, end)
        for piece in pieces:
            for point in sample(piece):
                for name, rect in boxes.items():
                    assert not strictly_inside(point, rect), \
                        f"edge {source}->{target} runs through box {name} at {point}"


def test_edges_leave_and_enter_on_the_sides_facing_the_flow():
    model = load_model(str(CONFIGS / "residual_mlp.yaml"))
    for rankdir in ("TB", "LR"):
        _, boxes, edges = read_svg(draw(model, "svg", PlotOptions(rankdir=rankdir)))
        for source, target, pieces in edges:
            (sx, sy), (ex, ey) = pieces[0][0], pieces[-1][-1]
            s, t = boxes[source], boxes[target]
            if rankdir == "TB":
                assert sy == pytest.approx(s[1] + s[3], abs=0.01)    # bottom of the source
                assert ey == pytest.approx(t[1], abs=0.01)           # top of the target
            else:
                assert sx == pytest.approx(s[0] + s[2], abs=0.01)    # right side
                assert ex == pytest.approx(t[0], abs=0.01)           # left side


def test_merge_inputs_arrive_at_separate_ports():
    model = load_model(str(SPECS / "merges.yaml"))
    _, _, edges = read_svg(draw(model, "svg"))
    ends: dict[str, list] = {}
    for _, target, pieces in edges:
        ends.setdefault(target, []).append(pieces[-1][-1])
    for target, points in ends.items():
        assert len(set(points)) == len(points), target


def test_branches_side_by_side_and_ranks_downward():
    """two_input: the two input branches share rows; each edge points down a rank or more."""
    model = load_model(str(CONFIGS / "two_input.yaml"))
    _, boxes, edges = read_svg(draw(model, "svg"))
    assert boxes["record"][1] == boxes["patch"][1]               # inputs on one row
    assert boxes["record_dense"][1] == boxes["patch_flat"][1]
    assert boxes["record"][0] + boxes["record"][2] < boxes["patch"][0]
    for source, target, _ in edges:
        assert boxes[source][1] + boxes[source][3] < boxes[target][1]


def test_sequential_has_no_input_box_and_functional_has():
    seq = read_svg(draw(load_model(str(CONFIGS / "article_sequential.yaml")), "svg"))[1]
    fun = read_svg(draw(load_model(str(CONFIGS / "article_functional.yaml")), "svg"))[1]
    assert sorted(seq) == ["layer1", "layer2", "layer3"]
    assert sorted(fun) == ["input", "layer1", "layer2", "layer3"]


def test_keras_label_text():
    """plot_model's wording: `Input shape: [(None, 32), (None, 32)]`, `Output dtype`..."""
    model = load_model(str(CONFIGS / "residual_mlp.yaml"))
    text = draw(model, "svg", PlotOptions(show_dtype=True, show_layer_activations=True,
                                          show_trainable=True))
    root = ET.fromstring(text)
    group = root.find(".//svg:g[@data-layer='block1_add']", NS)
    words = " ".join("".join(t.itertext()) for t in group.iterfind("svg:text", NS))
    assert "block1_add (Add)" in words
    assert "Input shape: [(None, 32), (None, 32)]" in words
    assert "Output shape: (None, 32)" in words
    assert "Output dtype: float32" in words
    assert "Trainable" not in words                  # no weights: no trainability cell
    stem = root.find(".//svg:g[@data-layer='stem']", NS)
    words = " ".join("".join(t.itertext()) for t in stem.iterfind("svg:text", NS))
    assert "Activation: relu" in words and "Trainable" in words


def test_names_are_escaped():
    from nnctl.plot.graph import Box, Graph
    from nnctl.plot.svg import render_svg

    graph = Graph('a<b>&"c"', [Box("x<&>", "InputLayer", (None, 2), None, "float32"),
                              Box('y"', "Dense", (None, 1), [(None, 2)], "float32")],
                  [("x<&>", 'y"')])
    root, boxes, edges = read_svg(render_svg(graph))
    assert sorted(boxes) == ['x<&>', 'y"'] and edges[0][:2] == ("x<&>", 'y"')
