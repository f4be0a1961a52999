"""Flatten, Reshape, Permute and RepeatVector: the same numbers, another shape."""
from __future__ import annotations

import math

import numpy as np

from nnctl.layers.base import (ArgError, Layer, format_shape, linear_link, no_macs, no_weights,
                               positive_int, unit_to_unit)


class _Rearranging(Layer):
    """A layer that only moves (or repeats) values: affine, no weights, no multiplications."""

    affine = True
    weight_specs = no_weights
    macs = no_macs


class Flatten(_Rearranging):
    """Flattens each sample to one axis (C order)."""

    neuron_link = linear_link    # channels_first: each unit moves to its channels-last place

    def __init__(self, data_format=None, **common):
        super().__init__(**common)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ArgError("data_format", f"layer '{self.name}': `data_format` must be "
                                          f"channels_last or channels_first, got {data_format!r}")
        self.data_format = data_format

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        return (None,) if None in shape else (math.prod(shape),)

    def call(self, inputs, weights):
        x = inputs[0]
        if self.data_format == "channels_first" and x.ndim > 2:
            x = x.transpose(0, *range(2, x.ndim), 1)  # Keras flattens channels last
        return x.reshape(x.shape[0], -1)

    def backward(self, inputs, weights, output, grad):
        x = inputs[0]
        if self.data_format == "channels_first" and x.ndim > 2:
            # forward moved axis 1 to the end before flattening: undo both steps
            moved = (x.shape[0], *x.shape[2:], x.shape[1])
            return [np.moveaxis(grad.reshape(moved), -1, 1)], {}
        return [grad.reshape(x.shape)], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        x, rank = inputs[0], len(input_shapes[0])
        if self.data_format == "channels_first" and rank > 1:
            x = g.op("Transpose", x, perm=[0, *range(2, rank + 1), 1])  # Keras flattens channels last
        return g.op("Flatten", x, axis=1)


class Reshape(_Rearranging):
    """Reshapes each sample to `target_shape`; one dimension may be -1 (inferred)."""

    neuron_link = unit_to_unit

    def __init__(self, target_shape, **common):
        super().__init__(**common)
        if isinstance(target_shape, int) and not isinstance(target_shape, bool):
            target_shape = [target_shape]
        if not isinstance(target_shape, (list, tuple)) or not target_shape or any(
                isinstance(d, bool) or not isinstance(d, int) or (d <= 0 and d != -1)
                for d in target_shape):
            raise ArgError("target_shape", f"layer '{self.name}': `target_shape` must be a list "
                                           f"of positive integers (one may be -1), got "
                                           f"{target_shape!r}")
        if list(target_shape).count(-1) > 1:
            raise ArgError("target_shape", f"layer '{self.name}': only one dimension of "
                                           f"`target_shape` may be -1, got {list(target_shape)}")
        self.target_shape = tuple(target_shape)

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        target = list(self.target_shape)
        if None in shape:
            return tuple(None if d == -1 else d for d in target)
        size = math.prod(shape)
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if size % known:
                raise ArgError("target_shape", self._mismatch(shape))
            target[target.index(-1)] = size // known
        elif known != size:
            raise ArgError("target_shape", self._mismatch(shape))
        return tuple(target)

    def _mismatch(self, shape):
        return (f"layer '{self.name}': cannot reshape an input of shape {tuple(shape)} "
                f"({math.prod(shape)} values) to target_shape {tuple(self.target_shape)}")

    def call(self, inputs, weights):
        x = inputs[0]
        return x.reshape((x.shape[0],) + self.target_shape)

    def backward(self, inputs, weights, output, grad):
        return [grad.reshape(inputs[0].shape)], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        # 0 keeps the batch size; the target's -1 (if any) is left to ONNX when a size is unknown
        target = output_shape if None not in output_shape else self.target_shape
        return g.op("Reshape", inputs[0], g.ints([0, *target]))


class Permute(_Rearranging):
    """Reorders the axes of each sample: `dims` lists them counted from 1, e.g. [2, 1]."""

    neuron_link = linear_link

    def __init__(self, dims, **common):
        super().__init__(**common)
        if (not isinstance(dims, (list, tuple))
                or any(isinstance(d, bool) or not isinstance(d, int) for d in dims)
                or sorted(dims) != list(range(1, len(dims) + 1))):
            raise ArgError("dims", f"layer '{self.name}': `dims` must list the axes 1..n of a "
                                   f"sample once each, in their new order, got {dims!r}")
        self.dims = tuple(dims)

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if len(shape) != len(self.dims):
            raise ArgError("dims", f"layer '{self.name}': `dims` {list(self.dims)} permutes "
                                   f"{len(self.dims)} axes, but the input "
                                   f"{format_shape((None, *shape))} has {len(shape)} per sample")
        return tuple(shape[d - 1] for d in self.dims)

    def call(self, inputs, weights):
        return inputs[0].transpose(0, *self.dims)

    def backward(self, inputs, weights, output, grad):
        return [grad.transpose(0, *(int(i) + 1 for i in np.argsort(self.dims)))], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.op("Transpose", inputs[0], perm=[0, *self.dims])


class RepeatVector(_Rearranging):
    """Repeats each sample (a vector) `n` times: (features,) -> (n, features)."""

    neuron_link = linear_link

    def __init__(self, n, **common):
        super().__init__(**common)
        self.n = positive_int(n, "n", self.name)

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if len(shape) != 1:
            raise ArgError(None, f"layer '{self.name}': RepeatVector takes vectors (inputs of "
                                 f"rank 2, batch axis included), got shape "
                                 f"{format_shape((None, *shape))}")
        return (self.n, shape[0])

    def call(self, inputs, weights):
        return np.repeat(inputs[0][:, None, :], self.n, axis=1)

    def backward(self, inputs, weights, output, grad):
        return [grad.sum(axis=1)], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.op("Expand", g.op("Unsqueeze", inputs[0], g.ints([1])), g.ints([1, self.n, 1]))
