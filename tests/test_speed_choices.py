"""Choices made for speed (benchmarks/forward.py) keep what users see: one BLAS thread only where
text is the work, no PyYAML for model files, and a fast exit that still delivers every byte."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, run_nnctl
from nnctl import engines
from nnctl.model import build_model
from nnctl.spec import parse_spec, read_spec
from nnctl.yamlpos import Located


def mlp(width: int):
    return build_model(parse_spec(Located({
        "input": [32],
        "layers": [{"type": "Dense", "units": width, "activation": "relu"},
                   {"type": "Dense", "units": width, "activation": "relu"},
                   {"type": "Dense", "units": 10}]}, {}, "mlp.yaml")))


def test_one_blas_thread_where_text_costs_more_than_arithmetic():
    small, large = mlp(64), mlp(1024)
    assert engines.macs_per_row(small) == 32 * 64 + 64 * 64 + 64 * 10
    # CSV in and out: 32 + 10 values of text per row against 6,784 multiply-adds
    assert engines.blas_threads(small, None, text_values=42) == 1
    # 1.1 million multiply-adds per row: arithmetic is the work, BLAS keeps its threads
    assert engines.blas_threads(large, None, text_values=42) is None
    # .npy in and out: no text at all
    assert engines.blas_threads(small, None, text_values=0) is None
    # the boundary is TEXT_VALUE_MACS multiply-adds per value of text
    per_row = engines.macs_per_row(small)
    values = per_row // engines.TEXT_VALUE_MACS
    assert engines.blas_threads(small, None, values) is None
    assert engines.blas_threads(small, None, values + 1) == 1


def test_a_convnet_runs_on_one_blas_thread():
    """Convolutions copy windows on one core between matrix products: a second BLAS thread
    would spin through them (benchmarks/conv.py)."""
    from conftest import CONFIGS
    from nnctl.model import load_model

    assert engines.blas_threads(load_model(str(CONFIGS / "mnist_convnet.yaml")), None, 0) == 1
    assert engines.blas_threads(load_model(str(CONFIGS / "conv1d_classifier.yaml")), None,
                                0) == 1


def test_a_convnet_runs_in_slices_that_fit_a_cache():
    """Each layer's output of a slice stays in L2 for the next layer (half the CPU time on
    the MNIST convnet); Dense and recurrent models keep large slices (small ones slow their
    matrix products and per-step loops). The slicing leaves the numbers as they are."""
    from conftest import CONFIGS
    from nnctl import forward
    from nnctl.model import load_model

    convnet = load_model(str(CONFIGS / "mnist_convnet.yaml"))
    per_image = forward.check_sample_fits(convnet) * 4
    rows = forward.slice_rows(convnet)
    assert rows * per_image <= forward.WINDOWED_SLICE_BYTES < (rows + 1) * per_image
    assert forward.WINDOWED_SLICE_BYTES <= 4 << 20
    for dense in (mlp(64), load_model(str(CONFIGS / "gru_timeseries.yaml"))):
        per_row = forward.check_sample_fits(dense) * 4
        assert forward.slice_rows(dense) == forward.SLICE_BYTES // per_row
    weights = convnet.init_weights(0)
    x = np.random.default_rng(0).random((2 * rows + 3, 784), dtype=np.float32)
    [sliced] = forward.run(convnet, weights, [x])
    whole = convnet.forward({"input_layer": x.reshape(-1, 28, 28, 1)}, weights)["dense"]
    np.testing.assert_allclose(sliced, whole, rtol=1e-6, atol=1e-7)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_slices_of_one_blas_thread_models_are_computed_side_by_side(monkeypatch):
    """A model run on one BLAS thread (convolutions, recurrent layers) would leave the other
    cores idle: its slices go to one thread per core, each with its own floating-point error
    state (no RuntimeWarning from overflowing values), and are joined in order. Dense models
    keep their slices on the calling thread (BLAS has the cores)."""
    import threading
    import warnings

    from conftest import CONFIGS
    from nnctl import forward
    from nnctl.model import load_model

    # a pool of this process's own: a Dask worker run in this process (a cluster of threads,
    # tests/test_distributed.py) computes slices one at a time from then on
    monkeypatch.setattr(forward, "_SIDE_BY_SIDE", forward.special.CoreThreads("nnctl-forward"))
    threads, other_thread = [], threading.Event()

    class Recorded(forward.NumpyRunner):
        def __call__(self, rows):
            threads.append(threading.current_thread().name)
            if len(set(threads)) > 1:
                other_thread.set()
            elif len(threads) == 1:  # the first slice waits for another thread to take one:
                other_thread.wait(60)  # a busy machine's scheduling does not decide the test
            return super().__call__(rows)

    for path, width in (("gru_timeseries.yaml", None), ("mnist_convnet.yaml", 784)):
        model = load_model(str(CONFIGS / path))
        weights = model.init_weights(0)
        width = width or sum(forward.input_widths(model).values())
        rows = 3 * forward.SIDE_BY_SIDE_ROWS + 5
        x = np.random.default_rng(1).random((rows, width), dtype=np.float32)
        x[7] = 1e30  # overflows in float32 arithmetic: warned nowhere
        threads.clear()
        other_thread.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            [together] = forward.run(model, weights, [x], runner=Recorded(model, weights))
        assert all(t.startswith("nnctl-forward") for t in threads)
        assert len(set(threads)) == 2  # both cores' threads took slices
        step = min(forward.slice_rows(model), -(-rows // 2))  # the GRU's: two halves
        assert len(threads) == -(-rows // step)
        alone = forward.NumpyRunner(model, weights)
        with np.errstate(all="ignore"):
            one_by_one = np.concatenate([alone(x[k:k + step]) for k in range(0, len(x), step)])
        np.testing.assert_array_equal(together, one_by_one)
    threads.clear()
    dense = mlp(64)
    list(forward.run(dense, dense.init_weights(0), [np.ones((70_000, 32), np.float32)],
                     runner=Recorded(dense, dense.init_weights(0))))
    assert threads and set(threads) == {threading.current_thread().name}


def test_a_recurrent_model_runs_on_one_blas_thread():
    """Its loop over the steps makes one small matrix product per step, which a second BLAS
    thread slows down (benchmarks/rnn.py)."""
    from conftest import CONFIGS
    from nnctl.model import load_model

    for config in ("gru_timeseries.yaml", "sentence_classifier.yaml"):
        assert engines.blas_threads(load_model(str(CONFIGS / config)), None, 0) == 1


def test_auto_takes_onnxruntime_for_many_images_through_a_convnet():
    """One BLAS thread for a convnet is the NumPy engine's choice; it does not keep --engine
    auto off ONNX Runtime, which runs the MNIST convnet in half the CPU time from about 600
    images (engines.AUTO_MIN_WORK_WINDOWED), .npy or CSV."""
    pytest.importorskip("onnxruntime")
    from conftest import CONFIGS
    from nnctl.model import load_model

    model = load_model(str(CONFIGS / "mnist_convnet.yaml"))
    weights = model.init_weights(0)
    per_image = engines.macs_per_row(model)
    few = engines.AUTO_MIN_WORK_WINDOWED // per_image
    assert engines.AUTO_MIN_WORK < few * per_image
    runner, note = engines.auto_runner(model, weights, None, rows=few)
    assert runner.name == "numpy" and note is None
    for text_values in (0, 784 + 10):
        runner, note = engines.auto_runner(model, weights, None, rows=10_000,
                                           text_values=text_values)
        assert runner.name == "onnxruntime"
        assert note == f"engine: onnxruntime (10,000 rows x {per_image:,} multiply-adds)"


def test_limiting_blas_threads_takes_effect():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    controller = threadpoolctl.ThreadpoolController()
    blas = controller.select(user_api="blas")
    if not blas.lib_controllers:
        pytest.skip("NumPy here has no BLAS that threadpoolctl knows")
    before = [c.num_threads for c in blas.lib_controllers]
    try:
        engines.limit_blas_threads(1)
        assert [c.num_threads for c in controller.select(user_api="blas").lib_controllers] == \
            [1] * len(before)
        engines.limit_blas_threads(None)  # None leaves it as it is
        assert [c.num_threads for c in controller.select(user_api="blas").lib_controllers] == \
            [1] * len(before)
    finally:
        for lib, threads in zip(blas.lib_controllers, before):
            lib.set_num_threads(threads)


def test_a_model_file_needs_no_yaml(tmp_path):
    """PyYAML costs ~10 ms of start-up; a model file's spec is JSON."""
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [3]\nlayers:\n  - {type: Dense, units: 2}\n")
    model = tmp_path / "net.npz"
    assert run_nnctl("build", spec, "-o", model).code == 0
    code = ("import sys; from nnctl.cli.weights_source import model_and_weights; "
            f"model_and_weights({str(model)!r}, None, None); "
            "print('yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "False"


def test_the_fast_exit_delivers_all_output_through_a_pipe(tmp_path):
    """nnctl ends with os._exit after flushing: 100,000 rows through a pipe all arrive, and the
    warning on stderr too."""
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [2]\nlayers:\n  - {type: Dense, units: 3, kernel_initializer: ones}\n")
    rows = np.arange(1, 200_001, dtype=np.float32).reshape(-1, 2)  # (0,1: a pandas header)
    rows[-1, 0] = np.nan
    data = "".join(f"{a:g},{b:g}\n" for a, b in rows).encode()
    result = run_nnctl("forward", spec, input=data, timeout=120)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 100_000
    assert lines[0] == "3,3,3" and lines[-2] == f"{rows[-2].sum():g}," * 2 + f"{rows[-2].sum():g}"
    assert lines[-1] == "nan,nan,nan"
    assert "row 100000 of the input holds NaN" in result.err


def test_a_large_output_file_is_whole_with_early_writeback(tmp_path):
    """Output files of more than WRITEBACK_BYTES have the kernel start writing them early; the
    file still holds every row, the same bytes as stdout."""
    from nnctl.tabular import WRITEBACK_BYTES

    spec = tmp_path / "net.yaml"
    spec.write_text("input: [4]\nlayers:\n  - {type: Dense, units: 8}\n")
    rows = np.random.default_rng(1).standard_normal((120_000, 4)).astype(np.float32)
    data = tmp_path / "x.npy"
    np.save(data, rows)
    out = tmp_path / "y.csv"
    assert run_nnctl("forward", spec, data, "-o", out, timeout=120).code == 0
    piped = run_nnctl("forward", spec, data, timeout=120)
    assert out.stat().st_size > 2 * WRITEBACK_BYTES
    assert out.read_bytes() == piped.out_bytes
    assert len(piped.out.splitlines()) == len(rows)


def test_start_writeback_keeps_the_file_as_written(tmp_path):
    from nnctl.atomic import atomic_write, start_writeback

    path = tmp_path / "f.bin"
    with atomic_write(path) as f:
        f.write(b"a" * 100)
        start_writeback(f)  # flushes Python's buffer first
        f.write(b"b" * 100)
    assert path.read_bytes() == b"a" * 100 + b"b" * 100


def test_keep_freed_memory_defers_to_the_environment(monkeypatch):
    from nnctl.cli.tuning import keep_freed_memory

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert keep_freed_memory() is False  # the user's setting stays
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    libc = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None
    if not (sys.platform.startswith("linux") and libc and libc.startswith("glibc")):
        pytest.skip("mallopt is glibc's")
    assert keep_freed_memory() is True


def _printed_by_python(code: str, **env: str) -> str:
    """What `python -c CODE` prints, without the BLAS timeouts of this environment."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True, env={**clean, **env}).stdout.strip()


def test_idle_blas_threads_sleep_unless_the_user_set_their_timeout():
    """nnctl's entry point sets OPENBLAS_THREAD_TIMEOUT before NumPy starts OpenBLAS (which
    reads it then), and leaves a value of the user's, or of an older spelling, as it is."""
    from nnctl.cli.tuning import BLAS_THREAD_TIMEOUT

    code = ("import os, sys; from nnctl.cli.tuning import idle_blas_threads_sleep; {before}"
            "idle_blas_threads_sleep(); "
            "print(*map(os.environ.get, ('OPENBLAS_THREAD_TIMEOUT', 'GOTO_THREAD_TIMEOUT')))")
    assert _printed_by_python(code.format(before="")) == f"{BLAS_THREAD_TIMEOUT} None"
    assert _printed_by_python(code.format(before=""), OPENBLAS_THREAD_TIMEOUT="24") == "24 None"
    assert _printed_by_python(code.format(before=""), GOTO_THREAD_TIMEOUT="20") == "None 20"
    # too late once NumPy is imported: OpenBLAS has read its environment already
    assert _printed_by_python(code.format(before="import numpy; ")) == "None None"
    # main() does it first, before any command imports NumPy
    wired = ("import os, sys, nnctl.cli.app as app; "
             "app.run = lambda args: print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), "
             "'numpy' in sys.modules) or 0; app.main(['act', 'relu', '1'])")
    assert _printed_by_python(wired) == f"{BLAS_THREAD_TIMEOUT} False"


