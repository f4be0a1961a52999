"""Models for the Python API: Sequential, functional and subclassed, all built by the engine.

A model here is a spec (DESIGN.md section 1) plus weights. Sequential lists its layers; the
functional API and subclassing record a graph of layer calls (nnctl.api.layers) that is
written out as a functional spec. Either way nnctl.model builds the spec, so summaries, forward
passes and files are exactly those of the same network written in YAML.
"""
from __future__ import annotations

import copy
import inspect

import numpy as np

from nnctl.api.layers import (Input, InputLayer, Layer, SymbolicTensor, UnknownShape,
                              normalize_dtype, sample_shape)
from nnctl.errors import DataError, SpecError, WeightsError
from nnctl.layers import default_name, format_shape


class Model:
    """A network: `Model(inputs, outputs)` (functional API), or subclass it with `call`.

    Keras' methods: summary(), model(x), predict(x), get_weights()/set_weights(), save(path);
    and the spec it stands for: to_spec(), to_yaml(), Model.from_spec(mapping_or_path).
    Weights are drawn from the spec's initializers on first use, with `seed` (default 0).
    """

    # Class-level defaults, so that a subclass whose __init__ forgets super().__init__()
    # (or sets layers before calling it) still works.
    _spec: dict | None = None
    _engine = None
    _weights: dict | None = None
    _layer_map: dict = {}
    _inputs: list = []
    _outputs: list = []
    seed: int | None = None
    dtype: str | None = None

    def __init__(self, inputs=None, outputs=None, name=None, *, seed=None, dtype=None):
        self.name = _model_name(name, self)
        self.seed = _seed(seed)
        self.dtype = normalize_dtype(dtype, f"model '{self.name}'")
        if inputs is None and outputs is None:
            if type(self).call is Model.call:
                raise TypeError("Model needs `inputs` and `outputs` (the functional API: "
                                "Model(inputs=x, outputs=y)); or subclass it and define call()")
            return  # a subclassed model: traced on its first call, or by build()
        if inputs is None or outputs is None:
            raise TypeError("Model needs both `inputs` and `outputs`")
        self._set_graph(_flat(inputs, "inputs"), _flat(outputs, "outputs"))

    def call(self, inputs):
        """The forward pass of a subclassed model, written with its layers (traced once)."""
        raise NotImplementedError("define call(self, inputs) in a subclass of nnctl.Model")

    # --- building ----------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self._spec is not None

    def build(self, input_shape) -> None:
        """Build from input shapes with the batch axis, as Keras: `build((None, 3))`.

        A list (or dict) of shapes for a model with several inputs.
        """
        if not self.built:
            self._trace(_build_shapes(input_shape))

    def _trace(self, shapes) -> None:
        """Run `call` on symbolic inputs; the layers it calls become a functional graph."""
        parameters = list(inspect.signature(self.call).parameters)
        stem = parameters[0] if parameters else "inputs"
        dtype = self.dtype or "float32"
        if isinstance(shapes, dict):
            structure = {k: Input(shape=s, name=str(k), dtype=dtype) for k, s in shapes.items()}
        elif isinstance(shapes, list):
            structure = [Input(shape=s, name=f"{stem}_{i}", dtype=dtype)
                         for i, s in enumerate(shapes)]
        elif shapes is None:  # the first layer's input_shape= will say
            structure = InputLayer(None, stem, dtype).output
        else:
            structure = Input(shape=shapes, name=stem, dtype=dtype)
        try:
            result = self.call(structure)
        except UnknownShape:
            raise SpecError(f"model '{self.name}': the input shape is not known yet; call the "
                            "model on data first (model(np.ones((1, 3)))), call "
                            "model.build((None, 3)), or give its first layer input_shape=(3,)"
                            ) from None
        outputs = _flat(result, f"{type(self).__name__}.call() result")
        self._set_graph(_flat(structure, "inputs"), outputs)

    def _ensure_built(self, data=None) -> None:
        if self.built:
            return
        if data is None:
            if type(self).call is Model.call:
                raise SpecError(f"model '{self.name}' has no input shape yet: give its first "
                                "layer input_shape=, start it with nnctl.Input(shape=...), "
                                "or call model.build((None, ...))")
            self._trace(None)
        else:
            self._trace(_data_shapes(data))

    def _set_graph(self, inputs: list, outputs: list) -> None:
        spec, layer_map = functional_spec(self.name, inputs, outputs, self.seed)
        self._inputs, self._outputs = inputs, outputs
        self._adopt(spec, layer_map)

    def _adopt(self, spec: dict, layer_map: dict) -> None:
        """Take a new spec: build it with the engine; keep the weights that still fit."""
        from nnctl.model import build_model
        from nnctl.spec import parse_spec
        from nnctl.yamlpos import Located

        engine = build_model(parse_spec(Located(spec, {}, f"model '{spec['name']}'")))
        if self._weights is not None:
            fresh = engine.init_weights(self.seed or 0)
            for key, value in self._weights.items():
                if key in fresh and fresh[key].shape == np.shape(value):
                    fresh[key] = value
            self._weights = fresh
        self._spec, self._engine, self._layer_map = spec, engine, layer_map

    @property
    def engine(self):
        """The engine's built network (nnctl.model.Model): nodes, shapes, forward."""
        self._ensure_built()
        return self._engine

    @property
    def layers(self) -> list:
        """The layers in Keras' order (a functional model's inputs included, as in Keras)."""
        return [self._layer_map[node.name] for node in self.engine.layers]

    def get_layer(self, name: str):
        self._ensure_built()
        if name not in self._layer_map:
            from nnctl.naming import did_you_mean

            raise ValueError(f"model '{self.name}' has no layer '{name}'"
                             f"{did_you_mean(name, self._layer_map)}")
        return self._layer_map[name]

    @property
    def inputs(self) -> list:
        self._ensure_built()
        return list(self._inputs)

    @property
    def outputs(self) -> list:
        self._ensure_built()
        return list(self._outputs)

    # --- the spec ----------------------------------------------------------------------------
    def to_spec(self) -> dict:
        """The spec mapping of this model (what a YAML spec holds)."""
        self._ensure_built()
        return copy.deepcopy(self._spec)

    def to_yaml(self) -> str:
        """The spec as YAML text, one line per layer."""
        from nnctl.spec import spec_yaml

        return spec_yaml(self.to_spec())

    @staticmethod
    def from_spec(source, *, seed=None) -> "Model":
        """A model from a spec mapping, a YAML spec path, or a model file's spec (no weights)."""
        return from_spec(source, seed=seed)

    # --- inspecting --------------------------------------------------------------------------
    def summary(self, show_trainable: bool = False, print_fn=None) -> None:
        """Print Keras' summary table (the same as `nnctl summary`), as Keras does: on
        sys.stdout through rich (styled on a terminal; piped, plain at 76 columns), or with
        `print_fn`, once, as plain text of 76 columns (`model.summary(print_fn=log.info)`)."""
        from nnctl.render import print_summary_table
        from nnctl.summary import summarize, table_width

        data = summarize(self.engine)
        if print_fn is None:
            console, columns = _stdout_console()
        else:
            from rich.console import Console

            console = Console(record=True, width=76, no_color=True, force_terminal=False,
                              highlight=False, emoji=False, file=_Discard())
            columns = 80
        print_summary_table(data, console, width=table_width(data, columns, show_trainable),
                            show_trainable=show_trainable)
        if print_fn is not None:
            print_fn(console.export_text().rstrip("\n"))

    def count_params(self) -> int:
        return self.engine.total_params

    # --- weights -----------------------------------------------------------------------------
    def _weight_dict(self) -> dict:
        engine = self.engine
        if self._weights is None:
            self._weights = engine.init_weights(self.seed or 0)
        return self._weights

    @property
    def weights(self) -> dict:
        """The weights by `layer/weight` name (the keys of a weights file); drawn on first use."""
        return self._weight_dict()

    def get_weights(self) -> list:
        """The weight arrays in Keras' order: layer by layer, each layer's in its order."""
        weights = self._weight_dict()
        return [np.array(weights[key]) for key in self.engine.weight_specs()]

    def set_weights(self, weights) -> None:
        """Set every weight: a list in get_weights() order, or a dict by `layer/weight`."""
        keys = list(self.engine.weight_specs())
        if isinstance(weights, dict):
            given = dict(weights)
        else:
            weights = list(weights)
            if len(weights) != len(keys):
                raise WeightsError(f"model '{self.name}' has {len(keys)} weight arrays "
                                   f"({', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''}), "
                                   f"got {len(weights)}")
            given = dict(zip(keys, weights))
        checked = self.engine.check_weights(given, source=f"model '{self.name}'")
        self._weights = {k: np.array(v) for k, v in checked.items()}

    def save(self, path) -> None:
        """Write a model file (.npz: the weights and the spec, DESIGN.md section 2)."""
        from nnctl.weights import save_model

        save_model(str(path), self.to_spec(), self._weight_dict())

    # --- running -----------------------------------------------------------------------------
    def __call__(self, x):
        """The outputs for a batch (NumPy arrays), as Keras' model(x)."""
        if any(isinstance(t, SymbolicTensor) for t in _leaves(x)):
            raise TypeError("calling a model on symbolic tensors (nesting models) is not "
                            "supported; call its layers on the tensors instead")
        self._ensure_built(x)
        return self._run(x, batch_size=None)

    def predict(self, x, batch_size=None, verbose=None):
        """The outputs for every sample of x, run in batches of `batch_size` (default 32).

        x: an array (batch axis first); a list in input order or a dict by input name for a
        model with several inputs. Returns an array, or a list for several outputs.
        """
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._ensure_built(x)
        return self._run(x, batch_size=batch_size or 32)

    def _run(self, x, batch_size):
        engine = self.engine
        feeds = self._feeds(x)
        weights = engine.check_weights(self._weight_dict(), source=f"model '{self.name}'")
        n = len(next(iter(feeds.values())))
        step = batch_size or max(n, 1)
        chunks = [engine.forward({k: v[i:i + step] for k, v in feeds.items()}, weights)
                  for i in range(0, n, step)] or [engine.forward(feeds, weights)]
        results = [np.concatenate([c[name] for c in chunks]) for name in engine.outputs]
        return results[0] if len(results) == 1 else results

    def _feeds(self, x) -> dict:
        """Input name -> array of the input's dtype and shape, checked."""
        engine = self.engine
        names = engine.input_names
        if isinstance(x, dict):
            unknown = [k for k in x if k not in names]
            missing = [k for k in names if k not in x]
            if unknown or missing:
                raise DataError(f"model '{self.name}' takes inputs {', '.join(names)}; got "
                                f"{', '.join(map(str, x)) or 'none'}")
            arrays = [x[k] for k in names]
        elif len(names) > 1:
            if not isinstance(x, (list, tuple)) or len(x) != len(names):
                raise DataError(f"model '{self.name}' has {len(names)} inputs "
                                f"({', '.join(names)}): give a list of {len(names)} arrays or "
                                "a dict by input name")
            arrays = list(x)
        else:
            if isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], np.ndarray):
                x = x[0]
            arrays = [x]
        feeds = {}
        for name, value in zip(names, arrays):
            node = engine.nodes[name]
            try:
                array = np.asarray(value, dtype=node.dtype)
            except (TypeError, ValueError) as exc:
                raise DataError(f"input '{name}': not an array of numbers ({exc})") from None
            shape = node.shape
            if array.ndim != len(shape) + 1 or any(
                    d is not None and d != a for d, a in zip(shape, array.shape[1:])):
                raise DataError(f"input '{name}': expected an array of shape "
                                f"{format_shape((None, *shape))}, got {array.shape}")
            feeds[name] = array
        sizes = {len(a) for a in feeds.values()}
        if len(sizes) > 1:
            raise DataError(f"model '{self.name}': the inputs have different numbers of "
                            f"samples ({', '.join(str(len(a)) for a in feeds.values())})")
        return feeds

    def __repr__(self):
        if not self.built:
            return f"<{type(self).__name__} '{self.name}' (not built)>"
        return (f"<{type(self).__name__} '{self.name}': {len(self.engine.layers)} layers, "
                f"{self.engine.total_params:,} params>")


