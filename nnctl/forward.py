"""Running a model over rows of data: flat rows in, flat rows out, batch by batch.

One input row is one sample flattened in C order; a model with several inputs takes their
columns one input after the other (docs/formats.md). Output rows are the outputs (or the
tapped layers) flattened and joined the same way.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator

import numpy as np

from nnctl import special
from nnctl.errors import DataError, SpecError
from nnctl.limits import check_allocation
from nnctl.model import Model


def input_widths(model: Model) -> dict[str, int]:
    """Input name -> number of columns it takes in a flat row."""
    widths = {}
    for name, shape in model.input_shapes().items():
        if None in shape:
            raise SpecError(f"input '{name}' has a free dimension {tuple(shape)}; rows of data "
                            "need every dimension known")
        widths[name] = math.prod(shape)
    return widths


def integer_columns(model: Model) -> list:
    """The columns of a flat row that hold an integer input's values, with their range: an
    Embedding reading the input takes indices below its input_dim (nnctl.tabular.integers)."""
    from nnctl.tabular.integers import IntegerColumns

    result, start = [], 0
    for name, width in input_widths(model).items():
        node = model.nodes[name]
        if np.dtype(node.dtype).kind == "i":
            tables = sorted((n.layer.input_dim, n.name) for n in model.nodes.values()
                            if name in n.inbound and hasattr(n.layer, "input_dim"))
            high, reader = tables[0] if tables else (None, "")
            result.append(IntegerColumns(start, start + width, f"input '{name}'", high,
                                         f"embedding '{reader}' (input_dim {high})"))
        start += width
    return result


def read_dtype(model: Model) -> np.dtype:
    """The dtype to read rows in: the model's, or float64 when an input holds integers (exact
    up to 2**53, so that 3.5 or 1e10 is seen, not rounded)."""
    if any(np.dtype(model.nodes[n].dtype).kind == "i" for n in model.input_names):
        return np.dtype(np.float64)
    return np.dtype(model.dtype)


def output_tensors(model: Model, names: list[str]) -> list[tuple[str, tuple]]:
    """(column stem, shape) of each output tensor (Model.output_tensors): a layer of several
    outputs named alone (`lstm`, return_state) gives one per output: `lstm[0][0]`, ..."""
    return [(written, model.nodes[name].shapes[k] if k else
             model.nodes[name].computed_shape or model.nodes[name].shape)
            for written, name, k in model.output_tensors(names)]


def sample_shape(model: Model) -> tuple | None:
    """The shape an input file's samples may carry instead of flat rows (one input only: the
    flat row of several inputs is their columns one after the other)."""
    shapes = list(model.input_shapes().values())
    return shapes[0] if len(shapes) == 1 else None


def output_columns(model: Model, names: list[str]) -> list[str]:
    """Header names for the flat output: `layer3_0, layer3_1`, or `layer` for one value."""
    check_sample_fits(model)
    tensors = output_tensors(model, names)
    # a name is a Python string of about 80 bytes: refuse millions of columns before naming
    check_allocation((sum(math.prod(d or 1 for d in shape) for _, shape in tensors), 80),
                     "uint8", what="the names of the output columns")
    columns = []
    for name, shape in tensors:
        columns += flat_names(name, math.prod(d or 1 for d in shape))
    return columns


def check_unique_columns(columns: list[str], refs: list[str]) -> None:
    """Named output columns must differ: an output named twice (`outputs: [d, d]`, as Keras
    allows) is written only without names (CSV/TSV without a header, .npy)."""
    twice = next((ref for i, ref in enumerate(refs) if ref in refs[:i]), None)
    if twice is not None and len(set(columns)) < len(columns):
        raise DataError(f"the outputs name '{twice}' twice, so their columns would have the "
                        "same names; write CSV/TSV with --no-output-header or .npy, or tap "
                        "each tensor once")


def input_columns(model: Model) -> list[str]:
    """Names of a flat input row's columns, as output columns are named: `record_0`, ...,
    `patch_15` (JSON Lines objects keyed by these are read in this order)."""
    columns = []
    for name, width in input_widths(model).items():
        columns += flat_names(name, width)
    return columns


def flat_names(name: str, size: int) -> list[str]:
    """`name_0, name_1, ...` for the values of a tensor flattened, `name` alone for one."""
    return [name] if size == 1 else [f"{name}_{k}" for k in range(size)]


def output_header(fmt: str, asked: bool | None, taps: list[str] | None,
                  input_named: bool) -> bool:
    """Whether output columns are named: always in Parquet; JSON Lines objects keyed by name
    when asked; in CSV/TSV as asked, else when the input had a header or several layers are
    tapped (their columns tell them apart)."""
    if fmt in ("parquet", "jsonl"):
        return fmt == "parquet" or bool(asked)
    if asked is not None:
        return asked
    return input_named or len(taps or ()) > 1


def split_inputs(model: Model, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Flat rows (batch, total columns) -> input name -> (batch, *shape)."""
    result, start = {}, 0
    for name, width in input_widths(model).items():
        shape = model.nodes[name].shape
        result[name] = rows[:, start:start + width].reshape((len(rows),) + tuple(shape))
        start += width
    return result


