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

from nnctl.api import session
from nnctl.api.variables import Variable
from nnctl.errors import SpecError
from nnctl.initializers import Initializer
from nnctl.layers import LAYERS, default_name, format_shape
from nnctl.naming import name_problem

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
    output: "SymbolicTensor | None" = None
    # an Embedding(mask_zero=True) call: Keras' name of its mask operation (NotEqual), drawn
    # from the session's names as Keras draws it (nnctl.masking.mask_operations)
    mask_name: str | None = None


class SymbolicTensor:
    """What a layer will produce: a shape (batch axis first, as None) and a dtype, no values.

    `+`, `-` and `*` between two tensors add Add, Subtract and Multiply layers, as in Keras.
    """

    def __init__(self, shape: tuple | None, dtype: str, node: Node, index: int = 0):
        self.shape = shape   # None: a model input whose shape the first layer will tell
        self.dtype = dtype
        self.node = node
        self.index = index   # which output of its layer (an LSTM with return_state has 3)

    @property
    def name(self) -> str | None:
        return self.node.layer.name

    @property
    def ref(self) -> str:
        """How a spec names this tensor: the layer's name, or `lstm[1]` for one output of a
        layer of several."""
        outputs = self.node.output
        return self.name if not isinstance(outputs, list) else f"{self.name}[{self.index}]"

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


