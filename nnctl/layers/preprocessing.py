"""Rescaling and Normalization: inputs brought to a scale, as the first layers of a model."""
from __future__ import annotations

import numpy as np

from nnctl.layers.base import (ArgError, Layer, WeightSpec, along_axes, boolean,
                               elementwise_macs, format_shape, known_axes, no_weights, number,
                               unbroadcast, unit_to_unit)

EPSILON = 1e-7   # keras.backend.epsilon(): the floor of Normalization's standard deviation


def _numbers(value, key: str, layer: str) -> np.ndarray:
    """A number or a (nested) list of numbers, as a float64 array."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return np.asarray(number(value, key, layer))
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if (array is None or not isinstance(value, (list, tuple)) or array.size == 0
            or not np.all(np.isfinite(array))):
        raise ArgError(key, f"layer '{layer}': `{key}` must be a number or a list of numbers, "
                            f"got {value!r}")
    return array


class Rescaling(Layer):
    """x * scale + offset (e.g. scale 1/255 for pixels in 0..255)."""

    affine = True
    macs = elementwise_macs
    neuron_link = unit_to_unit

    def __init__(self, scale, offset=0.0, **common):
        super().__init__(**common)
        self.scale = scale
        self.offset = offset
        self._scale = _numbers(scale, "scale", self.name)
        self._offset = _numbers(offset, "offset", self.name)

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        for key, array in (("scale", self._scale), ("offset", self._offset)):
            known = tuple(1 if d is None else d for d in shape)
            try:
                fits = np.broadcast_shapes((1, *known), array.shape) == (1, *known)
            except ValueError:
                fits = False
            if not fits:
                raise ArgError(key, f"layer '{self.name}': `{key}` of shape {array.shape} does "
                                    "not broadcast over inputs of shape "
                                    f"{format_shape((None, *shape))}")
        return shape

    weight_specs = no_weights

    def call(self, inputs, weights):
        x = inputs[0]
        return x * self._scale.astype(x.dtype) + self._offset.astype(x.dtype)

    def backward(self, inputs, weights, output, grad):
        x = inputs[0]
        return [unbroadcast(grad * self._scale.astype(x.dtype), x.shape)], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.add(g.mul(inputs[0], g.c(self._scale)), g.c(self._offset))


class Normalization(Layer):
    """(x - mean) / sqrt(variance) per feature along `axis` (or back with invert); mean and
    variance given here or as the non-trainable weights `mean`, `variance` (and `count`)."""

    affine = True
    macs = elementwise_macs
    neuron_link = unit_to_unit

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **common):
        super().__init__(**common)
        if axis is not None and (isinstance(axis, bool) or not isinstance(axis, (int, list,
                                                                                tuple))):
            raise ArgError("axis", f"layer '{self.name}': `axis` must be an integer, a list of "
                                   f"integers or null, got {axis!r}")
        self.axis = axis
        self.invert = boolean(invert, "invert", self.name)
        if (mean is None) != (variance is None):
            raise ArgError("mean" if variance is None else "variance",
                           f"layer '{self.name}': give both `mean` and `variance`, or neither "
                           "(then they are weights)")
        self.mean, self.variance = mean, variance
        self._given = None
        if mean is not None:
            m = _numbers(mean, "mean", self.name)
            v = _numbers(variance, "variance", self.name)
            if m.shape != v.shape:
                raise ArgError("variance", f"layer '{self.name}': `mean` and `variance` must "
                                           f"have the same shape, got {m.shape} and {v.shape}")
            if np.any(v < 0):
                raise ArgError("variance", f"layer '{self.name}': `variance` must not be "
                                           "negative")
            self._given = (m, v)

    def axes(self, shape) -> tuple[int, ...]:
        """The kept axes of one sample (0-based): one statistic per index along them."""
        if self.axis is None or self.axis == [] or self.axis == ():
            return ()
        return known_axes(self.axis, shape, self.name)

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        axes = self.axes(shape)
        if self._given is not None:
            m = self._given[0]
            if m.ndim > len(axes):
                raise ArgError("mean", f"layer '{self.name}': `mean` has rank {m.ndim}, more "
                                       f"than the {len(axes)} normalized axes")
            kept = [shape[a] for a in axes[len(axes) - m.ndim:]]
            if any(n != k and n != 1 for n, k in zip(m.shape, kept)):
                raise ArgError("mean", f"layer '{self.name}': `mean` of shape {m.shape} does "
                                       f"not fit the normalized axes of size {tuple(kept)}")
        return shape

    def weight_specs(self, input_shapes):
        if self._given is not None:
            return []
        from nnctl import initializers

        shape = tuple(input_shapes[0][a] for a in self.axes(input_shapes[0]))
        zeros, ones = initializers.get("zeros"), initializers.get("ones")
        return [WeightSpec("mean", shape, zeros, False),
                WeightSpec("variance", shape, ones, False),
                WeightSpec("count", (), zeros, False, dtype="int32")]

    def _laid(self, x, weights):
        """(mean, variance) shaped to broadcast over the batch x, in x's dtype."""
        axes = self.axes(x.shape[1:])
        if self._given is not None:
            # Keras reads the given values as float32 tensors, then casts them
            m, v = (a.astype(np.float32) for a in self._given)
        else:
            m, v = weights["mean"], weights["variance"]
        kept = axes[len(axes) - m.ndim:]   # given values may leave out leading axes
        return tuple(along_axes(a, kept, x.ndim).astype(x.dtype, copy=False) for a in (m, v))

    def _std(self, variance):
        return np.maximum(np.sqrt(variance), variance.dtype.type(EPSILON))

    def call(self, inputs, weights):
        x = inputs[0]
        mean, variance = self._laid(x, weights)
        if self.invert:
            return mean + x * self._std(variance)
        return (x - mean) / self._std(variance)

    def backward(self, inputs, weights, output, grad):
        x = inputs[0]
        mean, variance = self._laid(x, weights)
        root = np.sqrt(variance)
        std = self._std(variance)
        d_std = np.where(root > EPSILON, 0.5 / np.where(root > 0, root, 1), 0)  # d std / d var
        if self.invert:
            gx, g_mean, g_std = grad * std, grad, grad * x
        else:
            gx = grad / std
            g_mean, g_std = -gx, -gx * (x - mean) / std
        weight_grads = {}
        if self._given is None:
            shape = weights["mean"].shape
            weight_grads = {
                "mean": unbroadcast(g_mean, mean.shape).reshape(shape),
                "variance": unbroadcast(g_std * d_std, variance.shape).reshape(shape),
                "count": np.zeros((), dtype=x.dtype)}
        return [gx], weight_grads

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        # the statistics laid out and the standard deviation floored as call() does, in NumPy
        probe = np.zeros((1, *(d or 1 for d in input_shapes[0])), dtype=g.dtype)
        mean, variance = self._laid(probe, weights)
        mean_c, std_c = g.initializer(mean, "mean"), g.initializer(self._std(variance), "std")
        if self.invert:
            return g.add(mean_c, g.mul(inputs[0], std_c))
        return g.div(g.sub(inputs[0], mean_c), std_c)
