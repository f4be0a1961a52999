"""Zero padding, cropping and upsampling along the spatial axes of a sample (steps of a
sequence, rows and columns of an image), channels last or first as `data_format` says."""
from __future__ import annotations

import math

import numpy as np

from nnctl.layers.base import (ArgError, Layer, format_shape, int_tuple, linear_link, no_macs,
                               no_weights, positive_int, unpad)
from nnctl.layers.base import data_format as check_data_format


def _pairs(value, key: str, layer: str, rank: int = 2) -> tuple:
    """ZeroPadding2D/3D's and Cropping2D/3D's argument: an int, `rank` ints (symmetric per
    axis) or `rank` pairs ((top, bottom), (left, right)); each >= 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * rank
    if not isinstance(value, (list, tuple)) or len(value) != rank:
        raise ArgError(key, f"layer '{layer}': `{key}` must be an integer, a list of {rank} "
                            f"integers or a list of {rank} pairs of integers, got {value!r}")
    return tuple(int_tuple(v, 2, key, layer, allow_zero=True) for v in value)


class Spatial(Layer):
    """A layer that moves values along `rank` spatial axes, channels last or first."""

    rank = 1                   # spatial axes
    affine = True
    weight_specs = no_weights
    macs = no_macs
    neuron_link = linear_link
    data_format = "channels_last"

    def spatial_axes(self) -> list[int]:
        """The spatial axes of one sample (0-based)."""
        start = 1 if self.data_format == "channels_first" else 0
        return list(range(start, start + self.rank))

    def check_rank(self, shape):
        if len(shape) != self.rank + 1:
            raise ArgError(None, f"layer '{self.name}': {type(self).__name__} takes inputs of "
                                 f"rank {self.rank + 2} (batch, {self.rank} spatial "
                                 f"ax{'is' if self.rank == 1 else 'es'}, channels), got shape "
                                 f"{format_shape((None, *shape))}")

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        self.check_rank(shape)
        out = list(shape)
        for i, axis in enumerate(self.spatial_axes()):
            out[axis] = self.new_size(i, shape[axis], shape)
        return tuple(out)

    def new_size(self, i: int, size: int | None, shape: tuple) -> int | None:
        """The output size of the i-th spatial axis, `size` long (None: known at run time) in
        an input of `shape`; ArgError when it cannot be done."""
        raise NotImplementedError

    def batch_pairs(self, edges, ndim: int) -> list[tuple[int, int]]:
        """(before, after) per spatial axis -> per axis of a batch of `ndim` axes (0 elsewhere)."""
        pairs = [(0, 0)] * ndim
        for axis, pair in zip(self.spatial_axes(), edges):
            pairs[axis + 1] = tuple(pair)
        return pairs


class _Padding(Spatial):
    """Zeros added before and after each spatial axis: `pads` is one (before, after) per axis."""

    pads: tuple = ()

    def new_size(self, i, size, shape):
        return None if size is None else size + sum(self.pads[i])

    def call(self, inputs, weights):
        x = inputs[0]
        return np.pad(x, self.batch_pairs(self.pads, x.ndim))

    def backward(self, inputs, weights, output, grad):
        return [unpad(grad, self.batch_pairs(self.pads, grad.ndim))], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        pads = self.batch_pairs(self.pads, len(input_shapes[0]) + 1)
        return g.op("Pad", inputs[0], g.ints([p[0] for p in pads] + [p[1] for p in pads]))


class ZeroPadding1D(_Padding):
    """Zeros before and after the steps of a sequence: `padding` = n or (before, after)."""

    def __init__(self, padding=1, data_format=None, **common):
        super().__init__(**common)
        self.padding = padding
        self.pads = (int_tuple(padding, 2, "padding", self.name, allow_zero=True),)
        self.data_format = check_data_format(data_format, self.name)


class ZeroPadding2D(_Padding):
    """Zeros around an image: `padding` = n, (rows, columns) or ((top, bottom), (left,
    right))."""

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **common):
        super().__init__(**common)
        self.padding = padding
        self.pads = _pairs(padding, "padding", self.name)
        self.data_format = check_data_format(data_format, self.name)


class ZeroPadding3D(_Padding):
    """Zeros around a volume: `padding` = n, (d1, d2, d3) or three (before, after) pairs."""

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **common):
        super().__init__(**common)
        self.padding = padding
        self.pads = _pairs(padding, "padding", self.name, 3)
        self.data_format = check_data_format(data_format, self.name)


class _Cropping(Spatial):
    """Values cut from before and after each spatial axis: `crops`, one (before, after) each."""

    crops: tuple = ()

    def new_size(self, i, size, shape):
        before, after = self.crops[i]
        if size is not None and before + after >= size:
            raise ArgError("cropping", f"layer '{self.name}': cropping {before} + {after} "
                                       f"values from an axis of {size} leaves nothing (input "
                                       f"shape {format_shape((None, *shape))})")
        return None if size is None else size - before - after

    def call(self, inputs, weights):
        x = inputs[0]
        return unpad(x, self.batch_pairs(self.crops, x.ndim))

    def backward(self, inputs, weights, output, grad):
        return [np.pad(grad, self.batch_pairs(self.crops, grad.ndim))], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        axes = [a + 1 for a in self.spatial_axes()]
        starts = [before for before, _ in self.crops]
        ends = [input_shapes[0][a - 1] - after if input_shapes[0][a - 1] is not None
                else (-after if after else np.iinfo(np.int64).max)
                for a, (_, after) in zip(axes, self.crops)]
        return g.op("Slice", inputs[0], g.ints(starts), g.ints(ends), g.ints(axes))


class Cropping1D(_Cropping):
    """Cuts steps from the start and end of a sequence: `cropping` = n or (start, end)."""

    def __init__(self, cropping=(1, 1), **common):
        super().__init__(**common)
        self.cropping = cropping
        self.crops = (int_tuple(cropping, 2, "cropping", self.name, allow_zero=True),)


class Cropping2D(_Cropping):
    """Cuts rows and columns from the edges of an image: `cropping` = n, (rows, columns) or
    ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **common):
        super().__init__(**common)
        self.cropping = cropping
        self.crops = _pairs(cropping, "cropping", self.name)
        self.data_format = check_data_format(data_format, self.name)


