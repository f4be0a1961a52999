"""BatchNormalization and LayerNormalization, with inference semantics."""
from __future__ import annotations

import math

import numpy as np

from nnctl.layers.base import ArgError, Layer, WeightSpec, boolean, number, sample_axes
from nnctl.layers.core import _initializer


class _Normalization(Layer):
    inert_args = ("beta_regularizer", "gamma_regularizer", "beta_constraint",
                  "gamma_constraint")

    def _init_common(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer):
        self.axis = axis
        self.epsilon = number(epsilon, "epsilon", self.name, low=0, low_open=True)
        self.center = boolean(center, "center", self.name)
        self.scale = boolean(scale, "scale", self.name)
        self.beta_initializer = _initializer(beta_initializer, "beta_initializer", self.name)
        self.gamma_initializer = _initializer(gamma_initializer, "gamma_initializer", self.name)

    def axes(self, shape) -> tuple[int, ...]:
        axes = sample_axes(self.axis, len(shape), self.name)
        for a in axes:
            if shape[a] is None:
                raise ArgError("axis", f"layer '{self.name}': the normalized axis {self.axis} "
                                       f"must have a known size, got input shape {shape}")
        return axes

    def param_shape(self, shape) -> tuple:
        return tuple(shape[a] for a in self.axes(shape))

    def broadcast(self, w, rank, axes):
        """A weight of shape param_shape laid out to broadcast over a batch of rank+1 axes."""
        full = [1] * (rank + 1)
        for i, a in enumerate(axes):
            full[a + 1] = w.shape[i]
        return w.reshape(full)

    def output_shape(self, input_shapes):
        self.axes(input_shapes[0])
        return input_shapes[0]

    def macs(self, input_shapes, output_shape):
        # one multiply-add per value, once the statistics are folded into a scale and shift
        return math.prod(d or 1 for d in output_shape)

    def config_value(self, key):
        value = getattr(self, key)
        if key == "axis" and isinstance(value, tuple):
            return list(value)
        return super().config_value(key)


class BatchNormalization(_Normalization):
    """(x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta, per feature."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **common):
        super().__init__(**common)
        self._init_common(axis, epsilon, center, scale, beta_initializer, gamma_initializer)
        self.momentum = number(momentum, "momentum", self.name)
        self.moving_mean_initializer = _initializer(moving_mean_initializer,
                                                    "moving_mean_initializer", self.name)
        self.moving_variance_initializer = _initializer(moving_variance_initializer,
                                                        "moving_variance_initializer", self.name)

    def weight_specs(self, input_shapes):
        shape = self.param_shape(input_shapes[0])
        specs = []
        if self.scale:
            specs.append(WeightSpec("gamma", shape, self.gamma_initializer, self.trainable))
        if self.center:
            specs.append(WeightSpec("beta", shape, self.beta_initializer, self.trainable))
        specs += [WeightSpec("moving_mean", shape, self.moving_mean_initializer, False),
                  WeightSpec("moving_variance", shape, self.moving_variance_initializer, False)]
        return specs

    def call(self, inputs, weights):
        x = inputs[0]
        rank = x.ndim - 1
        axes = self.axes(x.shape[1:])
        lay = lambda w: self.broadcast(w.astype(x.dtype, copy=False), rank, axes)  # noqa: E731
        inv = 1.0 / np.sqrt(lay(weights["moving_variance"]) + x.dtype.type(self.epsilon))
        if self.scale:
            inv = inv * lay(weights["gamma"])
        shift = -lay(weights["moving_mean"]) * inv
        if self.center:
            shift = shift + lay(weights["beta"])
        return x * inv + shift


class LayerNormalization(_Normalization):
    """Normalizes each sample over `axis` (mean 0, variance 1), then scales and shifts."""

    def __init__(self, axis=-1, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **common):
        super().__init__(**common)
        self._init_common(axis, epsilon, center, scale, beta_initializer, gamma_initializer)

    def weight_specs(self, input_shapes):
        shape = self.param_shape(input_shapes[0])
        specs = []
        if self.scale:
            specs.append(WeightSpec("gamma", shape, self.gamma_initializer, self.trainable))
        if self.center:
            specs.append(WeightSpec("beta", shape, self.beta_initializer, self.trainable))
        return specs

    def call(self, inputs, weights):
        x = inputs[0]
        rank = x.ndim - 1
        axes = self.axes(x.shape[1:])
        batch_axes = tuple(a + 1 for a in axes)
        mean = x.mean(axis=batch_axes, keepdims=True)
        variance = np.square(x - mean).mean(axis=batch_axes, keepdims=True)
        inv = 1.0 / np.sqrt(variance + x.dtype.type(self.epsilon))
        if self.scale:
            inv = inv * self.broadcast(weights["gamma"].astype(x.dtype, copy=False), rank, axes)
        y = (x - mean) * inv
        if self.center:
            y = y + self.broadcast(weights["beta"].astype(x.dtype, copy=False), rank, axes)
        return y
