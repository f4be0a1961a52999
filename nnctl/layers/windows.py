"""Sliding windows over the spatial axes: convolution and pooling maths, forward and backward.

Every function here takes channels-last batches, (batch, *spatial, channels); the layers
(nnctl.layers.convolution, nnctl.layers.pooling) move a channels_first input's axis before
and after. Padding is given as one (before, after) pair per spatial axis, worked out by
`padding_pairs` as Keras (TensorFlow's rules) does: "same" puts the odd pixel after.

Convolution is im2col: `numpy.lib.stride_tricks.sliding_window_view` makes every window a
row (one copy), and one matrix product per group and per slice of the batch does the rest;
slices keep the copied windows near IM2COL_BYTES, whatever the batch size. Pooling takes
the maximum or the sum over the window's taps, one strided slice per tap (a 2x2 pool is
four whole-array operations), never a loop over pixels.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnctl.layers.base import unpad

IM2COL_BYTES = 16 << 20   # the windows copied for one matrix product (a slice of the batch)


# --- geometry --------------------------------------------------------------------------------

def effective(kernel: int, dilation: int) -> int:
    """The span of a dilated kernel: 3 taps 2 apart cover 5 pixels."""
    return (kernel - 1) * dilation + 1


def output_length(size: int | None, kernel: int, stride: int, dilation: int,
                  padding: str) -> int | None:
    """Keras' output length of one spatial axis (None stays None)."""
    if size is None:
        return None
    if padding == "valid":
        return (size - effective(kernel, dilation)) // stride + 1
    return (size - 1) // stride + 1    # "same" and "causal"


