"""--neurons: the article's picture. Circles per unit (an ellipsis for wide layers), lines
that are the layer's real connections, between the right circles."""
from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import CONFIGS, SPECS
from nnctl.model import load_model
from nnctl.plot.neurons import (connected, neuron_graph, render_neurons_dot,
                                render_neurons_svg, shown_units)

NS = {"svg": "http://www.w3.org/2000/svg"}
SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))


def test_shown_units():
    assert shown_units(3) == [0, 1, 2]
    assert shown_units(7) == list(range(7))
    assert shown_units(8) == [0, 1, 2, 3, None, 6, 7]
    assert shown_units(1000) == [0, 1, 2, 3, None, 998, 999]


def test_article_picture():
    """input 3 -> Dense 3 relu -> Dense 2 relu -> Dense 2 sigmoid: 10 circles, 19 lines."""
    model = load_model(str(CONFIGS / "article_sequential.yaml"))
    root = ET.fromstring(render_neurons_svg(neuron_graph(model)))
    layers = {g.get("data-layer"): g for g in root.iterfind(".//svg:g[@class='layer']", NS)}
    assert list(layers) == ["input_layer", "layer1", "layer2", "layer3"]
    assert [len(g.findall("svg:circle", NS)) for g in layers.values()] == [3, 3, 2, 2]
    words = {name: " ".join("".join(t.itertext()) for t in g.iterfind("svg:text", NS))
             for name, g in layers.items()}
    assert "layer1" in words["layer1"] and "relu" in words["layer1"]
    assert "sigmoid" in words["layer3"]
    links = root.findall(".//svg:path[@class='link']", NS)
    assert len(links) == 3 * 3 + 3 * 2 + 2 * 2
    centers = {(g.get("data-layer"), c.get("data-unit")): (float(c.get("cx")), float(c.get("cy")))
               for g in layers.values() for c in g.iterfind("svg:circle", NS)}
    for link in links:
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", link.get("d"))]
        start, end = tuple(numbers[:2]), tuple(numbers[-2:])
        assert start == centers[tuple(link.get("data-from").split("/"))]
        assert end == centers[tuple(link.get("data-to").split("/"))]
    # columns left to right in layer order
    xs = [centers[(name, "0")][0] for name in layers]
    assert xs == sorted(xs) and len(set(xs)) == 4


def drawable(spec) -> bool:
    """Whether `plot --neurons` draws every layer of the spec (not recurrent layers...)."""
    from nnctl.layers.base import CannotDraw

    model = load_model(str(spec))
    for node in model.layers:
        if node.layer is None:
            continue
        try:
            node.layer.neuron_link(model.inbound_shapes(node), node.shape, 0, 0, 0)
        except CannotDraw:
            return False
    return True


@pytest.mark.parametrize("spec", [s for s in SPEC_FILES if drawable(s)], ids=lambda p: p.stem)
def test_every_layer_a_column(spec):
    model = load_model(str(spec))
    graph = neuron_graph(model)
    root = ET.fromstring(render_neurons_svg(graph))
    groups = root.findall(".//svg:g[@class='layer']", NS)
    assert sorted(g.get("data-layer") for g in groups) == sorted(model.nodes)
    for g in groups:
        units = int(g.get("data-units"))
        circles = len(g.findall("svg:circle", NS))
        ellipses = len(g.findall("svg:text[@class='ellipsis']", NS))
        assert (circles, ellipses) == ((units, 0) if units <= 7 else (6, 1))
    links = root.findall(".//svg:path[@class='link']", NS)
    assert len(links) == sum(len(v) for v in graph.links.values())
    # every layer is fed by each of its inputs through at least one line, unless none of the
    # units shown depends on any input unit shown (the zeros a padding adds at the edges)
    fed = {(l.get("data-from").split("/")[0], l.get("data-to").split("/")[0]) for l in links}
    edges = {(i, n.name) for n in model.nodes.values() for i in n.inbound}
    assert fed <= edges
    columns = {c.name: c for c in graph.columns}
    for source, name in edges - fed:
        index = model.nodes[name].inbound.index(source)
        shown = {(s, d) for s in columns[source].shown for d in columns[name].shown
                 if s is not None and d is not None}
        assert not shown & _dependencies(model, name, index), (source, name)


