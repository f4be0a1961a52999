"""The model engine: a graph of layers built from a spec, with shapes, weights and a forward pass.

`build_model(spec)` names the layers as Keras would, resolves each layer's inputs, rejects
cycles and dangling references, infers every output shape and lists every weight, all
without touching an array. `Model.forward` then runs batches through it with NumPy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nnctl.errors import NnctlError, SpecError, WeightsError
from nnctl.layers import ArgError, WeightSpec, default_name, get as get_layer_class
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

    @property
    def type_name(self) -> str:
        return "InputLayer" if self.layer is None else type(self.layer).__name__

    @property
    def params(self) -> int:
        return sum(math.prod(w.shape) for w in self.weights)

    @property
    def trainable_params(self) -> int:
        return sum(math.prod(w.shape) for w in self.weights if w.trainable)


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
        # Keras' display order (also a topological one); a partial model keeps build order
        self.order = order if order is not None else keras_layer_order(self)

    # --- accounting ----------------------------------------------------------------------
    @property
    def layers(self) -> list[Node]:
        """The nodes in Keras' order; Sequential models leave out their input."""
        nodes = [self.nodes[n] for n in self.order]
        return nodes if self.functional else [n for n in nodes if n.layer is not None]

    def weight_specs(self) -> dict[str, tuple[Node, WeightSpec]]:
        """`layer/weight` -> (node, spec), in layer order: the keys of a weights file."""
        return {f"{node.name}/{w.name}": (node, w)
                for node in self.layers for w in node.weights}

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(n.trainable_params for n in self.layers)

    def input_shapes(self) -> dict[str, tuple]:
        return {name: self.nodes[name].shape for name in self.input_names}

    # --- weights -------------------------------------------------------------------------
    def init_weights(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Every weight drawn from its initializer; each depends only on the seed and its name."""
        from nnctl.initializers import weight_rng

        weights = {}
        for key, (node, w) in self.weight_specs().items():
            rng = weight_rng(seed, node.name, w.name)
            weights[key] = np.asarray(w.initializer(w.shape, dtype=node.dtype, rng=rng),
                                      dtype=node.dtype)
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
                outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run a batch: input name -> (batch, *shape) array; returns output name -> array.

        `outputs` may name any layers (to tap intermediate results); default: the model's.
        """
        wanted = list(outputs or self.outputs)
        remaining_uses = self._uses(wanted)
        values: dict[str, np.ndarray] = {}
        for name in self.order:
            node = self.nodes[name]
            if name not in remaining_uses and name not in wanted:
                continue
            if node.layer is None:
                values[name] = np.asarray(inputs[name], dtype=node.dtype)
                continue
            args = [values[i] for i in node.inbound]
            args = [a if a.dtype == node.dtype else a.astype(node.dtype) for a in args]
            layer_weights = {w.name: weights[f"{name}/{w.name}"] for w in node.weights}
            values[name] = node.layer.call(args, layer_weights)
            for i in node.inbound:  # free what no later layer needs
                remaining_uses[i] -= 1
                if remaining_uses[i] == 0 and i not in wanted:
                    del values[i]
        return {name: values[name] for name in wanted}

    def _uses(self, wanted) -> dict[str, int]:
        """How many layers (on the way to `wanted`) read each node's output."""
        needed, stack = set(), list(wanted)
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack.extend(self.nodes[name].inbound)
        uses = {name: 0 for name in needed}
        for name in needed:
            for i in self.nodes[name].inbound:
                uses[i] += 1
        return uses

    def __repr__(self):
        return (f"Model(name={self.name!r}, layers={len(self.layers)}, "
                f"params={self.total_params})")


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

    def model(self) -> Model:
        return Model(self.spec, self.nodes, self.outputs, self.warnings)

    def partial_model(self) -> Model:
        """The layers built before an error, in build order (for a summary of a broken spec)."""
        return Model(self.spec, self.nodes, [], self.warnings, order=list(self.nodes))

    def build(self) -> None:
        spec = self.spec
        for name, shape in spec.inputs.items():
            self.nodes[name] = Node(name, None, [], shape, spec.dtype,
                                    path=("inputs", name) if spec.functional else ("input",))
        layers, error = self._instantiate()
        if error is not None:
            # Build what comes before the broken layer, for a summary that still shows it.
            for ls, layer, inbound in layers:
                if not all(i in self.nodes for i in inbound):
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

    def _instantiate_into(self, result):
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
        previous = None
        for ls in spec.layers:
            try:
                cls = get_layer_class(ls.type)
            except NnctlError as exc:
                raise spec.locate(SpecError(exc.message), ls.path + ("type",)) from None
            name = ls.name or self._default_name(cls, counters, taken)
            taken.add(name)
            try:
                layer = cls.from_config(name, ls.config)
            except ArgError as exc:
                key_path = ls.path + ((exc.key,) if exc.key in ls.config else ())
                raise spec.locate(SpecError(exc.message), key_path, exc.unknown) from None
            if not spec.functional:
                inbound = [previous or next(iter(spec.inputs))]
            elif ls.inbound is not None:
                inbound = list(ls.inbound)
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
            result.append((ls, layer, inbound))
            previous = name

    @staticmethod
    def _default_name(cls, counters, taken) -> str:
        stem = default_name(cls)
        while True:
            n = counters.get(stem, 0)
            counters[stem] = n + 1
            name = stem if n == 0 else f"{stem}_{n}"
            if name not in taken:
                return name

    def _topological_order(self, layers):
        """Layers in an order where each comes after its inputs; cycles and dangling names fail."""
        spec = self.spec
        by_name = {layer.name: (ls, layer, inbound) for ls, layer, inbound in layers}
        known = set(by_name) | set(spec.inputs)
        for ls, layer, inbound in layers:
            for ref in inbound:
                if ref not in known:
                    raise spec.error(f"layer '{layer.name}': `inputs` names '{ref}', which is "
                                     f"neither an input nor a layer{did_you_mean(ref, known)}",
                                     ls.path + ("inputs",))
        order, done, visiting = [], set(spec.inputs), []

        def visit(name):
            if name in done:
                return
            if name in visiting:
                cycle = visiting[visiting.index(name):] + [name]
                ls = by_name[name][0]
                raise spec.error(f"layer '{name}' is part of a cycle: {' -> '.join(cycle)}",
                                 ls.path + ("inputs",))
            visiting.append(name)
            for ref in by_name[name][2]:
                visit(ref)
            visiting.pop()
            done.add(name)
            order.append(by_name[name])

        for _, layer, _ in layers:
            visit(layer.name)
        return order

    def _add(self, ls, layer, inbound) -> None:
        shapes = [self.nodes[i].shape for i in inbound]
        try:
            shape = layer.output_shape(shapes)
            weights = layer.weight_specs(shapes)
        except ArgError as exc:
            key_path = ls.path + ((exc.key,) if exc.key in ls.config or
                                  (exc.key == "inputs" and ls.inbound) else ())
            raise self.spec.locate(SpecError(exc.message), key_path) from None
        dtype = ls.config.get("dtype") or self.spec.dtype
        self.nodes[layer.name] = Node(layer.name, layer, inbound, tuple(shape), dtype,
                                      weights, ls.path)

    def _outputs(self, layers) -> list[str]:
        spec = self.spec
        if spec.outputs is None:
            return [layers[-1][1].name]
        for i, name in enumerate(spec.outputs):
            if name not in self.nodes:
                raise spec.error(f"`outputs` names '{name}', which is not a layer or an input"
                                 f"{did_you_mean(name, self.nodes)}", ("outputs", i))
        return list(spec.outputs)

    def _drop_unused(self) -> None:
        """Like Keras, a model holds only what leads to an output; say what was left out."""
        needed, stack = set(), list(self.outputs)
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack.extend(self.nodes[name].inbound)
        for name in list(self.nodes):
            node = self.nodes[name]
            if name not in needed and node.layer is not None:
                self.warnings.append(f"layer '{name}' does not lead to any output; it is left "
                                     "out of the model")
                del self.nodes[name]


def keras_layer_order(model: Model) -> list[str]:
    """The order of `model.layers` in Keras: by depth from the outputs, then DFS discovery.

    Keras (ops/function.py, map_graph) walks from each output depth-first, numbering layers
    as it first meets them; a layer's depth is its longest distance to an output; layers are
    listed deepest first, ties by that number. Unused inputs come first at depth 0.
    """
    index: dict[str, int] = {}
    post_order: list[str] = []
    seen = set()

    def walk(name):
        if name in seen:
            return
        index.setdefault(name, len(index))
        for ref in model.nodes[name].inbound:
            walk(ref)
        seen.add(name)
        post_order.append(name)

    for out in model.outputs:
        walk(out)
    depth: dict[str, int] = {}
    for name in reversed(post_order):
        d = depth.setdefault(name, 0)
        for ref in model.nodes[name].inbound:
            depth[ref] = max(depth.get(ref, 0), d + 1)
    for name in model.input_names:
        if name not in depth:
            depth[name], index[name] = 0, -1
    return sorted(depth, key=lambda n: (-depth[n], index[n]))
