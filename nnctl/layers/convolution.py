"""Convolutions: Conv1D/2D/3D, DepthwiseConv2D, SeparableConv2D, Conv1DTranspose and
Conv2DTranspose, with Keras 3's arguments, defaults, weight names and shapes.

    activation(convolution(x, kernel) + bias)

The maths (im2col and one matrix product, its backward pass) is nnctl.layers.windows; here
are the arguments, shapes, weights, and how each variant maps onto a plain grouped
convolution: a depthwise one has one group per input channel; a separable one is a depthwise
one followed by a 1x1 one; a transposed one is a convolution (stride 1, kernel flipped) of
the input with `stride - 1` zeros between its pixels, which is what Keras' JAX backend asks
of XLA.
"""
from __future__ import annotations

import math

import numpy as np

from nnctl.layers.base import (ArgError, WeightSpec, boolean, choice, format_shape, int_tuple,
                               positive_int)
from nnctl.layers.base import data_format as check_data_format
from nnctl.layers.core import _activation, _initializer
from nnctl.layers.windowed import WindowLayer
from nnctl.layers.windows import (Convolution, dilate, output_length, padding_pairs,
                                  transpose_length, transpose_padding, undilate)

REGULARIZERS = ("bias_regularizer", "activity_regularizer", "bias_constraint")


