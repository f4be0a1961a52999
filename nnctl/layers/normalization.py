"""BatchNormalization and LayerNormalization, with inference semantics."""
from __future__ import annotations

import numpy as np

from nnctl.layers.base import (ArgError, Layer, WeightSpec, boolean, elementwise_macs, number,
                               sample_axes, unit_to_unit)
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

    # one multiply-add per value, once the statistics are folded into a scale and shift
    macs = elementwise_macs
    neuron_link = unit_to_unit

    def param_layout(self, x):
        """(axes of one sample the weights run along, batch axes to sum over, laying function)
        for a batch x."""
        rank = x.ndim - 1
        axes = self.axes(x.shape[1:])
        summed = tuple(i for i in range(x.ndim) if i - 1 not in axes)
        lay = lambda w: self.broadcast(w.astype(x.dtype, copy=False), rank, axes)  # noqa: E731
        return axes, summed, lay

    def config_value(self, key):
        value = getattr(self, key)
        if key == "axis" and isinstance(value, tuple):
            return list(value)
        return super().config_value(key)


def _reduce_to(value, summed, shape):
    return value.sum(axis=summed).reshape(shape)


class BatchNormalization(_Normalization):
    """(x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta, per feature."""

    affine = True

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

    def backward(self, inputs, weights, output, grad):
        # y = (x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta
        x, g = inputs[0], grad
        _, summed, lay = self.param_layout(x)
        shape = weights["moving_mean"].shape
        eps = x.dtype.type(self.epsilon)
        inv_std = 1.0 / np.sqrt(lay(weights["moving_variance"]) + eps)
        gamma = lay(weights["gamma"]) if self.scale else 1
        centered = x - lay(weights["moving_mean"])
        scale = inv_std * gamma
        weight_grads = {}
        if self.scale:
            weight_grads["gamma"] = _reduce_to(g * centered * inv_std, summed, shape)
        if self.center:
            weight_grads["beta"] = _reduce_to(g, summed, shape)
        weight_grads["moving_mean"] = _reduce_to(-g * scale, summed, shape)
        # d/dv (v + eps)^(-1/2) = -(1/2) (v + eps)^(-3/2)
        weight_grads["moving_variance"] = _reduce_to(-0.5 * g * centered * gamma * inv_std ** 3,
                                                     summed, shape)
        return [g * scale], weight_grads

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        # The moving statistics folded as call() folds them, in the same dtype.
        shape = input_shapes[0]
        rank, axes = len(shape), self.axes(shape)
        lay = lambda w: self.broadcast(w, rank, axes)  # noqa: E731
        inv = 1.0 / np.sqrt(lay(weights["moving_variance"]) + g.dtype.type(self.epsilon))
        if self.scale:
            inv = inv * lay(weights["gamma"])
        shift = -lay(weights["moving_mean"]) * inv
        if self.center:
            shift = shift + lay(weights["beta"])
        return g.add(g.mul(inputs[0], g.initializer(inv, "scale")), g.initializer(shift, "shift"))


class LayerNormalization(_Normalization):
    """Normalizes each sample over `axis` (mean 0, variance 1), then scales and shifts."""

    affine = False

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

    def backward(self, inputs, weights, output, grad):
        # y = xhat * gamma + beta, xhat = (x - mean) / sqrt(var + eps) over the normalized
        # axes: dx = s (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), s = 1 / sqrt(var + eps)
        x, g = inputs[0], grad
        axes, summed, lay = self.param_layout(x)
        normalized = tuple(a + 1 for a in axes)
        eps = x.dtype.type(self.epsilon)
        mean = x.mean(axis=normalized, keepdims=True)
        centered = x - mean
        inv_std = 1.0 / np.sqrt(np.square(centered).mean(axis=normalized, keepdims=True) + eps)
        xhat = centered * inv_std
        weight_grads = {}
        param_shape = self.param_shape(x.shape[1:])
        if self.scale:
            weight_grads["gamma"] = _reduce_to(g * xhat, summed, param_shape)
            g_xhat = g * lay(weights["gamma"])
        else:
            g_xhat = g
        if self.center:
            weight_grads["beta"] = _reduce_to(g, summed, param_shape)
        gx = inv_std * (g_xhat - g_xhat.mean(axis=normalized, keepdims=True)
                        - xhat * (g_xhat * xhat).mean(axis=normalized, keepdims=True))
        return [gx], weight_grads

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        shape, x = input_shapes[0], inputs[0]
        rank, axes = len(shape), self.axes(shape)
        batch_axes = [a + 1 for a in axes]
        trailing = batch_axes == list(range(batch_axes[0], rank + 1))
        if g.opset >= 17 and trailing and g.dtype == np.float32:
            # The standard operator (its epsilon is a float32 attribute: float64 models take
            # the decomposed form below, with their exact epsilon).
            gamma = (weights["gamma"] if self.scale
                     else np.ones(self.param_shape(shape), g.dtype))
            args = [x, g.initializer(gamma, "gamma")]
            if self.center:
                args.append(g.initializer(weights["beta"], "beta"))
            return g.op("LayerNormalization", *args, axis=batch_axes[0], epsilon=self.epsilon)
        lay = lambda w: self.broadcast(w, rank, axes)  # noqa: E731
        mean = g.reduce("ReduceMean", x, batch_axes)
        centred = g.sub(x, mean)
        variance = g.reduce("ReduceMean", g.mul(centred, centred), batch_axes)
        inv = g.div(1, g.op("Sqrt", g.add(variance, self.epsilon)))
        if self.scale:
            inv = g.mul(inv, g.initializer(lay(weights["gamma"]), "gamma"))
        y = g.mul(centred, inv)
        if self.center:
            y = g.add(y, g.initializer(lay(weights["beta"]), "beta"))
        return y
