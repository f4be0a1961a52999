"""Deep and wide graphs: no recursion limit anywhere, and work that grows linearly with the
number of layers (counted, not timed: see workcount.py).

Linear growth is checked on three sizes n, 2n, 4n: with W(n) = a + b*n the second increment
W(4n) - W(2n) is exactly twice the first, W(2n) - W(n); a quadratic part makes it up to four
times. Before this was checked, `plot` (crossings recomputed every slot's position once per
rank) came out at 2.19 and `lint` (paths copied layer by layer) at 2.11 on a chain.
Work done inside one C operation is not seen: `plot` kept its edges in a list and asked `edge
not in edges` for each (quadratic: 10,000 layers took 4.0 s against 1.6 s for 5,000), which
counts as one line a call; benchmarks/deep.py times every command up to 10,000 layers.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fuzzing import run_inprocess
from workcount import chain_spec, counted_work, diamond_chain_spec, wide_spec

SPECS = {"chain": chain_spec, "diamonds": diamond_chain_spec, "wide": wide_spec}
GROWTH_LIMIT = 2.05   # second increment / first increment; linear is 2.0

CASES = [  # (command and options, kind of graph, n: its size parameter)
    (["summary"], "chain", 100), (["lint"], "chain", 100), (["plot"], "chain", 100),
    (["inspect"], "chain", 100), (["build", "-o", "out.npz"], "chain", 100),
    (["export", "-o", "out.onnx"], "chain", 100), (["convert", "-o", "out.keras"], "chain", 100),
    (["summary"], "diamonds", 34), (["plot"], "diamonds", 34),
    (["summary"], "wide", 50), (["plot", "-f", "svg"], "wide", 50), (["lint"], "wide", 50),
]


@pytest.mark.parametrize("args, kind, n", CASES,
                         ids=[f"{' '.join(a[:1] + a[2:3])}-{k}".replace("/", "") for a, k, _ in CASES])
def test_work_grows_linearly_with_the_layers(tmp_path, args, kind, n):
    command, options = args[0], args[1:]
    sizes = (n, 2 * n, 4 * n)
    for size in sizes:
        (tmp_path / f"{size}.yaml").write_text(SPECS[kind](size))
    assert run_inprocess([command, f"{n}.yaml", *options], cwd=tmp_path).code == 0  # imports
    work = []
    for size in sizes:
        work.append(counted_work(run_inprocess, [command, f"{size}.yaml", *options],
                                 cwd=tmp_path))
    growth = (work[2] - work[1]) / (work[1] - work[0])
    assert growth <= GROWTH_LIMIT, (work, growth)


@pytest.fixture(scope="module")
def deep_chain(tmp_path_factory):
    path = tmp_path_factory.mktemp("deep") / "deep.yaml"
    path.write_text(chain_spec(1_500))   # graph ordering recursed: about 982 layers was the end
    return path


@pytest.mark.parametrize("args", [["summary"], ["validate"], ["lint"], ["plot", "-f", "svg"],
                                  ["inspect", "--batch", "2"], ["forward"]],
                         ids=lambda a: a[0])
def test_a_deep_chain_goes_through_every_command(deep_chain, args):
    run = run_inprocess([args[0], deep_chain, *args[1:]], b"1,2\n")
    assert run.code == 0, run.err
    assert "RecursionError" not in run.err


LAYERS = 100_000


def chain_model(n: int):
    """A stand-in for a built Model: nodes with `inbound`, an input, one output."""
    names = ["input"] + [f"d{k}" for k in range(n)]
    nodes = {name: SimpleNamespace(name=name, layer_name=name,
                                   inbound=[names[k - 1]] if k else [])
             for k, name in enumerate(names)}
    return SimpleNamespace(nodes=nodes, outputs=[names[-1]], input_names=["input"]), names


def test_keras_layer_order_of_100000_layers():
    from nnctl.model import keras_layer_order

    model, names = chain_model(LAYERS)
    assert keras_layer_order(model) == names


def test_topological_order_and_cycles_of_100000_layers():
    from nnctl.errors import SpecError
    from nnctl.model import GraphBuilder

    def layers(n, cycle=False):
        result = []
        for k in range(n):
            inbound = [f"d{k - 1}"] if k else (["input"] if not cycle else [f"d{n - 1}"])
            result.append((SimpleNamespace(path=("layers", k), call=None, inbound=inbound),
                           SimpleNamespace(name=f"d{k}"), inbound))
        return result

    spec = SimpleNamespace(inputs={"input": (2,)},
                           error=lambda message, path: SpecError(message))
    builder = GraphBuilder.__new__(GraphBuilder)
    builder.spec, builder.call_nodes = spec, set()   # and the calls' nodes (none)
    backwards = layers(LAYERS)[::-1]   # each layer listed before its input: the deepest walk
    order = builder._topological_order(backwards)
    assert [layer.name for _, layer, _ in order] == [f"d{k}" for k in range(LAYERS)]
    with pytest.raises(SpecError, match="is part of a cycle"):
        builder._topological_order(layers(LAYERS, cycle=True))


def test_plot_ranks_of_100000_layers():
    from nnctl.plot.layout import longest_path_ranks

    names = [f"d{k}" for k in range(LAYERS)]
    edges = list(zip(names, names[1:]))
    assert longest_path_ranks(names[::-1], edges[::-1])[names[-1]] == LAYERS - 1


def test_crossings_are_counted_as_pairs_that_cross():
    from nnctl.plot.layout import _inversions

    values = [3, 1, 2, 2, 0]
    pairs = sum(values[i] > values[j] for i in range(5) for j in range(i + 1, 5))
    assert _inversions(values) == (sorted(values), pairs) == ([0, 1, 2, 2, 3], 7)


def test_a_model_of_1500_layers_called_as_a_layer():
    """Calling a model on tensors replays its graph; it did so by recursion (about 980 layers
    was the end), now with the engine's walk (nnctl.graphwalk)."""
    import numpy as np

    import nnctl

    x = y = nnctl.Input((2,))
    for _ in range(1_500):
        y = nnctl.layers.Activation("relu")(y)
    inner = nnctl.Model(x, y)
    z = nnctl.Input((2,))
    outer = nnctl.Model(z, inner(z))
    assert outer.layers[1] is inner and len(outer.engine.layers) == 1_501
    np.testing.assert_array_equal(outer.predict(np.array([[-1.0, 2.0]]), verbose=0), [[0, 2]])