class _Convolutional(WindowLayer):
    """What every convolution has: kernel_size, strides, padding, data_format, dilation_rate,
    activation, use_bias; the subclasses say which kernels they hold."""

    paddings = ("valid", "same")
    per_axis_defaults = ("strides", "dilation_rate")
    affine = True
    kernel_weights = ("kernel",)

    def _init_spatial(self, kernel_size, strides, padding, data_format, dilation_rate,
                      activation, use_bias, bias_initializer):
        name, rank = self.name, self.rank
        self.kernel_size = int_tuple(kernel_size, rank, "kernel_size", name)
        self.strides = int_tuple(strides, rank, "strides", name)
        self.padding = choice(padding, self.paddings, "padding", name, fold_case=True)
        self.data_format = check_data_format(data_format, name)
        self.dilation_rate = int_tuple(dilation_rate, rank, "dilation_rate", name)
        self.activation = _activation(activation, name)
        self.use_bias = boolean(use_bias, "use_bias", name)
        self.bias_initializer = _initializer(bias_initializer, "bias_initializer", name)

    def _check_strides_with_dilation(self):
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ArgError("dilation_rate", f"layer '{self.name}': strides > 1 together with "
                                            f"dilation_rate > 1 is not supported (as in "
                                            f"Keras), got strides={list(self.strides)} and "
                                            f"dilation_rate={list(self.dilation_rate)}")

    def input_geometry(self, shape) -> tuple[tuple, int]:
        spatial, channels = self.check_rank(shape, "takes")
        if channels is None:
            raise ArgError(None, f"layer '{self.name}': {type(self).__name__} needs a known "
                                 f"number of channels, got input shape {format_shape(shape)}")
        return spatial, channels

    def output_spatial(self, spatial) -> tuple:
        out = tuple(output_length(n, k, s, d, self.padding) for n, k, s, d in
                    zip(spatial, self.kernel_size, self.strides, self.dilation_rate))
        if any(o is not None and o <= 0 for o in out):
            spans = tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation_rate))
            dilated = f" (dilated to {spans})" if spans != self.kernel_size else ""
            raise ArgError("kernel_size", f"layer '{self.name}': kernel_size "
                                          f"{self.kernel_size}{dilated} is larger than the "
                                          f"input's {self.axis_names_text()} {spatial} with "
                                          f"padding '{self.padding}'")
        return out

    def axis_names_text(self) -> str:
        return " x ".join(self.axis_names())

    def out_channels(self, channels: int) -> int:
        """The output's channels for an input of `channels`."""
        return self.filters

    def output_shape(self, input_shapes):
        spatial, channels = self.input_geometry(input_shapes[0])
        return self.layout(self.output_spatial(spatial), self.out_channels(channels))

    def kernel_specs(self, channels: int) -> list[WeightSpec]:
        """The kernels' WeightSpecs for an input of `channels`, in Keras' order."""
        raise NotImplementedError

    def weight_specs(self, input_shapes):
        _, channels = self.input_geometry(input_shapes[0])
        specs = self.kernel_specs(channels)
        if self.use_bias:
            specs.append(WeightSpec("bias", (self.out_channels(channels),),
                                    self.bias_initializer, self.trainable))
        return specs

    def window_padding(self, spatial) -> list[tuple[int, int]]:
        """(before, after) padding of each spatial axis for an input of `spatial` sizes."""
        return padding_pairs(spatial, self.kernel_size, self.strides, self.dilation_rate,
                             self.padding)

    def convolution(self, spatial, kernel_shape, groups: int) -> Convolution:
        self.output_spatial(spatial)    # sizes known only at run time: one clear error
        return Convolution(kernel_shape, self.strides, self.dilation_rate,
                           self.window_padding(spatial), groups)

    def add_bias(self, y: np.ndarray, weights) -> np.ndarray:
        if self.use_bias:
            y += weights["bias"]       # channels last: the bias runs along the last axis
        return y

    def call(self, inputs, weights):
        return self.activation(self.pre_activation(inputs, weights))

    def pre_activation(self, inputs, weights) -> np.ndarray:
        """convolution + bias, in the layer's data_format (what the activation is given)."""
        return self.from_last(self.add_bias(self.convolve(self.to_last(inputs[0]), weights),
                                            weights))

    def backward(self, inputs, weights, output, grad):
        gz = self.to_last(self.activation.backward(self.pre_activation(inputs, weights), grad))
        gx, grads = self.convolve_backward(self.to_last(inputs[0]), weights, gz)
        if self.use_bias:
            grads["bias"] = gz.reshape(-1, gz.shape[-1]).sum(axis=0)
        return [self.from_last(gx)], grads

    def neuron_link(self, input_shapes, output_shape, index, source, unit):
        """Output unit `unit` reads the input units under its window, in every channel its
        kernel joins: where the gradient of a one-hot output, back through the convolution
        with every weight 1, is not 0 (the activation left out: relu'(0) would hide them)."""
        cache = self.__dict__.setdefault("_neuron_sources", {})
        key = (tuple(input_shapes[0]), unit)
        if key not in cache:
            ones = {w.name: np.ones(w.shape) for w in self.weight_specs(input_shapes)}
            grad = np.zeros((1, math.prod(output_shape)))
            grad[0, unit] = 1.0
            x = np.zeros((1, *input_shapes[0]))
            gx, _ = self.convolve_backward(self.to_last(x), ones,
                                           self.to_last(grad.reshape((1, *output_shape))))
            cache[key] = set(np.flatnonzero(self.from_last(gx)).tolist())
        return source in cache[key]

    # ONNX: Conv / ConvTranspose in channels-first layout, then the activation
    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        x = self.onnx_channels_first(g, inputs[0])
        y = self.onnx_layout_back(g, self.onnx_convolve(g, x, weights, input_shapes[0]))
        return g.activation(self.activation, y, output_shape)

    def onnx_bias(self, g, weights) -> list[str]:
        return [g.initializer(weights["bias"], "bias")] if self.use_bias else []

    def onnx_attrs(self, spatial) -> dict:
        pads = self.window_padding(spatial)
        return dict(kernel_shape=list(self.kernel_size), strides=list(self.strides),
                    dilations=list(self.dilation_rate),
                    pads=[b for b, _ in pads] + [a for _, a in pads])


