"""Merge layers: several tensors in, one out (Keras' broadcasting and shape rules)."""
from __future__ import annotations

import math
from functools import reduce

import numpy as np

from nnctl.layers.base import ArgError, Layer, format_shape


def _batched(shape):
    return format_shape((None,) + tuple(shape))


def _same_rank(inputs):
    """Lower-rank inputs get axes of 1 after the batch axis, as Keras' Merge.call does, so
    that samples broadcast against samples (not against the batch axis)."""
    rank = max(x.ndim for x in inputs)
    return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]


class Merge(Layer):
    """Element-wise merges: shapes must match, a 1 broadcasts against anything."""

    arity = "many"
    min_inputs = 2
    max_inputs = None

    def check_count(self, input_shapes):
        n = len(input_shapes)
        if n < self.min_inputs or (self.max_inputs and n > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.max_inputs == self.min_inputs
                    else f"at least {self.min_inputs}")
            raise ArgError(None, f"layer '{self.name}': {type(self).__name__} takes {want} "
                                 f"inputs, got {n}")

    def output_shape(self, input_shapes):
        self.check_count(input_shapes)
        return reduce(self._broadcast, input_shapes)

    def _broadcast(self, a, b):
        if len(a) < len(b):
            a, b = b, a
        out = list(a[: len(a) - len(b)])
        for i, j in zip(a[len(a) - len(b):], b):
            if i is None or j is None:
                out.append(None)
            elif i == 1 or j == 1 or i == j:
                out.append(j if i == 1 else i)
            else:
                raise ArgError("inputs", f"layer '{self.name}': inputs have incompatible shapes "
                                         f"{_batched(a)} and {_batched(b)}")
        return tuple(out)

    def call(self, inputs, weights):
        return reduce(self.combine, _same_rank(inputs))

    def macs(self, input_shapes, output_shape):
        return 0


class Add(Merge):
    """The sum of the inputs."""

    @staticmethod
    def combine(a, b):
        return a + b


class Subtract(Merge):
    """The first input minus the second."""

    max_inputs = 2

    @staticmethod
    def combine(a, b):
        return a - b


class Multiply(Merge):
    """The element-wise product of the inputs."""

    @staticmethod
    def combine(a, b):
        return a * b


class Maximum(Merge):
    """The element-wise maximum of the inputs."""

    combine = staticmethod(np.maximum)


class Minimum(Merge):
    """The element-wise minimum of the inputs."""

    combine = staticmethod(np.minimum)


class Average(Merge):
    """The element-wise mean of the inputs."""

    def call(self, inputs, weights):
        total = reduce(lambda a, b: a + b, _same_rank(inputs))
        return total / np.asarray(len(inputs), dtype=total.dtype)


class Concatenate(Merge):
    """Joins the inputs along `axis`; every other dimension must match."""

    def __init__(self, axis=-1, **common):
        super().__init__(**common)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ArgError("axis", f"layer '{self.name}': `axis` must be an integer, got {axis!r}")
        self.axis = axis

    def output_shape(self, input_shapes):
        self.check_count(input_shapes)
        ranks = {len(s) for s in input_shapes}
        if len(ranks) > 1:
            raise ArgError("inputs", f"layer '{self.name}': Concatenate needs inputs of the same "
                                     "rank, got shapes "
                                     + ", ".join(_batched(s) for s in input_shapes))
        rank = ranks.pop()
        if self.axis == 0 or not -rank <= self.axis <= rank:
            raise ArgError("axis", f"layer '{self.name}': axis {self.axis} is not an axis of "
                                   f"inputs of shape {_batched(input_shapes[0])}")
        k = self.axis - 1 if self.axis > 0 else rank + self.axis
        first = input_shapes[0]
        for other in input_shapes[1:]:
            if any(a != b and a is not None and b is not None
                   for i, (a, b) in enumerate(zip(first, other)) if i != k):
                raise ArgError("inputs", f"layer '{self.name}': Concatenate needs inputs with "
                                         f"matching shapes except along axis {self.axis}, got "
                                         + ", ".join(_batched(s) for s in input_shapes))
        sizes = [s[k] for s in input_shapes]
        out = list(first)
        out[k] = None if None in sizes else sum(sizes)
        return tuple(out)

    def call(self, inputs, weights):
        return np.concatenate(inputs, axis=self.axis)