def test_the_collector_leaves_start_up_objects_alone_but_still_collects():
    """main() has Python's collector run every GC_YOUNG_OBJECTS new objects, not 700: start-up
    makes ~50,000 lasting objects that it would rescan; cycles are still collected."""
    import gc

    from nnctl.cli.tuning import GC_YOUNG_OBJECTS, collect_garbage_less_often

    code = ("import gc, sys, nnctl.cli.app as app; "
            "app.run = lambda args: print(*gc.get_threshold(), gc.isenabled()) or 0; "
            "app.main(['act', 'relu', '1'])")
    older = " ".join(map(str, gc.get_threshold()[1:]))
    assert _printed_by_python(code) == f"{GC_YOUNG_OBJECTS} {older} True"
    before = gc.get_threshold()
    try:
        gc.set_threshold(0)  # the collector turned off stays off
        collect_garbage_less_often()
        assert gc.get_threshold()[0] == 0
        gc.set_threshold(700, *before[1:])
        collect_garbage_less_often()
        assert gc.get_threshold() == (GC_YOUNG_OBJECTS, *before[1:])
        # reference cycles are still freed, once GC_YOUNG_OBJECTS objects have been made
        collected = []

        class Node:
            def __del__(self):
                collected.append(1)

        first = Node()
        first.other = first
        del first
        junk = [[] for _ in range(GC_YOUNG_OBJECTS + 1000)]
        assert collected == [1]
        del junk
    finally:
        gc.set_threshold(*before)