def normalize_dtype(dtype, what: str, integers: bool = False) -> str | None:
    """float32 or float64 (or, for an input, int32 or int64: token ids for an Embedding)."""
    if dtype is None:
        return None
    import numpy as np

    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    allowed = ("float32", "float64") + (("int32", "int64") if integers else ())
    if name not in allowed:
        raise SpecError(f"{what}: dtype must be {', '.join(allowed[:-1])} or {allowed[-1]}, "
                        f"got {dtype!r}")
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
    """A model input: its name (Keras' `input_layer`, `input_layer_1`, ... by default), shape
    and dtype. `nnctl.Input(...)` makes one and returns its output tensor; in a Sequential,
    `InputLayer(shape=(3,))` starts the model, with Keras' arguments (tf.keras'
    `input_shape=` and `batch_input_shape=` too, as Keras 3 still takes them)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to InputLayer: {kwargs}")
        checked_name(name, "InputLayer")
        if sparse or ragged or optional or input_tensor is not None:
            raise TypeError("InputLayer: nnctl has no sparse, ragged, optional or given tensors")
        shape, batch_size = _from_batch_shape(shape, batch_shape, batch_size)
        what = f"input '{name}'" if name else "InputLayer"
        self.shape = None if shape is None else sample_shape(shape, what)  # None: not known yet
        # a fixed batch size: the first axis of the model's summary shapes, as Keras shows it
        self.batch_size = fixed_batch_size(batch_size, what)
        self.default_named = name is None
        self.name = name if name is not None else session.unique_name("input_layer")
        self.dtype = normalize_dtype(dtype, what, integers=True) or "float32"
        self.order = next(_layer_counter)
        self.trainable = True
        self.output = SymbolicTensor(None if self.shape is None else (None, *self.shape),
                                     self.dtype, Node(self, [], next(_node_counter)))
        self.output.node.output = self.output

    @property
    def input(self):
        return self.output

    weights = trainable_weights = non_trainable_weights = property(lambda self: [])

    def get_weights(self) -> list:
        return []

    def count_params(self) -> int:
        return 0

    def __repr__(self):
        shape = "unknown" if self.shape is None else format_shape((None, *self.shape))
        return f"<InputLayer name={self.name}, shape={shape}>"


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
          tensor=None, sparse=None, ragged=None) -> SymbolicTensor:
    """A model input, as `keras.Input`: the shape of one sample, without the batch axis.

    >>> import nnctl
    >>> x = nnctl.Input(shape=(3,), name="input")
    >>> x.shape
    (None, 3)
    """
    shape, batch_size = _from_batch_shape(shape, batch_shape, batch_size)
    if shape is None:
        raise ValueError("You must pass a `shape` argument, e.g. Input(shape=(3,)) (the shape "
                         "of one sample)")
    if sparse or ragged or tensor is not None:
        raise TypeError("Input: nnctl has no sparse, ragged or given tensors")
    what = f"input '{name}'" if name else "Input"
    checked_name(name, "Input")   # said as Input's, which the user called
    return InputLayer(shape=sample_shape(shape, what), name=name, batch_size=batch_size,
                      dtype=normalize_dtype(dtype, what, integers=True)).output


def checked_name(name, caller: str) -> None:
    """Refuse a layer's or an input's `name` that Keras refuses (not a non-empty string, a
    `/`...), said as the error of `caller`, the class or function the user called."""
    if name is not None and (not isinstance(name, str) or not name):
        raise SpecError(f"{caller}: `name` must be a non-empty string, got {name!r}")
    problem = name and name_problem(name)
    if problem:
        raise SpecError(f"{caller}: `name` {problem}")


def _from_batch_shape(shape, batch_shape, batch_size) -> tuple:
    """(shape, batch_size) of an input given `batch_shape` (its batch axis first), as Keras
    reads it; else as given."""
    if batch_shape is None:
        return shape, batch_size
    if shape is not None:
        raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
    return tuple(batch_shape)[1:], tuple(batch_shape)[0]


def fixed_batch_size(size, what: str) -> int | None:
    """An input's batch size as Keras takes it (Input(batch_size=8), batch_shape=(8, 3)):
    a positive integer, or None for any."""
    size = _plain(size)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise SpecError(f"{what}: `batch_size` must be a positive integer or None, got "
                        f"{size!r}")
    return size


class KerasViews:
    """Attributes that follow from others, alike on a layer and a model (nnctl.api.models):
    the shapes of `input` and `output`, and views of `weights` (Variables, Keras' order)."""

    @property
    def input_shape(self):
        """The shape of `input`, a list of shapes for several (tf.keras' attribute)."""
        return _shape_of(self.input)

    @property
    def output_shape(self):
        """The shape of `output`, a list of shapes for several (tf.keras' attribute)."""
        return _shape_of(self.output)

    @property
    def trainable_weights(self) -> list:
        # as Keras: a frozen layer has none, whatever its weights' own flags
        return [v for v in self.weights if v.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        return [v for v in self.weights if not v.trainable] if self.trainable else self.weights

    @property
    def variables(self) -> list:
        return self.weights


def _shape_of(value):
    return [t.shape for t in value] if isinstance(value, list) else value.shape


def forgot_super_init(obj) -> RuntimeError:
    """Keras 3's error for a Layer or Model subclass whose __init__ did not call
    super().__init__(), raised when the object is first used, as Keras raises it."""
    return RuntimeError(f"In layer '{type(obj).__name__}', you forgot to call "
                        "`super().__init__()` as the first statement in the `__init__()` "
                        "method. Go add it!")


class Layer(KerasViews):
    """A layer, as `keras.layers.Layer`: made with Keras' arguments, called on tensors.

    Called on `nnctl.Input` tensors (or other layers' outputs) it records a node of the model
    being built; called on arrays it computes (`Dense(2)(np.ones((1, 3)))`). Its weights are
    drawn when it is built and are shared by every model that uses it.

    Subclass it (set layers in `__init__`, use them in `call`) for a layer made of nnctl
    layers and `nnctl.ops`: nnctl traces `call` and puts its layers in the model.

    >>> import numpy as np, nnctl
    >>> dense = nnctl.layers.Dense(2, activation="relu")
    >>> dense(np.ones((4, 3))).shape
    (4, 2)
    >>> [w.shape for w in dense.get_weights()]
    [(3, 2), (2,)]
    """

    engine: type = None      # the nnctl.layers class this one writes specs for (None: custom)
    config: dict = {}
    _nodes: tuple = ()
    _custom_calls = 0        # a custom layer's calls on tensors so far (Keras' node index)
    _weights: dict | None = None
    _weights_set = False     # given with set_weights/assign (not drawn): a CLI keeps them
    _built_shapes: list | None = None
    _input_shape_arg = None
    _trainable = True

    def __init__(self, *args, **kwargs):
        cls = type(self)
        if cls.engine is None:
            self._init_custom(*args, **kwargs)
            return
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
        input_shape = _shape_arguments(config, cls.engine)
        trainable = config.pop("trainable", True)
        self._setup(config.pop("name", None), default_name(cls.engine), input_shape)
        self.config = {k: _plain(v, f"layer '{self.name}': `{k}`") for k, v in config.items()}
        if not isinstance(trainable, bool):
            raise SpecError(f"layer '{self.name}': `trainable` must be True or False, "
                            f"got {trainable!r}")
        self._trainable = trainable
        # Checked now, as Keras checks a layer's arguments when it is made.
        self._engine_layer = cls.engine.from_config(self.name, self._engine_config())

    def _init_custom(self, *args, name=None, trainable=True, dtype=None, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}: Layer.__init__() takes keyword "
                            "arguments only (name=, trainable=, dtype=)")
        input_shape = _shape_arguments(kwargs)
        kwargs.pop("autocast", None)
        kwargs.pop("activity_regularizer", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to "
                             f"{type(self).__name__}: {kwargs}")
        self._setup(name, session.to_snake_case(type(self).__name__), input_shape)
        self.config = {} if dtype is None else {"dtype": normalize_dtype(dtype, self.name)}
        self._trainable = bool(trainable)

    def _setup(self, name, stem: str, input_shape) -> None:
        checked_name(name, type(self).__name__)   # when made, as Keras, not when built
        self.default_named = name is None   # the spec may leave such a name out
        self.name = name if name is not None else session.unique_name(stem)
        self.order = next(_layer_counter)
        self._nodes = []
        self._input_shape_arg = (None if input_shape is None
                                 else sample_shape(input_shape, f"layer '{self.name}'"))

    def _engine_config(self) -> dict:
        return self.config if self._trainable else {**self.config, "trainable": False}

    def _forgot_super_init(self) -> None:
        """A custom layer whose __init__ did not call super().__init__() is refused when first
        called or named, with Keras' words (its class defaults would have hidden the mistake
        until the script meets Keras)."""
        if "order" not in self.__dict__ and type(self).engine is None:
            raise forgot_super_init(self)

    # --- Keras' arguments and config ----------------------------------------------------
    def __getattr__(self, key):
        # Keras arguments read back as attributes (`layer.units`), and weights by their name
        # (`dense.kernel`, `batch_normalization.moving_mean`).
        if key in ("name", "order", "default_named") and "order" not in self.__dict__ \
                and type(self).engine is None:
            raise forgot_super_init(self)
        if key.startswith("_") or "config" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")
        if key in self.config:
            return self.config[key]
        engine = type(self).engine
        if engine is not None:
            specs = self._weight_specs()
            for variable in self._variables(specs) if key in {w.name for w in specs} else []:
                if variable.name == key:
                    return variable
            default = engine.arguments().get(key, inspect.Parameter.empty)
            if default is not inspect.Parameter.empty:
                return default
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __dir__(self):
        # what __getattr__ gives too: the arguments (`units`) and, once built, the weights
        # (`kernel`): tab completion lists them, and a typo's AttributeError suggests them
        names = set(super().__dir__()) | set(self.__dict__.get("config", {}))
        engine = type(self).engine
        if engine is not None:
            names |= set(engine.arguments()) | {w.name for w in self._weight_specs()}
        return sorted(names)

    def get_config(self) -> dict:
        """Keras' config of this layer: name, trainable, dtype and every argument.

        >>> import nnctl
        >>> nnctl.layers.Dense(3, name="d").get_config()["units"]
        3
        """
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if type(self).engine is not None:   # Keras' order: the constructor's
            config.update({k: self.config.get(k, v)
                           for k, v in type(self).engine.arguments().items()
                           if k in self.config or v is not inspect.Parameter.empty})
        config.update({k: v for k, v in self.config.items() if k != "dtype"})
        return config

    @classmethod
    def from_config(cls, config: dict):
        """A layer made again from get_config()."""
        return cls(**config)

    def spec_entry(self) -> dict:
        """This layer's spec entry: `{type: Dense, name: layer1, units: 3, ...}`."""
        entry = {"type": type(self).engine.__name__, "name": self.name}
        entry.update(self._engine_config())
        return entry

    @property
    def dtype(self) -> str:
        return self.config.get("dtype") or "float32"

    @property
    def trainable(self) -> bool:
        """Whether training would change its weights; False freezes them (they count as
        non-trainable), after the model is built too, as in Keras."""
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value
        key = getattr(type(self).engine, "wrapped_layer_key", None)
        if key and isinstance(self.__dict__.get("config", {}).get(key), dict):
            # Bidirectional's layer too, as Keras' setter freezes its sublayers (made frozen,
            # a Bidirectional leaves them trainable: nnctl.layers.recurrent)
            inner = {k: v for k, v in self.config[key].items() if k != "trainable"}
            self.config[key] = inner if value else {**inner, "trainable": False}
        if type(self).engine is not None and "config" in self.__dict__:
            self._engine_layer = type(self).engine.from_config(self.name, self._engine_config())
        session.touch()

    def _sublayers(self) -> list:
        """The layers a custom layer holds as attributes (in the order they were set)."""
        return attribute_layers(self, Layer)

    # --- calls ---------------------------------------------------------------------------
    def __call__(self, inputs, *args, training=None, mask=None, **kwargs):
        """Call on symbolic tensors (builds a model) or on arrays (computes); `training` is
        accepted and ignored: nnctl computes as Keras does at inference (Dropout passes
        values through, BatchNormalization uses its moving statistics)."""
        tensors = leaves(inputs)
        symbolic = [isinstance(t, SymbolicTensor) for t in tensors]
        if type(self).engine is None:
            self._forgot_super_init()
            return self._call_custom(inputs, args, training, kwargs, all(symbolic))
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.call() got unexpected arguments "
                            f"{', '.join(map(repr, args)) or ', '.join(kwargs)}")
        if any(symbolic) and not all(symbolic):
            raise TypeError(f"layer '{self.name}' was called on a mix of symbolic tensors "
                            "and arrays; call it on nnctl.Input tensors (to build a model) "
                            "or on arrays (to compute)")
        self._check_arity(inputs)
        if not all(symbolic):
            return self._call_on_arrays(tensors, listed=isinstance(inputs, (list, tuple)))
        return self._call_symbolic(tensors)

    def _check_arity(self, inputs) -> None:
        many = isinstance(inputs, (list, tuple))
        engine = type(self).engine
        if engine.arity == "one" and many and len(inputs) != 1:
            raise SpecError(f"layer '{self.name}': {type(self).__name__} takes one tensor, "
                            f"got a list of {len(inputs)}; merge them first (Concatenate, "
                            "Add, ...)")
        if engine.arity == "many" and not many:
            raise SpecError(f"layer '{self.name}': {type(self).__name__} takes a list of "
                            "tensors, e.g. Add()([x, y])")

    def _call_symbolic(self, tensors: list) -> SymbolicTensor:
        engine = self._engine_layer
        self._adopt_input_shapes(tensors)
        shapes = [t.shape[1:] for t in tensors]
        out_shapes = (engine.output_shapes(shapes) if hasattr(engine, "output_shapes")
                      else [engine.output_shape(shapes)])
        specs = engine.weight_specs(shapes)   # checks what only weights check (normalized axes)
        self._check_same_weights(shapes, specs)
        self._built_shapes = shapes
        # an Embedding reads integers and gives floats
        dtype = self.config.get("dtype") or (tensors[0].dtype if "float" in tensors[0].dtype
                                             else "float32")
        node = Node(self, tensors, next(_node_counter))
        if getattr(engine, "mask_zero", False):
            from nnctl.masking import MASK_OP_NAME

            node.mask_name = session.unique_name(MASK_OP_NAME)
        if len(out_shapes) == 1:
            node.output = SymbolicTensor((None, *out_shapes[0]), dtype, node)
        else:   # return_state: [output, states...], as Keras returns them
            node.output = [SymbolicTensor((None, *shape), dtype, node, k)
                           for k, shape in enumerate(out_shapes)]
        self._nodes.append(node)
        return node.output

    def _check_same_weights(self, shapes, specs) -> None:
        """A layer called again (a shared layer) must fit the weights its first call made."""
        if self._built_shapes is None or self._built_shapes == shapes:
            return
        before = self._engine_layer.weight_specs(self._built_shapes)
        if [tuple(w.shape) for w in before] != [tuple(w.shape) for w in specs]:
            def shown(shapes):
                return ", ".join(format_shape((None, *s)) for s in shapes)

            raise ValueError(f"Input of layer '{self.name}' is incompatible with the layer: it "
                             f"was built for inputs of shape {shown(self._built_shapes)} (its "
                             f"weights fit those), but was called on {shown(shapes)}")

    def _call_on_arrays(self, values: list, listed: bool = False):
        """Compute on arrays; `listed`: they were given as a list (a list of the inputs)."""
        import numpy as np

        dtype = self.config.get("dtype") or "float32"
        arrays = []
        for v in values:
            try:
                arrays.append(np.asarray(v, dtype=dtype))
            except (TypeError, ValueError) as exc:
                raise TypeError(f"layer '{self.name}' was called on {type(v).__name__}, not "
                                f"an array of numbers ({exc})") from None
            if arrays[-1].ndim < 1:
                raise self._not_a_batch(arrays[-1], listed)
        shapes = [a.shape[1:] for a in arrays]
        try:
            self._engine_layer.output_shape(shapes)
        except Exception:
            # a vector is a batch of numbers to an element-wise layer (ReLU()(np.array([-1.,
            # 2.])), as in Keras); a layer that needs samples of an axis or more says so
            vector = next((a for a in arrays if a.ndim == 1), None)
            if vector is not None:
                raise self._not_a_batch(vector, listed) from None
            raise
        specs = self._engine_layer.weight_specs(shapes)
        self._check_same_weights(shapes, specs)   # not new weights drawn for a new shape
        if self._built_shapes is None:
            self._built_shapes = shapes
        self._ensure_weights(specs, dtype, _session_rng)
        return self._engine_layer.call(arrays, dict(self._weights or {}))

    def _not_a_batch(self, array, listed: bool) -> ValueError:
        """The error for an array that is not a batch of the samples the layer takes."""
        return ValueError(
            f"layer '{self.name}': an input is a batch of samples, (batch, ...): got an array "
            f"of shape {array.shape}"
            + ("; for one sample add the batch axis (x[None])" if array.ndim else "")
            + ("; a list given to a layer is the list of its inputs: np.array(...) makes one "
               "array of it" if listed and type(self).engine.arity == "one" else ""))

    def _call_custom(self, inputs, args, training, kwargs, symbolic: bool):
        """A subclass of Layer: its call() runs on what it is given; on symbolic tensors
        this traces it, and anything but nnctl layers and nnctl.ops is refused."""
        name = type(self).__name__
        if type(self).call is Layer.call:
            raise NotImplementedError(f"{name}: a subclass of nnctl.layers.Layer needs a "
                                      "call() method")
        if symbolic:
            self._adopt_input_shapes(leaves(inputs))
        if training is not None and "training" in inspect.signature(self.call).parameters:
            kwargs = {**kwargs, "training": training}
        start = next(_node_counter)     # the nodes made from here on are the call's
        try:
            result = self.call(inputs, *args, **kwargs)
        except (SpecError, NotImplementedError):
            raise
        except Exception as exc:
            if not symbolic:
                raise
            if isinstance(exc, AttributeError) and type(self).build is not Layer.build:
                raise TypeError(
                    f"custom layer {name} ('{self.name}') cannot be traced: nnctl does not run "
                    "its build(), and a custom layer's own weights (add_weight) are not "
                    f"supported: set nnctl layers in __init__ ({type(exc).__name__}: {exc})"
                ) from exc
            raise untraceable(f"custom layer {name} ('{self.name}')", exc) from exc
        if symbolic:
            outputs = leaves(result)
            if not all(isinstance(t, SymbolicTensor) for t in outputs):
                raise TypeError(f"custom layer {name} ('{self.name}') cannot be traced: its "
                                "call() returned something not made by nnctl layers or "
                                "nnctl.ops")
            if not self._nodes:
                self._nodes.append(_CustomCall(inputs, result))
            self._mark_call(leaves(inputs), outputs, start)
        return result

    def _mark_call(self, inputs: list, outputs: list, start: int) -> None:
        """The nodes this call made become this layer's (one summary row, one entry of
        model.layers, as Keras shows a custom layer); an outer custom layer or model called
        later takes them over."""
        from nnctl.graphwalk import ancestors

        call = NestedCall(self, inputs, [t.node.layer.name for t in outputs],
                          self._custom_calls)
        self._custom_calls += 1
        given = {id(t.node) for t in inputs}
        made = ancestors([t.node for t in outputs],
                         lambda node: [t.node for t in node.inbound
                                       if id(t.node) not in given and t.node.index > start],
                         key=id)
        for node in made:
            if id(node) not in given and node.index > start:
                node.nested = call

    def call(self, inputs, *args, **kwargs):
        """The forward pass of a custom layer (override it); nnctl's own layers compute in
        the engine."""
        raise NotImplementedError

    def build(self, input_shape) -> None:
        """Create the weights for inputs of this shape (batch axis included), as Keras."""
        if type(self).engine is None:
            return
        many = type(self).engine.arity == "many"
        shapes = [tuple(s)[1:] for s in input_shape] if many else [tuple(input_shape)[1:]]
        self._engine_layer.output_shape(shapes)
        self._built_shapes = shapes
        self._ensure_weights(self._weight_specs(), self.dtype, _session_rng)

    @property
    def built(self) -> bool:
        if type(self).engine is None:
            return bool(self._nodes) or any(layer.built for layer in self._sublayers())
        return self._built_shapes is not None

    def _adopt_input_shapes(self, tensors: list) -> None:
        """A subclassed model traced before its input shape is known: the first layer's
        `input_shape=` (as in the article's MyModel) gives it."""
        for tensor in tensors:
            if tensor.shape is not None:
                continue
            source = tensor.node.layer
            if not isinstance(source, InputLayer) or self._input_shape_arg is None:
                raise UnknownShape(f"the shape of input '{source.name}' is not known")
            source.shape = self._input_shape_arg
            tensor.shape = (None, *self._input_shape_arg)

    # --- the graph around it ------------------------------------------------------------
    @property
    def input(self):
        """The tensor(s) the layer was first called on."""
        if not self._nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has "
                                 "no defined input.")
        node = self._nodes[0]
        if isinstance(node, _CustomCall):
            return node.inbound
        return node.inbound if type(self).engine.arity == "many" else node.inbound[0]

    @property
    def output(self):
        """The tensor the layer made when it was first called."""
        if not self._nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has "
                                 "no defined output.")
        return self._nodes[0].output

    # --- weights ---------------------------------------------------------------------------
    def _weight_specs(self) -> list:
        if type(self).engine is None or self._built_shapes is None:
            return []
        return self._engine_layer.weight_specs(self._built_shapes)

    def _ensure_weights(self, specs, dtype, rng_for) -> None:
        """Draw the weights not drawn yet (or whose shape changed): Keras builds a layer
        once; nnctl draws on first use, from `rng_for(weight_name)`."""
        import numpy as np

        current = self._weights or {}
        if len(current) == len(specs) and all(
                w.name in current and current[w.name].shape == tuple(w.shape) and
                current[w.name].dtype == dtype for w in specs):
            return
        weights = {}
        for w in specs:
            value = current.get(w.name)
            if value is not None and value.shape == tuple(w.shape):
                weights[w.name] = value.astype(dtype, copy=False)
            else:
                weights[w.name] = np.asarray(w.initializer(w.shape, dtype=dtype,
                                                           rng=rng_for(w.name)), dtype=dtype)
        self._weights = weights

    def _variables(self, specs) -> list:
        self._ensure_weights(specs, self._weight_dtype(), _session_rng)
        return [Variable(self, w.name, f"{self.name}/{w.name}", w.trainable) for w in specs]

    def _weight_dtype(self) -> str:
        if self._weights:
            return next(iter(self._weights.values())).dtype.name
        return self.dtype

    @property
    def weights(self) -> list:
        """The weights as Variables, in Keras' order (kernel, bias; gamma, beta, moving_mean,
        moving_variance); [] before the layer is built."""
        if type(self).engine is None:
            return [v for layer in self._sublayers() for v in layer.weights]
        return self._variables(self._weight_specs())

    def get_weights(self) -> list:
        """The weights as NumPy arrays (copies), in `weights` order."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        """Set every weight from a list of arrays in `weights` order, as Keras."""
        import numpy as np

        variables = self.weights
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a "
                             f"weight list of length {len(weights)}, but the layer was "
                             f"expecting {len(variables)} weights.")
        for variable, value in zip(variables, weights):
            if np.shape(value) != variable.shape:
                raise ValueError(f"Layer {self.name} weight shape {variable.shape} is not "
                                 "compatible with provided weight shape "
                                 f"{tuple(np.shape(value))}.")
        for variable, value in zip(variables, weights):
            variable._layer._weights[variable.name] = np.array(value, dtype=variable.dtype)
            variable._layer._weights_set = True

    def count_params(self) -> int:
        """The number of weights (scalars) of the layer."""
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but "
                             "the layer isn't built. You can build it manually via: "
                             "`layer.build(input_shape)`.")
        if type(self).engine is None:
            return sum(layer.count_params() for layer in self._sublayers() if layer.built)
        import math

        return sum(math.prod(w.shape) for w in self._weight_specs())

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


@dataclass(eq=False)
class NestedCall:
    """A model or a custom layer called on tensors of a model being built: the layers its
    call made are its, and a summary shows it as one row (Keras' one layer)."""

    model: object           # the nnctl Model or custom Layer
    inbound: list
    outputs: list           # the names of the layers that make its outputs
    index: int = 0          # the how-manieth call of it (Keras' node index)


@dataclass(eq=False)
class _CustomCall:
    """The first call of a custom layer: what `layer.input` and `layer.output` give."""

    inbound: object
    output: object


def attribute_layers(owner, kinds) -> list:
    """The objects of `kinds` (layers, models) that `owner` holds as attributes, lists and
    tuples of them included, each once, in the order they were set (Keras' tracking)."""
    found = []
    for value in vars(owner).values():
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            if isinstance(item, kinds) and item is not owner and \
                    all(item is not f for f in found):
                found.append(item)
    return found


def untraceable(what: str, exc: Exception) -> TypeError:
    """The error of a subclassed model's or custom layer's call() that did something else
    than call nnctl layers and nnctl.ops."""
    return TypeError(f"{what} cannot be traced: its call() does something other than "
                     f"calling nnctl layers and nnctl.ops ({type(exc).__name__}: {exc})")


def _session_rng(weight_name: str):
    return session.random_generator()


def _shape_arguments(config: dict, engine: type | None = None):
    """Pop tf.keras' `input_shape=`/`input_dim=`/`batch_input_shape=`: the sample shape
    (`input_dim` stays for a layer whose own argument it is: Embedding's vocabulary)."""
    input_shape = config.pop("input_shape", None)
    own = engine is not None and "input_dim" in engine.arguments()
    input_dim = None if own else config.pop("input_dim", None)
    batch_input_shape = config.pop("batch_input_shape", None)
    if input_dim is not None:
        return (input_dim,)
    if batch_input_shape is not None:
        return tuple(batch_input_shape)[1:]
    return input_shape


def leaves(x) -> list:
    """The items of a list, tuple or dict (its values), or [x] for anything else."""
    if isinstance(x, dict):
        return list(x.values())
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


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
    if isinstance(value, Layer) and what.endswith("activation`"):
        raise TypeError(f"{what}: a layer ('{value.name}') cannot be an activation in nnctl: "
                        "give an activation's name ('relu') or a function of nnctl.activations, "
                        "or put the layer after this one in the model")
    if isinstance(value, Layer) and type(value).engine is not None:
        return value.spec_entry()      # a wrapped layer: Bidirectional(LSTM(8))
    if what.endswith("`layer`") and isinstance(value, (Layer, KerasViews)):
        # a model or a custom layer (its get_config is no layer's spec entry)
        kind = "a custom layer" if isinstance(value, Layer) else "a model"
        raise TypeError(f"{what}: nnctl wraps one of its own layers (Dense, Conv2D, LSTM, "
                        f"...), not {kind} ('{value.name}'); wrap each of its layers instead")
    if isinstance(value, type) and issubclass(value, Initializer):
        value = value()                # HeNormal: Keras' initializers.get makes one
    if hasattr(value, "get_config"):   # an nnctl activation or initializer object
        return _plain(value.get_config(), what)
    if callable(value) and getattr(value, "activation_name", None):   # nnctl.activations.relu
        return value.activation_name
    raise TypeError(f"{what}: {value!r} cannot be written in a spec; {_spec_value_hint(what)}")


def _spec_value_hint(what: str) -> str:
    """What a spec takes instead of an object it cannot hold, by the argument's name."""
    if what.endswith("activation`"):    # activation, recurrent_activation
        return ("give an activation's name ('relu') or a function of nnctl.activations; for a "
                "function of your own, write a custom layer (a subclass of nnctl.layers.Layer "
                "whose call() uses nnctl.ops)")
    if what.endswith("initializer`"):
        return ("give an initializer's name ('he_normal'), an object of nnctl.initializers, "
                "or a mapping such as {'type': 'he_normal', 'seed': 1}")
    return "give a number, a name, or a list or mapping of them"


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
    name = engine_cls.__name__
    doc = (engine_cls.__doc__ or "").strip().splitlines()[0]
    required = [f"{p.name}=..." for p in params if p.default is inspect.Parameter.empty]
    call = "([x, y])" if engine_cls.arity == "many" else "(x)"
    return type(name, (Layer,), {
        "engine": engine_cls, "__module__": "nnctl.layers",
        "__signature__": inspect.Signature(params),
        "__doc__": f"{doc}\n\nKeras' `keras.layers.{name}`, with its arguments and defaults "
                   "(`nnctl list layers` shows them). Called on tensors it adds a layer to the "
                   "model being built; called on arrays it computes.\n\n"
                   f"    y = nnctl.layers.{name}({', '.join(required)}){call}\n"})


for _name in LAYERS.names():
    globals()[_name] = _api_class(LAYERS.get(_name))


def _merge_function(class_name: str):
    def merge(inputs, **kwargs):
        return globals()[class_name](**kwargs)(inputs)

    stem = session.to_snake_case(class_name)
    merge.__name__ = merge.__qualname__ = stem
    merge.__module__ = "nnctl.layers"
    merge.__doc__ = (f"The functional form of `{class_name}`, as `keras.layers.{stem}`: "
                     f"`{stem}([x, y], **kwargs)` is `{class_name}(**kwargs)([x, y])`.\n\n"
                     f"    >>> import nnctl\n"
                     f"    >>> a, b = nnctl.Input((3,)), nnctl.Input((3,))\n"
                     f"    >>> nnctl.layers.{stem}([a, b]).shape[0] is None\n"
                     f"    True\n")
    return merge


MERGE_FUNCTIONS = [session.to_snake_case(n) for n in
                   ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                    "Concatenate", "Dot") if n in LAYERS]
for _name in MERGE_FUNCTIONS:
    globals()[_name] = _merge_function(LAYERS.canonical(_name))

__all__ = ["Layer", "Input", "InputLayer", "SymbolicTensor"] + LAYERS.names() + MERGE_FUNCTIONS