def _triangle(x):
    return np.maximum(0, 1 - np.abs(x))


def _keys_cubic(x):
    out = ((1.5 * x - 2.5) * x) * x + 1.0
    out = np.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return np.where(x >= 2.0, 0.0, out)


def _lanczos(radius):
    def kernel(x):
        y = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius)
        out = np.where(x > 1e-3, np.divide(y, np.where(x != 0, np.pi ** 2 * x ** 2, 1)), 1)
        return np.where(x > radius, 0.0, out)
    return kernel


# Keras' resize kernels (keras.ops.image.resize, as its NumPy backend computes them)
KERNELS = {"bilinear": _triangle, "bicubic": _keys_cubic, "lanczos3": _lanczos(3.0),
           "lanczos5": _lanczos(5.0)}
INTERPOLATIONS = ("nearest", *KERNELS)


def resize_matrix(size_in: int, factor: int, kernel) -> np.ndarray:
    """The (size_in, size_in * factor) float64 matrix that resizes an axis by `factor` with
    a kernel: half-pixel sample positions, weights normalized to sum 1 (Keras'
    _compute_weight_mat without antialiasing)."""
    size_out = size_in * factor
    sample = (np.arange(size_out, dtype=np.float64) + 0.5) / factor - 0.5
    weights = kernel(np.abs(sample[np.newaxis, :] - np.arange(size_in)[:, np.newaxis]))
    total = np.sum(weights, axis=0, keepdims=True)
    weights = np.where(np.abs(total) > 1000.0 * np.finfo(np.float32).eps,
                       np.divide(weights, np.where(total != 0, total, 1)), 0)
    inside = (sample >= -0.5) & (sample <= size_in - 0.5)
    return np.where(inside[np.newaxis, :], weights, 0)


class Cropping3D(_Cropping):
    """Cuts values from the edges of a volume: `cropping` = n, (d1, d2, d3) or three (before,
    after) pairs."""

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **common):
        super().__init__(**common)
        self.cropping = cropping
        self.crops = _pairs(cropping, "cropping", self.name, 3)
        self.data_format = check_data_format(data_format, self.name)