def join_outputs(outputs: dict[str, np.ndarray], refs: list[str]) -> np.ndarray:
    """Output name -> (batch, ...) arrays -> flat rows (batch, total columns) of the
    outputs `refs` in order (a name twice in `refs`, as Keras allows, gives its columns twice)."""
    arrays = []
    for y in map(outputs.__getitem__, refs):  # a layer of several outputs gives a list
        arrays += y if isinstance(y, list) else [y]
    flat = [y.reshape(len(y), -1) for y in arrays]
    return flat[0] if len(flat) == 1 else np.concatenate(flat, axis=1)


class NumpyRunner:
    """The reference engine: `runner(rows)` is one batch of flat rows through Model.forward.
    Other engines (nnctl.engines) take and give the same rows."""

    name = "numpy"

    def __init__(self, model: Model, weights: dict[str, np.ndarray],
                 outputs: list[str] | None = None):
        self.model, self.weights = model, weights
        self.outputs = list(outputs or model.outputs)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return join_outputs(self.model.forward(split_inputs(self.model, rows), self.weights,
                                               self.outputs), self.outputs)


# A batch goes through an engine in slices whose layer outputs take about this much memory:
# a convnet's activations are hundreds of times its input row (155 KB an image for the MNIST
# convnet, whose input row is 3 KB), so a batch of 16,384 images would hold 2.5 GB at once;
# slices keep memory flat (benchmarks/conv.py).
SLICE_BYTES = 32 << 20
# The same for a model with convolutions or pooling (nnctl.engines.windowed): each layer's
# output stays in a core's 2 MB L2 cache for the next layer to read. The MNIST convnet (4,000
# images, 1 BLAS thread, CPU time, best of 5, busy 2-core machine): 0.95 s at 32 MB (207
# images a slice), 0.47 s at 6 MB, 0.45 s at 4 MB (25 images), 0.50 s at 2 MB, 0.56 s at
# 1 MB; ONNX Runtime 0.60 s at 32 MB, 0.45 s at 4 MB. Dense and recurrent models are slower
# in small slices (a 32-1024-1024-10 MLP: 0.76 s at 32 MB, 2.10 s at 4 MB), so they keep
# SLICE_BYTES (a recurrent layer's projection of every step counted: check_sample_fits).
WINDOWED_SLICE_BYTES = 4 << 20


