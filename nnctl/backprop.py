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
    values: dict[str, np.ndarray]    # a list of arrays for a layer of several outputs
    masks: dict[str, np.ndarray | None] = field(default_factory=dict)  # nnctl.masking


@dataclass
class Gradients:
    """dL/d(everything): node name -> gradient of its output, `layer/weight` -> gradient."""

    nodes: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


def run(model, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray]) -> Trace:
    """Forward, keeping every node's output (what the backward pass needs)."""
    masks: dict = {}
    values = model.forward(inputs, weights, outputs=list(model.order), masks=masks)
    return Trace(inputs=dict(inputs), values=values, masks=masks)


def value(model, trace: Trace, ref: str) -> np.ndarray:
    """The traced output named `ref`: a layer, or one output of several (`lstm[1]`; a layer
    of several outputs named alone: its first)."""
    from nnctl.model import split_ref

    name, index = split_ref(ref)
    values = trace.values[name]
    return values if model.nodes[name].n_outputs == 1 else values[index or 0]


def backward(model, trace: Trace, weights: dict[str, np.ndarray],
             grad_outputs: dict[str, np.ndarray]) -> Gradients:
    """Backpropagate `grad_outputs` (node name -> dL/d its output) through the graph.

    Gradients reaching a node from several consumers (a skip connection, two heads) add up.
    The result holds a gradient for every node on a path to the given outputs, and for every
    weight of those nodes (trainable or not). A layer of several outputs (an LSTM with
    return_state) has a list, None for an output no gradient reached; `grad_outputs` may
    name one of them (`lstm[1]`).
    """
    from nnctl.masking import first_mask, inbound_masks
    from nnctl.model import split_ref

    grads = Gradients()
    pending: dict[str, object] = {}
    for ref, g in grad_outputs.items():
        name, index = split_ref(ref)
        g = np.asarray(g, dtype=value(model, trace, ref).dtype)
        _accumulate(pending, model.nodes[name], index or 0, g)
    for name in reversed(model.order):  # the order is topological: consumers come later
        if name not in pending:
            continue
        g = pending.pop(name)
        grads.nodes[name] = g
        node = model.nodes[name]
        if node.layer is None:
            continue
        mask = (first_mask(node, trace.masks) if getattr(node.layer, "consumes_mask", False)
                else None)
        masks = {}
        if getattr(node.layer, "reads_input_masks", False) and first_mask(node, trace.masks) \
                is not None:
            masks = {"masks": inbound_masks(node, trace.masks)}   # Multiply, Maximum, Minimum
        input_grads, weight_grads = node.layer.backward(
            model.layer_inputs(node, trace.values), node.layer_weights(weights),
            trace.values[name], g,
            **({"mask": mask} if mask is not None else {}), **masks)
        for key, wg in weight_grads.items():   # a shared layer's calls add up
            key = f"{node.layer_name}/{key}"
            grads.weights[key] = grads.weights[key] + wg if key in grads.weights else wg
        for inbound, k, ig in zip(node.inbound, node.inbound_index, input_grads):
            source = model.nodes[inbound]
            if np.dtype(source.dtype).kind != "f":
                continue  # integer indices (an Embedding's) have no gradient
            dtype = source.dtype if source.n_outputs > 1 else trace.values[inbound].dtype
            _accumulate(pending, source, k, ig.astype(dtype, copy=False))
    return grads


def _accumulate(pending, node, index, g):
    """Add `g` to the gradient of output `index` of `node`."""
    name = node.name
    if node.n_outputs == 1:
        pending[name] = pending[name] + g if name in pending else g
        return
    slots = pending.setdefault(name, [None] * node.n_outputs)
    slots[index] = g if slots[index] is None else slots[index] + g
