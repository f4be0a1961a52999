"""The seed article's advice on activations and initialization, as rules checked on a model.

Each rule is data (RULES: id, level, what it checks and why); `lint(model)` returns Findings,
each with the rule, its level, a message, a fix, the layer and the position in the spec
(file:line:col). The levels: an `error` is a network that cannot do what it looks meant to do
(a softmax over one unit is the constant 1.0; sigmoids stacked five deep pass at most 1/1024
of the gradient, whatever the initialization); a `warning` is advice the article gives; an
`info` asks a question (a sigmoid output over several units is multi-label: meant?).

What the rules count:
- "deep": the longest path from an input to an output crosses DEEP_LAYERS (4) or more layers
  with a kernel (Layer.kernel_weights: Dense, convolutions...); a sigmoid/tanh layer is
  "hidden" when a layer with a kernel follows it on the way to an output.
- "relu family": RELU_FAMILY. A "small" random kernel: random_normal, truncated_normal or
  random_uniform whose standard deviation is below half of He's sqrt(2 / fan_in) for that
  layer (so each layer shrinks the activations at least twofold).
- "non-linearity": an activation other than linear, or a layer that is not affine
  (Layer.affine: Multiply, Maximum, Minimum, LayerNormalization...).
- Recurrent layers (a layer that declares `recurrent = True`: SimpleRNN, LSTM, GRU,
  Bidirectional) are left out of the activation rules above: the tanh inside a gated cell is
  its design, not a hidden layer's choice. Their own rules: gates need a recurrent_activation
  in [0, 1]; a SimpleRNN over LONG_SEQUENCE (100) steps or more forgets the start.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from nnctl.initializers import compute_fans

LEVELS = ("error", "warning", "info")
DEEP_LAYERS = 4
SIGMOID_STACK = 5
RELU_FAMILY = ("relu", "leaky_relu", "relu6", "elu", "celu", "gelu", "silu", "hard_silu",
               "mish")
SMALL_RANDOM = ("random_normal", "truncated_normal", "random_uniform")
GLOROT = ("glorot_uniform", "glorot_normal")
ONE_HOT_ACTIVATIONS = {"softmax": "1.0", "sparsemax": "1.0", "log_softmax": "0.0"}
SATURATING = {"sigmoid": "passes at most 1/4 of the gradient", "tanh": "saturates for |x| > 2"}
GATES = ("sigmoid", "hard_sigmoid")   # recurrent activations with values in [0, 1]
LONG_SEQUENCE = 100


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    summary: str


RULES = {r.id: r for r in (
    Rule("softmax-one-unit", "error",
         "softmax over a single unit: the output is always 1.0"),
    Rule("sigmoid-stack", "error",
         f"{SIGMOID_STACK} or more sigmoid layers on one path: the gradient vanishes "
         "(sigmoid' <= 1/4 per layer)"),
    Rule("saturating-hidden", "warning",
         "sigmoid or tanh in a hidden layer of a deep network: vanishing gradients; "
         "prefer relu"),
    Rule("relu-init", "warning",
         "relu-family activation with a Glorot or small random kernel initializer; "
         "prefer He"),
    Rule("linear-network", "warning",
         "no non-linearity anywhere: stacked Dense layers compute one linear map"),
    Rule("sigmoid-multi-unit", "info",
         "sigmoid output over several units: independent probabilities (multi-label)"),
    Rule("recurrent-activation", "warning",
         "an LSTM or GRU whose recurrent_activation is not a sigmoid: its gates leave [0, 1]"),
    Rule("unused-input", "warning",
         "an input of a functional model that feeds no layer: its columns are read and ignored"),
    Rule("long-simple-rnn", "warning",
         f"a SimpleRNN over {LONG_SEQUENCE} or more steps: without gates it forgets the start "
         "of the sequence (vanishing gradients); prefer LSTM or GRU"),
)}


@dataclass
class Finding:
    rule: str
    level: str
    message: str
    fix: str
    layer: str | None             # where it is reported (the first of `layers`)
    layers: list[str]             # every layer it is about: a path, or the layers to change
    source: str | None
    line: int | None
    column: int | None

    @property
    def location(self) -> str:
        return ":".join(str(p) for p in (self.source, self.line, self.column) if p is not None)

    def text(self) -> str:
        """`FILE:LINE:COL: level: message (fix: ...) [rule-id]`."""
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.level}: {self.message} (fix: {self.fix}) [{self.rule}]"

    def to_dict(self) -> dict:
        return asdict(self)


def lint(model, python: bool = False) -> list[Finding]:
    """Every finding of every rule, in spec order. `python`: the model was written with the
    Python API, so each fix is spelled as Python (`activation="relu"`), not YAML."""
    checker = _Checker(model)
    for check in (checker.softmax_one_unit, checker.sigmoid_stack, checker.saturating_hidden,
                  checker.relu_init, checker.linear_network, checker.sigmoid_multi_unit,
                  checker.recurrent_activation, checker.long_simple_rnn, checker.unused_input):
        check()
    if python:
        for finding in checker.findings:
            finding.fix = python_fix(finding.fix)
    order = {name: i for i, name in enumerate(model.order)}
    return sorted(checker.findings, key=lambda f: (f.line or 0, f.column or 0,
                                                   order.get(f.layer, -1), f.rule))


def python_fix(fix: str) -> str:
    """A fix in the Python API's spelling: `activation: relu` -> `activation="relu"`,
    `type: LSTM` -> `layers.LSTM(...)`, `units: 1` -> `units=1`."""
    fix = re.sub(r"\btype: (\w+)", r"layers.\1(...)", fix)
    fix = re.sub(r"\b([a-z_]+): (\d+)\b", r"\1=\2", fix)
    return re.sub(r"\b([a-z_]+): ([A-Za-z_]\w*)", r'\1="\2"', fix)


def counts(findings: list[Finding]) -> dict[str, int]:
    return {level: sum(f.level == level for f in findings) for level in LEVELS}


def has_kernel(node) -> bool:
    """Whether the node's layer multiplies its input by a kernel (Dense, Conv2D, ...)."""
    return node.layer is not None and bool(node.layer.kernel_weights)


