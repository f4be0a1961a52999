"""Keras model configs (`model.to_json()`, a `.keras` archive's config.json, an `.h5`'s
`model_config`) <-> nnctl spec dicts (docs/keras-files.md).

Generic over the layer registry: a Keras layer's config keys are nnctl's argument names
already, so a layer type added to nnctl.layers is read and written here without new code.
Keras 3 and Keras 2 (tf.keras) configs are both read; Keras 3 configs are written.

Reading runs no code: Lambda layers (Python bytecode), custom classes and objects from a
`module` that is not Keras' are refused with one line before anything else is done with them.
Nested models (a model used as a layer) are flattened: their layers join the outer model
under their own names, wired to what the nested model was called on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from nnctl.errors import SpecError
from nnctl.model import call_node_name

MODEL_CLASSES = ("Sequential", "Functional", "Model")
INPUT_CLASS = "InputLayer"
MASK_OP_CLASS = "NotEqual"   # Keras 3 traces Embedding(mask_zero=True)'s mask as this operation
STEPS_OP_CLASS = "Any"       # ... and Masking's as Any(NotEqual(x, mask_value), axis=-1)
# Keras operations between tensors that compute what the merge layer of the same name does
# (`a + b` in a functional model is ops.add: an `Add` of keras.src.ops.numpy), read as it
MERGE_OPS = ("Add", "Subtract", "Multiply", "Maximum", "Minimum", "Concatenate")
# Keras-only config keys that change nothing at inference whatever their value
IGNORED_KEYS = {"synchronized", "renorm_momentum", "renorm_clipping", "autocast", "input_length",
                "build_config", "compile_config", "shared_object_id", "input_shape",
                # set by Bidirectional on its halves, as nnctl's Bidirectional does
                "zero_output_for_mask",
                # tf.keras 2's LSTM/GRU: how the gates' products are grouped (same numbers)
                "implementation"}
# Keras-only config keys that change nothing while they hold their default (False / None)
# metadata.json's keras_version; the configs are written as Keras 3.15 writes them, which
# Keras 3.3 cannot load (a Functional model's, a recurrent layer's), whoever wrote the file
KERAS_VERSION_WRITTEN = "3.0.0"
FLOAT_POLICIES = ("float32", "float64")


@dataclass(frozen=True)
class MaskOp:
    """A `NotEqual(tensor, value)` operation of a Keras 3 functional config: how Keras records
    the mask of `Embedding(mask_zero=True)` (`tensor != 0`) that it passes as `mask=`."""

    name: str
    input: str                 # the ref (in the graph) of the tensor it compares
    value: object              # what it is compared with
    steps: bool = False        # reduced by Any over the last axis: Masking's mask
    compared_by: str = ""      # steps: the NotEqual's name

@dataclass
class KerasLayer:
    """One layer of a Keras model as nnctl will see it (nested models already flattened)."""

    name: str
    class_name: str
    args: dict                 # nnctl arguments (Keras names), `trainable`/`dtype` included
    inbound: list[str]         # names of the layers or inputs it is called on
    weights_path: str          # its group in a Keras 3 weights file: "layers/dense_1"
    legacy_group: str          # its top-level group in a Keras 2 .h5 ("model_weights/NAME")


@dataclass
class KerasGraph:
    """A Keras model read from its config, before it becomes an nnctl spec."""

    name: str
    sequential: bool
    inputs: dict[str, tuple]                   # input name -> (shape of one sample, dtype)
    layers: list[KerasLayer] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    # a shared layer's later calls: (layer name, the refs it is called on), in call order
    calls: list[tuple[str, list[str]]] = field(default_factory=list)
    # the explicit `mask=` of a layer's call: node name (`lstm`, a later call `lstm[1]`) ->
    # the NotEqual it reads (checked against nnctl's own masks by nnctl.kerasfile.masks)
    masks: dict[str, MaskOp] = field(default_factory=dict)
    # each input's fixed batch size (Input(batch_size=8); a Sequential built by fit) or None
    batch_sizes: list = field(default_factory=list)

    def is_chain(self) -> bool:
        """Each layer reads the one before it (the first, the one input), once: what a
        Sequential spec can say. A Sequential holding a Functional block with branches is,
        once flattened, not one."""
        previous = list(self.inputs)
        if len(previous) != 1 or self.calls:
            return False
        for layer in self.layers:
            if layer.inbound != previous:
                return False
            previous = [layer.name]
        return self.outputs == previous

    def spec(self) -> dict:
        """The nnctl spec dict (docs/spec.md) of this model."""
        dtypes = {layer.args.get("dtype", "float32") for layer in self.layers}
        model_dtype = "float64" if dtypes == {"float64"} else "float32"
        layers = []
        for layer in self.layers:
            entry = {"type": layer.class_name, "name": layer.name}
            if not self.sequential:
                entry["inputs"] = layer.inbound[0] if len(layer.inbound) == 1 else layer.inbound
            args = dict(layer.args)
            if args.get("dtype") == model_dtype:
                del args["dtype"]
            entry.update(args)
            layers.append(entry)
        for name, inbound in self.calls:
            layers.append({"call": name, "inputs": inbound[0] if len(inbound) == 1 else inbound})
        spec: dict = {"name": self.name}
        inputs = {name: _input_entry(shape, dtype) for name, (shape, dtype) in self.inputs.items()}
        if self.sequential:
            spec["input"] = next(iter(inputs.values()))
        else:
            spec["inputs"] = inputs
        spec["layers"] = layers
        if not self.sequential:
            spec["outputs"] = list(self.outputs)
        if self.masks:
            spec["mask_names"] = self.mask_names()
        if model_dtype != "float32":
            spec["dtype"] = model_dtype
        if len(set(self.batch_sizes)) == 1 and self.batch_sizes[0] is not None:
            spec["batch_size"] = self.batch_sizes[0]   # as Keras shows it in the summary
        return spec


    def mask_names(self) -> dict[str, str | list[str]]:
        """Each NotEqual's name by the Embedding (call) whose mask it is: the first masking
        Embedding on the tensor it compares (two on one tensor have equal masks); a Masking
        layer's NotEqual and Any names."""
        embeddings = [(layer.name, layer.inbound[0]) for layer in self.layers
                      if layer.class_name == "Embedding" and layer.args.get("mask_zero")]
        masking = {name for name, _ in embeddings}
        calls: dict[str, int] = {}
        for name, inbound in self.calls:
            calls[name] = calls.get(name, 0) + 1
            if name in masking:
                embeddings.append((f"{name}[{calls[name]}]", inbound[0]))
        names: dict[str, str | list[str]] = {}
        for op in {op.name: op for op in self.masks.values()}.values():
            if op.steps:   # a Masking's: [its NotEqual, its Any]
                owner = next((layer.name for layer in self.layers
                              if layer.class_name == "Masking" and layer.inbound[0] == op.input
                              and layer.args.get("mask_value", 0.0) == op.value
                              and layer.name not in names), None)
                if owner is not None:
                    names[owner] = [op.compared_by, op.name]
                continue
            owner = next((e for e, tensor in embeddings
                          if tensor == op.input and e not in names), None)
            if owner is not None:
                names[owner] = op.name
        return names


