"""Models for the Python API: Sequential, functional and subclassed, all built by the engine.

A model here is a spec (docs/spec.md) plus weights. Sequential lists its layers; the
functional API and subclassing record a graph of layer calls (nnctl.api.layers) that is
written out as a functional spec. Either way nnctl.model builds the spec, so summaries, forward
passes and files are exactly those of the same network written in YAML.
"""
from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import numpy as np

from nnctl.api import session
from nnctl.api.layers import (NestedCall, Input, InputLayer, KerasViews, Layer, SymbolicTensor,
                              UnknownShape, attribute_layers, forgot_super_init, leaves,
                              normalize_dtype, sample_shape, untraceable)
from nnctl.api.variables import Variable
from nnctl.errors import DataError, SpecError, WeightsError
from nnctl.graphwalk import ancestors, depth_first
from nnctl.masking import MASK_OP_NAME
from nnctl.layers import format_shape
from nnctl.model import split_ref
from nnctl.naming import name_problem


class NotBuilt(SpecError):
    """The model cannot be built yet: no input shape is known (see Model.build)."""


class Model(KerasViews):
    """A network: `Model(inputs, outputs)` (functional API), or subclass it with `call`.

    Keras' methods: summary(), model(x), predict(x), get_weights()/set_weights(), layers,
    get_layer(), save(path); and the spec it stands for: to_spec(), to_yaml(),
    Model.from_spec(mapping_or_path). Weights are drawn when first needed: new ones each time
    (as Keras), reproducible after nnctl.utils.set_random_seed(n), or from `seed=`.

    >>> import numpy as np, nnctl
    >>> inputs = nnctl.Input(shape=(3,), name="input")
    >>> outputs = nnctl.layers.Dense(2, activation="sigmoid", name="layer3")(inputs)
    >>> model = nnctl.Model(inputs=inputs, outputs=outputs, name="my_model")
    >>> model.predict(np.ones((4, 3))).shape
    (4, 2)
    """

    # Class-level defaults, so that a subclass whose __init__ forgets super().__init__()
    # (or sets layers before calling it) still works.
    _spec: dict | None = None
    _engine = None
    _layer_map: dict = {}
    _inputs: list = []
    _outputs: list = []
    _nested: dict = {}        # layer name -> [NestedCall per call]: made by a model used as a layer
    _calls = 0                # calls on tensors so far (Keras numbers them: encoder[1][0])
    _generation = -1
    _batch_size = None        # a subclassed model's summary shows the batch it was built on
    _optimizer = None         # a compiled .keras file's optimizer (nnctl.kerasfile.optimizer)
    seed: int | None = None
    _draw_seed: int | None = None
    dtype: str | None = None

    def __init__(self, inputs=None, outputs=None, name=None, *, trainable=True, seed=None,
                 dtype=None):
        self._name_seed_dtype(name, seed, dtype)
        if inputs is None and outputs is None:
            if type(self).call is Model.call:
                raise TypeError("Model needs `inputs` and `outputs` (the functional API: "
                                "Model(inputs=x, outputs=y)); or subclass it and define call()")
            return  # a subclassed model: traced on its first call, or by build()
        if inputs is None or outputs is None:
            raise TypeError("Model needs both `inputs` and `outputs`")
        self._set_graph(_flat(inputs, "inputs"), _flat(outputs, "outputs"))
        if not trainable:
            self.trainable = False

    def __getattr__(self, key):
        # a subclass whose __init__ forgot super().__init__() has no name: refused when first
        # used (called, summarized), as Keras refuses it
        if key == "name":
            raise forgot_super_init(self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def _name_seed_dtype(self, name, seed, dtype) -> None:
        self.name = _model_name(name, self)
        self.seed = self._draw_seed = _seed(seed)
        self.dtype = normalize_dtype(dtype, f"model '{self.name}'")

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
            structure = InputLayer(name=stem, dtype=dtype).output
        else:
            structure = Input(shape=shapes, name=stem, dtype=dtype)
        kwargs = {"training": False} if "training" in parameters else {}
        try:
            result = self.call(structure, **kwargs)
        except UnknownShape:
            raise NotBuilt(f"model '{self.name}': the input shape is not known yet; call the "
                            "model on data first (model(np.ones((1, 3)))), call "
                            "model.build((None, 3)), or give its first layer input_shape=(3,)"
                            ) from None
        except (SpecError, NotImplementedError, ValueError):
            raise
        except Exception as exc:
            raise untraceable(f"model {type(self).__name__} ('{self.name}')", exc) from exc
        outputs = _flat(result, f"{type(self).__name__}.call() result")
        self._set_graph(_flat(structure, "inputs"), outputs)

    def _ensure_built(self, data=None) -> None:
        if self._built_and_current():
            return
        if data is None:
            if type(self).call is Model.call:
                raise SpecError(f"model '{self.name}' has no input shape yet: give its first "
                                "layer input_shape=, start it with nnctl.Input(shape=...), "
                                "or call model.build((None, ...))")
            self._trace(None)
        else:
            self._trace(_data_shapes(data))
            sizes = {len(a) for a in leaves(data) if hasattr(a, "__len__")}
            self._batch_size = sizes.pop() if len(sizes) == 1 else None

    def _built_and_current(self) -> bool:
        """Whether the model is built; when a layer changed since (trainable), its spec is
        written again first."""
        if self.built and self._generation != session.generation():
            self._refresh()
        return self.built

    def _refresh(self) -> None:
        """A layer changed (trainable): write the spec again from the same graph."""
        self._set_graph(self._inputs, self._outputs)

    def _set_graph(self, inputs: list, outputs: list) -> None:
        spec, layer_map = functional_spec(self.name, inputs, outputs, self.seed)
        self._inputs, self._outputs = inputs, outputs
        self._nested = _nested_calls(inputs, outputs)
        self._adopt(spec, layer_map)

    def _adopt(self, spec: dict, layer_map: dict) -> None:
        """Take a new spec: build it with the engine (the weights stay with the layers)."""
        from nnctl.model import build_model
        from nnctl.spec import parse_spec
        from nnctl.yamlpos import Located

        engine = build_model(parse_spec(Located(spec, {}, f"model '{spec['name']}'")))
        self._spec, self._engine, self._layer_map = spec, engine, layer_map
        self._generation = session.generation()

    @property
    def engine(self):
        """The engine's built network (nnctl.model.Model): nodes, shapes, forward."""
        self._ensure_built()
        return self._engine

    # --- layers ------------------------------------------------------------------------------
    @property
    def _subclassed(self) -> bool:
        return type(self).call is not Model.call and not isinstance(self, Sequential)

    @property
    def layers(self) -> list:
        """The layers in Keras' order: a functional model's inputs first (InputLayer objects),
        a subclassed model's in the order its __init__ set them."""
        if self._subclassed:
            return _attribute_layers(self)
        layers = []
        for node in self.engine.layers:   # a model used as a layer stands for its layers
            calls = self._nested.get(node.name)
            layer = self._layer_map[node.name] if calls is None else calls[0].model
            if all(layer is not other for other in layers):
                layers.append(layer)
        return layers

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `layers`, as Keras.

        >>> import nnctl
        >>> x = nnctl.Input((3,)); model = nnctl.Model(x, nnctl.layers.Dense(2, name="d")(x))
        >>> model.get_layer("d").units, model.get_layer(index=1).name
        (2, 'd')
        """
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model "
                                 f"only has {len(layers)} layers.")
            return layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        for layer in layers:
            if layer.name == name:
                return layer
        from nnctl.naming import did_you_mean

        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in layers]}.{did_you_mean(name, [l.name for l in layers])}")

    @property
    def inputs(self) -> list:
        self._ensure_built()
        return list(self._inputs)

    @property
    def outputs(self) -> list:
        self._ensure_built()
        return list(self._outputs)

    @property
    def input(self):
        """The input tensor (a list for several inputs), for building other models."""
        inputs = self.inputs
        return inputs[0] if len(inputs) == 1 else inputs

    @property
    def output(self):
        """The output tensor (a list for several outputs): `Model(model.input, model.output)`."""
        outputs = self.outputs
        return outputs[0] if len(outputs) == 1 else outputs

    @property
    def trainable(self) -> bool:
        return all(layer.trainable for layer in self._weighted_layers())

    @property
    def trainable_weights(self) -> list:
        # by each weight's own flag, as Keras' model.trainable_weights (a Bidirectional made
        # frozen has none of its own, but its halves' weights are trainable)
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list:
        return [v for v in self.weights if not v.trainable]

    @trainable.setter
    def trainable(self, value) -> None:
        """`model.trainable = False` freezes every layer, as in Keras."""
        for layer in self._all_layers():
            layer.trainable = value

    def _all_layers(self) -> list:
        if not self.built and self._subclassed:
            return _attribute_layers(self)
        return [layer for layer in self._layer_map.values() if not isinstance(layer, InputLayer)]

    def _weighted_layers(self) -> list:
        return [self._layer_map[n.name] for n in self.engine.layers if n.weights]

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
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None) -> None:
        """Print Keras' summary table, as Keras does: on sys.stdout through rich (styled on a
        terminal, plain when piped), or given once as text to `print_fn`.

        >>> import nnctl
        >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2, name="d")])
        >>> model.summary(print_fn=lambda text: print(text.splitlines()[4]))
        │ d (Dense)                       │ (None, 2)              │             8 │
        """
        from nnctl.render import print_summary_table
        from nnctl.summary import table_width

        if layer_range is not None:
            raise NotImplementedError("summary(layer_range=...) is not supported by nnctl")
        try:
            data = self._summary_data()
        except NotBuilt:      # Keras prints its layers all the same: "?", "0 (unbuilt)"
            data = self._unbuilt_summary_data()
        if expand_nested:
            data.rows = _expanded(data.rows, self)
        import shutil

        if print_fn is None:
            console = _stdout_console()
        else:
            from rich.console import Console

            console = Console(highlight=False, force_terminal=False, color_system=None)
            console.begin_capture()
        width = line_length or table_width(data, shutil.get_terminal_size().columns,
                                           show_trainable)
        print_summary_table(data, console, width=width, show_trainable=show_trainable,
                            positions=positions)
        if print_fn is not None:
            print_fn(console.end_capture())

    def _unbuilt_summary_data(self):
        """The summary of a model that cannot be built yet (no input shape), as Keras prints
        it: its layers, an unknown shape, no weights but those of layers built already."""
        from nnctl.summary import Row, Summary

        rows = []
        for layer in self.layers:
            built = bool(getattr(layer, "built", False))
            params = layer.count_params() if built else 0
            trainable = "-" if not params else "Y" if layer.trainable else "N"
            rows.append(Row(layer.name, type(layer).__name__, None, params,
                            params if trainable == "Y" else 0, params if trainable == "N" else 0,
                            [], trainable, unbuilt=not built))
        total = sum(r.params for r in rows)
        trainable = sum(r.trainable_params for r in rows)
        size = np.dtype(self.dtype or "float32").itemsize
        return Summary(self.name, "Sequential" if isinstance(self, Sequential) else "Functional",
                       rows, True, total, trainable, total - trainable, total * size,
                       trainable * size, (total - trainable) * size)

    def _summary_data(self):
        """Rows and totals; a subclassed model's as Keras shows them: its layers in the order
        __init__ set them, no inputs, the batch size it was first called on."""
        from nnctl.summary import summarize

        data = summarize(self.engine, optimizer=self._optimizer)
        if self._nested:
            _collapse_nested(data, self._nested, _calls_in_model(self._inputs, self._outputs))
        if not isinstance(self, Sequential):
            _number_calls_as_keras(data, self._inputs, self._outputs)
        if self._subclassed:
            rows = {row.name: row for row in data.rows}
            data.rows = [rows[layer.name] for layer in self.layers if layer.name in rows]
            for row, layer in zip(data.rows, [l for l in self.layers if l.name in rows]):
                row.output_shape = [self._batch_size, *row.output_shape[1:]]
                node = self.engine.nodes.get(row.name)
                if node is None:      # a custom layer (one row): Keras knows its shape only
                    if type(layer).build is Layer.build:   # if it defines build()
                        row.output_shape = None
                elif not node.weights and node.layer.arity == "one":
                    # Keras builds such layers (no build(): no weights, not merges) when they
                    # are made, so it records no shape for them: "?"
                    row.output_shape = None
            data.chain = True
        elif isinstance(self, Sequential) and self.engine.functional:
            # a Sequential whose custom layer or model is not a chain: built as a graph,
            # shown as Keras shows the Sequential
            data.rows = [row for row in data.rows if row.type != "InputLayer"]
            data.type, data.chain = "Sequential", True
        return data

    def count_params(self) -> int:
        """The number of weights (scalars) of the model."""
        return self.engine.total_params

    # --- weights -----------------------------------------------------------------------------
    def _rng_for(self, layer_name: str):
        if self._draw_seed is None:
            return lambda weight_name: session.random_generator()
        from nnctl.initializers import weight_rng

        return lambda weight_name: weight_rng(self._draw_seed, layer_name, weight_name)

    def _weight_dict(self) -> dict:
        """`layer/weight` -> array, every weight of the model (drawn where not yet)."""
        weights = {}
        for node in self.engine.layers:
            if not node.weights:
                continue
            layer = self._layer_map[node.name]
            layer._ensure_weights(node.weights, node.dtype, self._rng_for(node.name))
            for w in node.weights:
                weights[f"{node.name}/{w.name}"] = layer._weights[w.name]
        return weights

    def weight_dict(self) -> dict:
        """The weights by `layer/weight` name (the keys of an nnctl weights file).

        >>> import nnctl
        >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2, name="d")])
        >>> sorted(model.weight_dict())
        ['d/bias', 'd/kernel']
        """
        return dict(self._weight_dict())

    def carries_weights(self) -> bool:
        """Whether some weights were given (set_weights, a loaded file) rather than drawn."""
        self._weight_dict()
        return any(getattr(self._layer_map[n.name], "_weights_set", False)
                   for n in self.engine.layers if n.weights)

    @property
    def weights(self) -> list:
        """Every weight as a Variable, in Keras' order (layer by layer)."""
        self._weight_dict()
        variables = []
        for node in self.engine.layers:
            layer = self._layer_map[node.name]
            calls = self._nested.get(node.name)
            owner = calls[0].model if calls else None   # a custom layer's: `block/dense/kernel`
            custom = owner is not None and not isinstance(owner, Model)
            inner = f"{owner.name}/" if custom else ""
            # Keras' path starts with the Sequential that built the layer (`enc/dense/kernel`),
            # if one did: a functional model's layers are built outside any
            scope = getattr(owner if custom else layer, "_weight_scope", None)
            prefix = f"{scope}/" if scope else ""
            variables += [Variable(layer, w.name, f"{prefix}{inner}{node.name}/{w.name}",
                                   w.trainable) for w in node.weights]
        return variables

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
        for key, value in checked.items():
            layer_name, _, weight_name = key.partition("/")
            layer = self._layer_map[layer_name]
            if layer._weights is None:
                layer._weights = {}
            layer._weights[weight_name] = np.array(value)
            layer._weights_set = True

    def save(self, filepath, overwrite=True, **kwargs) -> None:
        """Write the model to a file, by its extension: `.keras` (a Keras 3 archive that
        keras.saving.load_model opens, for training in Keras) or `.npz` (an nnctl model file,
        docs/formats.md). Atomic: a failure leaves no half-written file.

        >>> import nnctl
        >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)])
        >>> model.save("model.keras")
        """
        from nnctl.kerasfile import save_keras
        from nnctl.weights import save_model

        self._write(filepath, overwrite, {".keras": save_keras, ".npz": save_model},
                    "Invalid filepath extension for saving. Please add a `.keras` extension "
                    "for the native Keras format (or `.npz` for an nnctl model file).")

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs) -> None:
        """Export for inference, as Keras' `model.export`: `format="onnx"` writes an ONNX
        model of standard operators (as `nnctl export`; `opset_version=` as Keras takes it);
        Keras' other formats (tf_saved_model, its default, openvino, litert, torch) need Keras.

        >>> import nnctl
        >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)])
        >>> model.export("model.onnx", format="onnx")   # doctest: +SKIP
        """
        import os

        if format != "onnx":
            raise NotImplementedError(
                f"export(format={format!r}): nnctl exports ONNX (format='onnx'); for "
                f"{format}, save the model with model.save('{self.name}.keras') and export it "
                "with Keras")
        unknown = set(kwargs) - {"opset_version"}
        if unknown or input_signature is not None:
            raise NotImplementedError(f"export(format='onnx'): nnctl takes opset_version only, "
                                      f"got {', '.join(sorted(unknown)) or 'input_signature'}")
        from nnctl.onnx import require

        require(("onnx",), "export(format='onnx')")
        from nnctl.onnx.export import DEFAULT_OPSET, to_onnx, write_onnx

        opset = kwargs.get("opset_version") or DEFAULT_OPSET
        write_onnx(to_onnx(self.engine, self._weight_dict(), opset=opset), os.fspath(filepath))
        if verbose:
            print(f"Saved artifact at '{os.fspath(filepath)}'.")

    def save_weights(self, filepath, overwrite=True) -> None:
        """Write the weights: `.weights.h5` as Keras 3's save_weights, or `.npz` (nnctl's
        weights file, keys `layer/weight`).

        >>> import nnctl
        >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)])
        >>> model.save_weights("model.weights.h5")
        """
        from nnctl.kerasfile import save_weights_h5
        from nnctl.weights import save_model   # an nnctl weights file keeps the spec too

        def save_keras_weights(path, spec, weights):
            save_weights_h5(path, spec, weights, _nested_weight_groups(self))

        self._write(filepath, overwrite, {".weights.h5": save_keras_weights, ".npz": save_model},
                    "The filename must end in `.weights.h5` (or `.npz` for an nnctl weights "
                    "file).")

    def _write(self, filepath, overwrite: bool, writers: dict, wrong_ending: str) -> None:
        """Write the spec and the weights with the writer for the file name's ending
        (`writers`: ending -> write(path, spec, weights), each atomic)."""
        import os

        path = os.fspath(filepath)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists (overwrite=False)")
        write = next((w for ending, w in writers.items() if path.endswith(ending)), None)
        if write is None:
            raise ValueError(f"{wrong_ending} Received: filepath={path}")
        write(path, self.to_spec(), self._weight_dict())

    def load_weights(self, filepath, skip_mismatch=False) -> None:
        """Read weights written by save_weights (`.weights.h5`, `.npz`), a Keras 2 `.h5` or
        a `.keras` archive: matched to this model's layers by their places as Keras does, and
        by name in a file of a model with nested models (docs/keras-files.md)."""
        import os

        path = os.fspath(filepath)
        if skip_mismatch:
            raise NotImplementedError("load_weights(skip_mismatch=True) is not supported")
        if path.endswith(".npz"):
            from nnctl.weights import load_weights

            weights = load_weights(path)
        else:
            from nnctl.kerasfile import load_weights_h5

            weights = load_weights_h5(path, self.to_spec())
        self.engine.check_weights(dict(weights), source=path)
        self.set_weights(dict(weights))

    def to_json(self, **kwargs) -> str:
        """The model's Keras 3 config as JSON, as `model.to_json()` (no weights); read back
        with nnctl.models.model_from_json or keras.models.model_from_json."""
        import json

        from nnctl.kerasfile import spec_to_keras_json

        text = spec_to_keras_json(self.to_spec())
        return json.dumps(json.loads(text), **kwargs) if kwargs else text

    def get_config(self) -> dict:
        """The model's Keras 3 config (what `to_json()` holds under "config")."""
        import json

        return json.loads(self.to_json())["config"]

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "Model":
        """A model (new weights) from get_config()'s result."""
        from nnctl.kerasfile import keras_json_to_spec

        kind = "Sequential" if issubclass(cls, Sequential) else "Functional"
        document = {"module": "keras", "class_name": kind, "config": config,
                    "registered_name": kind}
        return _fresh(from_spec(keras_json_to_spec(document)))

    # --- training: Keras' job ----------------------------------------------------------------
    def _no_training(self, method: str):
        raise NotImplementedError(
            f"{method}(): nnctl does not train models (it builds, inspects and runs them); "
            f"save the model with model.save('{self.name}.keras') and train it with Keras "
            "(keras.saving.load_model)")

    def compile(self, *args, **kwargs):
        """Refused: nnctl does not train (save a .keras file and train it with Keras)."""
        self._no_training("compile")

    def fit(self, *args, **kwargs):
        """Refused: nnctl does not train (save a .keras file and train it with Keras)."""
        self._no_training("fit")

    def evaluate(self, *args, **kwargs):
        """Refused: nnctl does not train (save a .keras file and train it with Keras)."""
        self._no_training("evaluate")

    def train_on_batch(self, *args, **kwargs):
        """Refused: nnctl does not train (save a .keras file and train it with Keras)."""
        self._no_training("train_on_batch")

    def test_on_batch(self, *args, **kwargs):
        """Refused: nnctl does not train (save a .keras file and train it with Keras)."""
        self._no_training("test_on_batch")

    # --- running -----------------------------------------------------------------------------
    def __call__(self, x, training=None, mask=None):
        """The outputs for a batch (NumPy arrays), as Keras' model(x); on symbolic tensors,
        the model used as a layer (its layers are called on them, their weights shared).
        `training` is accepted and ignored: nnctl computes as Keras does at inference."""
        if any(isinstance(t, SymbolicTensor) for t in leaves(x)):
            return self._call_symbolic(x)
        self._ensure_built(x)
        return self._run(x, batch_size=None)

    def _call_symbolic(self, x):
        """Replay this model's graph on new tensors (nnctl has no nested-model node: the
        layers of the inner model join the outer one)."""
        if self._subclassed:
            kwargs = {"training": False} if "training" in \
                inspect.signature(self.call).parameters else {}
            return self.call(x, **kwargs)
        given = leaves(x)
        if isinstance(self, Sequential) and self._input is None and len(given) == 1:
            # a Sequential without an input shape takes its first call's, as Keras'
            self._input = InputLayer(tuple(given[0].shape[1:]), dtype=self.dtype)
        self._ensure_built()
        if len(given) != len(self._inputs):
            raise ValueError(f"model '{self.name}' takes {len(self._inputs)} inputs, got "
                             f"{len(given)}")
        values = {t.node: g for t, g in zip(self._inputs, given)}
        call = NestedCall(self, given, [], self._calls)
        self._calls += 1                  # Keras' node index of the next call
        _, order = depth_first([t.node for t in self._outputs],
                               lambda node: [t.node for t in node.inbound], done=values)
        for node in order:                # each layer called after those it reads
            args = [values[t.node] for t in node.inbound]
            many = node.layer.engine.arity == "many"
            values[node] = node.layer(args if many else args[0])
            for made in leaves(values[node]):
                made.node.nested = call          # the outer model shows `self` as one row
        outputs = [values[t.node] for t in self._outputs]
        call.outputs = [t.node.layer.name for t in leaves(outputs)]
        return outputs[0] if len(outputs) == 1 else outputs

    def predict(self, x, batch_size=None, verbose=None, steps=None, callbacks=None):
        """The outputs for every sample of x, run in batches of `batch_size` (default 32).

        x: an array (batch axis first); a list in input order or a dict by input name for a
        model with several inputs. Returns an array, or a list for several outputs.

        >>> import numpy as np, nnctl
        >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)])
        >>> model.predict(np.ones((5, 3)), verbose=0).shape
        (5, 2)
        """
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._ensure_built(_first_batch(x, batch_size or 32))   # Keras builds on the first
        return self._run(x, batch_size=batch_size or 32)

    def predict_on_batch(self, x):
        """The outputs for one batch, as Keras."""
        return self(x)

    def _run(self, x, batch_size):
        engine = self.engine
        feeds = self._feeds(x)
        weights = engine.check_weights(self._weight_dict(), source=f"model '{self.name}'")
        n = len(next(iter(feeds.values())))
        step = batch_size or max(n, 1)
        chunks = [engine.forward({k: v[i:i + step] for k, v in feeds.items()}, weights)
                  for i in range(0, n, step)] or [engine.forward(feeds, weights)]
        flat = [_flat_outputs(c, engine.outputs) for c in chunks]
        results = [np.concatenate([c[k] for c in flat]) for k in range(len(flat[0]))]
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

    >>> import nnctl
    >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)], name="s")
    >>> model.count_params()
    8
    """

    def __init__(self, layers=None, name=None, *, trainable=True, seed=None, dtype=None):
        self._name_seed_dtype(name, seed, dtype)
        self._input: InputLayer | None = None
        self._stack: list[Layer] = []
        for item in layers or []:
            self.add(item, rebuild=False)
        if self._input is not None and self._stack:
            self._rebuild()
        if not trainable:
            self.trainable = False

    @property
    def layers(self) -> list:
        return list(self._stack)

    def _all_layers(self) -> list:
        return list(self._stack)

    def add(self, layer, rebuild=True) -> None:
        """Put a layer on top of the stack (checked against the shapes below it)."""
        if isinstance(layer, SymbolicTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._input is not None:
                raise ValueError(f"Sequential model '{self.name}' has already been configured "
                                 f"to use input shape {format_shape((None, *self._input.shape))}"
                                 ". You cannot add a different Input layer to it.")
            if self._stack:
                raise ValueError("an nnctl.Input may only be the first element of a Sequential")
            self._input = layer
            if self.dtype is None and layer.dtype != "float32":
                self.dtype = layer.dtype
            return
        if not isinstance(layer, (Layer, Model)):
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential "
                             f"model. Received: {layer!r} (of type {type(layer)})")
        if isinstance(layer, Model) and not self._stack and self._input is None and \
                layer.built and len(layer.inputs) == 1:
            self._input = InputLayer(layer.inputs[0].shape[1:], dtype=self.dtype)
        if any(other.name == layer.name for other in self._stack):
            raise ValueError("All layers added to a Sequential model should have unique names. "
                             f"Name '{layer.name}' is already the name of a layer in this "
                             "model. Update the `name` argument to pass a unique name.")
        if not self._stack and self._input is None and \
                getattr(layer, "_input_shape_arg", None) is not None:
            self._input = InputLayer(layer._input_shape_arg, dtype=self.dtype)
        self._stack.append(layer)
        if self._input is not None and rebuild:
            try:
                self._rebuild()
            except BaseException:
                self._stack.pop()
                raise

    def pop(self, rebuild=True):
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
        if input_shape is not None:   # build((5, 3)): Keras' summary shows the batch of 5
            self._input = InputLayer(sample_shape(_without_batch(input_shape),
                                                  f"model '{self.name}'"), dtype=self.dtype,
                                     batch_size=tuple(input_shape)[0])
        self._ensure_built()

    def _ensure_built(self, data=None) -> None:
        if self._built_and_current():
            return
        if self._input is None and data is not None:   # built on data: its batch, as Keras
            self._input = InputLayer(sample_shape(np.shape(data)[1:], f"model '{self.name}'"),
                                     dtype=self.dtype, batch_size=len(data) or None)
        if self._input is None or not self._stack:
            raise NotBuilt(f"model '{self.name}' is not built: "
                            + ("it has no layers" if not self._stack else
                               "give its first layer input_shape=, start it with "
                               "nnctl.Input(shape=...), or call model.build((None, ...))"))
        self._rebuild()

    def _refresh(self) -> None:
        self._rebuild(refresh=True)

    def _rebuild(self, refresh: bool = False) -> None:
        """Call the layers on the input again and write the spec; `refresh`: only because a
        layer changed (trainable), not the stack."""
        if not self._stack:
            return
        if not refresh:   # Keras builds a new Functional inside on each add: it takes a name
            session.unique_name("functional")
        x = self._input.output
        for layer in self._stack:
            if not isinstance(layer, Model) and not layer.built:
                layer._weight_scope = self.name   # built here: Keras' `seq/dense/kernel`
            x = layer(x)                      # the engine checks each layer's shapes
        self._inputs, self._outputs = [self._input.output], [x]
        self._nested = _nested_calls(self._inputs, self._outputs)
        layers = _chain(self.name, self._input.output, x) if self._nested else self._stack
        if layers is None:   # a custom layer or model in it is not a chain: a graph spec
            self._adopt(*functional_spec(self.name, self._inputs, self._outputs, self.seed))
            return
        spec = {"name": self.name}
        if (self.dtype or self._input.dtype) == "float64":
            spec["dtype"] = "float64"
        if self.seed is not None:
            spec["seed"] = self.seed
        if self._input.batch_size is not None:
            spec["batch_size"] = self._input.batch_size
        spec["input"] = input_entry(self._input)
        omit_names = spec_default_names(layers, {"input_layer"})
        spec["layers"] = [_entry(layer, omit_names) for layer in layers]
        self._adopt(spec, {layer.name: layer for layer in layers})


def _chain(name: str, start, end) -> list | None:
    """The layers from `start` to `end`, when each takes the one before it (a Sequential with
    a model or custom layer in it: its layers); None when they do not form a chain."""
    layers, tensor = [], end
    while tensor.node is not start.node:
        node = tensor.node
        if len(node.inbound) != 1 or isinstance(node.layer, InputLayer):
            return None
        layers.append(node.layer)
        tensor = node.inbound[0]
    return layers[::-1]


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
    given = {id(n) for n in input_nodes}
    reached = _reached(inputs, outputs)
    for node in reached:
        if isinstance(node.layer, InputLayer) and id(node) not in given:
            raise SpecError(f"model '{name}': the outputs depend on an input "
                            f"({node.layer.name}, shape "
                            f"{format_shape(node.layer.output.shape or ())}) that is not in "
                            "`inputs`")
    for node in input_nodes:
        if not isinstance(node.layer, InputLayer):
            raise TypeError(f"model '{name}': inputs must be nnctl.Input tensors (or a model's "
                            f"inputs), got the output of layer '{node.layer.name}'")
    calls = sorted((n for n in reached if not isinstance(n.layer, InputLayer)),
                   key=lambda n: n.index)
    # A layer called more than once (a shared layer): its later calls in this model are
    # `{call: NAME}` entries, their outputs `NAME[c][k]` (c: the call within this model).
    call_index = _call_indexes(calls)

    def ref(tensor) -> str:
        c = call_index.get(id(tensor.node), 0)
        return tensor.ref if c == 0 else f"{tensor.name}[{c}][{tensor.index}]"

    input_layers = [n.layer for n in input_nodes]
    layers = list({id(n.layer): n.layer for n in calls}.values())
    names = [layer.name for layer in input_layers] + [layer.name for layer in layers]
    for layer_name in names:
        if names.count(layer_name) > 1:
            raise ValueError(f'The name "{layer_name}" is used {names.count(layer_name)} times '
                             "in the model. All operation names should be unique.")
    for layer in input_layers:
        if layer.shape is None:
            raise SpecError(f"model '{name}': the shape of input '{layer.name}' is not known")
    dtypes = {layer.dtype for layer in input_layers if "float" in layer.dtype}
    if len(dtypes) > 1:
        raise SpecError(f"model '{name}': the inputs have different dtypes "
                        f"({', '.join(sorted(dtypes))}); a model has one dtype")
    omit_names = spec_default_names(layers, {layer.name for layer in input_layers})
    entries, previous, mask_names = [], None, {}
    for node in calls:
        inbound = [ref(t) for t in node.inbound]
        one = node.layer.engine.arity == "one"
        if node.mask_name is not None:
            c = call_index[id(node)]
            mask_names[node.layer.name if c == 0 else f"{node.layer.name}[{c}]"] = node.mask_name
        if call_index[id(node)]:
            entries.append({"call": node.layer.name, "inputs": inbound[0] if one else inbound})
            previous = f"{node.layer.name}[{call_index[id(node)]}]"
            continue
        entry = _entry(node.layer, omit_names)
        default = [previous] if previous else (
            [input_layers[0].name] if len(input_layers) == 1 else None)
        if inbound != default or not one:
            entry["inputs"] = inbound[0] if one else inbound
        entries.append(entry)
        previous = node.layer.name
    spec = {"name": name}
    if dtypes == {"float64"}:
        spec["dtype"] = "float64"
    if seed is not None:
        spec["seed"] = seed
    batch_sizes = {layer.batch_size for layer in input_layers}
    if len(batch_sizes) == 1 and None not in batch_sizes:   # as nnctl.kerasfile reads it
        spec["batch_size"] = batch_sizes.pop()
    spec["inputs"] = {layer.name: input_entry(layer) for layer in input_layers}
    spec["layers"] = entries
    spec["outputs"] = [ref(t) for t in outputs]
    defaults = [MASK_OP_NAME if k == 0 else f"{MASK_OP_NAME}_{k}" for k in range(len(mask_names))]
    if list(mask_names.values()) != defaults:   # numbered on from an earlier model's
        spec["mask_names"] = mask_names
    layer_map = {layer.name: layer for layer in input_layers}
    layer_map.update({layer.name: layer for layer in layers})
    return spec, layer_map


def input_entry(layer):
    """An input's spec entry: its shape, or `{shape, dtype}` for integers (token ids)."""
    if "int" in layer.dtype:
        return {"shape": list(layer.shape), "dtype": layer.dtype}
    return list(layer.shape)


