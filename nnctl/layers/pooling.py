"""Pooling: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and their Global forms, with Keras 3's
arguments and defaults (`strides` defaults to `pool_size`; an average over a window padded by
"same" counts only the real pixels, as Keras does). No weights."""
from __future__ import annotations

import numpy as np

from nnctl.layers.base import (ArgError, boolean, choice, int_tuple, no_macs, no_weights,
                               unravel)
from nnctl.layers.base import data_format as check_data_format
from nnctl.layers.windowed import WindowLayer
from nnctl.layers.windows import Pooling, padding_pairs


class _Max:
    """Pools by the maximum: not affine."""

    mode = "max"
    affine = False


class _Average:
    """Pools by the mean: affine."""

    mode = "average"
    affine = True


class _Pooling(WindowLayer):
    """Max or average pooling (`mode`, from _Max or _Average): no weights."""

    weight_specs = no_weights
    macs = no_macs      # comparisons and additions: no multiply-accumulates


class _Pool(_Pooling):
    """Pooling over windows of `pool_size`."""

    per_axis_defaults = ("pool_size",)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 **common):
        super().__init__(**common)
        self.pool_size = int_tuple(pool_size, self.rank, "pool_size", self.name)
        self.strides = None if strides is None else int_tuple(strides, self.rank, "strides",
                                                              self.name)
        self.padding = choice(padding, ("valid", "same"), "padding", self.name, fold_case=True)
        self.data_format = check_data_format(data_format, self.name)

    @property
    def steps(self) -> tuple:
        return self.strides or self.pool_size

    def window_padding(self, spatial) -> list[tuple[int, int]]:
        """(before, after) padding of each spatial axis for an input of `spatial` sizes."""
        return padding_pairs(spatial, self.pool_size, self.steps, (1,) * self.rank,
                             self.padding)

    def window_bounds(self, spatial, pixel) -> list[tuple[int, int]]:
        pads = self.window_padding(spatial)
        return [(o * s - before, o * s - before + k) for o, s, k, (before, _)
                in zip(pixel, self.steps, self.pool_size, pads)]

    def output_spatial(self, spatial) -> tuple:
        out = []
        for n, k, s in zip(spatial, self.pool_size, self.steps):
            if n is None:
                out.append(None)
            elif self.padding == "same":
                out.append((n - 1) // s + 1)
            elif n < k:
                raise ArgError("pool_size", f"layer '{self.name}': pool_size "
                                            f"{self.pool_size} is larger than the input's "
                                            f"{' x '.join(self.axis_names())} {spatial} "
                                            "with padding 'valid'")
            else:
                out.append((n - k) // s + 1)
        return tuple(out)

    def output_shape(self, input_shapes):
        spatial, channels = self.check_rank(input_shapes[0], "takes")
        return self.layout(self.output_spatial(spatial), channels)

    def pooling(self, spatial) -> Pooling:
        self.output_spatial(spatial)    # sizes known only at run time: one clear error
        return Pooling(self.mode, self.pool_size, self.steps, self.window_padding(spatial))

    def call(self, inputs, weights):
        x = self.to_last(inputs[0])
        return self.from_last(self.pooling(x.shape[1:-1]).forward(x))

    def backward(self, inputs, weights, output, grad):
        x = self.to_last(inputs[0])
        return [self.from_last(self.pooling(x.shape[1:-1]).backward(x, self.to_last(grad)))], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        spatial, _ = self.check_rank(input_shapes[0], "takes")
        pads = self.window_padding(spatial)
        attrs = dict(kernel_shape=list(self.pool_size), strides=list(self.steps),
                     pads=[b for b, _ in pads] + [a for _, a in pads])
        if self.mode == "average":
            attrs["count_include_pad"] = 0
        op = "MaxPool" if self.mode == "max" else "AveragePool"
        y = g.op(op, self.onnx_channels_first(g, inputs[0]), **attrs)
        return self.onnx_layout_back(g, y)


class MaxPooling1D(_Max, _Pool):
    """The maximum over windows of `pool_size` steps."""

    rank = 1


class MaxPooling2D(_Max, _Pool):
    """The maximum over windows of `pool_size` pixels."""

    rank = 2


class MaxPooling3D(_Max, _Pool):
    """The maximum over windows of `pool_size` voxels."""

    rank = 3


class _AveragePool(_Average, _Pool):
    """Average pooling: `pool_size` has no default in Keras 3 (MaxPooling's is 2 per axis)."""

    per_axis_defaults = ()

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **common):
        super().__init__(pool_size, strides, padding, data_format, **common)


class AveragePooling1D(_AveragePool):
    """The mean over windows of `pool_size` steps."""

    rank = 1


class AveragePooling2D(_AveragePool):
    """The mean over windows of `pool_size` pixels."""

    rank = 2


class AveragePooling3D(_AveragePool):
    """The mean over windows of `pool_size` voxels."""

    rank = 3


class _GlobalPool(_Pooling):
    """Pooling over all of each channel."""

    def neuron_link(self, input_shapes, output_shape, index, source, unit):
        # every pixel of a channel feeds that channel's one output, whose flat index is the
        # channel's (with keepdims too: the other axes are 1)
        channel = unravel(source, input_shapes[0])[0 if self.channels_first else -1]
        return channel == unit

    def __init__(self, data_format=None, keepdims=False, **common):
        super().__init__(**common)
        self.data_format = check_data_format(data_format, self.name)
        self.keepdims = boolean(keepdims, "keepdims", self.name)

    def output_shape(self, input_shapes):
        spatial, channels = self.check_rank(input_shapes[0], "takes")
        if not self.keepdims:
            return (channels,)
        return self.layout((1,) * self.rank, channels)

    def spatial_axes(self) -> tuple:
        first = 2 if self.channels_first else 1
        return tuple(range(first, first + self.rank))

    def call(self, inputs, weights):
        reduce = np.max if self.mode == "max" else np.mean
        return reduce(inputs[0], axis=self.spatial_axes(), keepdims=self.keepdims)

    def backward(self, inputs, weights, output, grad):
        g = grad
        x, axes = inputs[0], self.spatial_axes()
        if not self.keepdims:
            g = np.expand_dims(g, axes)
        if self.mode == "average":
            count = np.prod([x.shape[a] for a in axes])
            return [np.broadcast_to(g / x.dtype.type(count), x.shape).copy()], {}
        # the gradient goes to the first maximum of each channel
        last = tuple(range(-self.rank, 0))
        moved = np.moveaxis(x, axes, last)
        flat = moved.reshape(moved.shape[:-self.rank] + (-1,))
        index = flat.argmax(axis=-1)[..., None]
        gflat = np.zeros_like(flat)
        np.put_along_axis(gflat, index, np.moveaxis(g, axes, last).reshape(index.shape), -1)
        return [np.moveaxis(gflat.reshape(moved.shape), last, axes)], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        op = "ReduceMax" if self.mode == "max" else "ReduceMean"
        y = g.reduce(op, inputs[0], list(self.spatial_axes()))
        return y if self.keepdims else g.op("Flatten", y, axis=1)


class GlobalMaxPooling1D(_Max, _GlobalPool):
    """The maximum over all steps, per channel."""

    rank = 1


class GlobalMaxPooling2D(_Max, _GlobalPool):
    """The maximum over all pixels, per channel."""

    rank = 2


class GlobalMaxPooling3D(_Max, _GlobalPool):
    """The maximum over all voxels, per channel."""

    rank = 3


class GlobalAveragePooling1D(_Average, _GlobalPool):
    """The mean over all steps, per channel; under a mask (nnctl.masking), over the unmasked
    steps only, as Keras 3 computes it (NaN where every step is masked: 0 / 0)."""

    rank = 1

    @property
    def consumes_mask(self) -> bool:
        # channels_first: Keras would lay the mask of the steps along the channels, which
        # nnctl refuses (nnctl.masking.USES_MASK)
        return not self.channels_first

    def call(self, inputs, weights, mask=None):
        if mask is None:
            return super().call(inputs, weights)
        keep = mask[:, :, None]
        x = inputs[0]
        total = np.where(keep, x, np.zeros((), x.dtype)).sum(axis=1, keepdims=self.keepdims)
        with np.errstate(invalid="ignore"):
            return total / keep.astype(x.dtype).sum(axis=1, keepdims=self.keepdims)

    def backward(self, inputs, weights, output, grad, mask=None):
        if mask is None:
            return super().backward(inputs, weights, output, grad)
        x, keep = inputs[0], mask[:, :, None]
        g = grad if self.keepdims else grad[:, None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = g / keep.astype(x.dtype).sum(axis=1, keepdims=True)
        return [np.where(keep, share, np.zeros((), x.dtype))], {}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape, mask=None):
        if mask is None:
            return super().to_onnx(g, inputs, weights, input_shapes, output_shape)
        keep = g.op("Unsqueeze", mask, g.ints([-1]))
        total = g.reduce("ReduceSum", g.where(keep, inputs[0], 0.0), [1])
        y = g.div(total, g.reduce("ReduceSum", g.where(keep, 1.0, 0.0), [1]))
        return y if self.keepdims else g.op("Flatten", y, axis=1)


class GlobalAveragePooling2D(_Average, _GlobalPool):
    """The mean over all pixels, per channel."""

    rank = 2


class GlobalAveragePooling3D(_Average, _GlobalPool):
    """The mean over all voxels, per channel."""

    rank = 3


POOLINGS = (MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D,
            AveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
            GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