def _input_entry(shape, dtype):
    shape = list(shape)
    return shape if dtype in FLOAT_POLICIES else {"shape": shape, "dtype": dtype}


# --- Keras config -> nnctl -------------------------------------------------------------------

def keras_config_to_graph(config, source: str | None = None) -> KerasGraph:
    """A Keras model config (the parsed JSON of `model.to_json()`) -> a KerasGraph.

    Raises SpecError (one line naming the layer and its Keras class) for what nnctl cannot
    represent faithfully.
    """
    reader = _Reader(source)
    if not isinstance(config, dict) or "class_name" not in config:
        raise reader.error("not a Keras model config (a JSON object with `class_name` and "
                           "`config`, as model.to_json() writes)")
    reader.check_object(config, "the model")
    if config["class_name"] not in MODEL_CLASSES:
        raise reader.error(f"the file holds a {config['class_name']}, not a Keras model "
                           f"({', '.join(MODEL_CLASSES)})")
    graph = KerasGraph(name="", sequential=config["class_name"] == "Sequential", inputs={})
    graph.name = reader.add_model(graph, config, weights_path="", legacy_group=None,
                                  called_on=None)[0]
    reader.check_unique(graph)
    graph.sequential = graph.sequential and graph.is_chain()   # else written as a graph
    return graph