def _flat_outputs(outputs: dict, refs: list[str]) -> list:
    """Model.forward's outputs `refs` in order (a name twice, as Keras allows, twice), a layer
    of several outputs giving each."""
    flat = []
    for value in map(outputs.__getitem__, refs):
        flat += value if isinstance(value, list) else [value]
    return flat


def _call_indexes(calls: list) -> dict:
    """id(call node) -> which call of its layer it is within the model (0, 1, ...), for the
    call nodes `calls` of one model sorted in the order they were made."""
    call_index, count = {}, {}
    for node in calls:
        call_index[id(node)] = count.get(id(node.layer), 0)
        count[id(node.layer)] = call_index[id(node)] + 1
    return call_index


def _number_calls_as_keras(data, inputs: list, outputs: list) -> None:
    """"Connected to" numbers a shared layer's calls as Keras does: across every model the
    layer was called in (`shared[1][0]` in a model that calls it once more after another
    did), where the engine numbers them within the model."""
    given = {id(t.node) for t in inputs}
    calls = sorted((n for n in _reached(inputs, outputs) if id(n) not in given),
                   key=lambda n: n.index)
    numbers: dict[str, list[int]] = {}
    for node in calls:
        if getattr(node, "nested", None) is not None:
            continue          # a nested model's or custom layer's: its row numbers its calls
        layer_nodes = getattr(node.layer, "_nodes", ())
        number = next((k for k, n in enumerate(layer_nodes) if n is node), None)
        numbers.setdefault(node.layer.name, []).append(number)
    for row in data.rows:
        if not row.connected_to:
            continue
        node = row.connected_node or [0] * len(row.connected_to)
        row.connected_node = [
            numbers[name][c] if name in numbers and c < len(numbers[name])
            and numbers[name][c] is not None else c
            for name, c in zip(row.connected_to, node)]


