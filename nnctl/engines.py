"""The engines of `nnctl forward`, and how `--engine auto` chooses between them.

    numpy        the reference (nnctl.forward.NumpyRunner): needs nothing beyond NumPy
    onnxruntime  the model exported to ONNX in memory and run by ONNX Runtime
                 (nnctl.onnx.runtime.OnnxRuntimeRunner; pip install 'nnctl[onnx]')

A runner is called on a batch of flat rows and returns flat rows: `runner(rows) -> rows`.
`auto` takes onnxruntime when it is installed and the work is large enough to pay for its
start (onnxruntime_pays): for a model of Dense and element-wise layers, at least
AUTO_MIN_SAVED_VALUES layer output values, counted as rows x the values a row (the passes over
them are what ONNX Runtime saves: see saved_values_per_row); for other models, at least
AUTO_MIN_WORK multiply-adds, counted as rows x the model's multiply-adds per row
(AUTO_MIN_WORK_WINDOWED for a model with convolutions or pooling, AUTO_MIN_WORK_RECURRENT for
a recurrent one, never for one whose steps go to ONNX written out: steps_written_out). Not
where text is the work (see text_bound: parsing CSV then sets the pace, not the arithmetic),
nor for wide Dense layers only (see gemm_bound: both engines then spend their time in the
same matrix products;
on 32-1024-1024-1024-10 at 10,000 rows both took 0.65-0.74 s of CPU, and the onnxruntime run
was 1.14x slower in wall time).
"""
from __future__ import annotations

import os

ENGINES = ("auto", "numpy", "onnxruntime")
AUTO_MIN_WORK = 2 * 10 ** 8
# The same for a model with convolutions or pooling (WindowLayer), where ONNX Runtime's
# kernels save more per multiply-add but the NumPy engine starts as fast: the MNIST convnet
# (2.44 M multiply-adds an image), .npy in and out, CPU time best of 5 on a busy 2-core
# machine: numpy / onnxruntime 0.195 / 0.214 s at 100 images, 0.216 / 0.235 s at 300, 0.329 /
# 0.291 s at 1,000, 0.665 / 0.387 s at 3,000, 1.87 / 0.85 s at 10,000 (benchmarks/conv.py).
AUTO_MIN_WORK_WINDOWED = 15 * 10 ** 8
# The same for a recurrent model whose layers go to ONNX's LSTM/GRU/RNN operators, measured on
# the idle 2-core machine (whole processes, .npy in and out, best of 5; the NumPy engine's
# sigmoid in 4 passes): the GRU regressor of configs/gru_timeseries.yaml (35,720 multiply-adds
# a row) ran faster on numpy up to about 15,000 rows (0.225 / 0.254 s at 5,000, 0.392 / 0.382 s
# at 20,000), an LSTM 64 over 100 steps (1.84 M) up to about 450 (0.211 / 0.222 s at 300,
# 0.283 / 0.253 s at 1,000): 5.4 x 10^8 and 8.3 x 10^8 multiply-adds. A layer whose steps are
# written out in ONNX instead (steps_written_out) never pays: see there.
AUTO_MIN_WORK_RECURRENT = 6 * 10 ** 8
# A model of Dense and element-wise layers only (an MLP) is another case: both engines run the
# same matrix products, and ONNX Runtime saves the NumPy engine's passes over the layers' outputs
# (bias, activation), which it fuses into its products. So its start is paid back by output
# values, not multiply-adds. Measured on the idle 2-core machine, .npy in and out, best of 5:
# the start (import, session) costs 30-35 ms; the 32-64-64-10 relu MLP (138 values a row) runs
# faster on numpy up to about 550,000 rows (0.233 / 0.250 s at 300,000, 0.407 / 0.380 s at 1M):
# 0.4 ns saved a value; the same network with exact GELU only up to about 50,000 rows (0.268 /
# 0.251 s at 100,000): 4 ns a GELU value. AUTO_MIN_SAVED_VALUES counts values of a relu layer;
# a value of another activation counts as what ONNX Runtime saves on it against the NumPy
# engine, measured activation by activation (benchmarks/activations.py: a 16,384 x 64 float32
# batch, wall time, nnctl's ONNX form of each): SAVES_MUCH saves 3-6 ns a value (COSTLY_VALUE
# of a relu's), the others 0-0.6 ns (1). Some cost ONNX Runtime more than NumPy
# (SLOWER_ON_ONNXRUNTIME, 2-20 ns a value, SLOWER_VALUE): nnctl writes them as several
# operators, to keep their precision near 0 (expm1, log1p); 300,000 rows through a 32-64-64-10
# elu MLP took 1.05-1.18 s there, 0.31 s on numpy.
AUTO_MIN_SAVED_VALUES = 8 * 10 ** 7
COSTLY_VALUE = 10
SLOWER_VALUE = -40
SAVES_MUCH = ("gelu", "softmax", "log_softmax", "softplus", "log_sigmoid", "mish",
              "hard_sigmoid", "hard_silu")
