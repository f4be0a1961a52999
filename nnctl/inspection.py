"""A network at initialization, measured layer by layer: what `nnctl inspect` reports.

One forward and one backward pass over a batch give, for every layer:

- `mean`, `std`: of all the values the layer outputs for the batch;
- `dead`: for relu and relu6, the fraction of units (every value of one sample's output) whose
  slope is 0 for every sample of the batch: no gradient reaches their weights, so they cannot
  come back to life (a relu unit with x <= 0 throughout, or relu6 stuck at 6). None for other
  activations;
- `saturated`: for sigmoid, tanh and their hard/soft variants (SATURATING), the fraction of
  output values where the activation's slope is below SATURATION_SLOPE (5 %) of its slope at
  0: a gradient passing there is cut at least 20-fold. For sigmoid that is an output below
  0.0127 or above 0.9873 (|x| > 4.36); for tanh |output| > 0.975 (|x| > 2.18). None for
  other activations;
- `grad_norm`: the L2 norm of dL/dW over the layer's trainable weights together, and per weight
  in `weights`; `output_grad_norm`: the L2 norm of dL/d(output).

The loss L is the mean square of the outputs by default (a stand-in that makes every output
value matter) or, with a target, the mean squared error against it; with several outputs the
per-output losses add up, as Keras adds them. The passes run in float64 whatever the model's
dtype (on the same input and weight values): the measure should not saturate before the network
does, so gradients that would underflow float32 (a deep sigmoid stack) or overflow it (an
exploding initialization) still show as numbers.

`compare` runs the same batch through the same network with every kernel (the weights
Layer.kernel_weights names: Dense's, Conv2D's...) drawn from another initializer (same seed,
same names): Glorot and He measured on the user's network.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from nnctl import backprop
from nnctl.errors import DataError, ParameterError, SpecError

SATURATION_SLOPE = 0.05
SATURATING = ("sigmoid", "tanh", "hard_sigmoid", "hard_tanh", "softsign", "sparse_sigmoid")
DYING = ("relu", "relu6")  # relu with a negative_slope does not die


@dataclass
class WeightStats:
    name: str
    shape: list
    trainable: bool
    std: float            # of the weight's values
    grad_norm: float      # L2 norm of dL/d(weight)


@dataclass
class LayerStats:
    name: str
    type: str
    activation: str | None      # for layers that apply one (Dense, Activation, ReLU...)
    output_shape: list           # with the batch axis as None, as summary prints it
    mean: float
    std: float
    dead: float | None
    saturated: float | None
    grad_norm: float | None      # over the trainable weights; None without any
    output_grad_norm: float
    weights: list[WeightStats] = field(default_factory=list)


@dataclass
class Report:
    model: str
    batch: int
    loss: str                    # "mean_square" or "mse"
    loss_value: float
    kernel_initializer: str | None   # set by compare(): the initializer every kernel used
    layers: list[LayerStats]

    def layer(self, name: str) -> LayerStats:
        return next(s for s in self.layers if s.name == name)

    def to_dict(self) -> dict:
        return asdict(self)


# --- inputs and targets --------------------------------------------------------------------------

def check_batch_fits(model, batch: int) -> None:
    """ResourceError, before any pass, when the passes over `batch` rows cannot fit in half
    the free memory: every layer's values and their gradients in float64, and one layer's
    scratch (Model.values_per_sample), about three copies (measured: 3.3 for an MLP, 2 for
    a convnet)."""
    from nnctl.errors import ResourceError
    from nnctl.limits import check_allocation

    per_row = model.values_per_sample()
    try:
        check_allocation((batch, per_row), "float64", copies=3,
                         what=f"inspecting a batch of {batch:,} rows: its layer values and "
                              "gradients (float64)")
    except ResourceError as exc:
        raise ResourceError(f"{exc.message}: inspect fewer rows") from None


def random_inputs(model, batch: int, seed: int) -> dict[str, np.ndarray]:
    """A standard-normal batch for every input, from the seed (independent of the weights')."""
    from nnctl.initializers import weight_rng
    from nnctl.limits import check_allocation

    check_batch_fits(model, batch)
    inputs = {}
    for name in model.input_names:
        shape = model.nodes[name].shape
        if None in shape:
            raise SpecError(f"input '{name}' has a free dimension {tuple(shape)}; give an "
                            "INPUT file to inspect it")
        full = (batch, *shape)
        check_allocation(full, model.dtype, what=f"a batch for input '{name}'")
        rng = weight_rng(seed, "<inspect>", name)
        dtype = model.nodes[name].dtype
        if np.dtype(dtype).kind == "i":   # token ids, below every Embedding's input_dim
            vocabulary = min((node.layer.input_dim for node in model.nodes.values()
                              if name in node.inbound and hasattr(node.layer, "input_dim")),
                             default=2)
            inputs[name] = rng.integers(0, vocabulary, full).astype(dtype)
        else:
            inputs[name] = rng.standard_normal(full).astype(model.dtype)
    return inputs


def split_outputs(model, rows: np.ndarray, source: str | None = None) -> dict[str, np.ndarray]:
    """Flat target rows (batch, columns) -> output name -> (batch, *shape)."""
    tensors = _output_shapes(model)
    width = target_width(model)
    if rows.ndim != 2 or rows.shape[1] != width:
        raise DataError(f"a target row needs {width} values (the outputs "
                        f"{', '.join(tensors)} flattened), got {rows.shape[-1]}",
                        source=source)
    result, start = {}, 0
    for ref, shape in tensors.items():
        size = math.prod(d or 1 for d in shape)
        result[ref] = rows[:, start:start + size].reshape((len(rows), *shape))
        start += size
    return result


def _output_shapes(model) -> dict[str, tuple]:
    """Each output tensor (as written: `lstm[0][1]`, a call's `dense[1][0]`) -> its shape."""
    return {written: model.nodes[name].shapes[k]
            for written, name, k in model.output_tensors(model.outputs)}


def target_width(model) -> int:
    """The values of one target row: every output tensor flattened (a layer of several
    outputs gives each; a shared layer's call is read as Keras writes it, `dense[1][0]`)."""
    return sum(math.prod(d or 1 for d in shape) for shape in _output_shapes(model).values())


# --- the measurements ----------------------------------------------------------------------------

def loss_gradients(outputs: dict[str, np.ndarray], targets: dict[str, np.ndarray] | None):
    """(loss value, output name -> dL/d output) for the mean square or the MSE."""
    total, grads = 0.0, {}
    for name, y in outputs.items():
        error = y if targets is None else y - targets[name].astype(y.dtype, copy=False)
        e64 = error.astype(np.float64)
        total += float(np.mean(e64 * e64))
        grads[name] = (2.0 / error.size) * error
    return total, grads


def _norm(array) -> float:
    """The L2 norm; of a layer of several outputs' gradients (a list, None where none
    reached), the norm of them all."""
    if isinstance(array, list):
        return math.sqrt(sum(_norm(a) ** 2 for a in array if a is not None))
    return float(np.linalg.norm(np.asarray(array, dtype=np.float64).ravel()))


def _activation_stats(layer, z: np.ndarray, batch: int):
    """(dead fraction, saturated fraction) of an activation applied to z, None where n/a."""
    activation = layer.activation
    name = activation.name
    dying = name in DYING and not activation.params.get("negative_slope")
    if not dying and name not in SATURATING:
        return None, None
    slope = np.abs(activation.derivative(z)).reshape(batch, -1)
    if dying:
        return float(np.mean(np.all(slope == 0, axis=0))), None
    peak = float(np.abs(activation.derivative(np.zeros(1, dtype=z.dtype)))[0])
    return None, float(np.mean(slope < SATURATION_SLOPE * peak))


def inspect(model, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray],
            targets: dict[str, np.ndarray] | None = None,
            kernel_initializer: str | None = None) -> Report:
    """One forward and backward pass over `inputs`; the statistics of every layer."""
    batch = len(next(iter(inputs.values())))
    check_batch_fits(model, batch)
    model = in_float64(model)
    inputs = {k: np.asarray(v) if np.asarray(v).dtype.kind in "iu"   # token ids stay ids
              else np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    weights = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    if targets is not None:
        targets = {k: np.asarray(v, dtype=np.float64) for k, v in targets.items()}
    trace = backprop.run(model, inputs, weights)
    outputs = {written: trace.values[name] if model.nodes[name].n_outputs == 1
               else trace.values[name][k]
               for written, name, k in model.output_tensors(model.outputs)}
    with np.errstate(over="ignore", invalid="ignore"):
        loss, grad_outputs = loss_gradients(outputs, targets)
        grads = backprop.backward(model, trace, weights, grad_outputs)
    rows = []
    for node in model.layers:
        if node.layer is None:
            continue
        y = backprop.value(model, trace, node.name).astype(np.float64)  # the first output
        dead = saturated = None
        activation = getattr(node.layer, "activation", None)
        if activation is not None:
            z = node.layer.pre_activation(model.layer_inputs(node, trace.values),
                                          node.layer_weights(weights))
            dead, saturated = _activation_stats(node.layer, z, batch)
        weight_rows = [WeightStats(w.name, list(w.shape), w.trainable,
                                   float(np.std(weights[f"{node.name}/{w.name}"],
                                                dtype=np.float64)),
                                   _norm(grads.weights[f"{node.name}/{w.name}"]))
                       for w in node.weights]
        trainable = [w.grad_norm for w in weight_rows if w.trainable]
        rows.append(LayerStats(
            name=node.name, type=node.type_name,
            activation=activation.name if activation is not None else None,
            output_shape=[None, *node.shape],
            mean=float(np.mean(y)), std=float(np.std(y)), dead=dead, saturated=saturated,
            grad_norm=math.sqrt(sum(g * g for g in trainable)) if trainable else None,
            output_grad_norm=_norm(grads.nodes.get(node.name, [])),  # [] a call no loss reaches
            weights=weight_rows))
    return Report(model=model.name, batch=batch, loss="mean_square" if targets is None else "mse",
                  loss_value=loss, kernel_initializer=kernel_initializer, layers=rows)


def in_float64(model):
    """The same network computing in float64 (the spec with every dtype set to float64)."""
    from dataclasses import replace

    from nnctl.model import build_model

    if all(node.dtype == "float64" for node in model.nodes.values()):
        return model
    layers = [replace(ls, config={k: v for k, v in ls.config.items() if k != "dtype"})
              for ls in model.spec.layers]
    return build_model(replace(model.spec, dtype="float64", layers=layers))


# --- other initializers --------------------------------------------------------------------------

def kernel_layers(model) -> list:
    """The layers with a kernel (Layer.kernel_weights), in layer order."""
    return [node for node in model.layers
            if node.layer is not None and node.layer.kernel_weights]


def with_kernel_initializer(model, weights: dict[str, np.ndarray], initializer,
                            seed: int) -> dict[str, np.ndarray]:
    """The weights with every kernel redrawn from `initializer` (a name or mapping), each
    from the generator its name and the seed give (as Model.init_weights draws it)."""
    from nnctl import initializers

    init = initializers.get(initializer)
    result = dict(weights)
    for node in kernel_layers(model):
        for w in node.weights:
            if w.name in node.layer.kernel_weights:
                rng = initializers.weight_rng(seed, node.name, w.name)
                result[f"{node.name}/{w.name}"] = np.asarray(
                    init(w.shape, dtype=node.dtype, rng=rng), dtype=node.dtype)
    return result


def compare(model, inputs, weights, names: list[str], seed: int,
            targets=None) -> list[Report]:
    """The same batch through the network with every kernel from each initializer."""
    from nnctl import initializers

    if not kernel_layers(model):
        raise ParameterError("--compare-init replaces the kernels of layers such as Dense, "
                             "and the model has no layer with a kernel")
    canonical = [initializers.INITIALIZERS.canonical(n) for n in names]
    return [inspect(model, inputs, with_kernel_initializer(model, weights, name, seed), targets,
                    kernel_initializer=name)
            for name in canonical]