def _nested_calls(inputs: list, outputs: list) -> dict:
    """Layer name -> the NestedCall of each of its calls (in call order, as the engine
    numbers them), for the layers of the graph made by a nested model's calls."""
    given = {id(t.node) for t in inputs}
    nodes = sorted((node for node in _reached(inputs, outputs) if id(node) not in given),
                   key=lambda node: node.index)
    found: dict = {}
    for node in nodes:
        call = getattr(node, "nested", None)
        if call is not None:
            found.setdefault(node.layer.name, []).append(call)
    return found


def _reached(inputs: list, outputs: list) -> list:
    """The call nodes on the way to the tensors `outputs`, those of `inputs` included, in the
    order a walk back from the outputs meets them. The walk stops at `inputs`: a model's
    input may be another layer's output."""
    given = {id(t.node) for t in inputs}
    return ancestors([t.node for t in outputs],
                     lambda node: () if id(node) in given else [t.node for t in node.inbound],
                     key=id)


def _calls_in_model(inputs: list, outputs: list) -> dict:
    """id(call node) -> which call of its layer it is within the model, as the engine numbers
    them (a nested model's layers' calls apart from the others')."""
    given = {id(t.node) for t in inputs}
    nodes = sorted((n for n in _reached(inputs, outputs) if id(n) not in given),
                   key=lambda n: n.index)
    number, count = {}, {}
    for node in nodes:
        key = (node.layer.name, getattr(node, "nested", None) is not None)
        number[id(node)] = count.get(key, 0)
        count[key] = number[id(node)] + 1
    return number