def _onnx_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras' (*size, a, b) kernel -> ONNX's (b, a, *size)."""
    rank = kernel.ndim - 2
    return np.ascontiguousarray(kernel.transpose(rank + 1, rank, *range(rank)))


class _Conv(_Convolutional):
    inert_args = ("kernel_regularizer", "kernel_constraint") + REGULARIZERS

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **common):
        super().__init__(**common)
        self.filters = positive_int(filters, "filters", self.name)
        self._init_spatial(kernel_size, strides, padding, data_format, dilation_rate,
                           activation, use_bias, bias_initializer)
        self.groups = positive_int(groups, "groups", self.name)
        if self.filters % self.groups:
            raise ArgError("groups", f"layer '{self.name}': `groups` ({self.groups}) must "
                                     f"divide `filters` ({self.filters})")
        self._check_strides_with_dilation()
        self.kernel_initializer = _initializer(kernel_initializer, "kernel_initializer",
                                               self.name)

    def output_shape(self, input_shapes):
        _, channels = self.input_geometry(input_shapes[0])
        if channels % self.groups:
            raise ArgError("groups", f"layer '{self.name}': `groups` ({self.groups}) must "
                                     f"divide the input's {channels} channels")
        return super().output_shape(input_shapes)

    def kernel_specs(self, channels):
        return [WeightSpec("kernel", self.kernel_size + (channels // self.groups, self.filters),
                           self.kernel_initializer, self.trainable)]

    def macs(self, input_shapes, output_shape):
        spatial, channels = self.input_geometry(input_shapes[0])
        out = self.output_spatial(spatial)
        return (math.prod(d or 1 for d in out) * self.filters * math.prod(self.kernel_size)
                * (channels // self.groups))

    def _convolution(self, x, kernel):
        return self.convolution(x.shape[1:-1], kernel.shape, self.groups)

    def convolve(self, x, weights):
        return self._convolution(x, weights["kernel"]).forward(x, weights["kernel"])

    def convolve_backward(self, x, weights, gz):
        gx, gkernel = self._convolution(x, weights["kernel"]).backward(x, weights["kernel"], gz)
        return gx, {"kernel": gkernel}

    def onnx_convolve(self, g, x, weights, shape):
        spatial, _ = self.input_geometry(shape)
        return g.op("Conv", x, g.initializer(_onnx_kernel(weights["kernel"]), "kernel"),
                    *self.onnx_bias(g, weights), group=self.groups,
                    **self.onnx_attrs(spatial))


class Conv1D(_Conv):
    """1-D convolution over (steps, channels); padding valid, same or causal."""

    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(_Conv):
    """2-D convolution over (height, width, channels) images."""

    rank = 2


class Conv3D(_Conv):
    """3-D convolution over (depth, height, width, channels) volumes."""

    rank = 3


class _ConvTranspose(_Convolutional):
    inert_args = ("kernel_regularizer", "kernel_constraint") + REGULARIZERS

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **common):
        super().__init__(**common)
        self.filters = positive_int(filters, "filters", self.name)
        self._init_spatial(kernel_size, strides, padding, data_format, dilation_rate,
                           activation, use_bias, bias_initializer)
        self.output_padding = None if output_padding is None else int_tuple(
            output_padding, self.rank, "output_padding", self.name, allow_zero=True)
        if self.output_padding is not None and any(
                p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ArgError("output_padding", f"layer '{self.name}': `output_padding` "
                                             f"{list(self.output_padding)} must be less than "
                                             f"`strides` {list(self.strides)} on every axis")
        self._check_strides_with_dilation()
        self.kernel_initializer = _initializer(kernel_initializer, "kernel_initializer",
                                               self.name)

    def _output_paddings(self):
        return self.output_padding or (None,) * self.rank

    def output_spatial(self, spatial) -> tuple:
        return tuple(transpose_length(n, k, s, d, self.padding, p) for n, k, s, d, p in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate,
                         self._output_paddings()))

    def kernel_specs(self, channels):
        return [WeightSpec("kernel", self.kernel_size + (self.filters, channels),
                           self.kernel_initializer, self.trainable)]

    def macs(self, input_shapes, output_shape):
        spatial, channels = self.input_geometry(input_shapes[0])
        return (math.prod(d or 1 for d in spatial) * channels * math.prod(self.kernel_size)
                * self.filters)

    def _pads(self):
        return [transpose_padding(k, s, d, self.padding, p) for k, s, d, p in
                zip(self.kernel_size, self.strides, self.dilation_rate,
                    self._output_paddings())]

    def _flipped(self, kernel):
        """(*size, filters, in) -> the (*size, in, filters) kernel of the equivalent
        convolution: taps reversed."""
        flip = tuple(slice(None, None, -1) for _ in range(self.rank))
        return kernel[flip].swapaxes(-1, -2)

    def _convolution(self, kernel):
        return Convolution(kernel.shape, (1,) * self.rank, self.dilation_rate, self._pads())

    def convolve(self, x, weights):
        kernel = self._flipped(weights["kernel"])
        return self._convolution(kernel).forward(dilate(x, self.strides), kernel)

    def convolve_backward(self, x, weights, gz):
        kernel = self._flipped(weights["kernel"])
        gxd, gkernel = self._convolution(kernel).backward(dilate(x, self.strides), kernel, gz)
        return undilate(gxd, self.strides), {"kernel": self._flipped(gkernel)}

    def onnx_convolve(self, g, x, weights, shape):
        # ONNX's ConvTranspose scatters each pixel through the kernel over a full output of
        # (n - 1) * stride + span pixels, then drops pads from its ends (output_padding adds
        # room after): Keras' output is that full one shifted by `span - 1 - before`
        spatial, _ = self.input_geometry(shape)
        begins, ends, extra = [], [], []
        for n, k, s, d, (before, _), out in zip(spatial, self.kernel_size, self.strides,
                                                self.dilation_rate, self._pads(),
                                                self.output_spatial(spatial)):
            span = (k - 1) * d + 1
            begin = span - 1 - before
            end = (n - 1) * s + span - begin - out
            begins.append(begin)
            ends.append(max(end, 0))
            extra.append(max(-end, 0))
        kernel = g.initializer(_onnx_kernel(weights["kernel"]), "kernel")  # (in, filters, ...)
        return g.op("ConvTranspose", x, kernel, *self.onnx_bias(g, weights),
                    kernel_shape=list(self.kernel_size), strides=list(self.strides),
                    dilations=list(self.dilation_rate), pads=begins + ends,
                    output_padding=extra)


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution (the gradient of Conv1D): upsamples by `strides`."""

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution (the gradient of Conv2D): upsamples by `strides`."""

    rank = 2


class _Depthwise(_Convolutional):
    """One kernel per input channel (and per depth_multiplier): a convolution with as many
    groups as channels."""

    def _init_depthwise(self, depth_multiplier, depthwise_initializer):
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", self.name)
        self.depthwise_initializer = _initializer(depthwise_initializer,
                                                  "depthwise_initializer", self.name)

    def depthwise_kernel_spec(self, name: str, channels: int) -> WeightSpec:
        return WeightSpec(name, self.kernel_size + (channels, self.depth_multiplier),
                          self.depthwise_initializer, self.trainable)

    def depthwise_macs(self, input_shapes):
        spatial, channels = self.input_geometry(input_shapes[0])
        out = math.prod(d or 1 for d in self.output_spatial(spatial))
        return out * channels * self.depth_multiplier * math.prod(self.kernel_size), out

    def _depthwise(self, x, kernel):
        """The depthwise kernel (*size, channels, multiplier) as a grouped convolution's
        (*size, 1, channels * multiplier), and that convolution."""
        grouped = kernel.reshape(self.kernel_size + (1, -1))
        return grouped, self.convolution(x.shape[1:-1], grouped.shape, x.shape[-1])

    def depthwise(self, x, kernel):
        grouped, conv = self._depthwise(x, kernel)
        return conv.forward(x, grouped)

    def depthwise_backward(self, x, kernel, g):
        grouped, conv = self._depthwise(x, kernel)
        gx, gkernel = conv.backward(x, grouped, g)
        return gx, gkernel.reshape(kernel.shape)

    def onnx_depthwise(self, g, x, kernel, shape, stem, bias=()):
        spatial, channels = self.input_geometry(shape)
        grouped = kernel.reshape(self.kernel_size + (1, -1))
        return g.op("Conv", x, g.initializer(_onnx_kernel(grouped), stem), *bias,
                    group=channels, **self.onnx_attrs(spatial))


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution: each input channel convolved with its own
    `depth_multiplier` kernels."""

    rank = 2
    inert_args = ("depthwise_regularizer", "depthwise_constraint") + REGULARIZERS
    initializer_args = {"kernel": "depthwise_initializer"}

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros", **common):
        super().__init__(**common)
        self._init_spatial(kernel_size, strides, padding, data_format, dilation_rate,
                           activation, use_bias, bias_initializer)
        self._init_depthwise(depth_multiplier, depthwise_initializer)

    def out_channels(self, channels):
        return channels * self.depth_multiplier

    def kernel_specs(self, channels):
        return [self.depthwise_kernel_spec("kernel", channels)]

    def macs(self, input_shapes, output_shape):
        return self.depthwise_macs(input_shapes)[0]

    def convolve(self, x, weights):
        return self.depthwise(x, weights["kernel"])

    def convolve_backward(self, x, weights, gz):
        gx, gkernel = self.depthwise_backward(x, weights["kernel"], gz)
        return gx, {"kernel": gkernel}

    def onnx_convolve(self, g, x, weights, shape):
        return self.onnx_depthwise(g, x, weights["kernel"], shape, "kernel",
                                   self.onnx_bias(g, weights))


