"""A built model as an ONNX graph of standard operators (opset 13 and later), as plain data.

`build_graph(model, weights)` writes every layer as ONNX nodes, each layer type with its own
`Layer.to_onnx(g, ...)` (nnctl/layers) on the Graph below; nnctl.onnx.export turns the
Graph into an onnx.ModelProto (onnx.helper), nnctl.onnx.proto into the bytes ONNX Runtime
reads, without importing onnx. Nothing here imports onnx.

Names: the graph's inputs are the spec's inputs, and each layer's output tensor is named
after the layer, so the graph's outputs carry the names of the spec's outputs; a weight is
the initializer `LAYER/WEIGHT` (Keras' names, as in a weights file); the steps inside a layer
are `LAYER/OP`. The batch axis is the dynamic dimension `batch`.

Each layer is written with the same operations, in the same order and dtype, as its NumPy
forward pass (nnctl/layers, nnctl/activations), so that ONNX Runtime gives the NumPy engine's
numbers: BatchNormalization is folded into one multiply and one add, exactly as the NumPy
layer computes them; numerically careful formulas (expm1, log1p, hypot, sigmoid, the
tanh_shrink series) are spelled out in ONNX operators. Constants take the layer's dtype
(float32 or float64), never a float attribute, so a float64 model keeps float64 constants.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partialmethod

import numpy as np

MIN_OPSET = 13        # Softmax along one axis, ReduceSum's axes as an input, Split's equal halves
DEFAULT_OPSET = 17    # LayerNormalization; read by every current runtime
PROTOBUF_LIMIT = 2 ** 31 - 1   # an ONNX model is one protobuf message

# onnx.TensorProto.DataType values (fixed by the ONNX standard)
FLOAT, INT32, INT64, BOOL, DOUBLE = 1, 6, 7, 9, 11
ELEMENT = {np.dtype(np.float32): FLOAT, np.dtype(np.float64): DOUBLE,
           np.dtype(np.int32): INT32, np.dtype(np.int64): INT64,  # integer inputs: token ids
           np.dtype(np.bool_): BOOL}                             # masks


@dataclass
class OpNode:
    op_type: str
    inputs: list[str]
    outputs: list[str]
    name: str
    attrs: dict


class CannotExport(Exception):
    """Something the model does that has no ONNX form here; the message says what, and
    build_graph turns it into a SpecError naming the layer."""


def build_graph(model, weights: dict[str, np.ndarray], *, opset: int = DEFAULT_OPSET,
                outputs: list[str] | None = None) -> "Graph":
    """The model with these weights as an ONNX graph. `outputs` may name any layers (taps);
    default: the model's outputs."""
    from nnctl.masking import onnx_mask

    wanted = list(outputs or model.outputs)
    g = Graph(model.name, opset, reserved=[tensor_name(model, name, k) for name, node in
                                           model.nodes.items() for k in range(node.n_outputs)]
              + list(model.nodes))
    g.share_initializers = any(node.owner for node in model.nodes.values())
    masks: dict[str, str | None] = {}
    for name in model.steps(wanted):
        node = model.nodes[name]
        if node.layer is None:
            continue
        g.start_layer(tensor_name(model, name), node.dtype)
        args = [tensor_name(model, i, k) for i, k in zip(node.inbound, node.inbound_index)]
        if not getattr(node.layer, "takes_integers", False):
            args = [g.cast(a, model.nodes[i].dtype, node.dtype)
                    for a, i in zip(args, node.inbound)]
        layer_weights = {k: np.asarray(v, dtype=node.dtype)
                         for k, v in node.layer_weights(weights).items()}
        mask = onnx_mask(g, model, node, args, masks) if model.masked else None
        try:
            result = node.layer.to_onnx(g, args, layer_weights, model.inbound_shapes(node),
                                        node.shape, **({"mask": mask} if mask else {}))
        except CannotExport as exc:
            raise model.spec.error(f"{node.label}: {exc} (no ONNX export)", node.path) from None
        if node.n_outputs == 1:
            g.finish_layer(result, tensor_name(model, name))
        else:
            for k, tensor in enumerate(result):
                g.finish_layer(tensor, tensor_name(model, name, k))
    g.inputs = [(name, np.dtype(model.nodes[name].dtype), ["batch", *model.nodes[name].shape])
                for name in model.input_names]
    g.outputs = [(tensor, np.dtype(model.nodes[node].dtype))
                 for node, tensor in output_tensors(model, wanted)]
    size = sum(array.nbytes for _, array in g.initializers)
    if size > PROTOBUF_LIMIT - (1 << 20):
        from nnctl.errors import ResourceError

        raise ResourceError(f"the weights take {size / 2**30:.1f} GiB, more than one ONNX model "
                            "can hold (2 GiB, protobuf's limit)")
    return g