def _collapse_nested(data, nested: dict, calls_in_model: dict) -> None:
    """One row per model used as a layer, as Keras shows it (expand_nested=False): its name
    and class, its output's shape, its layers' parameters; rows after it connect to it, and
    it to every call's inputs (`shared[0][0], shared[1][0]`: `calls_in_model` numbers them)."""
    from nnctl.summary import Row

    rows, groups = [], {}
    by_name = {row.name: row for row in data.rows}
    for row in data.rows:
        calls = nested.get(row.name)
        if calls is None:
            rows.append(row)
            continue
        model = calls[0].model
        if id(model) not in groups:   # one row per model, listing every call's inputs
            kind = {Model: "Functional", Sequential: "Sequential"}.get(type(model),
                                                                        type(model).__name__)
            inbound = [t for call in sorted(set(calls), key=lambda c: c.index)
                       for t in call.inbound]
            groups[id(model)] = Row(
                name=model.name, type=kind,
                output_shape=by_name[calls[-1].outputs[0]].output_shape,
                params=0, trainable_params=0, non_trainable_params=0,
                connected_to=[t.node.layer.name for t in inbound], trainable="-",
                connected_node=[calls_in_model.get(id(t.node), 0) for t in inbound],
                connected_index=[t.index for t in inbound])
            rows.append(groups[id(model)])
        group = groups[id(model)]
        group.params += row.params
        group.trainable_params += row.trainable_params
        group.non_trainable_params += row.non_trainable_params
        group.macs += row.macs
        if row.trainable != "-":
            group.trainable = "Y" if group.trainable in ("-", "Y") and row.trainable == "Y" \
                else "N"
    def connection(name, node, k):
        """A connection to a nested model's output: to the model, its call's node index."""
        calls = nested.get(name)
        if calls is not None and node < len(calls) and name in calls[node].outputs:
            return calls[node].model.name, calls[node].index, k
        return name, node, k

    for row in rows:
        index = row.connected_index or [0] * len(row.connected_to)
        node = row.connected_node or [0] * len(row.connected_to)
        renamed = list(dict.fromkeys(connection(c, n, k)
                                     for c, n, k in zip(row.connected_to, node, index)))
        row.connected_to = [c for c, _, _ in renamed]
        row.connected_node = [n for _, n, _ in renamed]
        row.connected_index = [k for _, _, k in renamed]
    data.rows = rows
    inbound_counts = [len(row.connected_to) for row in rows if row.connected_to]
    users = [c for row in rows for c in row.connected_to]
    data.chain = (sum(1 for row in rows if not row.connected_to) <= 1
                  and all(n == 1 for n in inbound_counts)
                  and len(users) == len(set(users)))