SLOWER_ON_ONNXRUNTIME = ("elu", "selu", "celu", "squareplus", "sparsemax", "soft_shrink",
                         "sparse_plus", "sparse_sigmoid")
# Multiply-adds per layer output value past which a model of Dense layers only is GEMM-bound:
# 49 on the MLP above (ONNX Runtime faster), 681 on the wide one (no faster).
GEMM_BOUND_MACS = 512
# Layers that add no work of their own besides their element-wise pass.
_ELEMENTWISE = ("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU")
# Layers that pass their input on, at no cost on either engine (Dropout and its kin of
# nnctl/layers/noise.py).
_PASSING = ("Dropout", "Flatten", "Reshape", "SpatialDropout1D", "SpatialDropout2D",
            "SpatialDropout3D", "GaussianDropout", "AlphaDropout", "GaussianNoise",
            "ActivityRegularization", "RandomFlip", "RandomRotation", "RandomZoom",
            "RandomTranslation", "RandomContrast", "RandomBrightness")
# What an MLP is made of, for --engine auto: these, with per-feature BatchNormalization (which
# ONNX Runtime folds into the matrix product before it). Measured on the idle 2-core machine,
# whole processes: configs/softmax_classifier.yaml (Flatten first) ran faster on numpy up to
# about 120,000 rows (0.188 / 0.216 s at 10,000, 0.653 / 0.611 s at 300,000), and
# configs/batchnorm_mlp.yaml up to about 300,000 (0.194 / 0.220 s at 100,000, 0.235 / 0.238 s at
# 300,000); counted by multiply-adds, as models of other layers are, auto had taken ONNX Runtime
# from 1,800 and 71,000 rows.
_MLP_LAYERS = ("Dense", "BatchNormalization") + _ELEMENTWISE + _PASSING


def make_runner(engine: str, model, weights, outputs=None):
    """A runner for `engine` ("numpy" or "onnxruntime")."""
    if engine == "numpy":
        from nnctl.forward import NumpyRunner

        return NumpyRunner(model, weights, outputs)
    if engine == "onnxruntime":
        from nnctl.onnx.runtime import OnnxRuntimeRunner

        return OnnxRuntimeRunner(model, weights, outputs)
    from nnctl.errors import ParameterError
    from nnctl.naming import did_you_mean

    raise ParameterError(f"unknown engine '{engine}'{did_you_mean(engine, ENGINES)}; "
                         f"engines: {', '.join(ENGINES)}")


def _layer_nodes(model, outputs=None) -> list:
    """The nodes on the way to `outputs` (the model's by default) that hold a layer."""
    nodes = (model.nodes[name] for name in model.needed(outputs or model.outputs))
    return [node for node in nodes if node.layer is not None]


def macs_per_row(model, outputs=None) -> int:
    """Multiply-adds for one row (one sample) on the way to `outputs`."""
    return sum(node.layer.macs(model.inbound_shapes(node), node.shape)
               for node in _layer_nodes(model, outputs))