def activation_name(node) -> str | None:
    """The activation a layer applies (None for layers without one, and for recurrent layers,
    whose activation is inside their cell; 'linear' for none given)."""
    if node.layer is None or getattr(node.layer, "recurrent", False):
        return None
    activation = getattr(node.layer, "activation", None)
    return activation.name if activation is not None else None


class _Checker:
    def __init__(self, model):
        self.model = model
        self.findings: list[Finding] = []
        self.consumers: dict[str, list[str]] = {name: [] for name in model.nodes}
        for node in model.nodes.values():
            for i in node.inbound:
                self.consumers[i].append(node.name)
        self._configs = {ls.path: ls.config for ls in model.spec.layers}
        self._kernel_downstream: dict[str, bool] | None = None

    # --- helpers -------------------------------------------------------------------------------
    def report(self, rule_id: str, node, message: str, fix: str, key: str | None = None,
               layers: list[str] | None = None, what: str = "layer"):
        """A finding at `node` (its argument `key`), about `layers` (default: `node` alone)."""
        rule = RULES[rule_id]
        spec = self.model.spec
        source = line = column = None
        if spec.doc is not None:
            source = spec.doc.source
            path = tuple(node.path) + ((key,) if key else ())
            pos = spec.doc.where(path)
            if pos is not None:
                line, column = pos.line, pos.column
        self.findings.append(Finding(
            rule=rule.id, level=rule.level, message=f"{what} '{node.name}': {message}", fix=fix,
            layer=node.name, layers=list(layers or [node.name]), source=source, line=line,
            column=column))

    def layer_config(self, node) -> dict:
        """The arguments the spec gives this layer (defaults left out)."""
        return self._configs.get(node.path, {})

    def layer_nodes(self):
        return [n for n in (self.model.nodes[name] for name in self.model.order)
                if n.layer is not None and n.owner is None]   # a shared layer once

    def kernel_downstream(self, name: str) -> bool:
        """Whether some layer with a kernel reads this node's output, directly or further on."""
        if self._kernel_downstream is None:   # for every node at once, outputs first: linear
            below: dict[str, bool] = {}
            for current in reversed(self.model.order):
                below[current] = any(has_kernel(self.model.nodes[c]) or below.get(c, False)
                                     for c in self.consumers[current])
            self._kernel_downstream = below
        return self._kernel_downstream.get(name, False)

    def kind(self, names: list[str]) -> str:
        """What to call these layers in a message: their type when they share one (`Dense`),
        else `weight` ("4 weight layers deep")."""
        types = {self.model.nodes[n].type_name for n in names}
        return types.pop() if len(types) == 1 else "weight"

    def names(self, path: list[str]) -> str:
        """The nodes of a path as users write them (a shared layer's call `d[1][0]`)."""
        return _names([self.model.written(name) for name in path])

    def longest(self, counts_node) -> tuple[int, list[str]]:
        """The most nodes with counts_node(node) on one path from an input to an output."""
        # per node: (count, the last counted node of its best path); each counted node links
        # to the one before it, and the path is read back once at the end (linear)
        best: dict[str, tuple[int, str | None]] = {}
        previous: dict[str, str | None] = {}
        for name in self.model.order:  # topological
            node = self.model.nodes[name]
            before = max((best[i] for i in node.inbound), default=(0, None),
                         key=lambda b: b[0])
            if counts_node(node):
                previous[name] = before[1]
                best[name] = (before[0] + 1, name)
            else:
                best[name] = before
        count, last = max((best[self.model.resolve(o)[0]] for o in self.model.outputs),
                          default=(0, None),
                          key=lambda b: b[0])
        path = []
        while last is not None:
            path.append(last)
            last = previous[last]
        return count, path[::-1]

    # --- the rules ------------------------------------------------------------------------------
    def unused_input(self):
        if not self.model.spec.functional:
            return
        for name in self.model.input_names:
            if not self.consumers.get(name):
                node = self.model.nodes[name]
                width = 1
                for d in node.shape:
                    width *= d or 1
                self.report("unused-input", node,
                            f"feeds no layer, yet every row still carries its {width:,} "
                            "column(s), read and thrown away",
                            f"connect it (inputs: {name}) or remove it from `inputs:`",
                            what="input")

    def softmax_one_unit(self):
        for node in self.layer_nodes():
            name = activation_name(node)
            if name not in ONE_HOT_ACTIVATIONS:
                continue
            axis = node.layer.activation.params.get("axis", -1)
            shape = node.shape
            size = shape[axis] if axis < 0 else (shape[axis - 1] if 0 < axis <= len(shape)
                                                 else None)
            if size == 1:
                value = ONE_HOT_ACTIVATIONS[name]
                self.report("softmax-one-unit", node,
                            f"{name} over 1 unit is always {value}, whatever the input",
                            "for a binary output use 1 unit with activation: sigmoid; for N "
                            "classes use N units with softmax", "activation")

    def sigmoid_stack(self):
        count, path = self.longest(lambda n: activation_name(n) == "sigmoid")
        if count >= SIGMOID_STACK:
            first = self.model.nodes[path[0]]
            self.report("sigmoid-stack", first,
                        f"{count} sigmoid layers on one path ({self.names(path)}): at most "
                        f"1/{4 ** count:,} of the output's gradient gets back here "
                        "(sigmoid' <= 1/4)",
                        "relu with kernel_initializer: he_normal in the hidden layers; "
                        "sigmoid only for a binary output", "activation", layers=path)

    def saturating_hidden(self):
        """One finding for the whole network, at the first such layer, naming them all: the
        cause (depth) and the fix are the same for each, and one line per layer buried the
        other findings under copies of one message."""
        depth, path = self.longest(has_kernel)
        if depth < DEEP_LAYERS:
            return
        kind = self.kind(path)
        hidden = [node for node in self.layer_nodes()
                  if activation_name(node) in SATURATING and self.kernel_downstream(node.name)]
        if not hidden:
            return
        kinds = list(dict.fromkeys(activation_name(node) for node in hidden))
        names = [node.name for node in hidden]
        if len(hidden) == 1:
            message = (f"hidden {kinds[0]} in a network {depth} {kind} layers deep: it "
                       f"{SATURATING[kinds[0]]}, so gradients vanish towards the input")
        else:
            why = " and ".join(f"{kind} {SATURATING[kind]}" for kind in kinds)
            message = (f"{len(hidden)} hidden {' and '.join(kinds)} layers in a network "
                       f"{depth} {kind} layers deep ({', '.join(names)}): {why}, so gradients "
                       "vanish towards the input")
        self.report("saturating-hidden", hidden[0], message,
                    "activation: relu, kernel_initializer: he_normal", "activation",
                    layers=names)

    def recurrent_activation(self):
        for node in self.layer_nodes():
            cell = _cell(node.layer)
            gate = getattr(cell, "recurrent_activation", None) \
                if getattr(node.layer, "recurrent", False) else None
            if gate is None or gate.name in GATES:
                continue
            key = "layer" if cell is not node.layer else "recurrent_activation"
            self.report("recurrent-activation", node,
                        f"recurrent_activation {gate.name}: {_a(type(cell).__name__)}'s gates "
                        "scale what passes as fractions in [0, 1]; outside it the cell state "
                        "can grow without bound or flip sign", "recurrent_activation: sigmoid",
                        key)

    def long_simple_rnn(self):
        for node in self.layer_nodes():
            cell = _cell(node.layer)
            if not getattr(node.layer, "recurrent", False) or cell.gates != 1:
                continue
            steps = self.model.inbound_shapes(node)[0][0]
            if steps is None or steps < LONG_SEQUENCE:
                continue
            self.report("long-simple-rnn", node,
                        f"a SimpleRNN over {steps} steps: the gradient from the end goes "
                        f"through {steps} products of the recurrent kernel and vanishes (or "
                        "explodes), so the start of the sequence is forgotten",
                        "type: LSTM or type: GRU (gated cells keep information over long "
                        "sequences)", "layer" if cell is not node.layer else "type")

    def relu_init(self):
        for node in self.layer_nodes():
            dense, relu = self._relu_kernel(node)
            if dense is None:
                continue
            kernel_name = dense.layer.kernel_weights[0]
            argument = dense.layer.initializer_arg(kernel_name)
            init = getattr(dense.layer, argument)
            kernel = next(w for w in dense.weights if w.name == kernel_name)
            fan_in, _ = compute_fans(kernel.shape)
            he_std = math.sqrt(2.0 / max(1, fan_in))
            where = relu if dense is node else f"{relu} (in '{node.name}')"
            name = getattr(init, "name", None)
            given = argument in self.layer_config(dense)
            kernels = f"{name} kernels" + ("" if given else " (the default)")
            if name in GLOROT:
                message = (f"{where} after {kernels}: Glorot suits linear and tanh units; "
                           f"{relu} drops about half the variance, so activations shrink "
                           "layer by layer")
            elif name in SMALL_RANDOM:
                std = init.theory(kernel.shape)["std"]
                if not std < he_std / 2:
                    continue
                message = (f"{where} after {kernels} of std {std:.3g}: He's is "
                           f"{he_std:.3g} for fan_in {fan_in}, so activations shrink about "
                           f"{he_std / std:.3g}-fold per layer")
            else:
                continue
            self.report("relu-init", dense, message, f"{argument}: he_normal", argument)

    def _relu_kernel(self, node):
        """(the layer whose kernel feeds this relu-family activation, its name): the layer
        itself, or the linear layer with a kernel just before an activation layer."""
        name = activation_name(node)
        if name not in RELU_FAMILY:
            return None, None
        if has_kernel(node):
            return node, name
        if len(node.inbound) == 1:   # an activation layer (Activation, ReLU, ...)
            before = self.model.nodes[node.inbound[0]]
            if has_kernel(before) and activation_name(before) == "linear":
                return before, name
        return None, None

    def linear_network(self):
        nodes = self.layer_nodes()
        for node in nodes:
            name = activation_name(node)
            if (name is not None and name != "linear") or not node.layer.affine:
                return
        depth, path = self.longest(has_kernel)
        if depth < 2:
            return  # one Dense layer is a linear model, and may well be meant
        first = self.model.nodes[path[0]]
        self.report("linear-network", first,
                    f"the network is linear: {depth} {self.kind(path)} layers ({self.names(path)}) "
                    "and no non-linear activation compute a single matrix product",
                    "give the hidden layers an activation, e.g. activation: relu", "activation",
                    layers=path)

    def sigmoid_multi_unit(self):
        nodes = [self.model.nodes[self.model.resolve(ref)[0]] for ref in self.model.outputs]
        # a shared layer's call (`dense[1][0]`): the layer, said once
        for name in dict.fromkeys(node.owner or node.name for node in nodes):
            node = self.model.nodes[name]
            if activation_name(node) != "sigmoid":
                continue
            units = node.shape[-1]
            if units is not None and units > 1:
                self.report("sigmoid-multi-unit", node,
                            f"sigmoid over {units} output units: {units} independent "
                            "probabilities (multi-label), not one class out of "
                            f"{units}: meant?",
                            "activation: softmax for one class out of several; keep sigmoid "
                            "when several labels can be true", "activation")


def _names(path: list[str]) -> str:
    """Layer names of a path, the middle elided when long."""
    return ", ".join(path) if len(path) <= 4 else f"{path[0]}, {path[1]} ... {path[-1]}"


def _cell(layer):
    """The recurrent layer itself, or the one a Bidirectional wraps."""
    return getattr(layer, "layer", layer)


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'AEFHILMNORSX' else 'a'} {word}"
