"""Recurrent models: nnctl's NumPy engine against ONNX Runtime on the same exported model.

    python benchmarks/rnn.py                  # 20,000 rows per model
    python benchmarks/rnn.py --rows 5000 --repeat 3

Each line: the best wall time, rows per second and the ratio to ort direct, then the best CPU
time of the process (all its threads) and its ratio: on a busy machine, read the CPU column.

Models: configs/gru_timeseries.yaml (GRU 16 -> GRU 8 -> Dense, 24 steps of 3 values),
configs/sentence_classifier.yaml (Embedding with mask_zero -> Bidirectional LSTM 16 ->
Bidirectional LSTM 8 -> Dense, 40 token ids, a quarter of them padding), and an unmasked
LSTM 64 over 100 steps of 8 values. Weights drawn with the spec's initializers (seed 0).

In this process, on rows in memory, best of --repeat, in batches of --batch-size, each batch
cut into slices as `forward` cuts it (nnctl.forward.run, slice_rows) and with the BLAS threads
`forward` sets (one for a recurrent model: engines.blas_threads):
  numpy        nnctl's NumpyRunner (Model.forward: one matrix product for the input
               projection of every step, then a loop over the steps, vectorized over the batch)
  onnxruntime  nnctl's OnnxRuntimeRunner (`forward --engine onnxruntime`)
  ort direct   ONNX Runtime's session.run on the exported graph, no nnctl around it
The graph uses ONNX's LSTM/GRU operators where it can; a mask (the sentence classifier) is
written out step by step in ONNX operators, which ONNX Runtime runs node by node.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.forward_onnx import best_wall_and_cpu  # noqa: E402 - one best-of-N timer

LONG_LSTM = """
name: long_lstm
input: [100, 8]
layers:
  - {type: LSTM, units: 64}
  - {type: Dense, units: 1}
"""


def models():
    from nnctl.model import build_model, load_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import load_yaml

    yield load_model(os.path.join(ROOT, "configs", "gru_timeseries.yaml"))
    yield load_model(os.path.join(ROOT, "configs", "sentence_classifier.yaml"))
    yield build_model(parse_spec(load_yaml(LONG_LSTM, "long_lstm.yaml")))


def rows_for(model, n, rng) -> np.ndarray:
    (name,) = model.input_names
    shape = model.nodes[name].shape
    if np.dtype(model.nodes[name].dtype).kind == "i":
        ids = rng.integers(1, 1000, (n, *shape))
        ids[:, -shape[0] // 4:] = 0      # padded ends
        return ids.astype(np.float64)
    return rng.normal(size=(n, int(np.prod(shape)))).astype(np.float32)


def batches(rows, size):
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import onnxruntime as ort

    from nnctl import engines
    from nnctl.forward import NumpyRunner, run
    from nnctl.onnx.graph import build_graph
    from nnctl.onnx.proto import serialize
    from nnctl.onnx.runtime import OnnxRuntimeRunner

    rng = np.random.default_rng(0)
    print(f"{args.rows:,} rows, batches of {args.batch_size:,}, best of {args.repeat}")
    for model in models():
        weights = model.init_weights(0)
        rows = rows_for(model, args.rows, rng)
        parts = batches(rows, args.batch_size)
        numpy_runner = NumpyRunner(model, weights)
        ort_runner = OnnxRuntimeRunner(model, weights)
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(serialize(build_graph(model, weights)), options,
                                       providers=["CPUExecutionProvider"])
        (name,) = model.input_names
        node = model.nodes[name]
        feeds = [p.astype(node.dtype).reshape((len(p), *node.shape)) for p in parts]
        engines.limit_blas_threads(engines.blas_threads(model, None, 0))

        def forward(runner):
            return np.concatenate(list(run(model, weights, parts, runner=runner)))

        agree = np.max(np.abs(forward(numpy_runner) - forward(ort_runner)))
        times = {
            "numpy": best_wall_and_cpu(lambda: forward(numpy_runner), args.repeat),
            "onnxruntime": best_wall_and_cpu(lambda: forward(ort_runner), args.repeat),
            "ort direct": best_wall_and_cpu(
                lambda: [session.run(None, {name: f}) for f in feeds], args.repeat),
        }
        ops = len(build_graph(model, weights).nodes)
        print(f"\n{model.name}: {model.total_params:,} parameters, "
              f"{sum(n.layer.macs(model.inbound_shapes(n), n.shape) for n in model.layers):,} "
              f"MACs per row, {ops} ONNX nodes; engines agree to {agree:.1e}")
        wall_ref, cpu_ref = times["ort direct"]
        for label, (wall, cpu) in times.items():
            print(f"  {label:12s} {wall:7.3f} s {args.rows / wall:>8,.0f} rows/s "
                  f"{wall / wall_ref:5.2f}x | CPU {cpu:7.3f} s {cpu / cpu_ref:5.2f}x ort direct")


if __name__ == "__main__":
    main()