def dense_only(model, outputs=None) -> bool:
    """Whether the layers on the way to `outputs` are all Dense, batch normalizations,
    element-wise or passing their input on (_MLP_LAYERS: an MLP)."""
    return all(type(node.layer).__name__ in _MLP_LAYERS for node in _layer_nodes(model, outputs))


def saved_values_per_row(model, outputs=None) -> int:
    """The output values of an MLP's layers (dense_only) a row, each counted as the work ONNX
    Runtime saves on it: 1 for a bias, a batch normalization or a cheap activation (relu),
    COSTLY_VALUE for one of SAVES_MUCH, SLOWER_VALUE (negative) for one of
    SLOWER_ON_ONNXRUNTIME, 0 for a layer that passes its input on (Dropout, Flatten)."""
    total = 0
    for node in _layer_nodes(model, outputs):
        if type(node.layer).__name__ in _PASSING:
            continue
        activation = getattr(node.layer, "activation", None)
        kind = activation.name if activation is not None else "linear"
        weight = (COSTLY_VALUE if kind in SAVES_MUCH else
                  SLOWER_VALUE if kind in SLOWER_ON_ONNXRUNTIME else 1)
        total += node.values * weight
    return total


def steps_written_out(model, outputs=None) -> bool:
    """Whether a recurrent layer on the way to `outputs` goes to ONNX as its steps written out
    (its input carries a mask, or ONNX's operator lacks one of its activations): a graph of
    thousands of nodes, which ONNX Runtime takes about 0.4 s to load and then runs node by
    node, slower than NumPy at any size (configs/sentence_classifier.yaml on the idle 2-core
    machine: 0.68 s against 0.27 s at 2,000 rows, 1.49 s against 0.96 s at 20,000)."""
    for node in _layer_nodes(model, outputs):
        if getattr(node.layer, "recurrent", False):
            cell = getattr(node.layer, "layer", node.layer)   # a Bidirectional's
            if (cell._native_activations() is None
                    or any(model.nodes[name].masked for name in node.inbound)):
                return True
    return False


def onnxruntime_pays(model, outputs, rows: int) -> bool:
    """Whether ONNX Runtime's start is paid back over `rows` rows (before text is counted):
    by the values it saves for an MLP, by the multiply-adds for other models."""
    if dense_only(model, outputs):
        return rows * saved_values_per_row(model, outputs) >= AUTO_MIN_SAVED_VALUES
    work = rows * macs_per_row(model, outputs)
    if recurrent(model):
        return not steps_written_out(model, outputs) and work >= AUTO_MIN_WORK_RECURRENT
    return work >= (AUTO_MIN_WORK_WINDOWED if windowed(model) else AUTO_MIN_WORK)


def gemm_bound(model, outputs=None) -> bool:
    """True for a model of Dense layers only (and element-wise ones) whose layers' outputs cost
    at least GEMM_BOUND_MACS multiply-adds a value: NumPy's BLAS and ONNX Runtime then run the
    same large matrix products, and ONNX Runtime's start-up is not paid back."""
    if not dense_only(model, outputs):
        return False
    values = sum(node.values for node in _layer_nodes(model, outputs))
    return macs_per_row(model, outputs) >= GEMM_BOUND_MACS * max(1, values)


# One value of text (a CSV cell, parsed or formatted) costs about as much CPU as this many
# multiply-adds in single-threaded BLAS (measured: 2 cores, 78 MB CSV, 32-64-64-10 relu MLP).
TEXT_VALUE_MACS = 1000


def text_bound(model, outputs, text_values: int) -> bool:
    """Whether the text around the model (`text_values` values parsed and formatted per row)
    costs more than its arithmetic."""
    return bool(text_values) and macs_per_row(model, outputs) < TEXT_VALUE_MACS * text_values


def windowed(model) -> bool:
    """Whether the model has convolutions or pooling (nnctl.layers.windowed.WindowLayer)."""
    from nnctl.layers.windowed import WindowLayer

    return any(isinstance(node.layer, WindowLayer) for node in model.nodes.values())