def test_wide_layers_show_the_ellipsis():
    model = load_model(str(SPECS / "mappings.yaml"))
    graph = neuron_graph(model)
    assert [c.shown for c in graph.columns][1] == [0, 1, 2, 3, None, 998, 999]
    assert "⋮" in render_neurons_svg(graph)


def _dependencies(model, node_name, index):
    """Which input units change which output units: probed through the real forward pass."""
    node = model.nodes[node_name]
    rng = np.random.default_rng(0)
    weights = model.init_weights(seed=1)
    inputs = {name: rng.normal(size=(1, *model.nodes[name].shape)) for name in model.input_names}
    # run up to the node's inputs, then perturb one input unit at a time through the layer
    args = model.forward(inputs, weights, outputs=list(node.inbound))
    layer_weights = {w.name: weights[f"{node_name}/{w.name}"] for w in node.weights}
    base = node.layer.call([args[i] for i in node.inbound], layer_weights).reshape(-1)
    source = args[node.inbound[index]]
    deps = set()
    for s in range(source.size):
        bumped = source.copy().reshape(-1)
        bumped[s] += 0.5
        call_args = [args[i] for i in node.inbound]
        call_args[index] = bumped.reshape(source.shape)
        out = node.layer.call(call_args, layer_weights).reshape(-1)
        deps |= {(s, d) for d in np.flatnonzero(np.abs(out - base) > 1e-12)}
    return deps


@pytest.mark.parametrize("spec,layer", [
    ("concat_axis", "stacked"), ("concat_axis", "side"), ("broadcast_merge", "mixed"),
    ("broadcast_merge", "scaled"), ("broadcast_merge", "proj"), ("rank3_dense", "dense"),
    ("reshapes", "reshape_1"), ("two_input", "joined"), ("residual_mlp", "block1_add"),
    ("padding_cropping", "zero_padding2d_2"), ("padding_cropping", "cropping2d_3"),
    ("padding_cropping", "zero_padding2d_3"), ("padding_cropping", "up_sampling2d_1"),
    ("sequence_reshaping", "zero_padding1d_2"), ("sequence_reshaping", "cropping1d_1"),
    ("sequence_reshaping", "up_sampling1d"), ("sequence_reshaping", "permute_1"),
    ("sequence_reshaping", "repeat_vector"), ("activation_layers", "re_lu"),
    ("activation_layers", "p_re_lu_1"), ("activation_layers", "softmax"),
    ("activation_layers_functional", "joint"), ("preprocessing", "normalization_1"),
    ("preprocessing", "rescaling_1"),
    ("conv_basic", "conv2d_1"), ("conv_basic", "global_average_pooling2d"),
    ("conv1d_causal", "conv1d_1"), ("conv_dilated", "average_pooling2d"),
    ("depthwise", "depthwise_conv2d_1"), ("separable", "separable_conv2d_1"),
    ("conv_transpose1d", "conv1d_transpose"), ("conv_transpose_channels_first", "up"),
    ("conv3d_channels_first", "conv3d"),
])
def test_connections_match_the_forward_pass(spec, layer):
    """The lines drawn are exactly the input units each output unit depends on."""
    path = CONFIGS / f"{spec}.yaml"
    model = load_model(str(path if path.exists() else SPECS / f"{spec}.yaml"))
    node = model.nodes[layer]
    for index, source in enumerate(node.inbound):
        n_in = int(np.prod(model.nodes[source].shape))
        n_out = int(np.prod(node.shape))
        drawn = {(s, d) for s in range(n_in) for d in range(n_out)
                 if connected(model, node, index, s, d)}
        assert drawn == _dependencies(model, layer, index)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz' dot is not installed")
