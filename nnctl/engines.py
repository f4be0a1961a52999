"""The engines of `nnctl forward`, and how `--engine auto` chooses between them.

    numpy        the reference (nnctl.forward.NumpyRunner): needs nothing beyond NumPy
    onnxruntime  the model exported to ONNX in memory and run by ONNX Runtime
                 (nnctl.onnx.runtime.OnnxRuntimeRunner; pip install 'nnctl[onnx]')

A runner is called on a batch of flat rows and returns flat rows: `runner(rows) -> rows`.
`auto` takes onnxruntime when it is installed and the work is large enough to pay for its
start: at least AUTO_MIN_WORK multiply-adds, counted as rows x the model's multiply-adds per
row (AUTO_MIN_WORK_WINDOWED for a model with convolutions or pooling), unless text is the
work (see text_bound: parsing CSV then sets the pace, not the arithmetic), and unless the
model is wide Dense layers only (see gemm_bound: both engines then spend their time in the
same matrix products). Measured here (2 cores, whole processes, .npy
in and out, CPU time, best of 5): on a 32-64-64-10 MLP ONNX Runtime costs 13 ms more at 10,000
rows, saves 18 ms at 30,000 and 105 ms at 100,000 (0.26 s against 0.37 s: about 150 ms per
10^9 multiply-adds); on 32-1024-1024-1024-10 at 10,000 rows (2 x 10^10 multiply-adds) both take
0.65-0.74 s, and the onnxruntime run was 1.14x slower in wall time in an earlier measurement.
"""
from __future__ import annotations

import math
import os

ENGINES = ("auto", "numpy", "onnxruntime")
AUTO_MIN_WORK = 2 * 10 ** 8
# The same for a model with convolutions or pooling (WindowLayer), where ONNX Runtime's
# kernels save more per multiply-add but the NumPy engine starts as fast: the MNIST convnet
# (2.44 M multiply-adds an image), .npy in and out, CPU time best of 5 on a busy 2-core
# machine: numpy / onnxruntime 0.195 / 0.214 s at 100 images, 0.216 / 0.235 s at 300, 0.329 /
# 0.291 s at 1,000, 0.665 / 0.387 s at 3,000, 1.87 / 0.85 s at 10,000 (benchmarks/conv.py).
AUTO_MIN_WORK_WINDOWED = 15 * 10 ** 8
# Multiply-adds per layer output value past which a model of Dense layers only is GEMM-bound:
# 49 on the MLP above (ONNX Runtime faster), 681 on the wide one (no faster).
GEMM_BOUND_MACS = 512
# Layers that add no work of their own besides their element-wise pass.
_ELEMENTWISE = ("Activation", "Dropout", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU")


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


def macs_per_row(model, outputs=None) -> int:
    """Multiply-adds for one row (one sample) on the way to `outputs`."""
    total = 0
    for name in model.needed(outputs or model.outputs):
        node = model.nodes[name]
        if node.layer is not None:
            total += node.layer.macs(model.inbound_shapes(node), node.shape)
    return total


def gemm_bound(model, outputs=None) -> bool:
    """True for a model of Dense layers only (and element-wise ones) whose layers' outputs cost
    at least GEMM_BOUND_MACS multiply-adds a value: NumPy's BLAS and ONNX Runtime then run the
    same large matrix products, and ONNX Runtime's start-up is not paid back."""
    values = 0
    for name in model.needed(outputs or model.outputs):
        node = model.nodes[name]
        if node.layer is None:
            continue
        if type(node.layer).__name__ not in ("Dense",) + _ELEMENTWISE:
            return False
        values += math.prod(d or 1 for d in node.shape)
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

    work = (rows or 0) * macs_per_row(model, outputs)
    if (work < (AUTO_MIN_WORK_WINDOWED if windowed(model) else AUTO_MIN_WORK)
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