class _PassGradient:
    """A stand-in layer whose backward pass hands its gradient to each of its inputs."""

    consumes_mask = False

    def backward(self, inputs, weights, output, g):
        return [g] * len(inputs), {}


def graph_model(inbound: dict[str, list[str]], output: str):
    """A stand-in for a built Model over `inbound` (node -> the nodes it reads, in a
    topological order), with what the backward pass and keras_depths read."""
    from nnctl.model import Model

    layer, float32, no_weights = _PassGradient(), np.dtype(np.float32), lambda weights: {}
    nodes = {name: SimpleNamespace(name=name, layer_name=name, inbound=refs,
                                   inbound_index=[0] * len(refs), n_outputs=1, dtype=float32,
                                   layer=layer if refs else None, layer_weights=no_weights)
             for name, refs in inbound.items()}
    model = SimpleNamespace(nodes=nodes, order=list(inbound), outputs=[output],
                            input_names=["input"])
    model.layer_inputs = lambda node, values: Model.inbound_values(model, node, values)
    return model


def chain_graph(n: int) -> dict[str, list[str]]:
    names = ["input"] + [f"d{k}" for k in range(n)]
    return {name: names[k - 1:k] for k, name in enumerate(names)}


def wide_graph(n: int) -> dict[str, list[str]]:
    """The input read by n layers side by side, all added by one layer."""
    graph = {"input": []}
    graph.update({f"d{k}": ["input"] for k in range(n)})
    graph["add"] = [f"d{k}" for k in range(n)]
    return graph


@pytest.mark.parametrize("graph", ["chain", "wide"])
def test_backward_and_depths_of_100000_layers(graph):
    """The backward pass (inspect) and Keras' depths (summary's order) walk the order once:
    no recursion, no quadratic step, for a deep chain and for a wide graph (the layer order
    itself: test_keras_layer_order_of_100000_layers)."""
    from nnctl import backprop
    from nnctl.model import keras_depths

    inbound = chain_graph(LAYERS) if graph == "chain" else wide_graph(LAYERS)
    output = list(inbound)[-1]
    model = graph_model(inbound, output)
    one = np.ones((1, 2), np.float32)
    trace = backprop.Trace(inputs={"input": one}, values=dict.fromkeys(inbound, one))
    grads = backprop.backward(model, trace, {}, {output: one})
    expected = 1 if graph == "chain" else LAYERS   # every path adds its gradient
    np.testing.assert_array_equal(grads.nodes["input"], one * expected)
    assert len(grads.nodes) == len(inbound)
    assert keras_depths(model, model.order)["input"] == (LAYERS if graph == "chain" else 2)