def test_forward_leaves_no_reference_cycles_per_batch(tmp_path):
    """With the collector running every GC_YOUNG_OBJECTS objects, a cycle made per batch would
    keep its batch's arrays for thousands of batches: forward makes none (its cyclic garbage
    is the same for 300 batches as for 3), in text and in .npy."""
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [4]\nlayers:\n  - {type: Dense, units: 8, activation: relu}\n"
                    "  - {type: Dense, units: 2}\n")
    rows = np.arange(1200, dtype=np.float32).reshape(300, 4)
    np.savetxt(tmp_path / "x.csv", rows, delimiter=",", fmt="%g")
    np.save(tmp_path / "x.npy", rows)
    code = f"""
import gc
from pathlib import Path

from nnctl.cli.app import run

def cyclic_garbage(data, batch_size):
    gc.collect()
    gc.garbage.clear()
    gc.set_debug(gc.DEBUG_SAVEALL)  # unreachable cycles go to gc.garbage, not away
    try:
        out = data.with_suffix(".out" + data.suffix)
        assert run(["forward", {str(spec)!r}, str(data), "-o", str(out),
                    "--batch-size", str(batch_size)]) == 0
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

for name in ("x.csv", "x.npy"):
    data = Path({str(tmp_path)!r}) / name
    cyclic_garbage(data, 100)  # imports and caches
    few, many = cyclic_garbage(data, 100), cyclic_garbage(data, 1)
    print(name, len(few), len(many))
"""
    lines = _printed_by_python(code).splitlines()
    assert [line.split()[0] for line in lines] == ["x.csv", "x.npy"]
    for line in lines:
        name, few, many = line.split()
        assert int(many) - int(few) < 30, line  # 297 more batches, not even one cycle a tenth