class SeparableConv2D(_Depthwise):
    """Depthwise separable 2-D convolution: a depthwise convolution, then a 1x1 one mixing
    the channels into `filters`."""

    rank = 2
    inert_args = ("depthwise_regularizer", "pointwise_regularizer", "depthwise_constraint",
                  "pointwise_constraint") + REGULARIZERS
    kernel_weights = ("depthwise_kernel", "pointwise_kernel")
    initializer_args = {"depthwise_kernel": "depthwise_initializer",
                        "pointwise_kernel": "pointwise_initializer"}

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", **common):
        super().__init__(**common)
        self.filters = positive_int(filters, "filters", self.name)
        self._init_spatial(kernel_size, strides, padding, data_format, dilation_rate,
                           activation, use_bias, bias_initializer)
        self._init_depthwise(depth_multiplier, depthwise_initializer)
        self.pointwise_initializer = _initializer(pointwise_initializer,
                                                  "pointwise_initializer", self.name)

    def kernel_specs(self, channels):
        middle = channels * self.depth_multiplier
        return [self.depthwise_kernel_spec("depthwise_kernel", channels),
                WeightSpec("pointwise_kernel", (1,) * self.rank + (middle, self.filters),
                           self.pointwise_initializer, self.trainable)]

    def macs(self, input_shapes, output_shape):
        depthwise, pixels = self.depthwise_macs(input_shapes)
        _, channels = self.input_geometry(input_shapes[0])
        return depthwise + pixels * channels * self.depth_multiplier * self.filters

    def _pointwise(self, weights):
        w = weights["pointwise_kernel"]
        return w.reshape(w.shape[-2:])

    def convolve(self, x, weights):
        return self.depthwise(x, weights["depthwise_kernel"]) @ self._pointwise(weights)

    def convolve_backward(self, x, weights, gz):
        middle = self.depthwise(x, weights["depthwise_kernel"])
        pointwise = self._pointwise(weights)
        flat = middle.reshape(-1, middle.shape[-1])
        gpointwise = (flat.T @ gz.reshape(-1, gz.shape[-1])).reshape(
            weights["pointwise_kernel"].shape)
        gx, gdepthwise = self.depthwise_backward(x, weights["depthwise_kernel"],
                                                 gz @ pointwise.T)
        return gx, {"depthwise_kernel": gdepthwise, "pointwise_kernel": gpointwise}

    def onnx_convolve(self, g, x, weights, shape):
        middle = self.onnx_depthwise(g, x, weights["depthwise_kernel"], shape,
                                     "depthwise_kernel")
        return g.op("Conv", middle, g.initializer(_onnx_kernel(weights["pointwise_kernel"]),
                                                  "pointwise_kernel"),
                    *self.onnx_bias(g, weights), kernel_shape=[1] * self.rank)


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1-D convolution: each input channel of a sequence convolved with its own
    `depth_multiplier` kernels."""

    rank = 1


class SeparableConv1D(SeparableConv2D):
    """Depthwise separable 1-D convolution: a depthwise convolution of a sequence, then a
    size-1 one mixing the channels into `filters`."""

    rank = 1


CONVOLUTIONS = (Conv1D, Conv2D, Conv3D, DepthwiseConv2D, SeparableConv2D, DepthwiseConv1D,
                SeparableConv1D, Conv1DTranspose, Conv2DTranspose)