class Sequential(Model):
    """A stack of layers, as `keras.Sequential([...])`.

    The input shape comes from a first `nnctl.Input(shape=...)`, from `input_shape=` on the
    first layer, or later from build((None, ...)) or the first call on data.
    """

    def __init__(self, layers=None, name=None, *, seed=None, dtype=None):
        self.name = _model_name(name, self)
        self.seed = _seed(seed)
        self.dtype = normalize_dtype(dtype, f"model '{self.name}'")
        self._input: InputLayer | None = None
        self._stack: list[Layer] = []
        for item in layers or []:
            self.add(item)

    def add(self, layer) -> None:
        """Put a layer on top of the stack (checked against the shapes below it)."""
        if isinstance(layer, SymbolicTensor) and isinstance(layer.node.layer, InputLayer):
            if self._stack or self._input is not None:
                raise ValueError("an nnctl.Input may only be the first element of a Sequential")
            self._input = layer.node.layer
            if self.dtype is None and layer.dtype != "float32":
                self.dtype = layer.dtype
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes nnctl layers (nnctl.layers.Dense(...), ...), "
                            f"got {type(layer).__name__}")
        if not self._stack and self._input is None and layer.input_shape is not None:
            self._input = InputLayer(layer.input_shape, dtype=self.dtype)
        self._stack.append(layer)
        if self._input is not None:
            try:
                self._rebuild()
            except BaseException:
                self._stack.pop()
                raise

    def pop(self):
        """Remove the top layer and return it."""
        layer = self._stack.pop()
        if self._input is not None and self._stack:
            self._rebuild()
        elif not self._stack:
            self._spec = self._engine = None
        return layer

    def build(self, input_shape=None) -> None:
        if self.built:
            return
        if input_shape is not None:
            self._input = InputLayer(sample_shape(_without_batch(input_shape),
                                                  f"model '{self.name}'"), dtype=self.dtype)
        self._ensure_built()

    def _ensure_built(self, data=None) -> None:
        if self.built:
            return
        if self._input is None and data is not None:
            self._input = InputLayer(sample_shape(np.shape(data)[1:], f"model '{self.name}'"),
                                     dtype=self.dtype)
        if self._input is None or not self._stack:
            raise SpecError(f"model '{self.name}' is not built: "
                            + ("it has no layers" if not self._stack else
                               "give its first layer input_shape=, start it with "
                               "nnctl.Input(shape=...), or call model.build((None, ...))"))
        self._rebuild()

    def _rebuild(self) -> None:
        if not self._stack:
            return
        x = self._input.output
        for layer in self._stack:
            x = layer(x)                      # the engine checks each layer's shapes
        self._inputs, self._outputs = [self._input.output], [x]
        spec = {"name": self.name}
        if (self.dtype or self._input.dtype) == "float64":
            spec["dtype"] = "float64"
        if self.seed is not None:
            spec["seed"] = self.seed
        spec["input"] = list(self._input.shape)
        omit_names = name_layers(self._stack, {"input_layer"})
        spec["layers"] = [_entry(layer, omit_names) for layer in self._stack]
        self._adopt(spec, {layer.name: layer for layer in self._stack})