@pytest.mark.parametrize("spec", ["article_sequential", "two_input", "residual_mlp"])
def test_neurons_dot_renders(spec):
    graph = neuron_graph(load_model(str(CONFIGS / f"{spec}.yaml")))
    done = subprocess.run(["dot", "-Tsvg"], input=render_neurons_dot(graph).encode(),
                          capture_output=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr.decode()
    root = ET.fromstring(done.stdout)
    edges = root.findall(".//svg:g[@class='edge']", NS)
    assert len(edges) == sum(len(v) for v in graph.links.values())   # invisible ones not drawn
    # each layer a column: its label on top, then its units in order, top to bottom
    heights: dict = {}
    for g in root.iterfind(".//svg:g[@class='node']", NS):
        layer, _, unit = g.find("svg:title", NS).text.rpartition("/")
        shape = g.find("svg:ellipse", NS)
        y = float(shape.get("cy")) if shape is not None else float(g.find("svg:text", NS).get("y"))
        heights.setdefault(layer, []).append((y, unit))
    for column in graph.columns:
        drawn = [unit for _, unit in sorted(heights[column.name])]
        assert drawn == ["label"] + ["..." if u is None else str(u) for u in column.shown]


@pytest.mark.parametrize("fmt", ["text", "mermaid"])
def test_draw_refuses_other_formats_without_naming_cli_options(fmt):
    """The engine's error says what is wrong; `nnctl plot` phrases it with --neurons."""
    from nnctl.errors import ParameterError
    from nnctl.plot import draw

    model = load_model(str(CONFIGS / "article_sequential.yaml"))
    with pytest.raises(ParameterError) as caught:
        draw(model, fmt, neurons=True)
    assert str(caught.value) == f"the neurons picture is drawn as svg, dot, png, not {fmt}"
    assert caught.value.exit_code == 1


def test_a_layer_that_cannot_be_drawn_is_named_with_its_place(monkeypatch, tmp_path):
    """A layer type whose neuron_link is cannot_draw(...) makes --neurons one error naming the
    layer, its type, why, and where it is in the spec (never a unit-to-unit guess)."""
    from nnctl.errors import SpecError
    from nnctl.layers.base import cannot_draw
    from nnctl.layers.core import Dense

    monkeypatch.setattr(Dense, "neuron_link", cannot_draw("a test says so"))
    path = tmp_path / "net.yaml"
    path.write_text("input: [3]\nlayers:\n  - {type: Activation, activation: relu}\n"
                    "  - {type: Dense, units: 2}\n")
    with pytest.raises(SpecError) as info:
        neuron_graph(load_model(str(path)))
    assert str(info.value) == (f"{path}:4:5: layer 'dense': plot --neurons cannot draw a Dense "
                               "layer (a test says so); draw the model without --neurons")


def test_channels_first_flatten_draws_where_each_unit_goes(tmp_path):
    """Flatten with channels_first puts the channels last: unit (c, h, w) lands elsewhere."""
    path = tmp_path / "net.yaml"
    path.write_text("input: [2, 3, 2]\nlayers:\n  - {type: Flatten, data_format: channels_first}\n")
    model = load_model(str(path))
    node = model.nodes["flatten"]
    drawn = {(s, d) for s in range(12) for d in range(12) if connected(model, node, 0, s, d)}
    assert drawn == _dependencies(model, "flatten", 0)
    assert (1, 2) in drawn     # input (0, 0, 1) is output (0, 1, 0): after the 2 channels of (0, 0)


def test_a_wide_layers_count_is_written_as_summary_writes_numbers():
    """A convnet's 21632 units were written without the separator summary() uses (21,632)."""
    from nnctl.plot import draw

    svg = draw(load_model(str(CONFIGS / "mnist_convnet.yaml")), "svg", neurons=True)
    assert ">21,632 units<" in svg and ">784 units<" in svg and ">21632 units<" not in svg
