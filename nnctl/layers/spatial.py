"""Zero padding, cropping and upsampling along the spatial axes of a sample (steps of a
sequence, rows and columns of an image), channels last or first as `data_format` says."""
from __future__ import annotations

import numpy as np

from nnctl.layers.base import (ArgError, Layer, format_shape, int_tuple, linear_link, no_macs,
                               no_weights, positive_int)
from nnctl.layers.base import data_format as check_data_format


def _pairs(value, key: str, layer: str) -> tuple:
    """ZeroPadding2D's and Cropping2D's argument: an int, two ints (symmetric per axis) or
    two pairs ((top, bottom), (left, right)); each >= 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ArgError(key, f"layer '{layer}': `{key}` must be an integer, a list of 2 integers "
                            f"or a list of 2 pairs of integers, got {value!r}")
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

    def config_value(self, key):
        value = getattr(self, key)
        return [list(v) if isinstance(v, tuple) else v for v in value] \
            if isinstance(value, tuple) else value


class _Padding(Spatial):
    """Zeros added before and after each spatial axis: `pads` is one (before, after) per axis."""

    pads: tuple = ()

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        self.check_rank(shape)
        out = list(shape)
        for axis, (before, after) in zip(self.spatial_axes(), self.pads):
            if out[axis] is not None:
                out[axis] += before + after
        return tuple(out)

    def _batch_pads(self, ndim):
        pads = [(0, 0)] * ndim
        for axis, pair in zip(self.spatial_axes(), self.pads):
            pads[axis + 1] = pair
        return pads

    def call(self, inputs, weights):
        x = inputs[0]
        return np.pad(x, self._batch_pads(x.ndim))

    def backward(self, inputs, weights, output, grad):
        index = tuple(slice(before, grad.shape[i] - after)
                      for i, (before, after) in enumerate(self._batch_pads(grad.ndim)))
        return [grad[index]], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        pads = self._batch_pads(len(input_shapes[0]) + 1)
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


class _Cropping(Spatial):
    """Values cut from before and after each spatial axis: `crops`, one (before, after) each."""

    crops: tuple = ()

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        self.check_rank(shape)
        out = list(shape)
        for axis, (before, after) in zip(self.spatial_axes(), self.crops):
            if out[axis] is not None:
                if before + after >= out[axis]:
                    raise ArgError("cropping", f"layer '{self.name}': cropping {before} + "
                                               f"{after} values from an axis of {out[axis]} "
                                               "leaves nothing (input shape "
                                               f"{format_shape((None, *shape))})")
                out[axis] -= before + after
        return tuple(out)

    def _index(self, shape):
        index = [slice(None)] * len(shape)
        for axis, (before, after) in zip(self.spatial_axes(), self.crops):
            index[axis + 1] = slice(before, shape[axis + 1] - after)
        return tuple(index)

    def call(self, inputs, weights):
        x = inputs[0]
        return x[self._index(x.shape)]

    def backward(self, inputs, weights, output, grad):
        x = inputs[0]
        gx = np.zeros(x.shape, dtype=grad.dtype)
        gx[self._index(x.shape)] = grad
        return [gx], {}

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


class _UpSampling(Spatial):
    """Each value repeated `sizes[i]` times along spatial axis i (nearest neighbour)."""

    sizes: tuple = ()

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        self.check_rank(shape)
        out = list(shape)
        for axis, size in zip(self.spatial_axes(), self.sizes):
            if out[axis] is not None:
                out[axis] *= size
        return tuple(out)

    def call(self, inputs, weights):
        x = inputs[0]
        for axis, size in zip(self.spatial_axes(), self.sizes):
            x = np.repeat(x, size, axis=axis + 1)
        return x

    def backward(self, inputs, weights, output, grad):
        g = grad
        for axis, size in zip(self.spatial_axes(), self.sizes):
            a = axis + 1
            g = g.reshape(g.shape[:a] + (g.shape[a] // size, size) + g.shape[a + 1:]).sum(a + 1)
        return [g], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        scales = [1.0] * (len(input_shapes[0]) + 1)
        for axis, size in zip(self.spatial_axes(), self.sizes):
            scales[axis + 1] = float(size)
        # asymmetric coordinates with floor: output index i reads input index i // size
        return g.op("Resize", inputs[0], "", g.c(scales, np.float32), mode="nearest",
                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")


class UpSampling1D(_UpSampling):
    """Repeats each step of a sequence `size` times."""

    def __init__(self, size=2, **common):
        super().__init__(**common)
        self.size = positive_int(size, "size", self.name)
        self.sizes = (self.size,)


class UpSampling2D(_UpSampling):
    """Repeats each row `size[0]` times and each column `size[1]` times (interpolation
    nearest)."""

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **common):
        super().__init__(**common)
        self.size = size
        self.sizes = int_tuple(size, 2, "size", self.name)
        self.data_format = check_data_format(data_format, self.name)
        if not isinstance(interpolation, str):
            raise ArgError("interpolation", f"layer '{self.name}': `interpolation` must be "
                                            f"nearest, got {interpolation!r}")
        if interpolation.lower() != "nearest":
            raise ArgError("interpolation", f"layer '{self.name}': nnctl upsamples with "
                                            "interpolation nearest only, got "
                                            f"{interpolation!r}")
        self.interpolation = interpolation.lower()
