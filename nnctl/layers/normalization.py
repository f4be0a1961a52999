"""BatchNormalization and LayerNormalization, with inference semantics.

Both are Keras' batch_normalization op, y = x * inv + shift with inv = gamma / sqrt(variance +
epsilon) and shift = beta - mean * inv (`scale_shift`): BatchNormalization with its moving
statistics, LayerNormalization with each sample's own mean and variance over `axis`
(`moments`). `normalize_vjp` is that op's backward pass; LayerNormalization adds the paths
through its statistics.
"""
from __future__ import annotations

import numpy as np

from nnctl.layers.base import (Layer, WeightSpec, along_axes, boolean, elementwise_macs,
                               known_axes, number, unit_to_unit)
from nnctl.layers.core import _initializer


def scale_shift(mean, variance, gamma, beta, epsilon):
    """(inv, shift) with y = x * inv + shift: inv = gamma / sqrt(variance + epsilon), shift =
    beta - mean * inv (gamma None: 1, beta None: 0), with the operations of Keras' NumPy
    batch_normalization in its order."""
    inv = 1.0 / np.sqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    shift = -mean * inv
    if beta is not None:
        shift = shift + beta
    return inv, shift


def normalize_vjp(grad, x, mean, variance, gamma, epsilon) -> dict:
    """The backward pass of x * inv + shift (scale_shift's) for the gradient `grad`: the
    gradient for each operand (x, mean, variance, gamma, beta) before it is summed over the
    axes that operand was broadcast along; x's with mean and variance held fixed."""
    inv_std = 1.0 / np.sqrt(variance + epsilon)
    centered = x - mean
    g_normalized = grad if gamma is None else grad * gamma  # for (x - mean) * inv_std
    return {"x": g_normalized * inv_std,
            "mean": -g_normalized * inv_std,
            # d/dv (v + eps)^(-1/2) = -(1/2) (v + eps)^(-3/2)
            "variance": -0.5 * g_normalized * centered * inv_std ** 3,
            "gamma": grad * centered * inv_std,
            "beta": grad}


def moments(x, normalized: tuple):
    """The mean and variance of x over the (batch) axes `normalized`, kept as axes of 1, as
    Keras' moments computes them: the variance as mean(x^2) - mean(x)^2, never below 0 (a
    flat row far from 0, 1000.1 64 times, rounds it to a negative number, whose square root
    would be NaN; Keras' NumPy backend gives that NaN, its other backends clamp or centre)."""
    mean = x.mean(axis=normalized, keepdims=True)
    variance = np.square(x).mean(axis=normalized, keepdims=True) - np.square(mean)
    return mean, np.maximum(variance, 0, out=variance)