def padding_pairs(sizes, kernel, strides, dilation, padding: str) -> list[tuple[int, int]]:
    """(before, after) per spatial axis: TensorFlow's "same" (the odd pixel after), "causal"
    (all before), "valid" (none)."""
    pairs = []
    for size, k, s, d in zip(sizes, kernel, strides, dilation):
        span = effective(k, d)
        if padding == "valid":
            pairs.append((0, 0))
        elif padding == "causal":
            pairs.append((span - 1, 0))
        else:
            out = (size - 1) // s + 1
            total = max((out - 1) * s + span - size, 0)
            pairs.append((total // 2, total - total // 2))
    return pairs


def transpose_padding(kernel: int, stride: int, dilation: int, padding: str,
                      output_padding: int | None) -> tuple[int, int]:
    """Keras' transposed convolution as a convolution (stride 1) of the input with `stride - 1`
    zeros between its pixels: the (before, after) padding of that input (Keras' rules for its
    JAX backend, keras/src/backend/common/backend_utils.py)."""
    span = effective(kernel, dilation)
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        return span - 1, span - 1 + extra
    if output_padding is None:
        total = stride + span - 2
    else:
        total = span + span % 2 - 2 + output_padding
    before = min(total // 2 + total % 2, span - 1)
    return before, total - before


def transpose_length(size: int | None, kernel: int, stride: int, dilation: int, padding: str,
                     output_padding: int | None) -> int | None:
    if size is None:
        return None
    before, after = transpose_padding(kernel, stride, dilation, padding, output_padding)
    return (size - 1) * stride + 1 + before + after - effective(kernel, dilation) + 1


# --- convolution -------------------------------------------------------------------------------

class Convolution:
    """A grouped N-d convolution (Keras' `ops.conv` with `groups`): strides, dilation, padding
    pairs; the kernel is Keras' (*kernel_size, in_channels / groups, filters)."""

    def __init__(self, kernel_shape, strides, dilation, pads, groups: int = 1):
        self.rank = len(kernel_shape) - 2
        self.size = tuple(kernel_shape[:self.rank])
        self.group_in, self.filters = kernel_shape[-2:]
        self.strides, self.dilation = tuple(strides), tuple(dilation)
        self.pads, self.groups = [tuple(p) for p in pads], groups

    # the kernel as one (taps * group_in, filters / groups) matrix per group: Keras' layout,
    # in which a window's row runs over the taps, then the channels (contiguous in memory)
    def grouped_kernel(self, kernel: np.ndarray) -> np.ndarray:
        g, fg = self.groups, self.filters // self.groups
        k = kernel.reshape(self.size + (self.group_in, g, fg))
        return np.moveaxis(k, self.rank + 1, 0).reshape(g, -1, fg)   # (g, *size, cg, fg)

    def ungrouped_kernel(self, grouped: np.ndarray) -> np.ndarray:
        g, fg = self.groups, self.filters // self.groups
        k = grouped.reshape((g,) + self.size + (self.group_in, fg))
        return np.moveaxis(k, 0, self.rank + 1).reshape(self.size + (self.group_in,
                                                                     self.filters))

    def windows(self, x: np.ndarray) -> np.ndarray:
        """A view (n, *out, *taps, channels) of every window of the padded x."""
        if any(self.pads[i] != (0, 0) for i in range(self.rank)):
            x = np.pad(x, [(0, 0), *self.pads, (0, 0)])
        spans = [effective(k, d) for k, d in zip(self.size, self.dilation)]
        view = sliding_window_view(x, spans, axis=tuple(range(1, self.rank + 1)))
        view = view[(slice(None),) + tuple(slice(None, None, s) for s in self.strides)
                    + (slice(None),) + tuple(slice(None, None, d) for d in self.dilation)]
        # channels last: the copy into columns then reads runs of contiguous channels
        # (3.5x faster than in sliding_window_view's order, channels before taps)
        return np.moveaxis(view, self.rank + 1, -1)

    def columns(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """im2col: (groups, n * out pixels, taps * group_in), and the output's spatial shape."""
        view = self.windows(x)
        n, out = view.shape[0], view.shape[1:self.rank + 1]
        view = view.reshape(view.shape[:-1] + (self.groups, self.group_in))
        view = np.moveaxis(view, -2, 0)
        return view.reshape(self.groups, n * math.prod(out), -1), out

    def batch_step(self, x: np.ndarray) -> int:
        """Samples per matrix product, so that their windows take about IM2COL_BYTES."""
        per_sample = (x.dtype.itemsize * self.group_in * self.groups * math.prod(self.size)
                      * math.prod(output_length(n + sum(p), k, s, d, "valid") for n, p, k, s, d
                                  in zip(x.shape[1:-1], self.pads, self.size, self.strides,
                                         self.dilation)))
        return max(1, IM2COL_BYTES // max(per_sample, 1))

    def forward(self, x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        grouped = self.grouped_kernel(kernel.astype(x.dtype, copy=False))
        step = self.batch_step(x)
        parts = []
        for start in range(0, len(x), step):
            chunk = x[start:start + step]
            cols, out = self.columns(chunk)
            y = np.matmul(cols, grouped)                        # (groups, n * P, fg)
            y = y[0] if self.groups == 1 else y.transpose(1, 0, 2)
            parts.append(y.reshape((len(chunk),) + out + (self.filters,)))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def backward(self, x: np.ndarray, kernel: np.ndarray, g: np.ndarray):
        """(dL/dx, dL/dkernel) given dL/dy, g of shape (n, *out, filters)."""
        grouped = self.grouped_kernel(kernel.astype(x.dtype, copy=False))
        cols, out = self.columns(x)
        npix, gcount = cols.shape[1], self.groups
        gy = g.reshape(npix, gcount, -1).transpose(1, 0, 2)               # (groups, nP, fg)
        gkernel = self.ungrouped_kernel(np.matmul(cols.transpose(0, 2, 1), gy))
        gcols = np.matmul(gy, grouped.transpose(0, 2, 1))                 # (groups, nP, K*cg)
        gcols = gcols.reshape((gcount, len(x)) + out + self.size + (self.group_in,))
        gcols = np.moveaxis(gcols, 0, -2)
        gcols = gcols.reshape((len(x),) + out + self.size + (gcount * self.group_in,))
        return self.scatter(gcols, x.shape), gkernel

    def scatter(self, gwindows: np.ndarray, shape: tuple) -> np.ndarray:
        """col2im: add each window's gradient back onto the pixels it read (one strided
        slice per tap), then drop the padding."""
        padded = [n + sum(p) for n, p in zip(shape[1:-1], self.pads)]
        out = gwindows.shape[1:self.rank + 1]
        gx = np.zeros((shape[0], *padded, shape[-1]), dtype=gwindows.dtype)
        for tap in np.ndindex(*self.size):
            where = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, o, s
                          in zip(tap, self.dilation, out, self.strides))
            gx[(slice(None),) + where] += gwindows[(slice(None),) * (self.rank + 1) + tap]
        return unpad(gx, [(0, 0), *self.pads, (0, 0)])


def dilate(x: np.ndarray, strides) -> np.ndarray:
    """`stride - 1` zeros between neighbouring pixels (the input of a transposed convolution)."""
    if all(s == 1 for s in strides):
        return x
    shape = [x.shape[0]] + [(n - 1) * s + 1 for n, s in zip(x.shape[1:-1], strides)] + \
        [x.shape[-1]]
    out = np.zeros(shape, dtype=x.dtype)
    out[(slice(None),) + tuple(slice(None, None, s) for s in strides)] = x
    return out


def undilate(g: np.ndarray, strides) -> np.ndarray:
    return g[(slice(None),) + tuple(slice(None, None, s) for s in strides)]


# --- pooling -----------------------------------------------------------------------------------

class Pooling:
    """Max or average pooling over windows of `size`, with strides and padding pairs; an
    average over a padded window counts only the real pixels, as Keras does."""

    def __init__(self, mode: str, size, strides, pads):
        self.mode, self.size, self.strides = mode, tuple(size), tuple(strides)
        self.pads = [tuple(p) for p in pads]
        self.rank = len(self.size)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        if all(p == (0, 0) for p in self.pads):
            return x
        fill = -np.inf if self.mode == "max" else 0
        return np.pad(x, [(0, 0), *self.pads, (0, 0)], constant_values=fill)

    def _taps(self, spatial_out):
        for tap in np.ndindex(*self.size):
            yield (slice(None),) + tuple(slice(t, t + (o - 1) * s + 1, s) for t, o, s
                                         in zip(tap, spatial_out, self.strides))

    def out_shape(self, spatial) -> tuple:
        return tuple((n + sum(p) - k) // s + 1
                     for n, p, k, s in zip(spatial, self.pads, self.size, self.strides))

    def counts(self, spatial, dtype) -> np.ndarray | float:
        """How many real pixels each window holds (one number when no window is padded)."""
        if all(p == (0, 0) for p in self.pads):
            return dtype.type(math.prod(self.size))
        ones = np.pad(np.ones(spatial, dtype), self.pads)
        out = self.out_shape(spatial)
        total = np.zeros(out, dtype)
        for where in self._taps(out):
            total += ones[where[1:]]
        return total[..., None]

    def forward(self, x: np.ndarray) -> np.ndarray:
        xp = self._padded(x)
        out = self.out_shape(x.shape[1:-1])
        taps = self._taps(out)
        y = np.array(xp[next(taps)])
        combine = np.maximum if self.mode == "max" else np.add
        for where in taps:
            combine(y, xp[where], out=y)
        if self.mode == "average":
            y /= self.counts(x.shape[1:-1], x.dtype)
        return y

    def backward(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        xp = self._padded(x)
        out = g.shape[1:-1]
        gx = np.zeros(xp.shape, dtype=g.dtype)
        if self.mode == "average":
            share = g / self.counts(x.shape[1:-1], x.dtype)
            for where in self._taps(out):
                gx[where] += share
        else:
            # the gradient goes to the first tap holding the window's maximum
            y = self.forward(x)
            taken = np.zeros(y.shape, dtype=bool)
            for where in self._taps(out):
                hit = (xp[where] == y) & ~taken
                gx[where] += np.where(hit, g, 0)
                taken |= hit
        return unpad(gx, [(0, 0), *self.pads, (0, 0)])
