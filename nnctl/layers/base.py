"""The Layer protocol: one class per Keras layer type holds every piece of that type.

Keras arguments in (the __init__ signature), then output shape, weights, forward pass,
backward pass, ONNX lowering, MACs and the neurons picture: see Layer.PIECES and
docs/ARCHITECTURE.md ("Add a layer type").

Shapes here are of one sample (no batch axis); None stands for a dimension known only at
run time. Axes in arguments follow Keras, which counts the batch axis: `axis=1` is the first
axis of a sample, `axis=-1` the last.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from nnctl.errors import NnctlError, SpecError
from nnctl.naming import did_you_mean, name_problem


class ArgError(SpecError):
    """A bad layer argument; `key` says which, so the spec can point at it."""

    def __init__(self, key: str | None, message: str, unknown: bool = False):
        super().__init__(message)
        self.key = key
        self.unknown = unknown   # the key itself is wrong (point at the key, not its value)


@dataclass(frozen=True)
class WeightSpec:
    name: str            # Keras weight name: kernel, bias, gamma, ...
    shape: tuple
    initializer: object  # an nnctl.initializers initializer
    trainable: bool
    dtype: str | None = None   # Keras' dtype when not the layer's (Normalization's int32 count)


class CannotDraw(Exception):
    """Raised by `Layer.neuron_link` for a layer that `plot --neurons` does not draw; the
    message says why (nnctl.plot.neurons names the layer and its place in the spec)."""


_ARGUMENTS: dict[type, dict] = {}   # Layer class -> its arguments() (signatures do not change)


class Layer:
    """Base class: one Keras layer type, every piece of it in one place.

    A subclass's __init__ signature is its list of Keras arguments (with Keras' defaults), and
    it provides every piece below. The base class implements none of them: a piece left out
    raises NotImplementedError, and tests/test_layer_completeness.py fails for any registered
    type that does not define (or inherit from a class other than Layer) each of PIECES and
    DECLARATIONS. Common implementations are ready to assign: `output_shape = same_shape`,
    `weight_specs = no_weights`, `macs = no_macs`, `neuron_link = unit_to_unit`,
    `neuron_link = cannot_draw("why")`.

    Shapes are of one sample (no batch axis; None: known only at run time); arrays carry the
    batch axis first.
    """

    # The methods every layer type provides (see each one's docstring).
    PIECES = ("output_shape", "weight_specs", "call", "backward", "to_onnx", "macs",
              "neuron_link")
    # The class attributes every layer type sets (None in Layer means "not declared").
    DECLARATIONS = ("affine",)

    # "one": called on a single tensor; "many": a merge layer, called on a list.
    arity = "one"
    # Keras arguments accepted because configs copied from Keras carry them, but which change
    # nothing at inference (regularizers, constraints, ...).
    inert_args: tuple = ()
    # Deprecated Keras names of arguments, read as the new name (LeakyReLU's alpha).
    renamed_args: dict = {}
    # Whether the layer is an affine map of its inputs, activation aside (lint's
    # "linear-network" rule): Dense, Conv, Add, Flatten... are; Multiply, max pooling, PReLU,
    # LayerNormalization are not.
    affine: bool | None = None
    # The weights that multiply the input (Dense's and Conv's `kernel`): what lint's
    # initializer rules and `inspect --compare-init` look at. Each has its initializer in the
    # argument (and attribute) `<name>_initializer`, or as `initializer_args` says where Keras
    # names it otherwise (DepthwiseConv2D's kernel: depthwise_initializer). Empty for layers
    # without one.
    kernel_weights: tuple = ()
    initializer_args: dict = {}
    # An nnctl.activations function for layers that apply one (Dense, Activation, ReLU...);
    # such a layer also provides pre_activation(). Set per instance in __init__.
    activation = None

    def __init__(self, name: str, trainable: bool = True, dtype=None):
        self.name = name
        self.trainable = trainable

    # --- construction from a spec ------------------------------------------------------
    @classmethod
    def arguments(cls) -> dict:
        """Keras argument name -> default (inspect.Parameter.empty when required)."""
        args = _ARGUMENTS.get(cls)
        if args is None:  # once per class: inspect.signature costs 0.1 ms, once per layer
            params = inspect.signature(cls.__init__).parameters
            args = {n: p.default for n, p in params.items()
                    if n not in ("self", "name", "trainable", "dtype")
                    and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            args.update({n: None for n in cls.inert_args})
            _ARGUMENTS[cls] = args
        return dict(args)

    @classmethod
    def from_config(cls, name: str, config: dict) -> "Layer":
        for old, new in cls.renamed_args.items():
            if old in config:   # as in Keras, the deprecated name wins over the new one
                config = {**{k: v for k, v in config.items() if k not in (old, new)},
                          new: config[old]}
        allowed = cls.arguments()
        common = ("name", "trainable", "dtype")
        for key in config:
            if key not in allowed and key not in common:
                hint = did_you_mean(str(key), list(allowed) + list(common))
                raise ArgError(key, f"layer '{name}': unknown argument '{key}' for "
                                    f"{cls.__name__}{hint}; allowed: "
                                    f"{', '.join(list(allowed) + list(common))}",
                               unknown=True)
        for key, default in allowed.items():
            if default is inspect.Parameter.empty and key not in config:
                raise ArgError(None, f"layer '{name}': {cls.__name__} needs `{key}`")
        trainable = config.get("trainable", True)
        if not isinstance(trainable, bool):
            raise ArgError("trainable", f"layer '{name}': `trainable` must be true or false, "
                                        f"got {trainable!r}")
        dtype = config.get("dtype")
        if dtype not in (None, "float32", "float64"):
            raise ArgError("dtype", f"layer '{name}': `dtype` must be float32 or float64, "
                                    f"got {dtype!r}")
        kwargs = {k: v for k, v in config.items() if k in allowed and k not in cls.inert_args}
        return cls(name=name, trainable=trainable, **kwargs)

    # --- the pieces every layer type provides ------------------------------------------
    def output_shape(self, input_shapes: list[tuple]) -> tuple:
        """The output shape of one sample. Raise ArgError(key, message) when the inputs do not
        fit the arguments (the spec then points at `key`)."""
        raise NotImplementedError(f"{type(self).__name__}.output_shape")

    def weight_specs(self, input_shapes: list[tuple]) -> list[WeightSpec]:
        """The weights, in Keras' order, with Keras' names, shapes and initializers."""
        raise NotImplementedError(f"{type(self).__name__}.weight_specs")

    def call(self, inputs: list[np.ndarray], weights: dict[str, np.ndarray]) -> np.ndarray:
        """The forward pass at inference, in the inputs' dtype: `weights` by short name."""
        raise NotImplementedError(f"{type(self).__name__}.call")

    def backward(self, inputs: list[np.ndarray], weights: dict[str, np.ndarray],
                 output: np.ndarray, grad: np.ndarray):
        """The vector-Jacobian product of call(): given dL/d(output) `grad`, returns
        ([dL/d input for each input], {weight name: dL/d weight}) for every weight (trainable
        or not). `output` is call()'s result for these inputs. Checked against central
        differences in tests/test_backprop.py."""
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def to_onnx(self, g, inputs: list[str], weights: dict[str, np.ndarray],
                input_shapes: list[tuple], output_shape: tuple) -> str:
        """Write the layer as standard ONNX operators on `g` (an nnctl.onnx.graph.Graph:
        g.op("Conv", x, w, pads=[...]), g.initializer(array, "kernel"), g.c(constant),
        g.activation(self.activation, y, shape)...) and return the result tensor's name. Same
        operations, same order, same dtype as call(), so ONNX Runtime gives the same numbers.
        Raise nnctl.onnx.graph.CannotExport("why") for what has no ONNX form."""
        raise NotImplementedError(f"{type(self).__name__}.to_onnx")

    def macs(self, input_shapes: list[tuple], output_shape: tuple) -> int:
        """Multiply-accumulates for one sample (`summary --macs`)."""
        raise NotImplementedError(f"{type(self).__name__}.macs")

    def scratch_values(self, input_shapes: list[tuple]) -> int:
        """Values a call holds for one sample besides its output (a recurrent layer's input
        projection of every step): `forward` sizes its slices of a batch with them."""
        return 0

    def neuron_link(self, input_shapes: list[tuple], output_shape: tuple, index: int,
                    source: int, unit: int) -> bool:
        """`plot --neurons`: whether unit `source` of input `index` feeds output unit `unit`
        (units are flat C-order indices of one sample). Raise CannotDraw("why") for a layer
        that is not drawn as neurons."""
        raise NotImplementedError(f"{type(self).__name__}.neuron_link")

    def pre_activation(self, inputs: list[np.ndarray], weights: dict[str, np.ndarray]):
        """What the layer feeds its activation (for `inspect`'s dead/saturated counts);
        required only of layers with an `activation`."""
        raise NotImplementedError(f"{type(self).__name__}.pre_activation")

    @classmethod
    def initializer_arg(cls, weight: str) -> str:
        """The Keras argument that holds the initializer of `weight` (one of kernel_weights)."""
        return cls.initializer_args.get(weight, f"{weight}_initializer")

    # --- back to a spec ----------------------------------------------------------------
    def get_config(self) -> dict:
        """The spec mapping of this layer (Keras arguments that differ from the defaults)."""
        config = {"type": type(self).__name__, "name": self.name}
        for key, default in self.arguments().items():
            if key in self.inert_args or not hasattr(self, key):
                continue
            value = self.config_value(key)
            if default is inspect.Parameter.empty or value != default:
                config[key] = value
        if not self.trainable:
            config["trainable"] = False
        return config

    def config_value(self, key):
        """The spec value of argument `key`: an initializer's, activation's or layer's config;
        tuples as lists (as YAML and JSON write them)."""
        value = getattr(self, key)
        return value.get_config() if hasattr(value, "get_config") else _lists(value)

    def __repr__(self):
        config = {k: v for k, v in self.get_config().items() if k not in ("type", "name")}
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({args}{', ' if args else ''}name={self.name!r})"


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, tuple) else value


