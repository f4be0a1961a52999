"""Keras-style layers for the Python API: `Dense(3, activation="relu")(x)` records a graph node.

An API layer is a spec entry waiting to be written: its type and the Keras arguments it was
given. Nothing here computes a shape or a number: the engine's layer (nnctl.layers) checks the
arguments when the API layer is made, and its output shape when the layer is called on
symbolic tensors. nnctl.api.models turns the recorded graph into a spec and builds it.
"""
from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass

from nnctl.errors import SpecError
from nnctl.layers import LAYERS, default_name, format_shape

# Creation counters: Keras names layers in the order they are made (a model may list them in
# another order), and a graph is written out in the order its nodes were made.
_layer_counter = itertools.count()
_node_counter = itertools.count()


class UnknownShape(SpecError):
    """A layer was called on a model input whose shape is not known yet (see Model.build)."""


@dataclass(eq=False)
class Node:
    """One call of a layer (or an input) on tensors: an edge of the graph being recorded."""

    layer: "Layer | InputLayer"
    inbound: list["SymbolicTensor"]
    index: int


class SymbolicTensor:
    """What a layer will produce: a shape (batch axis first, as None) and a dtype, no values.

    `+`, `-` and `*` between two tensors add Add, Subtract and Multiply layers, as in Keras.
    """

    def __init__(self, shape: tuple | None, dtype: str, node: Node):
        self.shape = shape   # None: a model input whose shape the first layer will tell
        self.dtype = dtype
        self.node = node

    @property
    def name(self) -> str | None:
        return self.node.layer.name

    def _merge(self, other, layer_type):
        if not isinstance(other, SymbolicTensor):
            raise TypeError(f"nnctl tensors combine only with tensors (a {layer_type} layer), "
                            f"got {type(other).__name__}")
        return globals()[layer_type]()([self, other])

    def __add__(self, other):
        return self._merge(other, "Add")

    def __sub__(self, other):
        return self._merge(other, "Subtract")

    def __mul__(self, other):
        return self._merge(other, "Multiply")

    def __array__(self, *args, **kwargs):
        raise TypeError("a symbolic tensor has no values: it stands for the output of a layer "
                        "while a model is being built (call the model on data to get numbers)")

    def __repr__(self):
        shape = "unknown" if self.shape is None else format_shape(self.shape)
        return f"<SymbolicTensor shape={shape}, dtype={self.dtype}, name={self.name}>"


def normalize_dtype(dtype, what: str) -> str | None:
    if dtype is None:
        return None
    import numpy as np

    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in ("float32", "float64"):
        raise SpecError(f"{what}: dtype must be float32 or float64, got {dtype!r}")
    return name


def sample_shape(shape, what: str) -> tuple:
    """A shape of one sample (no batch axis), checked as a spec checks `input:`."""
    from nnctl.spec import parse_shape
    from nnctl.yamlpos import Located

    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (list, tuple)):
        raise SpecError(f"{what}: a shape is a tuple of positive integers, got {shape!r}")
    return parse_shape(Located(None, {}, what), [_plain(d) for d in shape], ())


class InputLayer:
    """A model input: its name (None: Keras' `input_layer`, given by the model) and shape."""

    def __init__(self, shape: tuple | None, name: str | None = None, dtype: str | None = None):
        self.shape = shape
        self.name = name
        self.dtype = dtype or "float32"
        self.default_named = name is None
        self.order = next(_layer_counter)
        self.output = SymbolicTensor(None if shape is None else (None, *shape), self.dtype,
                                     Node(self, [], next(_node_counter)))

    def __repr__(self):
        shape = "unknown" if self.shape is None else format_shape((None, *self.shape))
        return f"InputLayer(shape={shape}, name={self.name!r})"


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None) -> SymbolicTensor:
    """A model input, as `keras.Input`: `Input(shape=(3,), name="input")` (no batch axis)."""
    if batch_shape is not None:
        if shape is not None:
            raise TypeError("Input: give `shape` or `batch_shape`, not both")
        shape = tuple(batch_shape)[1:]
    if shape is None:
        raise TypeError("Input needs `shape`: the shape of one sample, e.g. Input(shape=(3,))")
    what = f"input '{name}'" if name else "Input"
    if name is not None and (not isinstance(name, str) or not name):
        raise SpecError(f"Input: `name` must be a non-empty string, got {name!r}")
    return InputLayer(sample_shape(shape, what), name, normalize_dtype(dtype, what)).output