# --- graphs to specs -------------------------------------------------------------------------

def functional_spec(name: str, inputs: list, outputs: list, seed=None) -> tuple[dict, dict]:
    """The functional spec of the graph between `inputs` and `outputs`, and name -> layer."""
    for t in inputs:
        if not isinstance(t, SymbolicTensor) or not isinstance(t.node.layer, InputLayer):
            raise TypeError(f"model '{name}': inputs must be nnctl.Input tensors, got {t!r}")
    for t in outputs:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"model '{name}': outputs must be tensors made by layers, got "
                            f"a {type(t).__name__}")
    input_nodes = [t.node for t in inputs]
    if len({id(n) for n in input_nodes}) != len(input_nodes):
        raise SpecError(f"model '{name}': the same input is given twice in `inputs`")
    reached, seen, stack = [], set(), [t.node for t in outputs]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            reached.append(node)
            stack.extend(t.node for t in node.inbound)
    given = {id(n) for n in input_nodes}
    for node in reached:
        if isinstance(node.layer, InputLayer) and id(node) not in given:
            raise SpecError(f"model '{name}': the outputs depend on an input "
                            f"({node.layer.name or 'unnamed'}, shape "
                            f"{format_shape(node.layer.output.shape or ())}) that is not in "
                            "`inputs`")
    calls = sorted((n for n in reached if not isinstance(n.layer, InputLayer)),
                   key=lambda n: n.index)
    used = set()
    for node in calls:
        if id(node.layer) in used:
            raise SpecError(f"model '{name}': layer '{node.layer.name or node.layer._label()}' "
                            "is called more than once; nnctl layers are not shared (each has "
                            "its own weights): make one layer per call")
        used.add(id(node.layer))
    input_layers = [n.layer for n in input_nodes]
    taken = {layer.name for layer in input_layers if not layer.default_named} | \
            {n.layer.name for n in calls if not n.layer.default_named}
    for layer in sorted(input_layers, key=lambda layer: layer.order):
        if layer.shape is None:
            raise SpecError(f"model '{name}': the shape of input '{layer.name}' is not known")
        if layer.default_named:   # Keras: input_layer, input_layer_1, ... in order of making
            stem, k = "input_layer", 0
            while (candidate := stem if k == 0 else f"{stem}_{k}") in taken:
                k += 1
            layer.name = candidate
            taken.add(candidate)
    dtypes = {layer.dtype for layer in input_layers}
    if len(dtypes) > 1:
        raise SpecError(f"model '{name}': the inputs have different dtypes "
                        f"({', '.join(sorted(dtypes))}); a model has one dtype")
    layers = [n.layer for n in calls]
    omit_names = name_layers(layers, {layer.name for layer in input_layers})
    entries, previous = [], None
    for node in calls:
        entry = _entry(node.layer, omit_names)
        inbound = [t.node.layer.name for t in node.inbound]
        default = [previous] if previous else (
            [input_layers[0].name] if len(input_layers) == 1 else None)
        if inbound != default or node.layer.engine.arity == "many":
            entry["inputs"] = inbound[0] if node.layer.engine.arity == "one" else inbound
        entries.append(entry)
        previous = node.layer.name
    spec = {"name": name}
    if dtypes == {"float64"}:
        spec["dtype"] = "float64"
    if seed is not None:
        spec["seed"] = seed
    spec["inputs"] = {layer.name: list(layer.shape) for layer in input_layers}
    spec["layers"] = entries
    spec["outputs"] = [t.node.layer.name for t in outputs]
    layer_map = {layer.name: layer for layer in input_layers}
    layer_map.update({layer.name: layer for layer in layers})
    return spec, layer_map