# --- ready-made pieces: `output_shape = same_shape` in a class body ---------------------------

def same_shape(self, input_shapes):
    """output_shape of a layer that keeps its input's shape."""
    return input_shapes[0]


def no_weights(self, input_shapes):
    """weight_specs of a layer without weights."""
    return []


def no_macs(self, input_shapes, output_shape):
    """macs of a layer that multiplies nothing (moves, copies or compares values)."""
    return 0


def elementwise_macs(self, input_shapes, output_shape):
    """macs of a layer with one multiply-add per output value."""
    return math.prod(d or 1 for d in output_shape)


def unit_to_unit(self, input_shapes, output_shape, index, source, unit):
    """neuron_link of a layer whose output unit i reads input unit i only (activations,
    normalization, flattening, reshaping: the same values in C order)."""
    return source == unit


def cannot_draw(reason: str):
    """neuron_link of a layer `plot --neurons` does not draw: `neuron_link = cannot_draw(
    "a convolution joins each unit to a window of units")`."""
    def neuron_link(self, input_shapes, output_shape, index, source, unit):
        raise CannotDraw(reason)
    return neuron_link


def linear_link(self, input_shapes, output_shape, index, source, unit):
    """neuron_link of a weightless layer that is linear in its input (padding, cropping,
    upsampling, permuting, repeating): unit `unit` reads the input units where the backward
    pass of a gradient on that unit alone is not 0."""
    cache = self.__dict__.setdefault("_neuron_sources", {})
    key = (tuple(map(tuple, input_shapes)), index, unit)
    if key not in cache:
        inputs = [np.zeros((1, *shape)) for shape in input_shapes]
        grad = np.zeros((1, math.prod(output_shape)))
        grad[0, unit] = 1.0
        grads, _ = self.backward(inputs, {}, None, grad.reshape((1, *output_shape)))
        cache[key] = set(np.flatnonzero(grads[index]).tolist())
    return source in cache[key]