def _expanded(rows: list, model) -> list:
    """summary(expand_nested=True): after the row of each model used as a layer, the rows of
    its own summary, marked `   └ ` (one more indent per level) and connected to nothing
    ("-"), as Keras prints them; custom layers are not opened (Keras' have no `layers`)."""
    import dataclasses

    nested = {layer.name: layer for layer in model.layers if isinstance(layer, Model)}
    result = []
    for row in rows:
        result.append(row)
        inner = nested.get(row.name)
        if inner is None:
            continue
        for sub in _expanded(inner._summary_data().rows, inner):
            name = "   " + sub.name if sub.name.startswith(" ") else "   └ " + sub.name
            result.append(dataclasses.replace(sub, name=name, connected_to=[],
                                              connected_node=[], connected_index=[]))
    return result


def spec_default_names(layers: list, reserved: set) -> bool:
    """Whether a spec may leave out the names of the layers made without one: True when the
    engine, naming a spec's unnamed layers per model in the order they are listed, would give
    each the name it has (as for the first model of a Python session)."""
    from nnctl.model import GraphBuilder

    taken = set(reserved) | {layer.name for layer in layers if not layer.default_named}
    counters = {}
    for layer in layers:
        if layer.default_named:
            if GraphBuilder._default_name(layer.engine, counters, taken) != layer.name:
                return False
            taken.add(layer.name)
    return True