def recurrent(model) -> bool:
    """Whether the model has a recurrent layer (SimpleRNN, LSTM, GRU, Bidirectional)."""
    return any(getattr(node.layer, "recurrent", False) for node in model.nodes.values())


def blas_threads(model, outputs, text_values: int) -> int | None:
    """Threads for BLAS in a forward pass: 1 when the text around the model (`text_values`
    values parsed and formatted per row) costs more than its arithmetic, else None (BLAS's own
    choice). Reading and writing threads keep the cores busy then, and a second BLAS thread
    only spins against them: on 2 cores, a 78 MB CSV through a 32-64-64-10 MLP took 0.70 s
    with two BLAS threads and 0.60 s with one; through 32-1024-1024-10 one thread was slower
    (1.13 s against 0.88 s).

    1 as well for a model with convolutions or pooling (WindowLayer): between their matrix
    products the NumPy engine copies windows and pools on one core, while a second BLAS
    thread spins: the MNIST convnet on 10,000 images took 4.6 s of CPU with two BLAS threads
    and 1.9 s with one (5.2 s against 17.5 s of wall time on a busy 2-core machine;
    benchmarks/conv.py).

    1 too for a recurrent model: its loop over the time steps makes one small matrix product
    per step (a slice of a few hundred rows: nnctl.forward.slice_rows), which a second thread
    slows down: an LSTM 64 over 100 steps, 20,000 rows of .npy, took 4.2 s of CPU with one
    BLAS thread and 32 s with two, on the busy 2-core machine."""
    if text_bound(model, outputs, text_values) or one_blas_thread(model):
        return 1
    return None


def one_blas_thread(model) -> bool:
    """Whether the NumPy engine runs the model on one BLAS thread whatever its input: a model
    with convolutions, pooling or recurrent layers (see blas_threads). nnctl.forward then
    computes its slices side by side, one per core."""
    return windowed(model) or recurrent(model)


def limit_blas_threads(threads: int | None) -> None:
    """Set the number of BLAS threads for the rest of the process (None: leave it)."""
    if threads is None:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


def auto_runner(model, weights, outputs, rows: int | None, text_values: int = 0):
    """(runner, note) for `--engine auto`: onnxruntime for large work when it can run the
    model, else numpy. `rows`: how many rows the input holds (None: unknown, as for text on
    stdin, which stays on numpy). `text_values`: values parsed or formatted as text per row;
    where they cost more than the arithmetic (blas_threads says 1), a faster engine would not
    make the run faster, and its start-up would make it slower. `note` is for the person at
    the terminal, or None."""
    from nnctl.errors import NnctlError
    from nnctl.onnx import INSTALL_HINT

    if (not onnxruntime_pays(model, outputs, rows or 0)
            or text_bound(model, outputs, text_values) or gemm_bound(model, outputs)):
        return make_runner("numpy", model, weights, outputs), None
    size = f"{rows:,} rows x {macs_per_row(model, outputs):,} multiply-adds"
    try:
        runner = make_runner("onnxruntime", model, weights, outputs)
    except NnctlError as exc:
        from nnctl.errors import ResourceError

        why = (f"onnxruntime is not installed: {INSTALL_HINT}" if isinstance(exc, ResourceError)
               else exc.message)
        return make_runner("numpy", model, weights, outputs), f"engine: numpy ({why})"
    return runner, f"engine: onnxruntime ({size})"


def estimate_rows(reader, first_rows: int, path: str, width: int, itemsize: int) -> int | None:
    """How many rows the input holds: exact for .npy and Parquet, estimated from the file size
    for text (by the bytes the first batch took) and .npz, None for text on stdin."""
    if reader is None:  # an .npz: its arrays' bytes
        try:
            return os.path.getsize(path) // max(1, width * itemsize)
        except OSError:
            return None
    if reader.total_rows is not None:
        return reader.total_rows
    if first_rows < reader.batch_size:
        return first_rows        # the whole input fitted in the first batch
    if reader.total_bytes and reader.bytes_read:
        return int(reader.total_bytes * first_rows / reader.bytes_read)
    return None
