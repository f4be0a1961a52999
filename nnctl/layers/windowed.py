"""What the convolution and pooling layers share: a layer over sliding windows of `rank`
spatial axes plus a channel axis, Keras' rank-dependent defaults (Conv2D's strides=(1, 1),
Conv1D's 1), and the channels_first layout moved to channels last and back (the maths in
nnctl.layers.windows is channels last)."""
from __future__ import annotations

import inspect

import numpy as np

from nnctl.layers.base import ArgError, Layer, format_shape, unravel


class WindowLayer(Layer):
    """A layer over `rank` spatial axes plus a channel axis, in either data_format."""

    rank = 2
    # Arguments whose Keras default is one int per spatial axis (Conv2D's strides=(1, 1),
    # MaxPooling3D's pool_size=(2, 2, 2)) but a bare int at rank 1 (Conv1D's strides=1): the
    # signature holds the int.
    per_axis_defaults: tuple = ()

    @classmethod
    def arguments(cls) -> dict:
        args = super().arguments()
        if cls.rank > 1:
            args.update({k: (args[k],) * cls.rank for k in cls.per_axis_defaults if k in args})
        return args

    @property
    def channels_first(self) -> bool:
        return self.data_format == "channels_first"

    def neuron_link(self, input_shapes, output_shape, index, source, unit):
        """Output pixel o of a channel reads the pixels of its window (`window_bounds`), in
        the same channel."""
        spatial_in, _ = self.check_rank(input_shapes[0], "takes")
        src = unravel(source, input_shapes[0])
        out = unravel(unit, output_shape)
        if self.channels_first:
            (c_in, *p_in), (c_out, *p_out) = src, out
        else:
            *p_in, c_in = src
            *p_out, c_out = out
        return c_in == c_out and all(low <= p < high for p, (low, high)
                   in zip(p_in, self.window_bounds(spatial_in, p_out)))

    def check_rank(self, shape: tuple, what: str) -> tuple[tuple, int | None]:
        """(spatial sizes, channels) of a sample shape of rank+1 axes."""
        if len(shape) != self.rank + 1:
            layout = ("(channels, " + ", ".join(self.axis_names()) + ")" if self.channels_first
                      else "(" + ", ".join(self.axis_names()) + ", channels)")
            hint = ""
            if len(shape) == self.rank and None not in shape:   # MNIST's (28, 28): no channels
                with_channels = (1, *shape) if self.channels_first else (*shape, 1)
                wrapper = getattr(self, "applied_by", None)   # TimeDistributed: each step
                hint = (f"; add a channels axis first: a Reshape to {with_channels}"
                        if wrapper is None else
                        f"; add a channels axis to each step first: a Reshape to "
                        f"{(-1, *with_channels)} before '{wrapper}'")
            elif len(shape) < self.rank:
                hint = "; a Reshape layer before it can give that shape"
            raise ArgError(None, f"layer '{self.name}': {type(self).__name__} {what} samples "
                                 f"of shape {layout}, got input shape {format_shape(shape)}"
                                 + hint)
        if self.channels_first:
            return tuple(shape[1:]), shape[0]
        return tuple(shape[:-1]), shape[-1]

    def axis_names(self) -> list[str]:
        return {1: ["steps"], 2: ["height", "width"],
                3: ["depth", "height", "width"]}[self.rank]

    def layout(self, spatial, channels) -> tuple:
        return (channels, *spatial) if self.channels_first else (*spatial, channels)

    def to_last(self, x: np.ndarray) -> np.ndarray:
        return np.moveaxis(x, 1, -1) if self.channels_first else x

    def from_last(self, y: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(y, -1, 1)) if self.channels_first else y

    def config_value(self, key):
        value = getattr(self, key)
        if isinstance(value, tuple):
            default = self.arguments().get(key, inspect.Parameter.empty)
            if default is not inspect.Parameter.empty and default is not None and \
                    value == (tuple(default) if isinstance(default, (list, tuple))
                              else (default,) * len(value)):
                return default
        return super().config_value(key)

    # --- ONNX: the standard operators are channels first ------------------------------------
    def onnx_channels_first(self, g, x: str) -> str:
        if self.channels_first:
            return x
        return g.op("Transpose", x, perm=[0, self.rank + 1, *range(1, self.rank + 1)])

    def onnx_layout_back(self, g, y: str) -> str:
        if self.channels_first:
            return y
        return g.op("Transpose", y, perm=[0, *range(2, self.rank + 2), 1])