def slice_rows(model: Model) -> int:
    """Rows per engine call: the batch cut so that its layers' outputs take SLICE_BYTES
    (WINDOWED_SLICE_BYTES with convolutions or pooling)."""
    from nnctl.engines import windowed

    itemsize = np.dtype(model.dtype).itemsize
    per_row = check_sample_fits(model)
    budget = WINDOWED_SLICE_BYTES if windowed(model) else SLICE_BYTES
    return max(1, budget // max(1, per_row * itemsize))


def check_sample_fits(model: Model) -> int:
    """The values of one sample's layer outputs, and the most any one layer holds while it
    runs (Layer.scratch_values: a recurrent layer's projection of every step, 100x its output
    for an LSTM over 100 steps); ResourceError when they cannot fit in memory whatever the
    batch (an UpSampling2D of size 10^6)."""
    per_row = model.values_per_sample()
    check_allocation((per_row,), model.dtype, what="the layer outputs of one sample")
    return per_row


def run(model: Model, weights: dict[str, np.ndarray], batches: Iterable[np.ndarray],
        taps: list[str] | None = None, runner=None,
        warn: Callable[[str], None] | None = None) -> Iterator[np.ndarray]:
    """Flat input rows -> flat output rows, one batch at a time, in order; `runner` computes a
    batch (default: NumpyRunner; see nnctl.engines).

    NaN and Inf propagate as IEEE arithmetic has them (NumPy's floating-point warnings are
    silenced); `warn`, if given, is told once, the first time one reaches the outputs.
    """
    step = runner or NumpyRunner(model, weights, taps)
    watch = NonFinite(weights, warn, np.dtype(model.dtype).name) if warn else None
    done, n = 0, slice_rows(model)
    pool = _SIDE_BY_SIDE.get() if step.name == "numpy" and side_by_side(model) else None

    def compute(part: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):  # each thread has its own error state
            return step(part)

    for rows in batches:
        k = n
        if pool is not None and len(rows) >= 2 * SIDE_BY_SIDE_ROWS:  # a slice for each core
            k = min(n, max(SIDE_BY_SIDE_ROWS, -(-len(rows) // pool._max_workers)))
        if len(rows) <= k:
            out = compute(rows)
        else:
            parts = [rows[start:start + k] for start in range(0, len(rows), k)]
            out = np.concatenate(list(pool.map(compute, parts)) if pool is not None
                                 else [compute(part) for part in parts])
        if watch is not None:
            watch.check(rows, out, done)
        done += len(rows)
        yield out


# The fewest rows a slice computed side by side has: a batch of fewer than twice this many is
# computed whole.
SIDE_BY_SIDE_ROWS = 256


def side_by_side(model: Model) -> bool:
    """Whether the NumPy engine computes a batch's slices side by side, one per core: for the
    models it runs on one BLAS thread (convolutions, pooling, recurrent layers; see
    nnctl.engines.blas_threads), which would otherwise leave the other cores idle. The MNIST
    convnet on 10,000 images took 1.22 s one slice at a time and 0.80 s two at a time
    (benchmarks/conv.py, 2 cores)."""
    from nnctl.engines import one_blas_thread

    return one_blas_thread(model)


# The threads that compute slices side by side. Not the threads of nnctl.special.by_slices,
# which a slice may use in turn.
_SIDE_BY_SIDE = special.CoreThreads("nnctl-forward")


def one_slice_at_a_time() -> None:
    """Compute slices one after the other in this process from now on: for a Dask worker,
    which has one core of the cluster's (Dask also gives it one BLAS thread), not all the
    machine's. The element-wise activations' slices too (nnctl.special.by_slices)."""
    _SIDE_BY_SIDE.stop()
    special.SLICE_THREADS.stop()


class NonFinite:
    """One warning per run about NaN or Inf (docs/formats.md: they propagate, with one warning):
    about the weights if any holds one, else about the first input row that holds one (saying
    whether it reached the outputs: relu(-inf) is 0), else about the first output row that
    overflowed."""

    def __init__(self, weights: dict[str, np.ndarray], warn: Callable[[str], None],
                 dtype: str = "float32"):
        self.warn, self.dtype, self.told = warn, dtype, False
        for key, value in weights.items():
            if not np.isfinite(value).all():
                self._tell(f"weight '{key}' holds NaN or Inf values; they propagate to the "
                           "outputs")
                break

    def _tell(self, text: str) -> None:
        self.told = True
        self.warn(text)

    def check(self, rows: np.ndarray, out: np.ndarray, first: int) -> None:
        """`rows` and their `out`puts, `first` being the number of rows before them."""
        if self.told:
            return
        if not np.isfinite(rows).all():  # said even where the model maps them to numbers
            k = _first_row_not_finite(rows)
            effect = (", which propagate to its outputs" if not np.isfinite(out[k]).all()
                      else "; its outputs are finite all the same")
            self._tell(f"row {first + k + 1} of the input holds NaN or Inf{effect} "
                       "(reported once)")
        elif not np.isfinite(out).all():
            k = _first_row_not_finite(out)
            self._tell(f"row {first + k + 1}: the outputs overflowed to NaN or Inf (beyond "
                       f"{self.dtype}'s range); they are written as they are (reported once)")


def _first_row_not_finite(array: np.ndarray) -> int:
    return int(np.flatnonzero(~np.isfinite(array).all(axis=tuple(range(1, array.ndim))))[0])


def check_taps(model: Model, taps: list[str]) -> list[str]:
    from nnctl.errors import ParameterError
    from nnctl.model import names_node, split_ref, unknown_ref_hint

    for i, ref in enumerate(taps):
        name, index = split_ref(ref)
        if not names_node(ref, model.nodes):
            raise ParameterError(f"--tap: no layer named '{ref}' in the model"
                                 f"{unknown_ref_hint(name, model.nodes)}")
        node = model.nodes[name]
        if index is not None and index >= node.n_outputs:
            calls = len(model.calls(node))
            hint = (f" (call {index + 1} of the shared layer is `{name}[{index}][0]`)"
                    if node.owner is None and index < calls else "")
            shown = f"'{name}'" if node.owner is None else \
                f"'{node.owner}' (call {node.call_index + 1})"
            raise ParameterError(f"--tap: layer {shown} has {node.n_outputs} "
                                 f"output(s); '{ref}' names none of them{hint}")
        if ref in taps[:i]:
            raise ParameterError(f"--tap: '{ref}' is given twice; tap each tensor once")
    return taps


def npz_rows(path: str, model: Model, batch_size: int) -> Iterator[np.ndarray]:
    """An .npz with one array per input name -> flat rows, batch by batch (streamed)."""
    from nnctl.tabular import read_npz_inputs

    from nnctl.tabular.integers import check_part

    widths = input_widths(model)
    integers = integer_columns(model)
    done = 0
    for arrays in read_npz_inputs(path, list(widths), batch_size=batch_size,
                                  dtype=read_dtype(model),
                                  sample_shapes=model.input_shapes()):
        for name, width in widths.items():
            if arrays[name].shape[1] != width:
                raise DataError(f"array '{name}' has {arrays[name].shape[1]} values per row, "
                                f"input '{name}' takes {width} "
                                f"(shape {tuple(model.nodes[name].shape)})", source=str(path))
        rows = np.concatenate([arrays[name] for name in widths], axis=1)
        if integers:
            good, error = check_part(rows, done + 1, integers, str(path), binary=True)
            if error is not None:
                if len(good):
                    yield good
                raise error
        done += len(rows)
        yield rows
