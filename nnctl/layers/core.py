"""Dense, Activation and Dropout: the article's layers; Masking (Keras' core family too)."""
from __future__ import annotations

import math

import numpy as np

from nnctl.layers.base import (ArgError, Layer, WeightSpec, boolean, elementwise_macs,
                               identity_onnx, no_macs, no_weights, number, positive_int, resolve,
                               same_shape, unit_to_unit, unravel)


def _activation(value, layer):
    from nnctl import activations

    return resolve(activations.get, value, "activation", layer)


def _initializer(value, key, layer):
    from nnctl import initializers

    if value is None:  # `kernel_initializer: null`: Keras' add_weight falls back to this
        value = "glorot_uniform"
    return resolve(initializers.get, value, key, layer)


class Dense(Layer):
    """A fully connected layer: activation(x @ kernel + bias), on the last axis."""

    inert_args = ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                  "kernel_constraint", "bias_constraint")
    affine = True
    kernel_weights = ("kernel",)

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **common):
        super().__init__(**common)
        self.units = positive_int(units, "units", self.name)
        self.activation = _activation(activation, self.name)
        self.use_bias = boolean(use_bias, "use_bias", self.name)
        self.kernel_initializer = _initializer(kernel_initializer, "kernel_initializer", self.name)
        self.bias_initializer = _initializer(bias_initializer, "bias_initializer", self.name)

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if shape[-1] is None:
            raise ArgError(None, f"layer '{self.name}': Dense needs a known last dimension, "
                                 f"got input shape {shape}")
        return shape[:-1] + (self.units,)

    def weight_specs(self, input_shapes):
        (shape,) = input_shapes
        specs = [WeightSpec("kernel", (shape[-1], self.units), self.kernel_initializer,
                            self.trainable)]
        if self.use_bias:
            specs.append(WeightSpec("bias", (self.units,), self.bias_initializer, self.trainable))
        return specs

    def pre_activation(self, inputs, weights):
        z = inputs[0] @ weights["kernel"]
        if self.use_bias:
            z += weights["bias"]
        return z

    def call(self, inputs, weights):
        return self.activation.on_temporary(self.pre_activation(inputs, weights))

    def backward(self, inputs, weights, output, grad):
        (x,) = inputs
        gz = self.activation.backward(self.pre_activation(inputs, weights), grad)
        # Dense acts on the last axis; any axes before it are batch-like.
        x2 = x.reshape(-1, x.shape[-1])
        gz2 = gz.reshape(-1, gz.shape[-1])
        weight_grads = {"kernel": x2.T @ gz2}
        if self.use_bias:
            weight_grads["bias"] = gz2.sum(axis=0)
        return [gz @ weights["kernel"].T], weight_grads

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        y = g.op("MatMul", inputs[0], g.initializer(weights["kernel"], "kernel"))
        if self.use_bias:
            y = g.add(y, g.initializer(weights["bias"], "bias"))
        return g.activation(self.activation, y, output_shape)

    def macs(self, input_shapes, output_shape):
        (shape,) = input_shapes
        return math.prod(d or 1 for d in shape) * self.units

    def neuron_link(self, input_shapes, output_shape, index, source, unit):
        # weights join the last axis; leading axes go one to one
        return source // input_shapes[0][-1] == unit // output_shape[-1]


class ActivationLayer(Layer):
    """A layer that applies its `activation` (an nnctl.activations function) and nothing
    else: Activation, and the activation layers with arguments of their own (ReLU, ELU...)."""

    affine = True      # apart from the activation, which lint looks at by itself
    output_shape = same_shape
    weight_specs = no_weights
    macs = no_macs

    def activation_axes(self, rank: int) -> tuple[int, ...]:
        """The sample axes (0-based) the activation mixes units along: none for an
        element-wise one, softmax's axis for softmax & co."""
        act = self.activation
        if act is None or act.elementwise or "axis" not in act.params:
            return ()
        axis = act.params["axis"] % (rank + 1)
        return (axis - 1,) if axis else ()

    def neuron_link(self, input_shapes, output_shape, index, source, unit):
        # unit to unit; along the axis of a softmax, every unit to every unit
        axes = self.activation_axes(len(output_shape))
        if not axes or input_shapes[0] != output_shape:
            return source == unit
        a, b = unravel(source, output_shape), unravel(unit, output_shape)
        return all(i == j for k, (i, j) in enumerate(zip(a, b)) if k not in axes)

    def pre_activation(self, inputs, weights):
        return inputs[0]

    def call(self, inputs, weights):
        return self.activation(inputs[0])

    def backward(self, inputs, weights, output, grad):
        return [self.activation.backward(inputs[0], grad)], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.activation(self.activation, inputs[0], input_shapes[0])


class Activation(ActivationLayer):
    """An activation function as a layer of its own."""

    def __init__(self, activation, **common):
        super().__init__(**common)
        self.activation = _activation(activation, self.name)


class PassThrough(Layer):
    """The pieces of a layer that acts only while training: the identity at inference
    (Dropout here, its kin in nnctl/layers/noise.py)."""

    affine = True
    output_shape = same_shape
    weight_specs = no_weights
    macs = no_macs
    neuron_link = unit_to_unit
    to_onnx = identity_onnx

    def call(self, inputs, weights):
        return inputs[0]

    def backward(self, inputs, weights, output, grad):
        return [grad], {}


class Dropout(PassThrough):
    """Randomly zeroes inputs while training; the identity at inference, as here."""

    def __init__(self, rate, noise_shape=None, seed=None, **common):
        super().__init__(**common)
        self.rate = number(rate, "rate", self.name, low=0, high=1)
        self.noise_shape = noise_shape
        self.seed = seed


class Masking(Layer):
    """Marks the steps whose every feature equals mask_value as padding (a mask, handed on as
    Embedding's mask_zero is) and zeroes them."""

    affine = False
    output_shape = same_shape
    weight_specs = no_weights
    macs = elementwise_macs
    neuron_link = unit_to_unit
    creates_mask = True   # nnctl.masking: its output carries a mask whatever its input

    def __init__(self, mask_value=0.0, **common):
        super().__init__(**common)
        self.mask_value = number(mask_value, "mask_value", self.name)

    def compute_mask(self, inputs):
        """Keras' mask: True for a step holding any feature other than mask_value."""
        x = inputs[0]
        return np.any(x != np.asarray(self.mask_value, x.dtype), axis=-1)

    def call(self, inputs, weights):
        x = inputs[0]
        return x * self.compute_mask(inputs)[..., None].astype(x.dtype)

    def backward(self, inputs, weights, output, grad):
        return [grad * self.compute_mask(inputs)[..., None].astype(grad.dtype)], {}

    def _onnx_keep(self, g, x) -> str:
        """1 for a kept step, 0 for a masked one, in x's dtype, its last axis kept (of 1)."""
        other = g.op("Not", g.op("Equal", x, g.c(self.mask_value)))
        return g.reduce("ReduceMax", g.cast(other, np.bool_, g.dtype), [-1])

    def onnx_mask(self, g, x) -> str:
        """compute_mask in ONNX: a bool per step."""
        keep = g.op("Squeeze", self._onnx_keep(g, x), g.ints([-1]))
        return g.cast(keep, g.dtype, np.bool_)

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.op("Mul", inputs[0], self._onnx_keep(g, inputs[0]))
