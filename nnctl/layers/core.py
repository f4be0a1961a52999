"""Dense, Activation and Dropout: the article's layers."""
from __future__ import annotations

import math

import numpy as np

from nnctl.layers.base import (ArgError, Layer, WeightSpec, boolean, number, positive_int,
                               resolve)


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

    def call(self, inputs, weights):
        (x,) = inputs
        y = x @ weights["kernel"]
        if self.use_bias:
            y += weights["bias"]
        return self.activation(y)

    def macs(self, input_shapes, output_shape):
        (shape,) = input_shapes
        return math.prod(d or 1 for d in shape) * self.units

    def config_value(self, key):
        if key == "activation":
            return self.activation.get_config()
        return super().config_value(key)


class Activation(Layer):
    """An activation function as a layer of its own."""

    def __init__(self, activation, **common):
        super().__init__(**common)
        self.activation = _activation(activation, self.name)

    def call(self, inputs, weights):
        return self.activation(inputs[0])

    def config_value(self, key):
        return self.activation.get_config()


class Dropout(Layer):
    """Randomly zeroes inputs while training; the identity at inference, as here."""

    def __init__(self, rate, noise_shape=None, seed=None, **common):
        super().__init__(**common)
        self.rate = number(rate, "rate", self.name, low=0, high=1)
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs, weights):
        return inputs[0]
