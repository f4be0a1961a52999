"""The activation layers with arguments of their own: ReLU, LeakyReLU, PReLU, ELU, Softmax.

ReLU, LeakyReLU, ELU and Softmax apply an nnctl.activations function with the layer's
arguments (so lint and inspect see their activation, as for an Activation layer); PReLU
learns its negative slope `alpha`, one per unit unless `shared_axes` share it.
"""
from __future__ import annotations

import numpy as np

from nnctl.layers.base import (ArgError, Layer, WeightSpec, elementwise_macs, number,
                               same_shape, unbroadcast, unit_to_unit)
from nnctl.layers.core import ActivationLayer, _initializer


def _bind(name: str, **params):
    from nnctl import activations

    return activations.bind(name, params)


def _keras_axis(axis, rank: int, layer: str, key: str = "axis") -> int:
    """A Keras axis (batch counted, negatives from the end) checked against an input of
    `rank` sample axes; returned as given."""
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ArgError(key, f"layer '{layer}': `{key}` must be an integer or a list of integers, "
                            f"got {axis!r}")
    if not -(rank + 1) <= axis <= rank:
        raise ArgError(key, f"layer '{layer}': axis {axis} is out of bounds for an input of "
                            f"rank {rank + 1} (batch axis included)")
    return axis


class ReLU(ActivationLayer):
    """max(x, 0), with an optional ceiling (max_value), slope below the threshold, threshold."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **common):
        super().__init__(**common)
        self.max_value = (None if max_value is None
                          else number(max_value, "max_value", self.name, low=0))
        self.negative_slope = number(negative_slope, "negative_slope", self.name, low=0)
        self.threshold = number(threshold, "threshold", self.name, low=0)
        self.activation = _bind("relu", negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)


class LeakyReLU(ActivationLayer):
    """max(x, negative_slope * x). Keras 3's default slope is 0.3 (`alpha` is its old name)."""

    renamed_args = {"alpha": "negative_slope"}

    def __init__(self, negative_slope=0.3, **common):
        super().__init__(**common)
        self.negative_slope = number(negative_slope, "negative_slope", self.name, low=0)
        self.activation = _bind("leaky_relu", negative_slope=self.negative_slope)


class ELU(ActivationLayer):
    """x for x >= 0, alpha * (exp(x) - 1) below."""

    def __init__(self, alpha=1.0, **common):
        super().__init__(**common)
        self.alpha = number(alpha, "alpha", self.name)
        self.activation = _bind("elu", alpha=self.alpha)


class Softmax(ActivationLayer):
    """exp(x) / sum(exp(x)) along `axis` (an axis or a list of axes, batch axis counted)."""

    affine = False

    def __init__(self, axis=-1, **common):
        super().__init__(**common)
        if isinstance(axis, (list, tuple)):
            if not axis:
                raise ArgError("axis", f"layer '{self.name}': `axis` must be an integer or a "
                                       "non-empty list of integers, got []")
            axes = [_keras_axis(a, 10 ** 9, self.name) for a in axis]
            self.axis = list(axis)
        else:
            axes = [_keras_axis(axis, 10 ** 9, self.name)]
            self.axis = axis
        # one axis: the softmax activation itself (what lint and inspect look at)
        self.activation = _bind("softmax", axis=axes[0]) if len(axes) == 1 else None

    def axes(self, rank: int) -> tuple[int, ...]:
        """The axes of a batch of `rank` sample axes, 0 being the batch axis."""
        given = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = [_keras_axis(a, rank, self.name) % (rank + 1) for a in given]
        if len(set(axes)) != len(axes):
            raise ArgError("axis", f"layer '{self.name}': repeated axis in {self.axis!r}")
        return tuple(axes)

    def output_shape(self, input_shapes):
        self.axes(len(input_shapes[0]))
        return input_shapes[0]

    def call(self, inputs, weights):
        if self.activation is not None:
            return self.activation(inputs[0])
        # Keras: exp(x - logsumexp(x, axes)) over several axes
        x = inputs[0]
        axes = self.axes(x.ndim - 1)
        top = np.max(x, axis=axes, keepdims=True)
        log_total = np.log(np.sum(np.exp(x - top), axis=axes, keepdims=True)) + top
        return np.exp(x - log_total)

    def backward(self, inputs, weights, output, grad):
        if self.activation is not None:
            return super().backward(inputs, weights, output, grad)
        y = self.call(inputs, weights)
        axes = self.axes(y.ndim - 1)
        return [y * (grad - np.sum(grad * y, axis=axes, keepdims=True))], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        if self.activation is not None:
            return super().to_onnx(g, inputs, weights, input_shapes, output_shape)
        x = inputs[0]
        axes = list(self.axes(len(input_shapes[0])))
        top = g.reduce("ReduceMax", x, axes)
        total = g.reduce("ReduceSum", g.op("Exp", g.sub(x, top)), axes)
        return g.op("Exp", g.sub(x, g.add(g.op("Log", total), top)))

    def activation_axes(self, rank: int) -> tuple[int, ...]:
        return tuple(a - 1 for a in self.axes(rank) if a)


class PReLU(Layer):
    """x for x > 0, alpha * x below, with a learned `alpha` per unit (or shared along
    `shared_axes`)."""

    inert_args = ("alpha_regularizer", "alpha_constraint")
    affine = False
    output_shape = same_shape
    macs = elementwise_macs
    neuron_link = unit_to_unit

    def __init__(self, alpha_initializer="Zeros", shared_axes=None, **common):
        super().__init__(**common)
        self.alpha_initializer = _initializer(alpha_initializer, "alpha_initializer",
                                              self.name)
        if shared_axes is not None:
            axes = shared_axes if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, int) or a < 1 for a in axes):
                raise ArgError("shared_axes", f"layer '{self.name}': `shared_axes` must be "
                                              "an axis or a list of axes counted from 1 (the "
                                              f"batch axis is 0), got {shared_axes!r}")
            shared_axes = list(axes)
        self.shared_axes = shared_axes

    def param_shape(self, shape) -> tuple:
        param = list(shape)
        for a in self.shared_axes or []:
            if a > len(shape):
                raise ArgError("shared_axes", f"layer '{self.name}': axis {a} of "
                                              f"`shared_axes` is not an axis of inputs of "
                                              f"shape {(None, *shape)}")
            param[a - 1] = 1
        if None in param:
            raise ArgError(None, f"layer '{self.name}': PReLU needs every unshared axis' size, "
                                 f"got input shape {(None, *shape)}")
        return tuple(param)

    def weight_specs(self, input_shapes):
        return [WeightSpec("alpha", self.param_shape(input_shapes[0]), self.alpha_initializer,
                           self.trainable)]

    def call(self, inputs, weights):
        x = inputs[0]
        zero = np.array(0.0, x.dtype)
        return np.maximum(x, zero) + -weights["alpha"] * np.maximum(-x, zero)

    def backward(self, inputs, weights, output, grad):
        x = inputs[0]
        alpha = weights["alpha"]
        gx = grad * np.where(x > 0, 1, np.where(x < 0, alpha, 0))
        g_alpha = unbroadcast(-grad * np.maximum(-x, 0), (1, *alpha.shape))
        return [gx], {"alpha": g_alpha.reshape(alpha.shape)}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.op("PRelu", inputs[0], g.initializer(weights["alpha"], "alpha"))