def _entry(layer: Layer, omit_default_names: bool) -> dict:
    entry = layer.spec_entry()
    if omit_default_names and layer.default_named:
        entry.pop("name", None)
    return entry


def _attribute_layers(model) -> list:
    """The layers (and models) a subclassed model holds as attributes."""
    return attribute_layers(model, (Layer, Model))


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
        if node is None or node.owner:   # left out (leads to no output), or a shared
            continue                     # layer called again: the layer is made once
        layer = getattr(api.layers, type(node.layer).__name__)(**ls.config, name=node.name)
        layer.default_named = ls.name is None
        made[node.name] = layer
    if not spec.functional:
        ((input_name, shape),) = spec.inputs.items()
        first = Input(shape=shape, dtype=spec.input_dtypes.get(input_name, spec.dtype),
                      batch_size=spec.batch_size)
        model = Sequential([first] + [made[n.name] for n in engine.layers], name=spec.name,
                           seed=seed)
        model._draw_seed = seed or 0     # a spec's weights: seed 0 unless it says, as the CLI
        return model
    tensors = {}
    for node in engine.nodes.values():   # inputs first, then an order where inputs come first
        if node.layer is None:
            tensors[node.name] = Input(shape=node.shape, name=node.name, dtype=node.dtype,
                                       batch_size=spec.batch_size)
        else:
            args = engine.inbound_values(node, tensors)
            layer = made[node.layer_name]     # a shared layer's calls call the one layer
            tensors[node.name] = layer(args[0] if node.layer.arity == "one" else args)
    outputs = []
    for ref in engine.outputs:
        name, index = split_ref(ref)
        value = tensors[name]
        outputs += ([value[index]] if index is not None else value) \
            if isinstance(value, list) else [value]
    model = Model(inputs=[tensors[n] for n in engine.input_names],
                  outputs=outputs, name=spec.name, seed=seed)
    model._draw_seed = seed or 0
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True, *,
               seed=None) -> Model:
    """A model and its weights from a file, as `keras.models.load_model`: a Keras file
    (`.keras`, a Keras 2 `.h5`; a `model.to_json()` `.json` has no weights: they are drawn),
    an nnctl model file (`.npz`), or a spec (`.yaml`: weights drawn with the spec's seed).

    >>> import nnctl
    >>> nnctl.models.load_model("configs/article_sequential.yaml").count_params()
    26
    """
    import os

    from nnctl.spec import parse_spec
    from nnctl.yamlpos import Located

    if custom_objects:
        raise NotImplementedError("load_model(custom_objects=...): nnctl reads only its own "
                                  "layer types")
    path = os.fspath(filepath)
    from nnctl.kerasfile import keras_kind

    if keras_kind(path):
        from nnctl.kerasfile import load_model as load_keras

        spec_dict, weights = load_keras(path)
    elif path.endswith(".npz"):
        from nnctl.weights import load_model_file

        spec_dict, weights = load_model_file(path)
    else:
        return from_spec(path, seed=seed)
    model = from_spec(parse_spec(Located(spec_dict, {}, path)), seed=seed)
    if weights is not None:
        model.engine.check_weights(dict(weights), source=path)
        model.set_weights(dict(weights))
    if compile and keras_kind(path) == "keras":   # Keras compiles it again: its summary
        from nnctl.kerasfile import keras_optimizer  # counts the optimizer's variables

        model._optimizer = keras_optimizer(path)
    return model


