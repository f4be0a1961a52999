"""The layer types a spec may use, by their Keras class names.

Each type is one class (nnctl/layers/base.py: Layer) holding every piece of it: arguments,
output shape, weights, forward and backward passes, ONNX lowering, MACs and its neurons
picture. To add one, see docs/ARCHITECTURE.md ("Add a layer type") and register it below.

`nnctl.layers.Dense`, `nnctl.layers.Layer`, `nnctl.layers.add`, ... are the Python API's
(nnctl.api.layers), as `keras.layers`; the engine's classes are reached with get("Dense") or
from their modules (nnctl.layers.core.Dense), and the engine's base class is
nnctl.layers.base.Layer.
"""
from __future__ import annotations

import inspect
import re

from nnctl.layers import (activation_layers, convolution, core, embedding, merging, noise,
                          normalization, pooling, preprocessing, recurrent, reshaping, spatial,
                          wrappers)
from nnctl.layers.base import ArgError, WeightSpec, format_shape
from nnctl.naming import Registry

LAYERS = Registry("layer type")
for _cls in (core.Dense, core.Activation, core.Dropout, core.Masking, reshaping.Flatten,
             reshaping.Reshape,
             merging.Add, merging.Subtract, merging.Multiply, merging.Average, merging.Maximum,
             merging.Minimum, merging.Concatenate, normalization.BatchNormalization,
             normalization.LayerNormalization, activation_layers.ReLU,
             activation_layers.LeakyReLU, activation_layers.PReLU, activation_layers.ELU,
             activation_layers.Softmax, spatial.ZeroPadding1D, spatial.ZeroPadding2D,
             spatial.Cropping1D, spatial.Cropping2D, spatial.UpSampling1D, spatial.UpSampling2D,
             reshaping.Permute, reshaping.RepeatVector, preprocessing.Rescaling,
             preprocessing.Normalization, embedding.Embedding, recurrent.SimpleRNN,
             recurrent.LSTM, recurrent.GRU, recurrent.Bidirectional,
             *convolution.CONVOLUTIONS, *pooling.POOLINGS, *noise.NOISE_LAYERS,
             wrappers.TimeDistributed, spatial.ZeroPadding3D, spatial.Cropping3D,
             spatial.UpSampling3D):
    LAYERS.register(_cls.__name__, _cls)


ENGINE_NAMES = ["WeightSpec", "ArgError", "format_shape", "get", "default_name", "catalog",
                "LAYERS"]


def __getattr__(name):
    # `nnctl.layers.Dense(3, activation="relu")` is the Python API's layer (nnctl.api.layers),
    # loaded on first use: the engine needs no API. __all__ too (help() lists what it names).
    if name == "__all__":
        from nnctl.api import layers as api_layers

        return ENGINE_NAMES + api_layers.__all__
    if not name.startswith("_"):
        from nnctl.api import layers as api_layers

        if name in api_layers.__all__:
            return getattr(api_layers, name)
    raise AttributeError(f"module 'nnctl.layers' has no attribute {name!r}")


def __dir__():
    from nnctl.api import layers as api_layers

    return sorted(set(globals()) | set(api_layers.__all__))


def get(type_name: str) -> type:
    """The Layer class for a Keras class name (`Dense`, `dense` and `BatchNormalization`...)."""
    return LAYERS.get(type_name)


def default_name(cls: type) -> str:
    """Keras' default name stem (its to_snake_case): `Dense` -> `dense`, `BatchNormalization`
    -> `batch_normalization`, `Conv2D` -> `conv2d`, `PReLU` -> `p_re_lu`."""
    name = re.sub(r"\W+", "", cls.__name__)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def catalog() -> list[dict]:
    """Every layer type with its Keras arguments and defaults, for `nnctl list layers`."""
    rows = []
    for name in LAYERS.names():
        cls = LAYERS.get(name)
        params = {k: ("(required)" if v is inspect.Parameter.empty else v)
                  for k, v in cls.arguments().items() if k not in cls.inert_args}
        params.update({"name": "(auto)", "trainable": True})
        rows.append({"name": name, "aliases": [], "params": params,
                     "description": (cls.__doc__ or "").strip().splitlines()[0]})
    return rows


