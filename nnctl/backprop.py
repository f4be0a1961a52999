"""The backward pass: gradients of a loss with respect to every input, weight and layer output.

This module walks the graph backwards; each layer type computes its own step,
`Layer.backward(inputs, weights, output, grad)` (nnctl/layers): given the layer's inputs, its
weights, its output and the gradient of the loss with respect to its output, the gradients with
respect to its inputs and its weights. Activations contribute their exact vector-Jacobian
product, `activation.backward(x, grad_out)` (nnctl.activations).

The semantics are inference ones, the same as `Model.forward`: Dropout is the identity and
BatchNormalization uses its moving statistics (so their gradients exist too, although
training never follows them).

    >>> trace = run(model, {"input_layer": x}, weights)
    >>> grads = backward(model, trace, weights, {"dense_2": 2 * trace.values["dense_2"] / n})
    >>> grads.weights["dense/kernel"].shape
    (3, 4)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Trace:
    """A forward pass that kept the output of every node (inputs included)."""

    inputs: dict[str, np.ndarray]
    values: dict[str, np.ndarray]


@dataclass
class Gradients:
    """dL/d(everything): node name -> gradient of its output, `layer/weight` -> gradient."""

    nodes: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


def run(model, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray]) -> Trace:
    """Forward, keeping every node's output (what the backward pass needs)."""
    values = model.forward(inputs, weights, outputs=list(model.order))
    return Trace(inputs=dict(inputs), values=values)


def layer_weights(node, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights of one node by their short names (kernel, bias, ...)."""
    return {w.name: weights[f"{node.name}/{w.name}"] for w in node.weights}


def node_inputs(node, trace: Trace) -> list[np.ndarray]:
    """The arrays a node was called on, in its dtype (as Model.forward passes them)."""
    args = [trace.values[i] for i in node.inbound]
    return [a if a.dtype == node.dtype else a.astype(node.dtype) for a in args]


def backward(model, trace: Trace, weights: dict[str, np.ndarray],
             grad_outputs: dict[str, np.ndarray]) -> Gradients:
    """Backpropagate `grad_outputs` (node name -> dL/d its output) through the graph.

    Gradients reaching a node from several consumers (a skip connection, two heads) add up.
    The result holds a gradient for every node on a path to the given outputs, and for every
    weight of those nodes (trainable or not).
    """
    grads = Gradients()
    pending: dict[str, np.ndarray] = {}
    for name, g in grad_outputs.items():
        _accumulate(pending, name, np.asarray(g, dtype=trace.values[name].dtype))
    for name in reversed(model.order):  # the order is topological: consumers come later
        if name not in pending:
            continue
        g = pending.pop(name)
        grads.nodes[name] = g
        node = model.nodes[name]
        if node.layer is None:
            continue
        input_grads, weight_grads = node.layer.backward(
            node_inputs(node, trace), layer_weights(node, weights), trace.values[name], g)
        for key, wg in weight_grads.items():
            grads.weights[f"{name}/{key}"] = wg
        for inbound, ig in zip(node.inbound, input_grads):
            _accumulate(pending, inbound, ig.astype(trace.values[inbound].dtype, copy=False))
    return grads


def _accumulate(pending, name, g):
    pending[name] = pending[name] + g if name in pending else g