def identity_onnx(self, g, inputs, weights, input_shapes, output_shape):
    """to_onnx of a layer that passes its input through at inference (Dropout)."""
    return inputs[0]


def along_axes(w: np.ndarray, axes, ndim: int) -> np.ndarray:
    """w, one value per index along the sample axes `axes` (0-based, one per axis of w),
    reshaped to broadcast over a batch of `ndim` axes."""
    full = [1] * ndim
    for n, a in zip(w.shape, axes):
        full[a + 1] = n
    return w.reshape(full)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum g down to `shape`: the gradient of an operand NumPy broadcast up to g's shape."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def unpad(x: np.ndarray, pairs) -> np.ndarray:
    """x without pairs[i][0] values before and pairs[i][1] after along each axis i: the
    inverse of np.pad(x, pairs)."""
    return x[tuple(slice(before, n - after) for n, (before, after) in zip(x.shape, pairs))]


def unravel(i: int, shape) -> list[int]:
    """A flat C-order index of one sample -> its index along each axis."""
    out = []
    for n in reversed(shape):
        out.append(i % n)
        i //= n
    return out[::-1]


def ravel(index, shape) -> int:
    """The inverse of unravel."""
    flat = 0
    for i, n in zip(index, shape):
        flat = flat * n + i
    return flat


# --- argument checks shared by the layers --------------------------------------------------