class _Reader:
    def __init__(self, source):
        self.source = source
        self.node_counts: dict[str, int] = {}   # a shared layer's name -> its calls
        self.model_calls: dict[str, list] = {}  # a nested model called again -> outputs per call
        self.replaying = 0        # > 0: a nested model's layers are being called again
        self.calls_made: dict[str, int] = {}    # layer name -> further calls made so far

    def error(self, message: str) -> SpecError:
        return SpecError(message, source=self.source)

    # --- objects and their provenance --------------------------------------------------
    def check_object(self, obj: dict, what: str, layer: bool = False) -> None:
        """Refuse a serialized object that is not one of Keras' own classes (layer: an entry
        of a model's `layers`, whose refusal lists the layers nnctl has)."""
        from nnctl import layers as registry

        hint = f". Supported layers: {', '.join(registry.LAYERS.names())}" if layer else ""
        module = obj.get("module")
        class_name = obj.get("class_name")
        registered = obj.get("registered_name")
        if not isinstance(class_name, str):
            raise self.error(f"{what}: `class_name` must be a string, got {class_name!r}")
        if module is not None and not _is_keras_module(module):
            raise self.error(f"{what}: class {class_name} comes from module {module!r}, which "
                             "is not Keras'; nnctl reads only Keras' own classes and runs no "
                             f"code from a file{hint}")
        if registered not in (None, class_name, "function") and ">" in str(registered):
            raise self.error(f"{what}: {registered!r} is a custom (registered) class; nnctl "
                             f"reads only Keras' own classes and runs no code from a file{hint}")

    # --- models ------------------------------------------------------------------------
    def add_model(self, graph: KerasGraph, model: dict, weights_path: str,
                  legacy_group: str | None, called_on: list[str] | None,
                  outer_trainable: bool = True):
        """Add a (possibly nested) model's layers to `graph`; returns (its name, its outputs).

        called_on: for a nested model, the names its inputs are bound to in the outer graph.
        """
        config = model.get("config")
        if isinstance(config, list) and model.get("class_name") == "Sequential":
            config = {"layers": config}   # Keras 2.0-2.2 wrote a Sequential as its layer list
        if not isinstance(config, dict):
            raise self.error(f"model {model.get('class_name')}: `config` must be an object")
        name = config.get("name") or model.get("class_name", "model").lower()
        trainable = outer_trainable and config.get("trainable", True) is not False
        if model["class_name"] == "Sequential":
            outputs = self.add_sequential(graph, config, name, weights_path, legacy_group,
                                          called_on, trainable)
        else:
            outputs = self.add_functional(graph, config, name, weights_path, legacy_group,
                                          called_on, trainable)
        if config.get("dtype") is not None:   # after its layers: a refusal names the layer
            self.policy(config["dtype"], f"model '{name}'")
        if called_on is None:
            graph.outputs = outputs
        return name, outputs

    def add_sequential(self, graph, config, name, weights_path, legacy_group, called_on,
                       trainable):
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise self.error(f"model '{name}': `layers` must be a list")
        shape, dtype, batch = None, "float32", None
        input_name = "input_layer"
        body = []
        for entry in layers:
            if not isinstance(entry, dict):
                raise self.error(f"model '{name}': a layer must be an object, got {entry!r}")
            self.check_object(entry, _entry_where(name, entry), layer=True)
            if entry.get("class_name") == INPUT_CLASS:
                shape, dtype = self.input_shape(entry.get("config") or {}, name)
                batch = _batch_size(entry.get("config") or {})
                input_name = (entry.get("config") or {}).get("name", input_name)
                continue
            body.append(entry)
        if shape is None and body:
            first = body[0].get("config") or {}
            for key in ("batch_shape", "batch_input_shape"):
                if first.get(key) is not None:
                    shape, dtype = self.input_shape(first, name)
                    batch = _batch_size(first)
        if shape is None and isinstance(config.get("build_input_shape"), list):
            # built by model.build() or by its first call (fit: the batch size Keras shows)
            shape = self.shape(config["build_input_shape"], name)
            batch = _batch_size({"batch_shape": config["build_input_shape"]})
        if not body:
            raise self.error(f"model '{name}' has no layers")
        if called_on is None:
            if shape is None:
                raise self.error(f"model '{name}': the Sequential model has no input shape (it "
                                 "was never built); nnctl needs one: save it after "
                                 "model.build() or with an Input")
            graph.inputs[input_name] = (shape, dtype)
            graph.batch_sizes.append(batch)
            previous = [input_name]
        else:
            previous = list(called_on)
        counters: dict[str, int] = {}
        for entry in body:
            path = child_group(weights_path, entry["class_name"], counters)
            previous = self.add_layer(graph, entry, previous, path,
                                      legacy_group or _layer_name(entry), trainable)
        return previous

    def add_functional(self, graph, config, name, weights_path, legacy_group, called_on,
                       trainable):
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise self.error(f"model '{name}': `layers` must be a list")
        input_names = [ref[0] for ref in self.tensor_refs(config.get("input_layers"), name)]
        output_refs = self.tensor_refs(config.get("output_layers"), name)
        if called_on is not None and len(called_on) != len(input_names):
            raise self.error(f"model '{name}' takes {len(input_names)} inputs, called on "
                             f"{len(called_on)}")
        # a name in this model -> the refs of its outputs in `graph` (`lstm[1]` for the second
        # output of a layer of several)
        alias: dict[str, list[str]] = {}
        counters: dict[str, int] = {}
        calls = []      # a shared layer's later calls, read once every layer is known
        for entry in layers:
            if not isinstance(entry, dict):
                raise self.error(f"model '{name}': a layer must be an object, got {entry!r}")
            self.check_object(entry, _entry_where(name, entry), layer=True)
            layer_name = _layer_name(entry)
            path = child_group(weights_path, entry["class_name"], counters)
            if entry["class_name"] == INPUT_CLASS:
                if called_on is None:
                    graph.inputs[layer_name] = self.input_shape(entry.get("config") or {},
                                                                layer_name)
                    graph.batch_sizes.append(_batch_size(entry.get("config") or {}))
                    alias[layer_name] = [layer_name]
                elif layer_name in input_names:
                    alias[layer_name] = [called_on[input_names.index(layer_name)]]
                continue
            if str(entry.get("module", "")).startswith("keras.src.ops") and \
                    entry["class_name"] not in (MASK_OP_CLASS, STEPS_OP_CLASS, *MERGE_OPS):
                raise self.error(f"layer '{layer_name}' ({entry['class_name']}): a Keras "
                                 "operation (an operator or keras.ops call in the model, as "
                                 "a / b, or one Keras traces for a mask merged from masked "
                                 "sequences); nnctl reads none but NotEqual and Any (the masks "
                                 "of Embedding(mask_zero=True) and Masking) and those of merge "
                                 f"layers between tensors ({', '.join(MERGE_OPS)}); for "
                                 "another computation, use a layer (docs/keras-files.md)")
            nodes = self.inbound_nodes(entry, layer_name)
            if entry["class_name"] == MASK_OP_CLASS:
                alias[layer_name] = [self.mask_op(entry, layer_name, alias)]
                continue
            if entry["class_name"] == STEPS_OP_CLASS:
                alias[layer_name] = [self.steps_op(entry, layer_name, alias)]
                continue
            inbound = [self.resolve(alias, ref, layer_name) for ref in nodes[0][0]]
            self.record_mask(graph, alias, nodes[0][1], layer_name, entry["class_name"],
                             self.call_name(layer_name))
            alias[layer_name] = self.add_layer(graph, entry, inbound, path,
                                               legacy_group or layer_name, trainable)
            if len(nodes) > 1 and self.replaying:
                raise self.error(f"layer '{layer_name}' is called {len(nodes)} times inside "
                                 f"model '{name}', which is itself called more than once; "
                                 "nnctl reads one of the two, not both")
            if len(nodes) > 1:
                self.node_counts[layer_name] = len(nodes)
            if len(nodes) > 1 and entry["class_name"] in MODEL_CLASSES:
                # a nested model called again: its layers are called again (shared layers)
                self.model_calls[layer_name] = [alias[layer_name]]
                for refs, mask in nodes[1:]:
                    self.record_mask(graph, alias, mask, layer_name, entry["class_name"], None)
                    again = [self.resolve(alias, ref, layer_name) for ref in refs]
                    self.replaying += 1
                    self.model_calls[layer_name].append(self.add_layer(
                        graph, entry, again, path, legacy_group or layer_name, trainable))
                    self.replaying -= 1
            elif len(nodes) > 1:
                calls += [(layer_name, refs, mask, index)
                          for index, (refs, mask) in enumerate(nodes[1:], 1)]
        for layer_name, refs, mask, index in calls:
            self.record_mask(graph, alias, mask, layer_name, "", call_node_name(layer_name, index))
            graph.calls.append((layer_name, [self.resolve(alias, ref, layer_name)
                                             for ref in refs]))
        if called_on is None:   # the model's inputs in Keras' order (model.inputs)
            missing = [n for n in input_names if n not in graph.inputs]
            if missing:
                raise self.error(f"model '{name}': input '{missing[0]}' is not among its layers")
            graph.inputs = {n: graph.inputs[n] for n in input_names}
        return [self.resolve(alias, ref, name) for ref in output_refs]

    def resolve(self, alias, ref, where: str) -> str:
        """A Keras tensor reference [layer, node, tensor] as a ref of `graph`: a shared
        layer's later call's output is `name[node][tensor]`."""
        layer, node, k = ref[0], ref[1], ref[2]
        if layer not in alias:
            raise self.error(f"'{where}' reads '{layer}', which is not among the layers "
                             "before it")
        if k >= len(alias[layer]):
            raise self.error(f"'{where}' reads output {k} of '{layer}', which has "
                             f"{len(alias[layer])}")
        if isinstance(alias[layer][0], MaskOp):
            raise self.error(f"'{where}' reads '{layer}' ({MASK_OP_CLASS}) as data; nnctl reads "
                             f"a {MASK_OP_CLASS} only as the mask of Embedding(mask_zero=True), "
                             "passed as mask=")
        if node == 0:
            return alias[layer][k]
        if node >= self.node_counts.get(layer, 1):
            raise self.error(f"'{where}' reads call {node + 1} of '{layer}', which is called "
                             f"{self.node_counts.get(layer, 1)} time(s)")
        if layer in self.model_calls:
            return self.model_calls[layer][node][k]
        return f"{layer}[{node}][{k}]"

    # --- masks -------------------------------------------------------------------------
    def mask_op(self, entry: dict, name: str, alias) -> MaskOp:
        """A NotEqual node: `[tensor, value]`, value a number (Embedding's mask: 0)."""
        node = entry["inbound_nodes"][0] if len(entry["inbound_nodes"]) == 1 else None
        args = node.get("args") if isinstance(node, dict) else None
        if not (isinstance(args, list) and len(args) == 2 and
                isinstance(args[0], dict) and args[0].get("class_name") == "__keras_tensor__"
                and isinstance(args[1], (int, float)) and not isinstance(args[1], bool)):
            raise self.error(f"layer '{name}' ({MASK_OP_CLASS}): nnctl reads a {MASK_OP_CLASS} "
                             "of one tensor and a number (the mask of Embedding(mask_zero=True)),"
                             f" got {_short(args)}")
        (ref,) = _keras_tensors(args[0])
        return MaskOp(name, self.resolve(alias, ref, name), args[1])

    def steps_op(self, entry: dict, name: str, alias) -> MaskOp:
        """An Any node: Masking's mask, `any(x != mask_value, axis=-1)`, of a NotEqual."""
        node = entry["inbound_nodes"][0] if len(entry["inbound_nodes"]) == 1 else None
        args = node.get("args") if isinstance(node, dict) else None
        config = entry.get("config") or {}
        tensors = list(_keras_tensors(args)) if isinstance(args, list) and len(args) == 1 else []
        source = alias.get(tensors[0][0]) if len(tensors) == 1 else None
        if not (source and isinstance(source[0], MaskOp) and not source[0].steps
                and config.get("axis") in (-1, [-1]) and not config.get("keepdims")):
            raise self.error(f"layer '{name}' ({STEPS_OP_CLASS}): nnctl reads an "
                             f"{STEPS_OP_CLASS} over the last axis of a {MASK_OP_CLASS} (the "
                             f"mask of Masking), got {_short(args)} with {_short(config)}")
        return MaskOp(name, source[0].input, source[0].value, steps=True,
                      compared_by=source[0].name)

    def call_name(self, layer_name: str) -> str:
        """The nnctl node name of this call of a layer (a nested model's layer called again:
        nnctl.model.call_node_name)."""
        if self.replaying:
            return call_node_name(layer_name, self.calls_made.get(layer_name, 0) + 1)
        return layer_name

    def record_mask(self, graph, alias, ref, layer_name, class_name, node_name) -> None:
        """Note the NotEqual a call reads as `mask=` (ref: its [layer, node, tensor])."""
        if ref is None:
            return
        source = alias.get(ref[0])
        if not source or not isinstance(source[0], MaskOp) or ref[1:3] != (0, 0):
            raise self.error(f"layer '{layer_name}' is called with mask= '{ref[0]}', which is "
                             f"not a {MASK_OP_CLASS}; nnctl reads only the mask of "
                             "Embedding(mask_zero=True) (docs/keras-files.md)")
        if class_name in MODEL_CLASSES:
            raise self.error(f"model '{layer_name}' is called with mask=; nnctl reads mask= "
                             "only on a layer")
        graph.masks[node_name or layer_name] = source[0]

    def add_layer(self, graph, entry, inbound, weights_path, legacy_group, trainable):
        """Add one layer (or flatten a nested model); returns the names of its outputs."""
        class_name = entry["class_name"]
        config = entry.get("config")
        if class_name in MODEL_CLASSES:
            return self.add_model(graph, entry, weights_path + "/", legacy_group, inbound,
                                  trainable)[1]
        name = _layer_name(entry)
        if not isinstance(config, dict):
            raise self.error(f"layer '{name}' ({class_name}): `config` must be an object")
        args = self.layer_args(name, class_name, config)
        if not trainable:
            args["trainable"] = False
        count = _output_count(class_name, name, args)
        if self.replaying:    # a layer of a nested model called again: a call of it
            call = self.calls_made[name] = self.calls_made.get(name, 0) + 1
            graph.calls.append((name, list(inbound)))
            return [f"{name}[{call}][{k}]" for k in range(count)]
        graph.layers.append(KerasLayer(name, class_name, args, list(inbound),
                                       weights_path.rstrip("/"), legacy_group))
        return [name] if count == 1 else [f"{name}[{k}]" for k in range(count)]

    # --- layers ------------------------------------------------------------------------
    def layer_args(self, name: str, class_name: str, config: dict) -> dict:
        from nnctl import layers as registry

        where = f"layer '{name}' ({class_name})"
        if class_name in ("Lambda", "TFOpLambda", "SlicingOpLambda"):
            raise self.error(f"{where}: a Lambda layer holds Python code; nnctl runs no code "
                             f"from a file. Supported layers: {', '.join(registry.LAYERS.names())}")
        if class_name not in registry.LAYERS:
            raise self.error(f"{where}: Keras class {class_name} is not supported by nnctl; "
                             f"supported layers: {', '.join(registry.LAYERS.names())}")
        cls = registry.get(class_name)
        if class_name == "Bidirectional":
            self.check_backward_layer(where, config)   # then read as `layer` run backwards
            config = {k: v for k, v in _wrapped_base_name(config).items()
                      if k != "backward_layer"}
        allowed = cls.arguments()
        args: dict = {}
        for key, value in config.items():
            if key in ("name",) or key in IGNORED_KEYS:
                continue
            key, value = _keras2_argument(class_name, key, value)
            if key == "trainable":
                if value is False:
                    args["trainable"] = False
            elif key == "dtype":
                policy = self.policy(value, where)
                if policy != "float32":
                    args["dtype"] = policy
            elif key in ("batch_shape", "batch_input_shape"):
                continue   # the model's input, read by add_sequential
            elif key in allowed:
                if key in cls.inert_args:
                    continue
                args[key] = self.value(value, f"{where}: `{key}`")
            elif value in (None, False, {}, []):
                continue
            else:
                supported = [k for k in allowed if k not in cls.inert_args]
                raise self.error(f"{where}: option {key}={_short(value)} changes what the layer "
                                 f"computes and is not supported; nnctl reads "
                                 f"{', '.join(supported) or 'no options'}")
        return _shortest(args, allowed)

    def check_backward_layer(self, where: str, config: dict) -> None:
        """A Bidirectional's backward_layer must be its layer run backwards (nnctl makes it so)."""
        forward, backward = config.get("layer"), config.get("backward_layer")
        if not isinstance(backward, dict) or not isinstance(forward, dict):
            return
        halves = [self.value(half, where) for half in (forward, backward)]
        for half in halves:
            if isinstance(half, dict):
                for key in ("name", "go_backwards"):
                    half.pop(key, None)
        if halves[0] != halves[1]:
            raise self.error(f"{where}: a backward_layer that differs from the forward layer is "
                             "not supported; nnctl runs `layer` both ways")

    def value(self, value, where: str):
        """A config value with Keras-serialized objects as nnctl mappings."""
        from nnctl import layers as registry

        if isinstance(value, dict):
            if list(value) == ["value"] and isinstance(value["value"], list):
                # Keras' serialize_keras_object of a Python function (a lambda): bytecode
                raise self.error(f"{where}: a Python function stored as bytecode (a lambda, "
                                 "e.g. an activation with arguments); nnctl runs no code from a "
                                 "file: give the activation by name, or use an activation layer "
                                 "(LeakyReLU, ReLU, ELU, ...)")
            if value.get("class_name") == "__tuple__":
                return [self.value(v, where) for v in value.get("items", [])]
            if "class_name" in value:
                self.check_object(value, where)
                inner = value.get("config")
                if value["class_name"] in registry.LAYERS and isinstance(inner, dict):
                    name = inner.get("name") or snake_case(value["class_name"])
                    return {"type": value["class_name"], "name": name,
                            **self.layer_args(name, value["class_name"], inner)}
                if value["class_name"] == "function" or isinstance(inner, str):
                    return inner   # a Keras function (an activation) by its name
                if inner is None:
                    inner = {}
                if not isinstance(inner, dict):
                    raise self.error(f"{where}: `config` of {value['class_name']} must be an "
                                     "object")
                return {"type": value["class_name"],
                        **{k: self.value(v, where) for k, v in inner.items()}}
            return {k: self.value(v, where) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, where) for v in value]
        return value

    def policy(self, value, where: str) -> str:
        """The dtype policy's name; mixed precision and non-float policies are refused."""
        name = value
        if isinstance(value, dict):
            self.check_object(value, where)
            inner = value.get("config") or {}
            name = inner.get("name") if isinstance(inner, dict) else None
        if name is None:
            return "float32"
        if name not in FLOAT_POLICIES:
            kind = "mixed precision" if str(name).startswith("mixed") else "dtype"
            raise self.error(f"{where}: {kind} policy {name!r} is not supported; nnctl computes "
                             "in float32 or float64")
        return name

    def input_shape(self, config: dict, where: str):
        shape = config.get("batch_shape", config.get("batch_input_shape"))
        if shape is None:
            raise self.error(f"input '{where}' has no `batch_shape`")
        dtype = config.get("dtype") or "float32"
        if isinstance(dtype, dict):
            dtype = self.policy(dtype, f"input '{where}'")
        return self.shape(shape, where), dtype

    def shape(self, batch_shape, where: str) -> list:
        if isinstance(batch_shape, dict) and batch_shape.get("class_name") == "__tuple__":
            batch_shape = batch_shape.get("items")
        if not isinstance(batch_shape, list) or len(batch_shape) < 2 or not all(
                d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                for d in batch_shape):
            raise self.error(f"'{where}': a batch shape is a list like [null, 3], got "
                             f"{_short(batch_shape)}")
        return list(batch_shape[1:])

    def inbound_nodes(self, entry: dict, name: str) -> list[tuple[list[tuple], tuple | None]]:
        """The tensor refs of each call of a functional layer (several: a shared layer), and
        the ref of the `mask=` it is called with (or None)."""
        nodes = entry.get("inbound_nodes")
        if not isinstance(nodes, list) or not nodes:
            raise self.error(f"layer '{name}' is not connected (no `inbound_nodes`)")
        return [self.inbound(entry, name, node) for node in nodes]

    def inbound(self, entry: dict, name: str, node) -> tuple[list[tuple], tuple | None]:
        """The refs one call of a layer reads (Keras 3 and Keras 2 node formats), and its
        `mask=` ref (Keras 3 records the mask a layer is called with; Keras 2 does not)."""
        mask = None
        if isinstance(node, dict):   # Keras 3: {"args": [...], "kwargs": {...}}
            kwargs = node.get("kwargs") or {}
            extra = {k: v for k, v in kwargs.items() if v not in (None, False)}
            if "mask" in extra:
                masks = list(_keras_tensors(extra.pop("mask")))
                if len(masks) != 1:
                    raise self.error(f"layer '{name}' ({entry['class_name']}) is called with "
                                     "mask= that is not one tensor; nnctl reads only the mask "
                                     "of Embedding(mask_zero=True)")
                mask = masks[0]
                self.check_ref(mask, name)
            if extra:
                raise self.error(f"layer '{name}' ({entry['class_name']}) is called with "
                                 f"{', '.join(extra)}=...; nnctl supports a plain call")
            number = next(_numbers(node.get("args")), None)
            if number is not None and entry["class_name"] != MASK_OP_CLASS:   # `x * 2.0`
                raise self.error(f"layer '{name}' ({entry['class_name']}) is called with the "
                                 f"number {number!r}; nnctl reads calls on tensors only (for "
                                 "`x * 2.0` or `x + 1` in a model, use a layer: Rescaling)")
            refs = list(_keras_tensors(node.get("args")))
        else:                        # Keras 2: [[layer, node, tensor, kwargs], ...]
            refs = [tuple(r[:3]) for r in node if isinstance(r, list) and len(r) >= 3]
        if not refs:
            raise self.error(f"layer '{name}' is not called on any input")
        for ref in refs:
            self.check_ref(ref, name)
        return refs, mask

    def tensor_refs(self, refs, name):
        if isinstance(refs, dict):   # keras.Model({"text": t, ...}, ...): in Keras' flattened
            refs = [refs[key] for key in sorted(refs)]   # order (model.inputs), by key
        if not isinstance(refs, list) or not refs:
            raise self.error(f"model '{name}': `input_layers`/`output_layers` missing")
        if isinstance(refs[0], str):   # Keras 3 writes one input as [name, 0, 0]
            refs = [refs]
        for ref in refs:
            self.check_ref(ref, name)
        return refs

    def check_ref(self, ref, name) -> None:
        if not (isinstance(ref, (list, tuple)) and len(ref) >= 3 and isinstance(ref[0], str)):
            raise self.error(f"'{name}': a tensor reference is [layer, node, tensor], got "
                             f"{_short(ref)}")
        for k, what in ((1, "node"), (2, "output")):
            if not isinstance(ref[k], int) or isinstance(ref[k], bool) or ref[k] < 0:
                raise self.error(f"'{name}': bad {what} index {ref[k]!r} of '{ref[0]}'")

    def check_unique(self, graph: KerasGraph) -> None:
        seen = set(graph.inputs)
        for layer in graph.layers:
            if layer.name in seen:
                raise self.error(f"layer name '{layer.name}' is used twice once nested models "
                                 "are flattened; nnctl needs unique layer names")
            seen.add(layer.name)