def model_from_json(json_string, custom_objects=None) -> Model:
    """A model (new weights) from the text of `model.to_json()`, as Keras'.

    >>> import nnctl
    >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)])
    >>> nnctl.models.model_from_json(model.to_json()).count_params()
    8
    """
    from nnctl.kerasfile import keras_json_to_spec

    if custom_objects:
        raise NotImplementedError("model_from_json(custom_objects=...): nnctl reads only its "
                                  "own layer types")
    return _fresh(from_spec(keras_json_to_spec(json_string)))


def _nested_weight_groups(model: Model) -> dict[str, str]:
    """Layer name -> its group in a Keras 3 weights file, for a model that uses Sequential or
    Functional models as layers: Keras keeps their layers inside the nested model's group
    (`layers/sequential/layers/dense`), numbering each model's layers on their own. {} for a
    model without nested models (its spec's flat layout is Keras') and for one with layers
    Keras would store otherwise (subclassed models, custom layers)."""
    from nnctl.kerasfile.config import child_group

    groups: dict[str, str] = {}

    def walk(container: Model, parent: str) -> bool:
        """Whether `container` uses a model as a layer; its layers' groups into `groups`."""
        counters: dict[str, int] = {}
        nested = False
        for layer in container.layers:
            if type(layer) in (Model, Sequential):
                kind = "Sequential" if type(layer) is Sequential else "Functional"
                walk(layer, child_group(parent, kind, counters) + "/")
                nested = True
            elif isinstance(layer, Model) or not type(layer).__module__.startswith("nnctl."):
                raise LookupError
            else:
                groups[layer.name] = child_group(parent, type(layer).__name__, counters)
        return nested

    try:
        return groups if walk(model, "") else {}
    except LookupError:
        return {}