def tensor_name(model, name: str, index: int = 0) -> str:
    """The graph's name for output `index` of node `name`, in Keras' notation as users
    write it (nnctl.model.written_ref): the layer's name, `lstm[0][1]` for the further
    outputs of a layer of several (return_state), `dense[1][0]` for a shared layer's call."""
    from nnctl.model import written_ref

    return written_ref(model.nodes[name], index or None, full=bool(index))


def output_tensors(model, refs) -> list[tuple[str, str]]:
    """(node, tensor name) of each output (Model.output_tensors): a layer of several outputs
    named alone gives all."""
    return [(name, tensor_name(model, name, k)) for _, name, k in model.output_tensors(refs)]


class Graph:
    """An ONNX graph being written: nodes, initializers (name -> array) and the names taken."""

    def __init__(self, name: str, opset: int, reserved=()):
        self.name = name
        self.opset = opset
        self.nodes: list[OpNode] = []
        self.initializers: list[tuple[str, np.ndarray]] = []
        self.inputs: list[tuple[str, np.dtype, list]] = []     # name, dtype, dims
        self.outputs: list[tuple[str, np.dtype]] = []
        self.names: set[str] = set(reserved)
        self.scope = ""
        self.dtype = np.dtype(np.float32)
        self._constants: dict = {}
        self._layer_start = 0
        self.share_initializers = False   # equal arrays as one initializer (shared layers)
        self._shared: dict = {}

    # -- names and layers --
    def fresh(self, stem: str) -> str:
        base = f"{self.scope}/{stem}" if self.scope else stem
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def start_layer(self, name: str, dtype) -> None:
        self.scope, self.dtype = name, np.dtype(dtype)
        self._constants = {}
        self._layer_start = len(self.nodes)

    def finish_layer(self, result: str, name: str) -> None:
        """Name the layer's result tensor after the layer."""
        last = self.nodes[-1] if len(self.nodes) > self._layer_start else None
        if last is not None and result in last.outputs:
            index = last.outputs.index(result)
            last.outputs[index] = name
            if index == 0:
                last.name = name
        else:  # the layer passes a tensor through (Dropout, linear)
            self.nodes.append(OpNode("Identity", [result], [name], name, {}))

    # -- nodes --
    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attrs):
        names = [self.fresh(op_type) for _ in range(outputs)]
        self.nodes.append(OpNode(op_type, list(inputs), names, names[0], attrs))
        return names[0] if outputs == 1 else names

    def c(self, value, dtype=None) -> str:
        """A constant in the layer's dtype (or `dtype`), shared within the layer."""
        array = np.asarray(value, dtype=dtype or self.dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            self._constants[key] = self.initializer(array, "const")
        return self._constants[key]

    def ints(self, values) -> str:
        return self.c(np.asarray(values, dtype=np.int64).reshape(-1), np.int64)

    def initializer(self, array, stem: str) -> str:
        array = np.asarray(array)
        if self.share_initializers:   # a shared layer's calls store its weights once
            import hashlib

            key = (array.dtype.str, array.shape, hashlib.sha256(array.tobytes()).digest())
            if key in self._shared:
                return self._shared[key]
        name = self.fresh(stem)
        self.initializers.append((name, array))
        if self.share_initializers:
            self._shared[key] = name
        return name

    def cast(self, tensor: str, have, want) -> str:
        if np.dtype(have) == np.dtype(want):
            return tensor
        return self.op("Cast", tensor, to=ELEMENT[np.dtype(want)])

    def reduce(self, op_type: str, x: str, axes) -> str:
        """A reduction over `axes`, keeping them; axes became an input in opset 18 (13 for
        ReduceSum)."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.ints(axes), keepdims=1)
        return self.op(op_type, x, axes=list(axes), keepdims=1)

    # -- arithmetic, for readable formulas: g.add(a, b) is Add(a, b), numbers are constants --
    def _t(self, v) -> str:
        return v if isinstance(v, str) else self.c(v)

    def binary(self, op_type: str, a, b):
        """An operator of two operands (Add, Less...), numbers made constants."""
        return self.op(op_type, self._t(a), self._t(b))

    compare = binary   # g.compare("Less", a, b): a boolean tensor
    add = partialmethod(binary, "Add")
    sub = partialmethod(binary, "Sub")
    mul = partialmethod(binary, "Mul")
    div = partialmethod(binary, "Div")
    maximum = partialmethod(binary, "Max")
    minimum = partialmethod(binary, "Min")

    def where(self, condition, a, b):
        return self.op("Where", condition, self._t(a), self._t(b))

    def clip(self, x, low, high):
        return self.op("Clip", x, self.c(low), self.c(high))

    def abs(self, x):
        return self.op("Abs", x)

    def neg(self, x):
        return self.op("Neg", x)

    # -- activations --
    def activation(self, activation, x: str, shape) -> str:
        """An nnctl.activations function applied to x (of one-sample shape `shape`), with the
        operations of its NumPy formula (ACTIVATIONS below)."""
        emit = ACTIVATIONS.get(activation.name)
        if emit is None:
            raise CannotExport(f"nnctl cannot export the activation '{activation.name}' to ONNX")
        return emit(self, x, tuple(shape), **activation.params)


# ---------------------------------------------------------------------------------------------
# Numerically careful pieces (ONNX has no expm1, log1p or hypot)

def _expm1(g: Graph, x: str) -> str:
    """exp(x) - 1 without cancellation near 0 (Kahan: (u - 1) x / log u, u = exp x)."""
    u = g.op("Exp", x)
    d = g.sub(u, 1)
    careful = g.div(g.mul(d, x), g.op("Log", u))
    return g.where(g.compare("Equal", u, 1), x,
                   g.where(g.compare("Equal", d, -1), -1, careful))


def _log1p(g: Graph, x: str) -> str:
    """log(1 + x) without losing x's digits for small x (Goldberg: log(w) x / (w - 1))."""
    w = g.add(x, 1)
    careful = g.div(g.mul(g.op("Log", w), x), g.sub(w, 1))
    return g.where(g.compare("Equal", w, 1), x, careful)


def _softplus(g: Graph, x: str) -> str:
    # NumPy's logaddexp(x, 0): max(x, 0) + log1p(exp(-|x|)), which keeps softplus(-30) =
    # 9.4e-14 (log(1 + 9.4e-14) would round to 0); ONNX Runtime has no float64 Softplus.
    return g.add(g.maximum(x, 0), _log1p(g, g.op("Exp", g.neg(g.abs(x)))))


def _sigmoid(g: Graph, x: str) -> str:
    # NumPy's formula, 1 / (1 + exp(-x)): the tails keep their relative precision (ONNX
    # Runtime's float32 Sigmoid returns 1.2e-7 for sigmoid(-18) = 1.5e-8), and where exp(-x)
    # overflows 1 / inf is 0. Four passes: 1M rows through a 32-64-64-10 sigmoid MLP 1.39 s
    # with the nine of an exp(-|x|) form, now 0.46 s (the NumPy engine: 0.61 s).
    return g.op("Reciprocal", g.add(g.op("Exp", g.neg(x)), 1))


def _hypot(g: Graph, x: str, y: float) -> str:
    """sqrt(x^2 + y^2) for a tensor x and a number y >= 0, scaled so neither square overflows."""
    ax = g.abs(x)
    m = g.maximum(ax, y)
    safe = g.where(g.compare("Equal", m, 0), 1, m)
    rx, ry = g.div(ax, safe), g.div(y, safe)
    h = g.mul(m, g.op("Sqrt", g.add(g.mul(rx, rx), g.mul(ry, ry))))
    return g.where(g.compare("Equal", m, math.inf), m, h)


def _hard_sigmoid(g: Graph, x: str) -> str:
    # Keras: x / 6 + 0.5, clipped (x / 6, not x * (1/6): the same float32 rounding)
    return g.clip(g.add(g.div(x, 6), 0.5), 0, 1)


# the series of x - tanh(x) used by nnctl.activations for |x| < 0.2
def _tanh_shrink(g: Graph, x: str, shape) -> str:
    from nnctl.activations import _TANH_SHRINK_SERIES

    small = g.compare("Less", g.abs(x), 0.2)
    xs = g.where(small, x, 0)
    x2 = g.mul(xs, xs)
    series = g.c(0)
    for c in reversed(_TANH_SHRINK_SERIES):
        series = g.add(g.mul(series, x2), c)
    return g.where(small, g.mul(g.mul(series, x2), xs), g.sub(x, g.op("Tanh", x)))


# ---------------------------------------------------------------------------------------------
# Activations: name -> emit(g, x, shape, **params); shape is x's shape without the batch axis.
# Each follows the NumPy formula of nnctl/activations.py operation for operation.

def _relu(g, x, shape, negative_slope, max_value, threshold):
    if negative_slope != 0 and max_value is None and threshold == 0:
        return g.maximum(x, g.mul(negative_slope, x))
    if threshold != 0:
        y = g.where(g.compare("Greater", x, threshold), x, 0)
    else:
        y = g.op("Relu", x)
    if max_value is not None:
        y = g.minimum(g.maximum(y, 0), max_value)
    if negative_slope != 0:
        y = g.sub(y, g.mul(negative_slope, g.op("Relu", g.sub(threshold, x))))
    return y


def _elu(g, x, alpha):
    return g.where(g.compare("GreaterOrEqual", x, 0), x,
                   g.mul(alpha, _expm1(g, g.minimum(x, 0))))


def _gelu(g, x, shape, approximate):
    if approximate:
        from nnctl.activations import _GELU_C, _GELU_K

        xc = g.clip(x, -1e4, 1e4)
        u = g.mul(_GELU_C, g.add(xc, g.mul(g.mul(g.mul(_GELU_K, xc), xc), xc)))
        return g.mul(x, _sigmoid(g, g.mul(2, u)))
    # x Phi(x) = (x / 2) (1 + erf(x / sqrt 2)), in an order of ONNX Runtime's Gelu fusion
    # (onnxruntime/core/optimizer/gelu_fusion.cc), which then runs one vectorized kernel instead
    # of five passes: 1M rows of .npy through a 32-64-64-10 MLP took 0.54 s, now 0.44 s, where
    # the relu network takes 0.41 s (2 cores, idle). x is halved first: x (1 + erf) would
    # overflow from half the float range where the graph is not fused (another runtime).
    return g.mul(g.mul(x, 0.5), g.add(g.op("Erf", g.div(x, math.sqrt(2.0))), 1))


def _squareplus(g, x, shape, b):
    h = _hypot(g, x, math.sqrt(b))
    positive = g.compare("GreaterOrEqual", x, 0)
    hs, xs = g.where(positive, 1, h), g.where(positive, -1, x)
    negative = g.div(g.div(b, hs), g.mul(2, g.sub(1, g.div(xs, hs))))
    return g.where(positive, g.add(g.div(x, 2), g.div(h, 2)), negative)


def _batch_axis(axis: int, shape, name: str) -> int:
    rank = len(shape) + 1
    if not -rank <= axis < rank:
        raise CannotExport(f"{name}: axis {axis} is out of range for inputs of shape "
                            f"{(None,) + tuple(shape)}")
    return axis % rank


def _glu(g, x, shape, axis):
    a_axis = _batch_axis(axis, shape, "glu")
    if a_axis and shape[a_axis - 1] is not None and shape[a_axis - 1] % 2:
        raise CannotExport(f"glu splits axis {axis} in two halves, but it has "
                            f"{shape[a_axis - 1]} values (an odd number)")
    if g.opset >= 18:
        a, b = g.op("Split", x, outputs=2, axis=a_axis, num_outputs=2)
    else:
        a, b = g.op("Split", x, outputs=2, axis=a_axis)
    return g.mul(a, _sigmoid(g, b))


def _softmax(g, x, shape, axis):
    return g.op("Softmax", x, axis=_batch_axis(axis, shape, "softmax"))


def _log_softmax(g, x, shape, axis):
    return g.op("LogSoftmax", x, axis=_batch_axis(axis, shape, "log_softmax"))


def _sparsemax(g, x, shape, axis):
    """Martins & Astudillo's sort-based sparsemax (as nnctl.activations._sparsemax_support)."""
    a = _batch_axis(axis, shape, "sparsemax")
    if a == 0 or shape[a - 1] is None:
        raise CannotExport(f"sparsemax along axis {axis} needs that axis' size, which is only "
                            "known at run time")
    n = shape[a - 1]
    shifted = g.sub(x, g.reduce("ReduceMax", x, [a]))
    z, _ = g.op("TopK", shifted, g.ints([n]), outputs=2, axis=a, largest=1, sorted=1)
    cumsum = g.op("CumSum", z, g.c(a, np.int64))
    layout = [1] * (len(shape) + 1)
    layout[a] = n
    r = g.c(np.arange(1, n + 1).reshape(layout))
    support = g.compare("Greater", g.add(1, g.mul(r, z)), cumsum)
    k = g.reduce("ReduceSum", g.op("Cast", support, to=ELEMENT[g.dtype]), [a])
    total = g.reduce("ReduceSum", g.where(support, z, 0), [a])
    tau = g.div(g.sub(total, 1), k)
    return g.maximum(g.sub(shifted, tau), 0)


def _soft_shrink(g, x, shape, threshold):
    return g.where(g.compare("Greater", x, threshold), g.sub(x, threshold),
                   g.where(g.compare("Less", x, -threshold), g.add(x, threshold), 0))


def _sparse_plus(g, x, shape):
    xc = g.clip(x, -1, 1)
    quadratic = g.mul(g.mul(0.25, g.add(xc, 1)), g.add(xc, 1))
    return g.where(g.compare("LessOrEqual", x, -1), 0,
                   g.where(g.compare("Less", x, 1), quadratic, x))


def _sparse_sigmoid(g, x, shape):
    return g.where(g.compare("LessOrEqual", x, -1), 0,
                   g.where(g.compare("GreaterOrEqual", x, 1), 1, g.mul(0.5, g.add(x, 1))))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946

ACTIVATIONS = {
    "relu": _relu,
    "leaky_relu": lambda g, x, s, negative_slope: g.maximum(x, g.mul(negative_slope, x)),
    "relu6": lambda g, x, s: g.minimum(g.maximum(x, 0), 6),
    "elu": lambda g, x, s, alpha: _elu(g, x, alpha),
    "selu": lambda g, x, s: g.mul(_SELU_SCALE, _elu(g, x, _SELU_ALPHA)),
    "celu": lambda g, x, s, alpha: g.add(g.maximum(x, 0),
                                         g.mul(alpha, _expm1(g, g.div(g.minimum(x, 0), alpha)))),
    "gelu": _gelu,
    "silu": lambda g, x, s: g.mul(x, _sigmoid(g, x)),
    "hard_silu": lambda g, x, s: g.mul(x, _hard_sigmoid(g, x)),
    "mish": lambda g, x, s: g.mul(x, g.op("Tanh", _softplus(g, x))),
    "softplus": lambda g, x, s: _softplus(g, x),
    "softsign": lambda g, x, s: g.div(x, g.add(1, g.abs(x))),
    "sigmoid": lambda g, x, s: _sigmoid(g, x),
    "hard_sigmoid": lambda g, x, s: _hard_sigmoid(g, x),
    "log_sigmoid": lambda g, x, s: g.neg(_softplus(g, g.neg(x))),
    "sparse_sigmoid": _sparse_sigmoid,
    "tanh": lambda g, x, s: g.op("Tanh", x),
    "hard_tanh": lambda g, x, s: g.clip(x, -1, 1),
    "tanh_shrink": _tanh_shrink,
    "hard_shrink": lambda g, x, s, threshold: g.where(
        g.compare("Greater", g.abs(x), threshold), x, 0),
    "soft_shrink": _soft_shrink,
    "sparse_plus": _sparse_plus,
    "squareplus": _squareplus,
    "exponential": lambda g, x, s: g.op("Exp", x),
    "linear": lambda g, x, s: x,
    "threshold": lambda g, x, s, threshold, default_value: g.where(
        g.compare("Greater", x, threshold), x, default_value),
    "glu": _glu,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "sparsemax": _sparsemax,
}


