"""Merge layers: several tensors in, one out (Keras' broadcasting and shape rules)."""
from __future__ import annotations

from functools import reduce

import numpy as np

from nnctl.layers.base import (ArgError, Layer, format_shape, no_macs, no_weights, ravel,
                               unbroadcast, unravel)


def _batched(shape):
    return format_shape((None,) + tuple(shape))


def _same_rank(inputs):
    """Lower-rank inputs get axes of 1 after the batch axis, as Keras' Merge.call does, so
    that samples broadcast against samples (not against the batch axis)."""
    rank = max(x.ndim for x in inputs)
    return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]


def _same_rank_onnx(g, inputs, shapes):
    """_same_rank in ONNX: Unsqueeze after the batch axis."""
    rank = max(len(s) for s in shapes)
    return [x if len(s) == rank else
            g.op("Unsqueeze", x, g.ints(range(1, rank - len(s) + 1)))
            for x, s in zip(inputs, shapes)]


def _masked(inputs, masks):
    """The inputs at one rank (_same_rank) and each one's mask (nnctl.masking) spread over its
    values, as Keras' Multiply, Maximum and Minimum read them (merging/multiply.py,
    base_merge.py: broadcast_to(expand_dims(mask, -1), shape(x))); None for an input without
    one, or whose rank was raised (Keras' expand_dims makes a tensor without a mask)."""
    same = _same_rank(inputs)
    return same, [None if m is None or x.ndim != y.ndim else np.broadcast_to(m[..., None], y.shape)
                  for x, y, m in zip(inputs, same, masks)]


def _masked_onnx(g, inputs, shapes, masks):
    """_masked in ONNX: the masks Unsqueezed on a last axis of 1 (Where broadcasts them)."""
    rank = max(len(s) for s in shapes)
    same = _same_rank_onnx(g, inputs, shapes)
    return same, [None if m is None or len(s) != rank else g.op("Unsqueeze", m, g.ints([-1]))
                  for s, m in zip(shapes, masks)]


def _any_mask(masks) -> bool:
    return masks is not None and any(m is not None for m in masks)


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


class Merge(Layer):
    """Element-wise merges: shapes must match, a 1 broadcasts against anything."""

    arity = "many"
    min_inputs = 2
    max_inputs = None
    onnx_op = None     # the ONNX operator that combines two inputs
    affine = True
    weight_specs = no_weights
    macs = no_macs

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

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return reduce(lambda a, b: g.op(self.onnx_op, a, b),
                      _same_rank_onnx(g, inputs, input_shapes))

    def neuron_link(self, input_shapes, output_shape, index, source, unit):
        # broadcasting: an axis of 1 stands for every index
        source_shape = input_shapes[index]
        at = unravel(unit, output_shape)
        lead = len(output_shape) - len(source_shape)
        mapped = [0 if n == 1 else at[lead + i] for i, n in enumerate(source_shape)]
        return ravel(mapped, source_shape) == source


class Add(Merge):
    """The sum of the inputs."""

    onnx_op = "Add"

    @staticmethod
    def combine(a, b):
        return a + b

    def backward(self, inputs, weights, output, grad):
        return [unbroadcast(grad, x.shape) for x in inputs], {}


class Subtract(Merge):
    """The first input minus the second."""

    max_inputs = 2
    onnx_op = "Sub"

    @staticmethod
    def combine(a, b):
        return a - b

    def backward(self, inputs, weights, output, grad):
        a, b = inputs
        return [unbroadcast(grad, a.shape), -unbroadcast(grad, b.shape)], {}


class Multiply(Merge):
    """The element-wise product of the inputs. Under a mask (nnctl.masking), as Keras 3's
    Multiply: a masked input's masked values count as 1, and when every input carries a mask
    the product is 0 where none is set."""

    onnx_op = "Mul"
    affine = False
    reads_input_masks = True   # call, backward and to_onnx take each input's mask

    @staticmethod
    def combine(a, b):
        return a * b

    @staticmethod
    def _factors(inputs, masks):
        same, spread = _masked(inputs, masks)
        factors = [x if m is None else np.where(m, x, np.ones((), x.dtype))
                   for x, m in zip(same, spread)]
        kept = reduce(np.logical_or, spread) if all(m is not None for m in spread) else None
        return factors, spread, kept

    def call(self, inputs, weights, masks=None):
        if not _any_mask(masks):
            return super().call(inputs, weights)
        factors, _, kept = self._factors(inputs, masks)
        product = reduce(np.multiply, factors)
        return product if kept is None else np.where(kept, product, np.zeros((), product.dtype))

    def backward(self, inputs, weights, output, grad, masks=None):
        if not _any_mask(masks):
            # the chain rule along the product, so a zero factor does not need a division
            return _chain(inputs, np.multiply, lambda acc, x: (x, acc), grad), {}
        factors, spread, kept = self._factors(inputs, masks)
        if kept is not None:
            grad = np.where(kept, grad, np.zeros((), grad.dtype))
        grads = _chain(factors, np.multiply, lambda acc, x: (x, acc), grad)
        return [(gx if m is None else np.where(m, gx, np.zeros((), gx.dtype))).reshape(x.shape)
                for gx, m, x in zip(grads, spread, inputs)], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape, mask=None):
        if not _any_mask(mask):
            return super().to_onnx(g, inputs, weights, input_shapes, output_shape)
        same, spread = _masked_onnx(g, inputs, input_shapes, mask)
        product = reduce(g.mul, [x if m is None else g.where(m, x, 1.0)
                                 for x, m in zip(same, spread)])
        if any(m is None for m in spread):
            return product
        return g.where(reduce(lambda a, b: g.op("Or", a, b), spread), product, 0.0)