def _wrapped_base_name(config: dict) -> dict:
    """Keras serializes a Bidirectional's layer as its forward half (`forward_lstm`); nnctl
    names the halves from the wrapped layer's name (`lstm` -> forward_lstm, backward_lstm)."""
    layer = config.get("layer")
    inner = layer.get("config") if isinstance(layer, dict) else None
    if isinstance(inner, dict) and str(inner.get("name", "")).startswith("forward_"):
        inner = {**inner, "name": inner["name"][len("forward_"):]}
        config = {**config, "layer": {**layer, "config": inner}}
    return config


def _shortest(args: dict, defaults: dict) -> dict:
    """Arguments as a person would write them: defaults left out, `glorot_uniform` for an
    initializer without arguments."""
    from nnctl import initializers

    result = {}
    for key, value in args.items():
        if key.endswith("initializer") and isinstance(value, dict) and \
                value.get("type") in initializers.INITIALIZERS and \
                all(v is None for k, v in value.items() if k != "type"):
            value = initializers.INITIALIZERS.canonical(value["type"])
        if key in defaults and (_same(value, defaults[key]) or
                                (key == "activation" and value == "linear" and
                                 defaults[key] is None)):
            continue
        result[key] = value
    return result


def _same(value, default) -> bool:
    if isinstance(default, tuple):
        default = list(default)
    if isinstance(value, str) and isinstance(default, str):
        from nnctl.naming import normalize_key

        return normalize_key(value) == normalize_key(default)
    return type(value) is type(default) and value == default or \
        (isinstance(value, float) and isinstance(default, float) and value == default)


