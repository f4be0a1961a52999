"""The model engine: a graph of layers built from a spec, with shapes, weights and a forward pass.

`build_model(spec)` names the layers as Keras would, resolves each layer's inputs, rejects
cycles and dangling references, infers every output shape and lists every weight, all
without touching an array. `Model.forward` then runs batches through it with NumPy.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from nnctl.errors import DataError, NnctlError, ResourceError, SpecError, WeightsError
from nnctl.graphwalk import Cycle, ancestors, depth_first
from nnctl.layers import ArgError, WeightSpec, default_name, format_shape, get as get_layer_class
from nnctl.layers.base import Layer
from nnctl.naming import did_you_mean
from nnctl.spec import ModelSpec, read_spec


@dataclass
class Node:
    """One layer (or input) of the graph and the tensor it produces."""

    name: str
    layer: Layer | None              # None: a model input
    inbound: list[str]
    shape: tuple                     # output shape of one sample
    dtype: str
    weights: list[WeightSpec] = field(default_factory=list)
    path: tuple = ()                 # where the layer is in the spec
    # A layer of several outputs (an LSTM with return_state): the shape of each; `shape` is
    # the first's. `inbound_index` says which output of each inbound node is read.
    shapes: list[tuple] | None = None
    inbound_index: list[int] | None = None
    masked: bool = False             # its (first) output carries a mask (nnctl.masking)
    # A shared layer's later calls (`call: dense` in the spec) are nodes of their own, named
    # `dense@1`, `dense@2`... inside the engine (call_node_name; never shown: users write
    # Keras' `dense[1][0]`, see written_ref): `owner` is the first call's node, which holds
    # the weights (these nodes have none), and `call_index` is Keras' node index.
    owner: str | None = None
    call_index: int = 0
    shared_weights: list[WeightSpec] = field(default_factory=list)  # the first call's, if owned
    # What the layer computes where its declared (Keras') `shape` says otherwise: glu as its
    # activation halves an axis (Activation.computed_shape). None: `shape`.
    computed_shape: tuple | None = None

    def __post_init__(self):
        if self.shapes is None:
            self.shapes = [self.shape]
        if self.inbound_index is None:
            self.inbound_index = [0] * len(self.inbound)

    @property
    def values(self) -> int:
        """The values of one sample's output (the first output's, for a layer of several)."""
        return math.prod(d or 1 for d in self.computed_shape or self.shape)

    @property
    def layer_name(self) -> str:
        """The name of the layer this node calls (a shared layer's later calls: the first's)."""
        return self.owner or self.name

    @property
    def label(self) -> str:
        """The node in messages: `layer 'dense'`, a shared layer's call `call 2 of layer
        'dense' (`dense[1][0]`)` (call_label)."""
        return call_label(self.owner, self.call_index) if self.owner else f"layer '{self.name}'"

    @property
    def n_outputs(self) -> int:
        return len(self.shapes)

    @property
    def type_name(self) -> str:
        return "InputLayer" if self.layer is None else type(self.layer).__name__

    @property
    def params(self) -> int:
        return sum(math.prod(w.shape) for w in self.weights)

    @property
    def trainable_params(self) -> int:
        """Its layer's trainable weights, as Keras' layer.trainable_weights: none when the
        layer is frozen, even where its weights are not (a Bidirectional made with
        `trainable: false` around a trainable layer)."""
        if self.layer is not None and not self.layer.trainable:
            return 0
        return self.trainable_weight_params

    @property
    def trainable_weight_params(self) -> int:
        """The size of its weights that are trainable themselves (Keras' variables'
        `trainable`), which a model's totals count (Keras' model.trainable_weights)."""
        return sum(math.prod(w.shape) for w in self.weights if w.trainable)

    def layer_weights(self, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """This node's arrays out of a model's weights (`layer/weight`), by their short names
        (kernel, bias, ...): what its layer is called with."""
        specs = self.weights if self.owner is None else self.shared_weights
        return {w.name: weights[f"{self.layer_name}/{w.name}"] for w in specs}


class Model:
    """A built network: nodes in Keras' layer order, inputs and outputs by name."""

    def __init__(self, spec: ModelSpec, nodes: dict[str, Node], outputs: list[str],
                 warnings: list[str], order: list[str] | None = None):
        self.spec = spec
        self.name = spec.name
        self.functional = spec.functional
        self.dtype = spec.dtype
        self.nodes = nodes
        self.input_names = list(spec.inputs)
        self.outputs = outputs
        self.warnings = warnings
        # `order`: every node, inputs before the nodes that read them (Keras' display order
        # when no layer is shared); `layer_order`: each layer once (a shared layer as its
        # first call), in Keras' order of `model.layers`. A partial model keeps build order.
        if order is None:
            self.layer_order = keras_layer_order(self)
            if self.functional and any(node.masked for node in nodes.values()):
                from nnctl.masking import mask_operations, order_with_operations

                ops = mask_operations(self)[0]   # in Keras' graph: they move layers
                if ops:
                    self.layer_order = [name for name in order_with_operations(self, ops)
                                        if name in nodes]
            shared = any(node.owner for node in nodes.values())
            order = list(nodes) if shared else self.layer_order  # nodes: built in topological order
        else:
            self.layer_order = [name for name in order if nodes[name].owner is None]
        self.order = order

    # --- accounting ----------------------------------------------------------------------
    @property
    def layers(self) -> list[Node]:
        """The nodes in Keras' order; Sequential models leave out their input."""
        nodes = [self.nodes[n] for n in self.layer_order]
        return nodes if self.functional else [n for n in nodes if n.layer is not None]

    def calls(self, node: Node) -> list[Node]:
        """Every node that calls `node`'s layer, in call order: [node] unless it is shared."""
        return self._calls.get(node.layer_name, [node])

    @cached_property
    def _calls(self) -> dict[str, list[Node]]:
        calls: dict[str, list[Node]] = {}
        for node in sorted((n for n in self.nodes.values() if n.owner), key=lambda n: n.call_index):
            calls.setdefault(node.owner, [self.nodes[node.owner]]).append(node)
        return calls

    def weight_specs(self) -> dict[str, tuple[Node, WeightSpec]]:
        """`layer/weight` -> (node, spec), in layer order: the keys of a weights file."""
        return {f"{node.name}/{w.name}": (node, w)
                for node in self.layers for w in node.weights}

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(n.trainable_weight_params for n in self.layers)

    def input_shapes(self) -> dict[str, tuple]:
        return {name: self.nodes[name].shape for name in self.input_names}

    def inbound_values(self, node: Node, values: dict) -> list:
        """What a node reads, out of `values` (node name -> its output, a list for a layer of
        several outputs: arrays, or the Python API's tensors)."""
        return [values[i] if self.nodes[i].n_outputs == 1 else values[i][k]
                for i, k in zip(node.inbound, node.inbound_index)]

    def layer_inputs(self, node: Node, values: dict) -> list[np.ndarray]:
        """The arrays a node's layer is called on (inbound_values), in the node's dtype unless
        its layer takes integers."""
        args = self.inbound_values(node, values)
        if getattr(node.layer, "takes_integers", False):
            return args
        return [a if a.dtype == node.dtype else a.astype(node.dtype) for a in args]

    def inbound_shapes(self, node: Node) -> list[tuple]:
        """The shapes of the tensors a node is called on."""
        return inbound_shapes(self.nodes, node)

    def needed(self, refs) -> set[str]:
        """The nodes on the way to `refs` (references as split_ref reads them), these included."""
        return needed_nodes(self.nodes, refs)

    def steps(self, refs) -> list[str]:
        """The nodes on the way to `refs`, in the model's order: each after those it reads."""
        needed = self.needed(refs)
        return [name for name in self.order if name in needed]

    def resolve(self, ref: str) -> tuple[str, int | None]:
        """A reference as (node, output index): split_ref."""
        return split_ref(ref)

    def written(self, name: str, index: int | None = None) -> str:
        """Output `index` of node `name` as users write it: written_ref."""
        return written_ref(self.nodes[name], index)

    def output_tensors(self, refs) -> list[tuple[str, str, int]]:
        """(name as written, node, output index) of each tensor `refs` names: a layer of
        several outputs named alone gives one per output (`lstm[0][0]`, `lstm[0][1]`...;
        a shared layer's call `lstm[1][0]`, `lstm[1][1]`...)."""
        tensors = []
        for ref in refs:
            name, index = split_ref(ref)
            node = self.nodes[name]
            if index is not None or node.n_outputs == 1:
                written = ref if node.owner is None else written_ref(node, index or 0)
                tensors.append((written, name, index or 0))
            else:
                tensors += [(written_ref(node, k, full=True), name, k)
                            for k in range(node.n_outputs)]
        return tensors

    def values_per_sample(self) -> int:
        """The values of one sample's layer outputs, and the most any one layer holds while
        it runs (Layer.scratch_values: a recurrent layer's projection of every step)."""
        values = sum(node.values for node in self.nodes.values())
        return values + max((node.layer.scratch_values(self.inbound_shapes(node))
                             for node in self.nodes.values() if node.layer is not None),
                            default=0)

    # --- weights -------------------------------------------------------------------------
    def init_weights(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Every weight drawn from its initializer; each depends only on the seed and its name."""
        from nnctl.initializers import weight_rng

        weights = {}
        for key, (node, w) in self.weight_specs().items():
            rng = weight_rng(seed, node.name, w.name)
            argument = f"{w.name}_initializer"
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # said below, in one line
                    weights[key] = np.asarray(w.initializer(w.shape, dtype=node.dtype, rng=rng),
                                              dtype=node.dtype)
            except ResourceError as exc:  # too large to draw: say which layer, where
                raise self.spec.locate(ResourceError(
                    f"layer '{node.name}': weight '{w.name}': {exc.message}"),
                    node.path + (argument,)) from None
            if not np.isfinite(weights[key]).all():
                raise self.spec.error(
                    f"layer '{node.name}': weight '{w.name}' drawn from its initializer is not "
                    f"finite (values beyond {np.finfo(node.dtype).max:.3g}, the largest "
                    f"{node.dtype}): make its `{argument}` smaller", node.path + (argument,))
        return weights

    def check_weights(self, weights: dict[str, np.ndarray], source: str = "weights") -> dict:
        """The weights this model needs, in its dtypes; missing/extra/mis-shaped ones are errors."""
        expected = self.weight_specs()
        for key, (node, w) in expected.items():
            if key not in weights:
                raise WeightsError(f"layer '{node.name}': weight '{w.name}' is missing "
                                   f"(expected shape {tuple(w.shape)})", source=source)
            got = tuple(np.shape(weights[key]))
            if got != tuple(w.shape):
                raise WeightsError(f"layer '{node.name}': weight '{w.name}' has shape {got}, "
                                   f"expected {tuple(w.shape)}", source=source)
        extra = [k for k in weights if k not in expected]
        if extra:
            layer, _, weight = extra[0].partition("/")
            hint = did_you_mean(extra[0], list(expected))
            raise WeightsError(f"unexpected weight '{extra[0]}' (layer '{layer}', weight "
                               f"'{weight}', shape {tuple(np.shape(weights[extra[0]]))}) not "
                               f"in the model{hint}", source=source)
        with np.errstate(over="ignore"):  # float64 weights beyond float32 become inf, silently
            return {k: np.asarray(weights[k], dtype=expected[k][0].dtype) for k in expected}

    # --- running -------------------------------------------------------------------------
    def forward(self, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray],
                outputs: list[str] | None = None,
                masks: dict | None = None) -> dict[str, np.ndarray]:
        """Run a batch: input name -> (batch, *shape) array; returns output -> array.

        `outputs` may name any layers (to tap intermediate results), or one output of a layer
        of several (`lstm[0][1]`, `lstm[1]`); default: the model's. A layer of several outputs
        named alone gives the list of its outputs. `masks`, when given, receives the mask of
        every node that carries one (nnctl.masking), for the backward pass.
        """
        wanted = list(outputs or self.outputs)
        targets = [self.resolve(ref) for ref in wanted]
        wanted_nodes = {name for name, _ in targets}
        steps = self.steps(wanted_nodes)
        remaining_uses = self._uses(steps)
        values: dict[str, object] = {}
        masks = {} if masks is None else masks
        masked = self.masked   # once: it looks at every node
        for name in steps:
            node = self.nodes[name]
            if node.layer is None:
                values[name] = model_input(node, inputs[name])
                continue
            args = self.layer_inputs(node, values)
            layer_weights = node.layer_weights(weights)
            if masked:
                from nnctl.masking import call_masked

                values[name], masks[name] = call_masked(self, node, args, layer_weights, masks)
            else:
                values[name] = node.layer.call(args, layer_weights)
            for i in node.inbound:  # free what no later layer needs
                remaining_uses[i] -= 1
                if remaining_uses[i] == 0 and i not in wanted_nodes:
                    del values[i]
        return {ref: values[name] if index is None or self.nodes[name].n_outputs == 1
                else values[name][index] for ref, (name, index) in zip(wanted, targets)}

    @cached_property
    def masked(self) -> bool:
        """Whether any tensor carries a mask (from `Embedding(mask_zero=True)`); looked at
        once (the ONNX lowering asks per layer: per layer, it made export quadratic)."""
        return any(node.masked for node in self.nodes.values())

    def _uses(self, needed) -> dict[str, int]:
        """How many of the nodes `needed` read each one's output."""
        uses = {name: 0 for name in needed}
        for name in needed:
            for i in self.nodes[name].inbound:
                uses[i] += 1
        return uses

    def __repr__(self):
        return (f"Model(name={self.name!r}, layers={len(self.layers)}, "
                f"params={self.total_params})")


REFERENCE = re.compile(r"^(.+?)(?:\[(\d+)\])?(?:\[(\d+)\])?$")


def split_ref(ref: str) -> tuple[str, int | None]:
    """`lstm` -> ("lstm", None); `lstm[1]` and Keras' `lstm[0][1]` -> ("lstm", 1); Keras'
    `dense[2][0]` (output 0 of the third call of a shared layer) -> ("dense[2]", 0)."""
    name, first, second = REFERENCE.match(ref).groups()
    if second is not None:
        return call_node_name(name, int(first)), int(second)
    return name, (int(first) if first is not None else None)


def call_label(layer: str, call_index: int) -> str:
    """A shared layer's call in messages, as the spec writes it: its output `dense[1][0]`."""
    return f"call {call_index + 1} of layer '{layer}' (`{layer}[{call_index}][0]`)"


def names_node(ref: str, nodes, calls=None) -> bool:
    """Whether reference `ref` names a node of `nodes` (node name -> Node; or names, and
    `calls` the names of calls' nodes, when the nodes are not built yet): a call's node only
    as Keras writes it, `dense[1][0]`, never by the engine's own name for it (`dense@1`)."""
    name, _ = split_ref(ref)
    if name not in nodes:
        return False
    is_call = nodes[name].owner is not None if calls is None else name in calls
    return not is_call or REFERENCE.match(ref).group(3) is not None


def call_node_name(layer: str, call: int) -> str:
    """The engine's node of call `call` (Keras' node index) of layer `layer`: the layer's own
    name for its first call, `dense@2` for the third. Never shown to users (written_ref):
    `dense[2]` is output 2 of the layer's first call."""
    return layer if call == 0 else f"{layer}@{call}"


def written_ref(node: Node, index: int | None = None, full: bool = False) -> str:
    """Output `index` of `node` in Keras' notation, as users write it: `dense` (or
    `lstm[1]`, with `full` `dense[0][0]` / `lstm[0][1]`) for a layer's first call,
    `dense[2][0]` for its third; a call's node alone (index None) is its output 0."""
    if node.owner is not None:
        return f"{node.owner}[{node.call_index}][{index or 0}]"
    if full:
        return f"{node.name}[0][{index or 0}]"
    return node.name if index is None else f"{node.name}[{index}]"


def mask_key(node: Node) -> str:
    """How the spec's `mask_names` names an Embedding call: its layer's name, `emb[1]` for
    the layer's second call (docs/spec.md, Masks)."""
    return node.name if node.owner is None else f"{node.owner}[{node.call_index}]"


CALL_NAME = re.compile(r"^(.+)@(\d+)$")   # a shared layer's call's node: `dense@1`


def unknown_ref_hint(name: str, known) -> str:
    """What to add to "no layer `name`" (`name` from split_ref, `known` node names, where a
    shared layer's calls are `dense[1]`...): for a call the layer does not have, its calls
    as they are written (`dense[0][0]` ...); else a did-you-mean among the names as they are
    written (a call `dense[1]` as `dense[1][0]`, never the node's own name)."""
    known = set(known)
    match = CALL_NAME.match(name)
    if match and match.group(1) in known:
        layer = match.group(1)
        calls = 1 + sum(1 for n in known if (m := CALL_NAME.match(n)) and m.group(1) == layer)
        written = f"`{layer}[0][0]`" + (f" to `{layer}[{calls - 1}][0]`" if calls > 1 else "")
        return f" (layer '{layer}' is called {calls} time{'s' if calls > 1 else ''}: {written})"
    if match:
        name = f"{match.group(1)}[{match.group(2)}][0]"
    return did_you_mean(name, [f"{m.group(1)}[{m.group(2)}][0]"
                               if (m := CALL_NAME.match(n)) and m.group(1) in known
                               else n for n in known])


def model_input(node: Node, value) -> np.ndarray:
    """An input batch in the input's dtype; integer inputs refuse values with a fraction."""
    if np.dtype(node.dtype).kind != "i":
        return np.asarray(value, dtype=node.dtype)
    value = np.asarray(value)
    if value.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = value != np.trunc(value)
        if bad.any():
            raise DataError(f"input '{node.name}' takes integers ({node.dtype}), got "
                            f"{float(value[bad].flat[0])!r}")
    elif value.dtype.kind not in "iub":
        raise DataError(f"input '{node.name}' takes integers ({node.dtype}), got "
                        f"{value.dtype} values")
    return value.astype(node.dtype)


def load_model(path: str) -> Model:
    """A spec file (.yaml/.yml) or an nnctl model file (.npz) -> a built Model."""
    return build_model(read_spec(path))


def build_model(spec: ModelSpec) -> Model:
    builder = GraphBuilder(spec)
    builder.build()
    return builder.model()


class GraphBuilder:
    """Builds the nodes step by step, so a broken spec can still show what came before."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.nodes: dict[str, Node] = {}
        self.outputs: list[str] = []
        self.warnings: list[str] = []
        self.call_nodes: set[str] = set()   # the names of calls' nodes (call_node_name)

    def model(self) -> Model:
        return Model(self.spec, self.nodes, self.outputs, self.warnings)

    def partial_model(self) -> Model:
        """The layers built before an error, in build order (for a summary of a broken spec)."""
        return Model(self.spec, self.nodes, [], self.warnings, order=list(self.nodes))

    def build(self) -> None:
        self._add_inputs()
        layers, error = self._instantiate()
        if error is not None:
            # Build what comes before the broken layer, for a summary that still shows it.
            for ls, layer, inbound in layers:
                if not all(split_ref(i)[0] in self.nodes for i in inbound):
                    break
                try:
                    self._add(ls, layer, inbound)
                except SpecError:
                    break
            raise error
        for layer_spec, layer, inbound in self._topological_order(layers):
            self._add(layer_spec, layer, inbound)
        self.outputs = self._outputs(layers)
        self._drop_unused()
        self._check_mask_names()

    def _check_mask_names(self) -> None:
        """`mask_names` names the masks of Embedding(mask_zero: true) layers (or calls), by
        one name, and of Masking layers, by two (its NotEqual's and its Any's)."""
        calls = {mask_key(node): node for node in self.nodes.values()}
        for name, value in self.spec.mask_names.items():
            node = calls.get(name)
            layer = node.layer if node is not None else None
            if isinstance(value, str) and not getattr(layer, "mask_zero", False):
                raise self.spec.error(f"mask_names: '{name}' is not an Embedding with "
                                      "mask_zero: true", ("mask_names", name))
            if isinstance(value, list) and type(layer).__name__ != "Masking":
                raise self.spec.error(f"mask_names: '{name}' is not a Masking layer (two "
                                      "names: its NotEqual's and its Any's)",
                                      ("mask_names", name))

    def check_all(self, limit: int = 20) -> list[SpecError]:
        """Every error of the spec (up to `limit`), for `nnctl validate`: a broken layer is
        left out and what depends on it is not checked further (its shapes are unknown), but
        the other layers are, so one run lists the independent mistakes together."""
        errors: list[SpecError] = []
        spec = self.spec
        self._add_inputs()
        layers, broken = [], set()
        try:
            self._instantiate_into(layers, errors, broken)
            known = {layer.name for _, layer, _ in layers} | set(spec.inputs) | broken
            for entry in list(layers):
                dangling = self._dangling(*entry, known)
                if dangling is not None:
                    errors.append(dangling)
                    broken.add(entry[1].name)
                    layers.remove(entry)
            ordered = self._topological_order(layers, broken)
        except SpecError as exc:  # a cycle or a duplicate name: the order itself is unknown
            return (errors + [exc])[:limit]
        for ls, layer, inbound in ordered:
            if len(errors) >= limit:
                break
            if any(split_ref(ref)[0] in broken for ref in inbound):
                broken.add(layer.name)
                continue
            try:
                self._add(ls, layer, inbound)
            except SpecError as exc:
                errors.append(exc)
                broken.add(layer.name)
        if not errors:
            try:
                self.outputs = self._outputs(layers)
                self._check_mask_names()
            except SpecError as exc:
                errors.append(exc)
        errors.sort(key=lambda e: (e.line or 0, e.column or 0))  # in the order of the file
        return errors[:limit]

    def _add_inputs(self) -> None:
        spec = self.spec
        for name, shape in spec.inputs.items():
            self.nodes[name] = Node(name, None, [], shape, spec.input_dtypes.get(name, spec.dtype),
                                    path=("inputs", name) if spec.functional else ("input",))

    def _instantiate(self):
        """Names (Keras defaults where none is given), Layer objects and inbound names.

        Returns the layers up to the first broken one, and that layer's error (or None).
        """
        result = []
        try:
            self._instantiate_into(result)
        except SpecError as exc:
            return result, exc
        return result, None

    def _instantiate_into(self, result, errors=None, broken=None):
        """Fill `result`; stop at the first error, or with `errors` (a list), record each
        broken layer's error, put its name in `broken` and go on."""
        spec = self.spec
        taken = set(spec.inputs)
        explicit = {}
        for ls in spec.layers:
            if ls.name is not None:
                if ls.name in taken or ls.name in explicit:
                    raise spec.error(f"duplicate layer name '{ls.name}'", ls.path + ("name",))
                explicit[ls.name] = ls
        taken |= set(explicit)
        counters: dict[str, int] = {}
        made: dict[str, Layer] = {}      # name -> layer, for `call:` entries
        calls: dict[str, int] = {}       # name -> calls so far

        def instantiate(ls, previous):
            if ls.call is not None:
                return self._instantiate_call(ls, made, calls, taken)
            entry = self._instantiate_one(ls, counters, taken, previous)
            made[entry[1].name] = entry[1]
            return entry

        previous = None
        for i, ls in enumerate(spec.layers):
            if ls.call is not None and broken is not None and ls.call in broken:
                # a call of a broken layer: broken too, without an error of its own
                calls[ls.call] = calls.get(ls.call, 0) + 1
                previous = call_node_name(ls.call, calls[ls.call])
                self.call_nodes.add(previous)
                broken.add(previous)
                continue
            try:
                result.append(instantiate(ls, previous))
            except SpecError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                previous = ls.name or f"<layer {i + 1}>"
                broken.add(previous)
                continue
            previous = result[-1][1].name

    def _instantiate_one(self, ls, counters, taken, previous):
        """(spec, Layer, inbound refs) of one layer of the spec."""
        spec = self.spec
        try:
            cls = get_layer_class(ls.type)
        except NnctlError as exc:
            raise spec.locate(SpecError(exc.message), ls.path + ("type",)) from None
        config = self._name_wrapped(ls, cls, counters, taken)
        name = ls.name or self._default_name(cls, counters, taken)
        if ls.name is None and name in taken:
            raise spec.error(self._taken_message(name, ls.type, spec.functional), ls.path)
        taken.add(name)
        try:
            layer = cls.from_config(name, config)
        except ArgError as exc:
            key_path = ls.path + ((exc.key,) if exc.key in ls.config else ())
            raise spec.locate(SpecError(exc.message), key_path, exc.unknown) from None
        if not spec.functional:
            inbound = [previous or next(iter(spec.inputs))]
        elif ls.inbound is not None:
            inbound = list(ls.inbound)  # names, or `lstm[1]`: split by _add
        elif previous is not None:
            inbound = [previous]
        elif len(spec.inputs) == 1:
            inbound = list(spec.inputs)
        else:
            raise spec.error(f"layer '{name}': the model has several inputs "
                             f"({', '.join(spec.inputs)}); say which with `inputs:`", ls.path)
        if layer.arity == "one" and len(inbound) != 1:
            raise spec.error(f"layer '{name}': {ls.type} takes one input, got "
                             f"{len(inbound)} ({', '.join(inbound)}); merge them first "
                             f"(Concatenate, Add, ...)", ls.path + ("inputs",))
        return ls, layer, inbound

    def _instantiate_call(self, ls, made, calls, taken):
        """(spec, Layer, inbound refs) of `{call: NAME, inputs: ...}`: a copy of layer NAME's
        Layer named after the call (call_node_name: `dense@1`), which _add gives NAME's
        weights."""
        spec = self.spec
        owner = made.get(ls.call)
        if owner is None:
            if ls.call in spec.inputs:
                why = ("which is an input: `call` calls a layer again (an input is read with "
                       "`inputs:`)")
            elif any(other.name == ls.call for other in spec.layers):
                why = "which is defined below it: a layer is called again after its own entry"
            else:
                why = f"which is not a layer defined above it{did_you_mean(ls.call, list(made))}"
            raise spec.error(f"`call` names '{ls.call}', {why}", ls.path + ("call",))
        index = calls[ls.call] = calls.get(ls.call, 0) + 1
        layer = copy.copy(owner)
        layer.name, layer.call_index = call_node_name(ls.call, index), index  # Keras' node index
        if layer.name in taken:
            raise spec.error(f"a layer is named '{layer.name}', which nnctl keeps for call "
                             f"{index + 1} of layer '{ls.call}' (`{ls.call}[{index}][0]`): "
                             "rename that layer", ls.path + ("call",))
        taken.add(layer.name)
        self.call_nodes.add(layer.name)
        if layer.arity == "one" and len(ls.inbound) != 1:
            raise spec.error(f"layer '{ls.call}': {type(owner).__name__} takes one input, got "
                             f"{len(ls.inbound)} ({', '.join(ls.inbound)}); merge them first "
                             f"(Concatenate, Add, ...)", ls.path + ("inputs",))
        return ls, layer, list(ls.inbound)

    def _name_wrapped(self, ls, cls, counters, taken) -> dict:
        """A wrapper's inner layer (Bidirectional's `layer`) named as Keras does: it is made
        first, so it takes the next default name of its type (`lstm`, then `lstm_1`...). It is
        not one of the model's layers (Keras keeps its copies `forward_lstm`/`backward_lstm`
        inside the wrapper), so a model layer called `lstm` too is no clash."""
        key = getattr(cls, "wrapped_layer_key", None)
        inner = ls.config.get(key) if key else None
        if not isinstance(inner, dict) or inner.get("name") or "type" not in inner:
            return ls.config
        try:
            inner_cls = get_layer_class(inner["type"])
        except NnctlError as exc:
            raise self.spec.locate(SpecError(exc.message), ls.path + (key, "type")) from None
        name = self._default_name(inner_cls, counters)
        return {**ls.config, key: {**inner, "name": name}}

    @staticmethod
    def _default_name(cls, counters, taken=()) -> str:
        """Keras' next default name for `cls` in this model: `dense`, `dense_1`, ... counted
        whatever the other layers are called (Keras does not skip a name that is taken: a
        clash is an error, see _taken_message)."""
        stem = default_name(cls)
        n = counters.get(stem, 0)
        counters[stem] = n + 1
        return stem if n == 0 else f"{stem}_{n}"

    @staticmethod
    def _taken_message(name: str, type_name: str, functional: bool) -> str:
        keras = (f'The name "{name}" is used 2 times in the model' if functional else
                 f"Name '{name}' is already the name of a layer in this model")
        return (f"this {type_name} has no `name`, so it takes Keras' default name '{name}', "
                f"which another layer or input is called too; Keras refuses such a model "
                f"({keras}): give it a `name`")

    def _topological_order(self, layers, broken=frozenset()):
        """Layers in an order where each comes after its inputs; cycles and dangling names fail.
        Names in `broken` (layers left out for their errors) count as known, with no inputs."""
        spec = self.spec
        by_name = {layer.name: (ls, layer, [split_ref(r)[0] for r in inbound]
                                + ([ls.call] if ls.call else []))   # after the first call
                   for ls, layer, inbound in layers}
        known = set(by_name) | set(spec.inputs) | set(broken)
        for ls, layer, inbound in layers:
            dangling = self._dangling(ls, layer, inbound, known)
            if dangling is not None:
                raise dangling
        original = {layer.name: (ls, layer, inbound) for ls, layer, inbound in layers}
        try:
            _, order = depth_first([layer.name for _, layer, _ in layers],
                                   lambda name: by_name[name][2],
                                   done=set(spec.inputs) | set(broken))
        except Cycle as cycle:
            ref = cycle.path[0]
            path = " -> ".join(self._written(name) for name in cycle.path)
            raise spec.error(f"{_who(by_name[ref][1])} is part of a cycle: {path}",
                             by_name[ref][0].path + ("inputs",)) from None
        return [original[name] for name in order]

    def _written(self, name: str) -> str:
        """A node's name as users write it, before the node is built (written_ref)."""
        match = CALL_NAME.match(name) if name in self.call_nodes else None
        return f"{match.group(1)}[{match.group(2)}][0]" if match else name

    def _add(self, ls, layer, refs) -> None:
        inbound, index = self._tensors(ls, layer, refs)
        shapes = [self.nodes[i].shapes[k] for i, k in zip(inbound, index)]
        try:
            if hasattr(layer, "output_shapes"):
                out_shapes = [tuple(s) for s in layer.output_shapes(shapes)]
            else:
                out_shapes = [tuple(layer.output_shape(shapes))]
            self._check_computed_inputs(layer, inbound)
            weights = layer.weight_specs(shapes)
            computed = self._check_activation(layer, out_shapes[0])
            from nnctl.masking import output_masked

            masked = output_masked(layer, [self.nodes[i] for i in inbound], index)
        except ArgError as exc:
            key_path = ls.path + ((exc.key,) if exc.key in ls.config or
                                  (exc.key == "inputs" and ls.inbound) else ())
            message = exc.message
            if ls.call is not None:   # the layer says `layer 'add[1]'`, its call's node
                message = message.replace(f"layer '{layer.name}'",
                                          call_label(ls.call, layer.call_index))
            raise self.spec.locate(SpecError(message), key_path) from None
        owner = None
        dtype = ls.config.get("dtype") or self.spec.dtype
        if ls.call is not None:   # a shared layer: its weights are its first call's
            owner = self.nodes[ls.call]
            self._check_shared_weights(ls, owner, shapes, weights)
            weights, dtype = [], owner.dtype
        self.nodes[layer.name] = Node(layer.name, layer, inbound, out_shapes[0], dtype,
                                      weights, ls.path, shapes=out_shapes, inbound_index=index,
                                      masked=masked, owner=owner and owner.name,
                                      call_index=getattr(layer, "call_index", 0),
                                      shared_weights=owner.weights if owner else [],
                                      computed_shape=computed)

    @staticmethod
    def _check_activation(layer, shape) -> tuple | None:
        """An activation along an axis (glu, softmax...) that cannot take the layer's outputs
        is refused here, as Keras refuses it on building the model, not at the first batch.
        (A recurrent layer's acts inside its cell, on its units.) Returns the shape the layer
        computes where its activation changes the declared one (glu), else None."""
        activation = getattr(layer, "activation", None)
        if activation is None or getattr(layer, "recurrent", False):
            return None
        problem = activation.shape_problem((None, *shape))
        if problem:
            raise ArgError("activation", f"layer '{layer.name}': activation "
                                         f"{activation.name} cannot take outputs of shape "
                                         f"{format_shape((None, *shape))}: {problem}")
        computed = activation.computed_shape((None, *shape))[1:]
        return computed if computed != tuple(shape) else None

    def _check_computed_inputs(self, layer, inbound) -> None:
        """A layer after one whose glu halved its output is refused: Keras builds it for the
        declared shape, and its own predict fails there (a model output may be such a layer:
        it is written as computed)."""
        for name in inbound:
            node = self.nodes[name]
            if node.computed_shape is not None:
                raise ArgError("inputs", (
                    f"layer '{layer.name}': its input {node.label} computes "
                    f"{format_shape((None, *node.computed_shape))} (glu halves it), where "
                    f"Keras declares {format_shape((None, *node.shape))} and builds the layers "
                    "after it for that, so that Keras' own predict fails here; glu can be the "
                    "activation of an output layer only"))

    def _check_shared_weights(self, ls, owner: Node, shapes, weights) -> None:
        """A shared layer called on tensors its weights do not fit is refused (as Keras)."""
        for mine, theirs in zip(weights, owner.weights):
            if tuple(mine.shape) != tuple(theirs.shape):
                first = ", ".join(format_shape((None, *s))
                                  for s in inbound_shapes(self.nodes, owner))
                now = ", ".join(format_shape((None, *s)) for s in shapes)
                raise self.spec.error(
                    f"layer '{owner.name}' is called on {now}, but its weights were made for "
                    f"its first call, on {first} (weight '{mine.name}' would be "
                    f"{tuple(mine.shape)}, it is {tuple(theirs.shape)})", ls.path + ("inputs",))

    def _dangling(self, ls, layer, inbound, known) -> SpecError | None:
        """The error of an `inputs` name that is neither an input nor a layer, if any (a
        call's node is named as written, `dense[1][0]`; an entry after a call reads it
        without `inputs`)."""
        calls = self.call_nodes if ls.inbound is not None else ()
        for ref in inbound:
            name = split_ref(ref)[0]
            if not names_node(ref, known, calls):
                return self.spec.error(f"{_who(layer)}: `inputs` names '{ref}', which is "
                                       f"neither an input nor a layer"
                                       f"{unknown_ref_hint(name, known)}", ls.path + ("inputs",))
        return None

    def _tensors(self, ls, layer, refs) -> tuple[list[str], list[int]]:
        """Inbound names and which output of each: a layer of several outputs is read by
        index (`lstm[1]`, or Keras' `lstm[0][1]`), never by its name alone."""
        names, index = [], []
        for ref in refs:
            name, k = split_ref(ref)
            node = self.nodes[name]
            count = node.n_outputs
            if k is None and count > 1:
                shown = name if node.owner is None else f"{node.owner}[{node.call_index}]"
                raise self.spec.error(
                    f"{_who(layer)}: '{shown}' has {count} outputs; say which one: "
                    + ", ".join(written_ref(node, j) for j in range(count)),
                    ls.path + (("inputs",) if ls.inbound else ()))
            if k is not None and k >= count:
                hint = (f" (call {k + 1} of the shared layer is `{name}[{k}][0]`)"
                        if k < self._calls_of(name) else "")
                raise self.spec.error(
                    f"{_who(layer)}: '{name}' has {count} output"
                    f"{'s' if count > 1 else ''}, so `{ref}` names none of them{hint}",
                    ls.path + ("inputs",))
            names.append(name)
            index.append(k or 0)
        return names, index

    def _calls_of(self, name: str) -> int:
        """How many calls of layer `name` are built so far."""
        return 1 + sum(1 for node in self.nodes.values() if node.owner == name)

    def _outputs(self, layers) -> list[str]:
        spec = self.spec
        if spec.outputs is None:   # the last entry's outputs
            ls, layer, _ = layers[-1]
            if ls.call is None:
                return [layer.name]
            node = self.nodes[layer.name]   # a call: Keras' `shared[2][0]`...
            return [written_ref(node, k) for k in range(node.n_outputs)]
        for i, ref in enumerate(spec.outputs):
            name, k = split_ref(ref)
            if not names_node(ref, self.nodes):
                raise spec.error(f"`outputs` names '{ref}', which is not a layer or an input"
                                 f"{unknown_ref_hint(name, self.nodes)}", ("outputs", i))
            node = self.nodes[name]
            if k is not None and k >= node.n_outputs:
                shown = (f"'{name}'" if node.owner is None
                         else call_label(node.owner, node.call_index))
                raise spec.error(f"`outputs` names '{ref}', but {shown} has "
                                 f"{node.n_outputs} output(s)", ("outputs", i))
        return list(spec.outputs)

    def _drop_unused(self) -> None:
        """Like Keras, a model holds only what leads to an output; say what was left out."""
        needed = set(ancestors(  # a shared layer's first call holds its weights: kept
            [split_ref(ref)[0] for ref in self.outputs],
            lambda name: self.nodes[name].inbound + [o for o in [self.nodes[name].owner] if o]))
        for name in list(self.nodes):
            node = self.nodes[name]
            if name not in needed and node.layer is not None:
                what = call_label(node.owner, node.call_index) if node.owner else f"layer '{name}'"
                self.warnings.append(f"{what} does not lead to any output; it is left "
                                     "out of the model")
                del self.nodes[name]


def inbound_shapes(nodes: dict[str, Node], node: Node) -> list[tuple]:
    """The shapes of the tensors `node` is called on, out of the graph's `nodes`."""
    return [nodes[i].shapes[k] for i, k in zip(node.inbound, node.inbound_index)]


def _who(layer) -> str:
    """`layer 'dense'`, or for a shared layer's later call call_label's `call 2 of layer
    'dense' (...)`: how errors name the layer of a node being built."""
    call = getattr(layer, "call_index", 0)
    match = CALL_NAME.match(layer.name) if call else None
    return call_label(match.group(1), call) if match else f"layer '{layer.name}'"


def needed_nodes(nodes: dict[str, Node], refs) -> set[str]:
    """The names of the nodes on the way to `refs` (names, or `lstm[1]`), these included."""
    starts = [split_ref(ref)[0] for ref in refs]
    return set(ancestors(starts, lambda name: nodes[name].inbound))


def keras_depths(model: Model, order: list[str], inbound=None) -> dict[str, int]:
    """Keras' depth of each node of `order` (a topological order): its longest distance to
    an output (0 for an output). A shared layer's calls are raised to the deepest of them
    met so far, and the nodes before them with it, as Keras' map_graph does. `inbound(name)`:
    what a node reads (default: its layer's inputs; the summary adds Keras' mask operations,
    nnctl.masking.mask_operations, which are layers of their own)."""
    inbound = inbound or (lambda name: model.nodes[name].inbound)
    depth: dict[str, int] = {}
    layer_depth: dict[str, int] = {}
    for name in reversed(order):
        layer = model.nodes[name].layer_name if name in model.nodes else name
        d = max(depth.setdefault(name, 0), layer_depth.get(layer, 0))
        depth[name] = layer_depth[layer] = d
        for ref in inbound(name):
            depth[ref] = max(depth.get(ref, 0), d + 1)
    return depth


def keras_layer_order(model: Model, inbound=None) -> list[str]:
    """The order of `model.layers` in Keras: by depth from the outputs, then DFS discovery.

    Keras (ops/function.py, map_graph) walks from each output depth-first, numbering layers
    as it first meets them; a node's depth is its longest distance to an output, and a
    layer's the deepest of its calls' (a shared layer is met at several nodes: its depth is
    raised as the walk goes, and so are the nodes before it); layers are listed deepest
    first, ties by that number. Unused inputs come first at depth 0. A shared layer is listed
    once, as its first call's node. `inbound`: as keras_depths.
    """
    inbound = inbound or (lambda name: model.nodes[name].inbound)
    met, post_order = depth_first([split_ref(out)[0] for out in model.outputs], inbound)

    def layer_of(name):
        return model.nodes[name].layer_name if name in model.nodes else name

    index: dict[str, int] = {}    # layer name -> when first met
    for name in met:
        index.setdefault(layer_of(name), len(index))
    depth: dict[str, int] = {}    # layer name -> the deepest of its calls'
    for name, d in keras_depths(model, post_order, inbound).items():
        layer = layer_of(name)
        depth[layer] = max(depth.get(layer, 0), d)
    for name in model.input_names:
        if name not in depth:
            depth[name], index[name] = 0, -1
    return sorted(depth, key=lambda n: (-depth[n], index[n]))