def test_the_engine_choice_reads_a_tap_of_one_output_of_several():
    """`--tap encoder[1]`, one output of an LSTM with return_state: gemm_bound walked the graph
    with a copy of Model.needed that took the reference for a layer's name (a KeyError)."""
    model = build_model(read_spec(str(ROOT / "tests/specs/sequences/lstm_states.yaml")))
    assert engines.macs_per_row(model, ["encoder[1]"]) == engines.macs_per_row(model, ["encoder"])
    assert engines.gemm_bound(model, ["encoder[1]"]) is False


def test_wide_dense_models_stay_on_numpy():
    """32-1024-1024-1024-10 spends its time in large matrix products, which NumPy's BLAS runs
    as fast as ONNX Runtime: --engine auto does not pay for ONNX Runtime's start-up there,
    however many rows. The 32-64-64-10 MLP (49 multiply-adds per layer output) is not."""
    small = mlp(64)
    wide = build_model(parse_spec(Located({
        "input": [32], "layers": [{"type": "Dense", "units": 1024, "activation": "relu"},
                                  {"type": "Dense", "units": 1024, "activation": "relu"},
                                  {"type": "Dense", "units": 1024, "activation": "relu"},
                                  {"type": "Dense", "units": 10}]}, {}, "wide.yaml")))
    assert not engines.gemm_bound(small)
    assert engines.gemm_bound(wide)
    runner, note = engines.auto_runner(wide, wide.init_weights(0), None, rows=10 ** 9)
    assert runner.name == "numpy" and note is None