def _output_count(class_name: str, name: str, args: dict) -> int:
    """How many tensors the layer returns (an LSTM with return_state: 3)."""
    from nnctl import layers as registry

    try:
        layer = registry.get(class_name).from_config(name, args)
    except (SpecError, TypeError, ValueError):
        return 1   # the spec reader reports the bad argument, at its key
    return getattr(layer, "n_outputs", 1)


def _keras_tensors(args):
    """(layer, node, tensor) of every __keras_tensor__ in a Keras 3 call's arguments."""
    if isinstance(args, dict):
        if args.get("class_name") == "__keras_tensor__":
            history = (args.get("config") or {}).get("keras_history")
            yield tuple(history) if isinstance(history, list) else (None, 0, 0)
        return
    if isinstance(args, list):
        for item in args:
            yield from _keras_tensors(item)


def _batch_size(config: dict) -> int | None:
    """The fixed batch size of an input's `batch_shape` (Keras 2: `batch_input_shape`)."""
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if isinstance(shape, dict):   # a Keras 2 __tuple__
        shape = shape.get("items")
    first = shape[0] if isinstance(shape, list) and shape else None
    return first if isinstance(first, int) and not isinstance(first, bool) and first > 0 \
        else None


def _numbers(args):
    """The numbers among a Keras 3 call's arguments (not inside its tensors)."""
    if isinstance(args, (int, float)) and not isinstance(args, bool):
        yield args
    elif isinstance(args, list):
        for item in args:
            yield from _numbers(item)