def name_layers(layers: list, reserved: set) -> bool:
    """Give the layers made without a name Keras' default names, for this model.

    Keras names layers in the order they are made (`dense`, `dense_1`, ...), counted here per
    model as in a spec; the engine names a spec's unnamed layers in the order they are listed.
    Returns True when both agree, so that the spec may leave those names out.
    """
    from nnctl.model import GraphBuilder

    explicit = {layer.name for layer in layers if not layer.default_named}
    taken, counters = set(reserved) | explicit, {}
    for layer in sorted((layer for layer in layers if layer.default_named),
                        key=lambda layer: layer.order):
        layer.name = GraphBuilder._default_name(layer.engine, counters, taken)
        taken.add(layer.name)
    taken, counters = set(reserved) | explicit, {}
    for layer in layers:
        if layer.default_named:
            if GraphBuilder._default_name(layer.engine, counters, taken) != layer.name:
                return False
            taken.add(layer.name)
    return True


def _entry(layer: Layer, omit_default_names: bool) -> dict:
    entry = layer.get_config()
    if omit_default_names and layer.default_named:
        entry.pop("name", None)
    return entry


# --- specs to models -------------------------------------------------------------------------

def from_spec(source, *, seed=None) -> Model:
    """A Model from a spec: a mapping, a YAML path, a model file path (its spec), a ModelSpec.

    The layers become API layers called on Inputs, as if the model had been written in Python;
    `to_spec()` gives the spec back.
    """
    import os

    from nnctl import api
    from nnctl.model import build_model
    from nnctl.spec import ModelSpec, parse_spec, read_spec
    from nnctl.yamlpos import Located

    if isinstance(source, ModelSpec):
        spec = source
    elif isinstance(source, dict):
        spec = parse_spec(Located(copy.deepcopy(source), {}, "spec"))
    elif isinstance(source, (str, os.PathLike)):
        spec = read_spec(os.fspath(source))
    else:
        raise TypeError(f"from_spec takes a mapping or a path, got {type(source).__name__}")
    engine = build_model(spec)
    seed = _seed(seed) if seed is not None else spec.seed
    by_path = {node.path: node for node in engine.nodes.values() if node.layer is not None}
    made = {}
    for ls in spec.layers:     # made in the spec's order: Keras' names follow it
        node = by_path.get(ls.path)
        if node is None:       # does not lead to an output: left out, as the engine does
            continue
        made[node.name] = getattr(api.layers, type(node.layer).__name__)(**ls.config,
                                                                          name=ls.name)
    name_layers(list(made.values()), set(spec.inputs))
    if any(layer.name != name for name, layer in made.items()):
        for name, layer in made.items():   # the spec's unused layers took default names
            layer.name, layer.default_named = name, False
    if not spec.functional:
        (shape,) = spec.inputs.values()
        first = Input(shape=shape, dtype=spec.dtype)
        return Sequential([first] + [made[n.name] for n in engine.layers], name=spec.name,
                          seed=seed)
    tensors = {}
    for node in engine.nodes.values():   # inputs first, then an order where inputs come first
        if node.layer is None:
            tensors[node.name] = Input(shape=node.shape, name=node.name, dtype=spec.dtype)
        else:
            args = [tensors[i] for i in node.inbound]
            tensors[node.name] = made[node.name](args[0] if node.layer.arity == "one" else args)
    return Model(inputs=[tensors[n] for n in engine.input_names],
                 outputs=[tensors[n] for n in engine.outputs], name=spec.name, seed=seed)