def _reduce_to(value, summed, shape):
    return value.sum(axis=summed).reshape(shape)


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
        return known_axes(self.axis, shape, self.name)

    def param_shape(self, shape) -> tuple:
        return tuple(shape[a] for a in self.axes(shape))

    def affine_specs(self, shape) -> list[WeightSpec]:
        """gamma and beta of `shape`, as `scale` and `center` ask."""
        specs = []
        if self.scale:
            specs.append(WeightSpec("gamma", shape, self.gamma_initializer, self.trainable))
        if self.center:
            specs.append(WeightSpec("beta", shape, self.beta_initializer, self.trainable))
        return specs

    def gamma_beta(self, weights, lay) -> tuple:
        """gamma and beta laid out by `lay`, None for those the layer does not have."""
        return (lay(weights["gamma"]) if self.scale else None,
                lay(weights["beta"]) if self.center else None)

    def output_shape(self, input_shapes):
        self.axes(input_shapes[0])
        return input_shapes[0]

    # one multiply-add per value, once the statistics are folded into a scale and shift
    macs = elementwise_macs
    neuron_link = unit_to_unit

    def param_layout(self, x):
        """(axes of one sample the weights run along, batch axes to sum over, laying function)
        for a batch x."""
        axes = self.axes(x.shape[1:])
        summed = tuple(i for i in range(x.ndim) if i - 1 not in axes)
        lay = lambda w: along_axes(w.astype(x.dtype, copy=False), axes, x.ndim)  # noqa: E731
        return axes, summed, lay


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
        return self.affine_specs(shape) + [
            WeightSpec("moving_mean", shape, self.moving_mean_initializer, False),
            WeightSpec("moving_variance", shape, self.moving_variance_initializer, False)]

    def _scale_shift(self, weights, lay, epsilon):
        return scale_shift(lay(weights["moving_mean"]), lay(weights["moving_variance"]),
                           *self.gamma_beta(weights, lay), epsilon)

    def call(self, inputs, weights):
        x = inputs[0]
        _, _, lay = self.param_layout(x)
        inv, shift = self._scale_shift(weights, lay, x.dtype.type(self.epsilon))
        return x * inv + shift

    def backward(self, inputs, weights, output, grad):
        x = inputs[0]
        _, summed, lay = self.param_layout(x)
        gamma, _ = self.gamma_beta(weights, lay)
        grads = normalize_vjp(grad, x, lay(weights["moving_mean"]),
                              lay(weights["moving_variance"]), gamma,
                              x.dtype.type(self.epsilon))
        shape = weights["moving_mean"].shape
        weight_grads = {name: _reduce_to(grads[part], summed, shape)
                        for name, part in (("gamma", "gamma"), ("beta", "beta"),
                                           ("moving_mean", "mean"),
                                           ("moving_variance", "variance"))
                        if name in weights}
        return [grads["x"]], weight_grads

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        # The moving statistics folded as call() folds them, in the same dtype.
        shape = input_shapes[0]
        rank, axes = len(shape), self.axes(shape)
        inv, shift = self._scale_shift(weights, lambda w: along_axes(w, axes, rank + 1),
                                       g.dtype.type(self.epsilon))
        return g.add(g.mul(inputs[0], g.initializer(inv, "scale")), g.initializer(shift, "shift"))


class LayerNormalization(_Normalization):
    """Normalizes each sample over `axis` (mean 0, variance 1), then scales and shifts."""

    affine = False

    def __init__(self, axis=-1, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **common):
        super().__init__(**common)
        self._init_common(axis, epsilon, center, scale, beta_initializer, gamma_initializer)

    def weight_specs(self, input_shapes):
        return self.affine_specs(self.param_shape(input_shapes[0]))

    def call(self, inputs, weights):
        x = inputs[0]
        axes, _, lay = self.param_layout(x)
        mean, variance = moments(x, tuple(a + 1 for a in axes))
        inv, shift = scale_shift(mean, variance, *self.gamma_beta(weights, lay),
                                 x.dtype.type(self.epsilon))
        return x * inv + shift

    def backward(self, inputs, weights, output, grad):
        # normalize_vjp, plus the paths through the sample's own mean and variance:
        # d mean / dx = 1 / n, d variance / dx = 2 (x - mean) / n over the normalized axes
        x = inputs[0]
        axes, summed, lay = self.param_layout(x)
        normalized = tuple(a + 1 for a in axes)
        mean, variance = moments(x, normalized)
        gamma, _ = self.gamma_beta(weights, lay)
        grads = normalize_vjp(grad, x, mean, variance, gamma, x.dtype.type(self.epsilon))
        gx = (grads["x"] + grads["mean"].mean(axis=normalized, keepdims=True)
              + 2 * (x - mean) * grads["variance"].mean(axis=normalized, keepdims=True))
        shape = self.param_shape(x.shape[1:])
        return [gx], {name: _reduce_to(grads[name], summed, shape)
                      for name in ("gamma", "beta") if name in weights}

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
        # scale_shift and moments as call() computes them
        lay = lambda w: along_axes(w, axes, rank + 1)  # noqa: E731
        mean = g.reduce("ReduceMean", x, batch_axes)
        variance = g.maximum(g.sub(g.reduce("ReduceMean", g.mul(x, x), batch_axes),
                                   g.mul(mean, mean)), 0)
        inv = g.div(1, g.op("Sqrt", g.add(variance, self.epsilon)))
        if self.scale:
            inv = g.mul(inv, g.initializer(lay(weights["gamma"]), "gamma"))
        shift = g.mul(mean, inv)
        shift = (g.sub(g.initializer(lay(weights["beta"]), "beta"), shift) if self.center
                 else g.op("Neg", shift))
        return g.add(g.mul(x, inv), shift)
