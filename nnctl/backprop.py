"""The backward pass: gradients of a loss with respect to every input, weight and layer output.

Each layer type has one function here that, given the layer's inputs, its weights and the
gradient of the loss with respect to its output, returns the gradients with respect to its
inputs and its weights. They are kept out of the layer classes (nnctl.layers stays a forward
engine) and dispatched by layer type through BACKWARD. Activations contribute their exact
vector-Jacobian product, `activation.backward(x, grad_out)` (nnctl.activations).

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
from typing import Callable

import numpy as np

from nnctl.errors import NnctlError


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
        function = backward_function(node.layer)
        input_grads, weight_grads = function(node.layer, node_inputs(node, trace),
                                             layer_weights(node, weights), g)
        for key, wg in weight_grads.items():
            grads.weights[f"{name}/{key}"] = wg
        for inbound, ig in zip(node.inbound, input_grads):
            _accumulate(pending, inbound, ig.astype(trace.values[inbound].dtype, copy=False))
    return grads


def _accumulate(pending, name, g):
    pending[name] = pending[name] + g if name in pending else g


# --- per layer ---------------------------------------------------------------------------------
# Each function: (layer, inputs, weights, grad_out) -> (list of input gradients, {weight: grad}).

BACKWARD: dict[str, Callable] = {}


def backward_of(*type_names):
    def register(function):
        for type_name in type_names:
            BACKWARD[type_name] = function
        return function
    return register


def backward_function(layer) -> Callable:
    """The backward function for a layer, by its type (a subclass uses its parent's)."""
    for cls in type(layer).__mro__:
        if cls.__name__ in BACKWARD:
            return BACKWARD[cls.__name__]
    raise NnctlError(f"layer '{layer.name}': no backward pass for {type(layer).__name__}")


def pre_activation(layer, inputs, weights) -> np.ndarray:
    """What a layer feeds its activation: x @ kernel + bias for Dense, x for Activation."""
    x = inputs[0]
    if type(layer).__name__ == "Activation":
        return x
    z = x @ weights["kernel"]
    if layer.use_bias:
        z = z + weights["bias"]
    return z


@backward_of("Dense")
def _dense(layer, inputs, weights, g):
    (x,) = inputs
    kernel = weights["kernel"]
    gz = layer.activation.backward(pre_activation(layer, inputs, weights), g)
    # Dense acts on the last axis; any axes before it are batch-like.
    x2 = x.reshape(-1, x.shape[-1])
    gz2 = gz.reshape(-1, gz.shape[-1])
    weight_grads = {"kernel": x2.T @ gz2}
    if layer.use_bias:
        weight_grads["bias"] = gz2.sum(axis=0)
    return [gz @ kernel.T], weight_grads


@backward_of("Activation")
def _activation(layer, inputs, weights, g):
    return [layer.activation.backward(inputs[0], g)], {}


@backward_of("Dropout")
def _identity(layer, inputs, weights, g):
    return [g], {}


@backward_of("Flatten")
def _flatten(layer, inputs, weights, g):
    x = inputs[0]
    if layer.data_format == "channels_first" and x.ndim > 2:
        # forward moved axis 1 to the end before flattening: undo both steps
        moved = (x.shape[0], *x.shape[2:], x.shape[1])
        return [np.moveaxis(g.reshape(moved), -1, 1)], {}
    return [g.reshape(x.shape)], {}


@backward_of("Reshape")
def _reshape(layer, inputs, weights, g):
    return [g.reshape(inputs[0].shape)], {}


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum g down to `shape`: the gradient of an operand NumPy broadcast up to g's shape."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _chain(inputs, combine, partials, g):
    """Backward through reduce(combine, inputs): acc_k = combine(acc_{k-1}, x_k).

    partials(acc, x) -> (d combine / d acc, d combine / d x), both broadcastable to g.
    """
    accs = [inputs[0]]
    for x in inputs[1:-1]:
        accs.append(combine(accs[-1], x))
    grads = [None] * len(inputs)
    g_acc = g
    for k in range(len(inputs) - 1, 0, -1):
        d_acc, d_x = partials(accs[k - 1], inputs[k])
        grads[k] = unbroadcast(g_acc * d_x, inputs[k].shape)
        g_acc = unbroadcast(g_acc * d_acc, accs[k - 1].shape)
    grads[0] = g_acc
    return grads


@backward_of("Add")
def _add(layer, inputs, weights, g):
    return [unbroadcast(g, x.shape) for x in inputs], {}


@backward_of("Subtract")
def _subtract(layer, inputs, weights, g):
    a, b = inputs
    return [unbroadcast(g, a.shape), -unbroadcast(g, b.shape)], {}


@backward_of("Multiply")
def _multiply(layer, inputs, weights, g):
    # the chain rule along the product, so a zero factor does not need a division
    return _chain(inputs, np.multiply, lambda acc, x: (x, acc), g), {}


@backward_of("Average")
def _average(layer, inputs, weights, g):
    share = g / np.asarray(len(inputs), dtype=g.dtype)
    return [unbroadcast(share, x.shape) for x in inputs], {}


# Ties go to the earlier input, as TensorFlow's Maximum/Minimum gradients do (x >= y).
@backward_of("Maximum")
def _maximum(layer, inputs, weights, g):
    def partials(acc, x):
        first = acc >= x
        return first, ~first
    return _chain(inputs, np.maximum, partials, g), {}


@backward_of("Minimum")
def _minimum(layer, inputs, weights, g):
    def partials(acc, x):
        first = acc <= x
        return first, ~first
    return _chain(inputs, np.minimum, partials, g), {}


@backward_of("Concatenate")
def _concatenate(layer, inputs, weights, g):
    axis = layer.axis
    edges = np.cumsum([x.shape[axis] for x in inputs])[:-1]
    return list(np.split(g, edges, axis=axis)), {}


def _param_layout(layer, x):
    """(axes of one sample the weights run along, batch axes to sum over, laying function)."""
    rank = x.ndim - 1
    axes = layer.axes(x.shape[1:])
    summed = tuple(i for i in range(x.ndim) if i - 1 not in axes)
    lay = lambda w: layer.broadcast(w.astype(x.dtype, copy=False), rank, axes)  # noqa: E731
    return axes, summed, lay


def _reduce_to(value, summed, shape):
    return value.sum(axis=summed).reshape(shape)


@backward_of("BatchNormalization")
def _batch_normalization(layer, inputs, weights, g):
    # y = (x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta
    x = inputs[0]
    _, summed, lay = _param_layout(layer, x)
    shape = weights["moving_mean"].shape
    eps = x.dtype.type(layer.epsilon)
    inv_std = 1.0 / np.sqrt(lay(weights["moving_variance"]) + eps)
    gamma = lay(weights["gamma"]) if layer.scale else 1
    centered = x - lay(weights["moving_mean"])
    scale = inv_std * gamma
    weight_grads = {}
    if layer.scale:
        weight_grads["gamma"] = _reduce_to(g * centered * inv_std, summed, shape)
    if layer.center:
        weight_grads["beta"] = _reduce_to(g, summed, shape)
    weight_grads["moving_mean"] = _reduce_to(-g * scale, summed, shape)
    # d/dv (v + eps)^(-1/2) = -(1/2) (v + eps)^(-3/2)
    weight_grads["moving_variance"] = _reduce_to(-0.5 * g * centered * gamma * inv_std ** 3,
                                                 summed, shape)
    return [g * scale], weight_grads


@backward_of("LayerNormalization")
def _layer_normalization(layer, inputs, weights, g):
    # y = xhat * gamma + beta, xhat = (x - mean) / sqrt(var + eps) over the normalized axes:
    # dx = s (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), s = 1 / sqrt(var + eps)
    x = inputs[0]
    axes, summed, lay = _param_layout(layer, x)
    normalized = tuple(a + 1 for a in axes)
    eps = x.dtype.type(layer.epsilon)
    mean = x.mean(axis=normalized, keepdims=True)
    centered = x - mean
    inv_std = 1.0 / np.sqrt(np.square(centered).mean(axis=normalized, keepdims=True) + eps)
    xhat = centered * inv_std
    weight_grads = {}
    param_shape = layer.param_shape(x.shape[1:])
    if layer.scale:
        weight_grads["gamma"] = _reduce_to(g * xhat, summed, param_shape)
        g_xhat = g * lay(weights["gamma"])
    else:
        g_xhat = g
    if layer.center:
        weight_grads["beta"] = _reduce_to(g, summed, param_shape)
    gx = inv_std * (g_xhat - g_xhat.mean(axis=normalized, keepdims=True)
                    - xhat * (g_xhat * xhat).mean(axis=normalized, keepdims=True))
    return [gx], weight_grads