def load_model(path, *, seed=None) -> Model:
    """A model from a model file (.npz: spec and weights) or a spec (.yaml: drawn weights)."""
    import os

    path = os.fspath(path)
    if not path.endswith(".npz"):
        return from_spec(path, seed=seed)
    from nnctl.spec import parse_spec
    from nnctl.weights import load_model_file
    from nnctl.yamlpos import Located

    spec_dict, weights = load_model_file(path)
    model = from_spec(parse_spec(Located(spec_dict, {}, path)), seed=seed)
    model._weights = model.engine.check_weights(dict(weights), source=path)
    return model


# --- small helpers ---------------------------------------------------------------------------

def _model_name(name, model) -> str:
    if name is None:
        if isinstance(model, Sequential):
            return "sequential"
        return "functional" if type(model) is Model else default_name(type(model))
    if not isinstance(name, str) or not name:
        raise SpecError(f"a model's name must be a non-empty string, got {name!r}")
    return name


def _seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return None if seed is None else int(seed)


def _flat(structure, what: str) -> list:
    """A tensor, a list/tuple of tensors or a dict of them -> a list (dicts in key order)."""
    if isinstance(structure, dict):
        return list(structure.values())
    if isinstance(structure, (list, tuple)):
        return list(structure)
    if isinstance(structure, SymbolicTensor):
        return [structure]
    raise TypeError(f"{what}: expected tensors made by nnctl layers, got a "
                    f"{type(structure).__name__} (nnctl traces call() on symbolic inputs: "
                    "use layers, and + - * between their outputs)")