def positive_int(value, key: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ArgError(key, f"layer '{layer}': `{key}` must be a positive integer, got {value!r}")
    return value


def number(value, key: str, layer: str, *, low=None, high=None, low_open=False,
           high_open=False) -> float:
    """A float argument; YAML 1.1 reads `1e-5` as text, so numeric text is accepted."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ArgError(key, f"layer '{layer}': `{key}` must be a number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ArgError(key, f"layer '{layer}': `{key}` must be {'>' if low_open else '>='} "
                            f"{low}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ArgError(key, f"layer '{layer}': `{key}` must be {'<' if high_open else '<='} "
                            f"{high}, got {value!r}")
    return float(value)


def boolean(value, key: str, layer: str) -> bool:
    if not isinstance(value, bool):
        raise ArgError(key, f"layer '{layer}': `{key}` must be true or false, got {value!r}")
    return value


def resolve(getter, value, key: str, layer: str):
    """An activation or initializer by name or mapping, its errors pinned to `key`."""
    try:
        return getter(value)
    except ArgError:
        raise
    except NnctlError as exc:
        raise ArgError(key, f"layer '{layer}': {exc.message}") from None


def sample_axes(axis, rank: int, layer: str, key: str = "axis") -> tuple[int, ...]:
    """Keras axes (batch counted, negatives from the end) -> axes of one sample (0-based)."""
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    result = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int):
            raise ArgError(key, f"layer '{layer}': `{key}` must be an integer or a list of "
                                f"integers, got {axis!r}")
        if a == 0:
            raise ArgError(key, f"layer '{layer}': axis 0 is the batch axis; use 1..{rank} "
                                "or a negative axis")
        if a < -rank or a > rank:
            raise ArgError(key, f"layer '{layer}': axis {a} is out of bounds for an input of "
                                f"rank {rank + 1} (batch axis included)")
        result.append(a - 1 if a > 0 else rank + a)
    if len(set(result)) != len(result):
        raise ArgError(key, f"layer '{layer}': repeated axis in {axis!r}")
    return tuple(sorted(result))


def known_axes(axis, shape: tuple, layer: str) -> tuple[int, ...]:
    """sample_axes of `axis` for a sample of `shape`, each of a known size (the normalizing
    layers keep a value per index along them)."""
    axes = sample_axes(axis, len(shape), layer)
    for a in axes:
        if shape[a] is None:
            raise ArgError("axis", f"layer '{layer}': the normalized axis {a + 1} must have a "
                                   f"known size, got input shape {format_shape((None, *shape))}")
    return axes


def data_format(value, layer: str) -> str:
    """Keras' `data_format`: None (Keras' default image_data_format) is channels_last."""
    if value is None:
        return "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ArgError("data_format", f"layer '{layer}': `data_format` must be channels_last or "
                                      f"channels_first, got {value!r}")
    return value


def int_tuple(value, n: int, key: str, layer: str, *, allow_zero: bool = False) -> tuple:
    """An int or a list of n ints (keras' standardize_tuple): 2 -> (2, 2); each >= 1, or >= 0
    with allow_zero."""
    values = [value] * n if isinstance(value, int) and not isinstance(value, bool) else value
    low = 0 if allow_zero else 1
    if (not isinstance(values, (list, tuple)) or len(values) != n
            or any(isinstance(v, bool) or not isinstance(v, int) for v in values)):
        raise ArgError(key, f"layer '{layer}': `{key}` must be an integer or a list of {n} "
                            f"integers, got {value!r}")
    if any(v < low for v in values):
        raise ArgError(key, f"layer '{layer}': `{key}` must be "
                            f"{'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return tuple(values)


def choice(value, allowed, key: str, layer: str, fold_case: bool = False):
    """One of `allowed`, as given (fold_case: compared in lower case and returned so, as
    Keras' standardize_padding reads `padding`)."""
    text = value.lower() if fold_case and isinstance(value, str) else value
    if text not in allowed:
        raise ArgError(key, f"layer '{layer}': `{key}` must be one of {', '.join(allowed)}, "
                            f"got {value!r}")
    return text


def wrapped_layer(wrapper: str, cls, entry: dict, default_name: str) -> "Layer":
    """The layer a wrapper (Bidirectional, TimeDistributed) named `wrapper` holds, made as
    `cls` from its spec entry (`{type: ..., name: ..., units: ...}`): named as the entry says or
    `default_name`, every error said as the wrapper's `layer` argument's."""
    config = {k: v for k, v in entry.items() if k != "type"}
    name = config.pop("name", None) or default_name
    if not isinstance(name, str):
        raise ArgError("layer", f"layer '{wrapper}': the wrapped layer's `name` must be text, "
                                f"got {name!r}")
    problem = name_problem(name)
    if problem:
        raise ArgError("layer", f"layer '{wrapper}': the wrapped layer's name {problem}")
    try:
        return cls.from_config(name, config)
    except ArgError as exc:
        raise ArgError("layer", f"layer '{wrapper}': {exc.message}") from None


def format_shape(shape: tuple) -> str:
    """Keras' way of writing a shape: `(None, 3)`, `(None, 5, 1)`."""
    return "(" + ", ".join(str(d) for d in shape) + ")"