class _Extreme(Merge):
    """The element-wise maximum or minimum: `combine` picks one of two values, and the
    gradient goes where `keeps_first(a, b)` says it picked the first (ties go to the earlier
    input, as TensorFlow's Maximum/Minimum gradients do). Under a mask (nnctl.masking), as
    Keras 3's _apply_merge_op_and_or_mask: a masked value of an input gives way to the
    other's, input by input."""

    affine = False
    reads_input_masks = True   # call, backward and to_onnx take each input's mask

    def _pick(self, inputs, masks):
        """(the result, which input each value is from) under masks, in Keras' order."""
        same, spread = _masked(inputs, masks)
        out, source, kept = same[0], np.zeros((), np.intp), spread[0]
        for i, (x, m) in enumerate(zip(same[1:], spread[1:]), 1):
            origin = np.asarray(i)
            if m is not None:
                x, origin = np.where(m, x, out), np.where(m, origin, source)
            if kept is not None:
                out, source = np.where(kept, out, x), np.where(kept, source, origin)
            kept = kept | m if kept is not None and m is not None else None
            source = np.where(self.keeps_first(out, x), source, origin)
            out = self.combine(out, x)
        return out, source

    def call(self, inputs, weights, masks=None):
        if not _any_mask(masks):
            return super().call(inputs, weights)
        return self._pick(inputs, masks)[0]

    def backward(self, inputs, weights, output, grad, masks=None):
        if _any_mask(masks):
            source = self._pick(inputs, masks)[1]
            return [unbroadcast(np.where(source == i, grad, np.zeros((), grad.dtype)),
                                y.shape).reshape(x.shape)
                    for i, (x, y) in enumerate(zip(inputs, _same_rank(inputs)))], {}

        def partials(acc, x):
            first = self.keeps_first(acc, x)
            return first, ~first
        return _chain(inputs, self.combine, partials, grad), {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape, mask=None):
        if not _any_mask(mask):
            return super().to_onnx(g, inputs, weights, input_shapes, output_shape)
        same, spread = _masked_onnx(g, inputs, input_shapes, mask)
        out, kept = same[0], spread[0]
        for x, m in zip(same[1:], spread[1:]):
            if m is not None:
                x = g.where(m, x, out)
            if kept is not None:
                out = g.where(kept, out, x)
            kept = g.op("Or", kept, m) if kept is not None and m is not None else None
            out = g.op(self.onnx_op, out, x)
        return out


class Maximum(_Extreme):
    """The element-wise maximum of the inputs."""

    onnx_op = "Max"
    combine = staticmethod(np.maximum)
    keeps_first = staticmethod(np.greater_equal)


class Minimum(_Extreme):
    """The element-wise minimum of the inputs."""

    onnx_op = "Min"
    combine = staticmethod(np.minimum)
    keeps_first = staticmethod(np.less_equal)


class Average(Merge):
    """The element-wise mean of the inputs."""

    def call(self, inputs, weights):
        total = reduce(lambda a, b: a + b, _same_rank(inputs))
        return total / np.asarray(len(inputs), dtype=total.dtype)

    def backward(self, inputs, weights, output, grad):
        share = grad / np.asarray(len(inputs), dtype=grad.dtype)
        return [unbroadcast(share, x.shape) for x in inputs], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.div(reduce(g.add, _same_rank_onnx(g, inputs, input_shapes)), len(inputs))


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
        k = self.sample_axis(rank)
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

    def sample_axis(self, rank: int) -> int:
        """`axis` as an axis of one sample (0-based)."""
        return self.axis - 1 if self.axis > 0 else rank + self.axis

    def along_steps(self, rank: int) -> bool:
        """Whether it joins samples of `rank` axes along another axis than the last (the
        features): the steps of sequences, whose masks (nnctl.masking) it joins too."""
        return self.sample_axis(rank) != rank - 1

    def call(self, inputs, weights):
        return np.concatenate(inputs, axis=self.axis)

    def backward(self, inputs, weights, output, grad):
        edges = np.cumsum([x.shape[self.axis] for x in inputs])[:-1]
        return list(np.split(grad, edges, axis=self.axis)), {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.op("Concat", *inputs, axis=self.axis)

    def neuron_link(self, input_shapes, output_shape, index, source, unit):
        k = self.sample_axis(len(output_shape))
        offset = sum(s[k] for s in input_shapes[:index])
        at = unravel(unit, output_shape)
        if not offset <= at[k] < offset + input_shapes[index][k]:
            return False
        at[k] -= offset
        return ravel(at, input_shapes[index]) == source