def test_a_dask_worker_computes_its_slices_one_at_a_time(monkeypatch):
    """A Dask worker has one core of the cluster's (its siblings have the others): its part
    runs its slices on the worker's own thread, not on a pool of one thread per core."""
    import threading

    from conftest import CONFIGS
    from nnctl import distributed, forward
    from nnctl.model import load_model

    # this process's pool, as before
    monkeypatch.setattr(forward, "_SIDE_BY_SIDE", forward.special.CoreThreads("nnctl-forward"))
    model = load_model(str(CONFIGS / "gru_timeseries.yaml"))
    weights = model.init_weights(0)
    threads = []

    class Recorded(forward.NumpyRunner):
        def __call__(self, rows):
            threads.append(threading.current_thread().name)
            return super().__call__(rows)

    def run_part(model, weights, part, options, check):  # what _part_task runs on a worker
        x = np.ones((4 * forward.SIDE_BY_SIDE_ROWS, 72), np.float32)
        return list(forward.run(model, weights, [x], runner=Recorded(model, weights)))

    monkeypatch.setattr(distributed, "run_part", run_part)
    monkeypatch.setattr(distributed, "_cancel_watch", lambda name: None)
    distributed._part_task((model, weights), None, {}, "cancel")
    assert threads and set(threads) == {threading.current_thread().name}


def test_a_dask_worker_computes_its_activations_on_its_own_thread(monkeypatch):
    """Element-wise activations of large arrays are computed in slices on a pool of one thread
    per core (nnctl.special.by_slices): not on a Dask worker, which has one core."""
    import threading

    from nnctl import activations, distributed, forward, special

    # this process's pools, as before
    monkeypatch.setattr(forward, "_SIDE_BY_SIDE", special.CoreThreads("nnctl-forward"))
    monkeypatch.setattr(special, "SLICE_THREADS", special.CoreThreads("nnctl-slices"))
    threads = []

    def sigmoid(part):
        threads.append(threading.current_thread().name)
        return 1 / (1 + np.exp(-part))

    def run_part(model, weights, part, options, check):  # what _part_task runs on a worker
        x = np.linspace(-9, 9, 4 * activations.SLICED_SIZE, dtype=np.float32)
        np.testing.assert_array_equal(special.by_slices(sigmoid, x), sigmoid(x))

    monkeypatch.setattr(distributed, "run_part", run_part)
    monkeypatch.setattr(distributed, "_cancel_watch", lambda name: None)
    distributed._part_task((None, None), None, {}, "cancel")
    assert threads and set(threads) == {threading.current_thread().name}