class _UpSampling(Spatial):
    """Each spatial axis i made `sizes[i]` times longer: each value repeated (nearest), or
    resampled with a kernel (bilinear, bicubic, lanczos3, lanczos5) as Keras' resize does."""

    sizes: tuple = ()
    interpolation = "nearest"

    def new_size(self, i, size, shape):
        factor = self.sizes[i]
        if size is None and self.interpolation != "nearest" and factor != 1:
            raise ArgError("interpolation", f"layer '{self.name}': interpolation "
                                            f"{self.interpolation} needs the size of every "
                                            "upsampled axis, got input shape "
                                            f"{format_shape((None, *shape))}")
        return None if size is None else size * factor

    def resized_axes(self, shape) -> list[tuple[int, np.ndarray]]:
        """(batch axis, float64 resize matrix) for each axis a kernel resizes (Keras leaves
        axes with a factor of 1 alone)."""
        kernel = KERNELS[self.interpolation]
        return [(axis + 1, resize_matrix(shape[axis], size, kernel))
                for axis, size in zip(self.spatial_axes(), self.sizes) if size != 1]

    def call(self, inputs, weights):
        x = inputs[0]
        if self.interpolation == "nearest":
            for axis, size in zip(self.spatial_axes(), self.sizes):
                x = np.repeat(x, size, axis=axis + 1)
            return x
        for a, matrix in self.resized_axes(x.shape[1:]):
            x = np.moveaxis(np.tensordot(x, matrix.astype(x.dtype), axes=(a, 0)), -1, a)
        return x

    def backward(self, inputs, weights, output, grad):
        g = grad
        if self.interpolation == "nearest":
            for axis, size in zip(self.spatial_axes(), self.sizes):
                a = axis + 1
                g = g.reshape(g.shape[:a] + (g.shape[a] // size, size) + g.shape[a + 1:])
                g = g.sum(a + 1)
            return [g], {}
        for a, matrix in reversed(self.resized_axes(inputs[0].shape[1:])):
            g = np.moveaxis(np.tensordot(g, matrix.T.astype(g.dtype), axes=(a, 0)), -1, a)
        return [g], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        x = inputs[0]
        if self.interpolation == "nearest":
            # output index i reads input index i // size: a Gather (any dtype, exact), or a
            # Resize where the axis' size is known only at run time
            for axis, size in zip(self.spatial_axes(), self.sizes):
                n = input_shapes[0][axis]
                if size == 1:
                    continue
                if n is None:
                    scales = [1.0] * (len(input_shapes[0]) + 1)
                    scales[axis + 1] = float(size)
                    x = g.op("Resize", x, "", g.c(scales, np.float32), mode="nearest",
                             coordinate_transformation_mode="asymmetric", nearest_mode="floor")
                else:
                    x = g.op("Gather", x, g.ints(np.arange(n * size) // size), axis=axis + 1)
            return x
        rank = len(input_shapes[0]) + 1
        for a, matrix in self.resized_axes(input_shapes[0]):
            to_last = [i for i in range(rank) if i != a] + [a]
            back = [to_last.index(i) for i in range(rank)]
            moved = g.op("Transpose", x, perm=to_last)
            resized = g.op("MatMul", moved, g.initializer(matrix.astype(g.dtype), "resize"))
            x = g.op("Transpose", resized, perm=back)
        return x

    def macs(self, input_shapes, output_shape):
        if self.interpolation == "nearest":
            return 0
        # one matrix product per resized axis: every output value of the step sums the axis
        shape, total = list(input_shapes[0]), 0
        for axis, size in zip(self.spatial_axes(), self.sizes):
            if size != 1:
                shape[axis] *= size
                total += math.prod(shape) * (shape[axis] // size)
        return total


class UpSampling1D(_UpSampling):
    """Repeats each step of a sequence `size` times."""

    def __init__(self, size=2, **common):
        super().__init__(**common)
        self.size = positive_int(size, "size", self.name)
        self.sizes = (self.size,)


class UpSampling2D(_UpSampling):
    """Makes an image `size[0]` times taller and `size[1]` times wider: each value repeated
    (interpolation nearest) or resampled (bilinear, bicubic, lanczos3, lanczos5)."""

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **common):
        super().__init__(**common)
        self.size = size
        self.sizes = int_tuple(size, 2, "size", self.name)
        self.data_format = check_data_format(data_format, self.name)
        if not isinstance(interpolation, str) or interpolation.lower() not in INTERPOLATIONS:
            raise ArgError("interpolation", f"layer '{self.name}': `interpolation` must be one "
                                            f"of {', '.join(INTERPOLATIONS)}, got "
                                            f"{interpolation!r}")
        self.interpolation = interpolation.lower()


class UpSampling3D(_UpSampling):
    """Makes a volume `size` times larger along each of its three axes, each value repeated."""

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **common):
        super().__init__(**common)
        self.size = size
        self.sizes = int_tuple(size, 3, "size", self.name)
        self.data_format = check_data_format(data_format, self.name)