class Layer:
    """Base of the API layers; each subclass stands for the engine layer class `engine`."""

    engine: type = None      # the nnctl.layers class this one writes specs for

    def __init__(self, *args, **kwargs):
        cls = type(self)
        positional = _positional_args(cls.engine)
        if len(args) > len(positional):
            raise TypeError(f"{cls.__name__}() takes {len(positional)} positional argument"
                            f"{'' if len(positional) == 1 else 's'} ({', '.join(positional)}), "
                            f"got {len(args)}")
        config = dict(zip(positional, args))
        for key, value in kwargs.items():
            if key in config:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {key!r}")
            config[key] = value
        name = config.pop("name", None)
        input_shape = config.pop("input_shape", None)
        input_dim = config.pop("input_dim", None)
        if name is not None and (not isinstance(name, str) or not name):
            raise SpecError(f"{cls.__name__}: `name` must be a non-empty string, got {name!r}")
        self.name = name
        self.default_named = name is None   # Keras' default name, given by a model
        self.order = next(_layer_counter)
        self.config = {k: _plain(v, f"{self._label()}: `{k}`") for k, v in config.items()}
        # Checked now, as Keras checks a layer's arguments when it is made.
        self._engine_layer = cls.engine.from_config(self._label(), self.config)
        if input_dim is not None:
            input_shape = (input_dim,)
        self.input_shape = (None if input_shape is None
                            else sample_shape(input_shape, f"layer '{self._label()}'"))

    def _label(self) -> str:
        return self.name or default_name(type(self).engine)

    def __getattr__(self, key):
        # Keras arguments read back as attributes: `layer.units`, `layer.activation`.
        if key.startswith("_") or "config" not in self.__dict__:
            raise AttributeError(key)
        if key in self.config:
            return self.config[key]
        default = type(self).engine.arguments().get(key, inspect.Parameter.empty)
        if default is inspect.Parameter.empty:
            raise AttributeError(f"{type(self).__name__!r} has no attribute {key!r}")
        return default

    def get_config(self) -> dict:
        """This layer's spec entry: `{type: Dense, name: layer1, units: 3, ...}`."""
        entry = {"type": type(self).engine.__name__}
        if self.name is not None:
            entry["name"] = self.name
        entry.update(self.config)
        return entry

    def __call__(self, inputs):
        engine = self._engine_layer
        many = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if many else [inputs]
        for t in tensors:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(
                    f"layer '{self._label()}' was called on a {type(t).__name__}: nnctl layers "
                    "are called on nnctl.Input tensors (or other layers' outputs) to build a "
                    "model; to compute numbers, call the model: model(x)")
        if engine.arity == "one" and (many or len(tensors) != 1):
            raise SpecError(f"layer '{self._label()}': {type(self).__name__} takes one tensor, "
                            f"got a list of {len(tensors)}; merge them first (Concatenate, "
                            "Add, ...)")
        if engine.arity == "many" and not many:
            raise SpecError(f"layer '{self._label()}': {type(self).__name__} takes a list of "
                            "tensors, e.g. Add()([x, y])")
        for t in tensors:
            if t.shape is None:
                self._adopt_input_shape(t)
        shapes = [t.shape[1:] for t in tensors]
        shape = engine.output_shape(shapes)
        engine.weight_specs(shapes)     # checks what only weights check (normalized axes)
        dtype = self.config.get("dtype") or tensors[0].dtype
        return SymbolicTensor((None, *shape), dtype, Node(self, tensors, next(_node_counter)))

    def _adopt_input_shape(self, tensor: SymbolicTensor) -> None:
        """A subclassed model traced before its input shape is known: the first layer's
        `input_shape=` (as in the article's MyModel) gives it."""
        source = tensor.node.layer
        if not isinstance(source, InputLayer) or self.input_shape is None:
            raise UnknownShape(f"the shape of input '{source.name}' is not known")
        source.shape = self.input_shape
        tensor.shape = (None, *self.input_shape)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        name = f"name={self.name!r}" if self.name else ""
        return f"{type(self).__name__}({', '.join(a for a in (args, name) if a)})"


def _plain(value, what: str = "value"):
    """A value a spec can hold (YAML/JSON): tuples become lists, objects their config."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, what) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, what) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()            # a NumPy scalar
    if hasattr(value, "get_config"):   # an nnctl activation or initializer object
        return _plain(value.get_config(), what)
    raise TypeError(f"{what}: {value!r} cannot be written in a spec; give a name or a mapping "
                    "such as {'type': 'he_normal', 'seed': 1}")


def _positional_args(engine_cls: type) -> list[str]:
    """The Keras arguments that may be given by position, in order (`Dense(3)`: units)."""
    return [n for n, p in inspect.signature(engine_cls.__init__).parameters.items()
            if n not in ("self", "name", "trainable", "dtype")
            and p.kind is p.POSITIONAL_OR_KEYWORD]


def _api_class(engine_cls: type) -> type:
    """The API class for an engine layer class: same name, Keras' constructor signature."""
    params = [p.replace(kind=p.POSITIONAL_OR_KEYWORD)
              for n, p in inspect.signature(engine_cls.__init__).parameters.items()
              if n in _positional_args(engine_cls)]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d)
               for n, d in (("name", None), ("trainable", True), ("dtype", None),
                            ("input_shape", None))]
    doc = (engine_cls.__doc__ or "").strip().splitlines()[0]
    return type(engine_cls.__name__, (Layer,), {
        "engine": engine_cls, "__module__": __name__, "__signature__": inspect.Signature(params),
        "__doc__": f"{doc}\n\nKeras' `keras.layers.{engine_cls.__name__}`: called on tensors, "
                   "it records a layer of the model being built."})


for _name in LAYERS.names():
    globals()[_name] = _api_class(LAYERS.get(_name))

__all__ = ["Layer", "Input", "InputLayer", "SymbolicTensor"] + LAYERS.names()