def _is_keras_module(module) -> bool:
    return isinstance(module, str) and (module == "keras" or module.startswith("keras.")
                                        or module in ("builtins",))


def _keras2_argument(class_name: str, key: str, value):
    """A tf.keras 2 argument as Keras 3 reads it: LeakyReLU's `alpha` is `negative_slope`.
    (A built BatchNormalization's axis, which tf.keras 2 saves as a list, `[3]`, is read as
    nnctl's axis anyway.)"""
    if class_name == "LeakyReLU" and key == "alpha":
        return "negative_slope", value
    return key, value


def _entry_where(model: str, entry: dict) -> str:
    """How a message names an entry of a model's `layers`: the layer and its class when they
    are readable, else the model."""
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
    if isinstance(name, str) and name and isinstance(entry.get("class_name"), str):
        return f"layer '{name}' ({entry['class_name']}) of model '{model}'"
    return f"model '{model}'"


def _layer_name(entry: dict) -> str:
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
    if not isinstance(name, str) or not name:
        raise SpecError(f"a {entry.get('class_name')} layer has no name")
    return name


def snake_case(class_name: str) -> str:
    """Keras' naming.to_snake_case: `BatchNormalization` -> `batch_normalization`."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def child_group(parent: str, class_name: str, counters: dict) -> str:
    """The group of a model's layer in a Keras 3 weights file: `layers/<snake class>[_N]`,
    numbered per class in the order of model.layers (keras.saving, _save_container_state)."""
    stem = snake_case(class_name)
    n = counters.get(stem)
    counters[stem] = 0 if n is None else n + 1
    unique = stem if n is None else f"{stem}_{n + 1}"
    return f"{parent}layers/{unique}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- nnctl -> Keras config -------------------------------------------------------------------

def model_to_keras_config(model) -> dict:
    """A built nnctl Model -> the Keras 3 config dict that `keras.saving.load_model` reads."""
    policy = _policy(model.dtype)
    if model.functional:
        layers = [_functional_entry(model, name) for name in model.layer_order]
        inputs = [[n, 0, 0] for n in model.input_names]
        outputs = [_history(model, name, k) for _, name, k in model.output_tensors(model.outputs)]
        config = {"name": model.name, "trainable": True, "layers": layers,
                  "input_layers": inputs[0] if len(inputs) == 1 else inputs,
                  "output_layers": outputs[0] if len(outputs) == 1 else outputs}
        return {"module": "keras.src.models.functional", "class_name": "Functional",
                "config": config, "registered_name": "Functional"}   # as Keras 3 writes it
    (input_name,) = model.input_names
    node = model.nodes[input_name]
    layers = [_input_entry_keras(node, model.spec.batch_size)] + [_layer_entry(model, n)
                                                                  for n in model.layers]
    batch_shape = [model.spec.batch_size, *node.shape]
    config = {"name": model.name, "trainable": True, "dtype": policy, "layers": layers,
              "build_input_shape": batch_shape}
    return {"module": "keras", "class_name": "Sequential", "config": config,
            "registered_name": None, "build_config": {"input_shape": batch_shape}}


def _policy(dtype: str) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def _input_entry_keras(node, batch_size: int | None) -> dict:
    return {"module": "keras.layers", "class_name": INPUT_CLASS,
            "config": {"batch_shape": [batch_size, *node.shape], "dtype": node.dtype,
                       "sparse": False, "name": node.name},
            "registered_name": None}


def _layer_entry(model, node) -> dict:
    layer = node.layer
    shapes = [[None, *model.nodes[i].shapes[k]] for i, k in zip(node.inbound, node.inbound_index)]
    entry = _serialized_layer(layer, node.name, node.dtype)
    entry["build_config"] = {"input_shape": shapes[0] if layer.arity == "one" else shapes}
    return entry


def _serialized_layer(layer, name: str, dtype: str) -> dict:
    """A layer object as Keras serializes one (a wrapped layer, e.g. Bidirectional's, too)."""
    from nnctl.layers.base import Layer

    config = {"name": name, "trainable": layer.trainable, "dtype": _policy(dtype)}
    if getattr(layer, "keras_takes_no_common", False):   # as Keras writes it (SpatialDropout2D)
        config = {"name": name, "dtype": dtype}
    for key in layer.arguments():
        if key in layer.inert_args or not hasattr(layer, key):
            continue
        value = getattr(layer, key)
        if isinstance(value, Layer):
            config[key] = _serialized_layer(value, value.name, dtype)
        else:
            config[key] = _keras_value(key, layer.config_value(key), name)
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": config,
            "registered_name": None}