def _fresh(model: Model) -> Model:
    """A model whose weights are drawn as a Python session draws them (new ones each time,
    or after set_random_seed), not with a spec's seed 0."""
    model._draw_seed = model.seed
    return model


# --- small helpers ---------------------------------------------------------------------------

def _model_name(name, model) -> str:
    """Keras' default model names, numbered per session: `sequential`, `functional`, or the
    subclass's name in snake case (`MyModel` -> `my_model`)."""
    if name is None:
        if isinstance(model, Sequential):
            return session.unique_name("sequential")
        if type(model) is Model:
            return session.unique_name("functional")
        return session.unique_name(session.to_snake_case(type(model).__name__))
    if not isinstance(name, str) or not name:
        raise SpecError(f"a model's name must be a non-empty string, got {name!r}")
    problem = name_problem(name)
    if problem:   # as Keras refuses it on making the model, not when it is first built
        raise SpecError(f"{type(model).__name__}: `name` {problem}")
    return name


def _seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return None if seed is None else int(seed)


def _flat(structure, what: str) -> list:
    """A tensor, a list/tuple of tensors or a dict of them -> a list (dicts in key order)."""
    if not isinstance(structure, (dict, list, tuple, SymbolicTensor)):
        raise TypeError(f"{what}: expected tensors made by nnctl layers, got a "
                        f"{type(structure).__name__} (nnctl traces call() on symbolic inputs: "
                        "use layers, and + - * between their outputs)")
    return leaves(structure)


def _data_shapes(x):
    """The sample shapes of data: an array, a list of arrays, or a dict of them."""
    if isinstance(x, dict):
        return {k: np.shape(v)[1:] for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, np.ndarray) for v in x):
        return [v.shape[1:] for v in x]
    return np.shape(x)[1:]


def _first_batch(x, size: int):
    """predict's first batch of x (an array, a list or a dict of arrays): Keras builds a model
    on it, and its summary shows that batch size."""
    if isinstance(x, dict):
        return {k: _first_batch(v, size) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, np.ndarray) for v in x):
        return [v[:size] for v in x]
    return x[:size] if isinstance(x, np.ndarray) else x


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
    """The Console Keras' summary prints on: rich's on sys.stdout, which tells a terminal,
    takes its width (80 columns when piped, or $COLUMNS) and honours TERM=dumb and
    FORCE_COLOR; NO_COLOR drops every escape code (as the CLI does)."""
    import os
    import sys

    from rich.console import Console

    return Console(file=sys.stdout, highlight=False,
                   color_system=None if "NO_COLOR" in os.environ else "auto")


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model of the same layers (same names and arguments) with new weights, as
    `keras.models.clone_model`.

    >>> import nnctl
    >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)])
    >>> nnctl.models.clone_model(model).count_params()
    8
    """
    if input_tensors is not None or clone_function is not None:
        raise NotImplementedError("clone_model: input_tensors and clone_function are not "
                                  "supported by nnctl")
    return _fresh(from_spec(model.to_spec(), seed=model.seed))


def save_model(model, filepath, overwrite=True, **kwargs) -> None:
    """`model.save(filepath)`, as `keras.models.save_model`.

    >>> import nnctl
    >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)])
    >>> nnctl.models.save_model(model, "model.keras")
    """
    model.save(filepath, overwrite=overwrite, **kwargs)