def _leaves(x) -> list:
    if isinstance(x, dict):
        return list(x.values())
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _data_shapes(x):
    """The sample shapes of data: an array, a list of arrays, or a dict of them."""
    if isinstance(x, dict):
        return {k: np.shape(v)[1:] for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, np.ndarray) for v in x):
        return [v.shape[1:] for v in x]
    return np.shape(x)[1:]


def _build_shapes(input_shape):
    """build()'s argument (shapes with the batch axis) -> sample shapes, same structure."""
    if isinstance(input_shape, dict):
        return {k: _without_batch(v) for k, v in input_shape.items()}
    if isinstance(input_shape, (list, tuple)) and input_shape and \
            all(isinstance(v, (list, tuple)) for v in input_shape):
        return [_without_batch(v) for v in input_shape]
    return _without_batch(input_shape)


def _without_batch(shape) -> tuple:
    shape = tuple(shape)
    if not shape:
        raise ValueError("build() takes an input shape with the batch axis, e.g. (None, 3)")
    return shape[1:]


def _stdout_console():
    """(console, columns) for a summary on sys.stdout, as Keras makes it: rich's Console, which
    tells a terminal and honours TERM=dumb and FORCE_COLOR; NO_COLOR drops every escape code
    (as the CLI does). Piped: plain, at Keras' 76 columns (80 - 4), lines never wrapped."""
    import os
    import shutil
    import sys

    from rich.console import Console

    console = Console(file=sys.stdout, highlight=False, emoji=False,
                      color_system=None if "NO_COLOR" in os.environ else "auto")
    if console.is_terminal:
        return console, shutil.get_terminal_size().columns
    return Console(file=sys.stdout, width=76, soft_wrap=True, color_system=None,
                   highlight=False, emoji=False), 80


class _Discard:
    def write(self, text):
        return len(text)

    def flush(self):
        pass