def _functional_entry(model, name) -> dict:
    node = model.nodes[name]
    if node.layer is None:
        entry = _input_entry_keras(node, model.spec.batch_size)
        entry.update(name=name, inbound_nodes=[])
        return entry
    entry = _layer_entry(model, node)
    calls = []
    for call in model.calls(node):       # a shared layer: one inbound node per call
        tensors = [{"class_name": "__keras_tensor__",
                    "config": {"shape": [None, *model.nodes[i].shapes[k]],
                               "dtype": model.nodes[i].dtype,
                               "keras_history": _history(model, i, k)}}
                   for i, k in zip(call.inbound, call.inbound_index)]
        args = [tensors[0]] if node.layer.arity == "one" else [tensors]
        calls.append({"args": args, "kwargs": {}})
    entry.update(name=name, inbound_nodes=calls)
    return entry


def _history(model, name: str, index: int) -> list:
    """Keras' [layer, node index, tensor index] of output `index` of node `name`."""
    node = model.nodes[name]
    return [node.layer_name, node.call_index, index]


def _keras_value(key: str, value, layer: str):
    """An nnctl config value as Keras serializes it."""
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, dict) or "type" not in value:
        return value
    if key.endswith("initializer"):
        from nnctl import initializers

        init = initializers.get(value)
        return {"module": "keras.initializers", "class_name": type(init).__name__,
                "config": {k: _keras_value(k, v, layer) for k, v in init.arguments().items()
                           if v is not None},   # Keras' defaults; older Keras 3 lack some keys
                "registered_name": None}
    if "activation" in key:
        if len(value) == 1:
            return value["type"]
        arguments = ", ".join(f"{k}={v!r}" for k, v in value.items() if k != "type")
        raise SpecError(f"layer '{layer}': activation {value['type']} with {arguments} has no "
                        "Keras serialization (Keras stores an activation by name); use an "
                        "activation layer (LeakyReLU, ELU, ReLU, ...) instead")
    return {k: _keras_value(k, v, layer) for k, v in value.items()}
