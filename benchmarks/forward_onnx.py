"""nnctl forward on ONNX Runtime against ONNX Runtime called directly, and the NumPy engine.

    python benchmarks/forward_onnx.py                 # 1,000,000 x 32 float32 rows in an .npy
    python benchmarks/forward_onnx.py --rows 200000 --repeat 3

The network is a 32 -> 64 -> 64 -> 10 relu MLP (13.6 GFLOP for 1,000,000 rows), its weights
drawn once with `nnctl build`, and written to model.onnx with `nnctl export`.

Whole processes (Python start-up, loading, the forward pass, writing the result), best of
--repeat, run in turn so that a busy machine slows them alike:
  nnctl forward x.npy -o y.npy --engine onnxruntime | numpy | auto
  ONNX Runtime directly: a script that imports onnxruntime and numpy, opens model.onnx, loads
  the array with np.load, runs it in batches of --batch-size rows, and saves with np.save.
In this process, on the array in memory: ONNX Runtime's session.run over it in batches, and
nnctl's two engines (runner(rows) per batch), which shows the engines apart from the I/O.
The target (issue 10): --engine onnxruntime within 1.2x of ONNX Runtime called directly.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.forward import SPEC  # noqa: E402 - the same MLP as the CSV/.npy benchmark

DIRECT = """
import sys
import numpy as np
import onnxruntime as ort
model, data, out, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
options = ort.SessionOptions()
options.add_session_config_entry("session.intra_op.allow_spinning", sys.argv[5])
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
x = np.load(data)
y = np.empty((len(x), 10), np.float32)
for start in range(0, len(x), batch):
    y[start:start + batch] = session.run(None, {name: x[start:start + batch]})[0]
np.save(out, y)
"""


# As after `pip install`, modules run from their cached bytecode (a checkout run with
# PYTHONDONTWRITEBYTECODE=1 would compile nnctl's sources again in every process).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_process(argv) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed ({proc.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime


def best_in_process(function, repeat: int) -> float:
    return best_wall_and_cpu(function, repeat)[0]


def best_wall_and_cpu(function, repeat: int) -> tuple[float, float]:
    """(the best wall time, the best CPU time of this process: every thread's) of `repeat`
    calls; on a busy machine the CPU time is the steadier figure."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return min(walls), min(cpus)


def line(label, seconds, rows, cpu=None, reference=None):
    ratio = f"{seconds / reference:6.2f}x" if reference else "       "
    cpu_text = f"{cpu:6.3f} s CPU" if cpu is not None else " " * 12
    print(f"  {label:<52} {seconds:7.3f} s {cpu_text} {rows / seconds / 1e6:6.2f} Mrow/s "
          f"{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16384,
                        help="rows per session.run in the direct script (nnctl's default)")
    args = parser.parse_args()
    nnctl = [sys.executable, "-m", "nnctl"]
    tmp = tempfile.mkdtemp(prefix="nnctl-onnx-bench-")
    spec, model, onnx_file = (os.path.join(tmp, n) for n in ("mlp.yaml", "mlp.npz", "mlp.onnx"))
    with open(spec, "w") as f:
        f.write(SPEC)
    subprocess.run(nnctl + ["build", spec, "--seed", "0", "-o", model], check=True, env=ENV)
    subprocess.run(nnctl + ["export", model, "-o", onnx_file], check=True, env=ENV)
    x = np.random.default_rng(0).standard_normal((args.rows, 32)).astype(np.float32)
    data, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(data, x)

    import onnxruntime as ort

    print(f"{args.rows:,} x 32 float32 rows ({os.path.getsize(data) / 1e6:.0f} MB .npy), "
          f"32->64->64->10 relu MLP; onnxruntime {ort.__version__}, {os.cpu_count()} CPUs")
    commands = {
        "nnctl forward --engine onnxruntime": nnctl + ["forward", model, data, "-o", out,
                                                       "--engine", "onnxruntime"],
        "nnctl forward (--engine auto)": nnctl + ["forward", model, data, "-o", out],
        "nnctl forward --engine numpy": nnctl + ["forward", model, data, "-o", out,
                                                 "--engine", "numpy"],
        f"ONNX Runtime directly (batches of {args.batch_size:,})":
            [sys.executable, "-c", DIRECT, onnx_file, data, out, str(args.batch_size), "1"],
        "ONNX Runtime directly, threads not spinning":
            [sys.executable, "-c", DIRECT, onnx_file, data, out, str(args.batch_size), "0"],
    }
    results = {label: [] for label in commands}
    for _ in range(args.repeat):
        for label, argv in commands.items():
            results[label].append(run_process(argv))
    best = {label: min(runs) for label, runs in results.items()}
    direct = min(wall for label, (wall, _) in best.items() if label.startswith("ONNX"))
    print(f"\nWhole processes, best of {args.repeat} (ratio: time / the faster ONNX Runtime "
          "directly)")
    for label, (wall, cpu) in best.items():
        line(label, wall, args.rows, cpu, direct)
    ratio = best["nnctl forward --engine onnxruntime"][0] / direct
    print(f"  -> --engine onnxruntime / ONNX Runtime directly = {ratio:.2f} (target: within 1.2)")

    from nnctl.forward import NumpyRunner
    from nnctl.model import load_model
    from nnctl.onnx.runtime import OnnxRuntimeRunner
    from nnctl.weights import load_model_file

    built = load_model(model)
    weights = built.check_weights(dict(load_model_file(model)[1]))
    sessions = {}
    for spinning in ("1", "0"):
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        sessions[spinning] = ort.InferenceSession(onnx_file, options,
                                                  providers=["CPUExecutionProvider"])
    runners = {"nnctl OnnxRuntimeRunner": OnnxRuntimeRunner(built, weights),
               "nnctl NumpyRunner (the reference engine)": NumpyRunner(built, weights)}
    step = args.batch_size

    print(f"\nIn this process, the array in memory, batches of {step:,} rows, best of "
          f"{args.repeat}")
    times = {}
    for spinning, session in sessions.items():
        times[spinning] = best_in_process(lambda: [
            session.run(None, {"input_layer": x[s:s + step]}) for s in range(0, len(x), step)],
            args.repeat)
        line(f"ONNX Runtime session.run (spinning {'on' if spinning == '1' else 'off'})",
             times[spinning], args.rows)
    t_direct = min(times.values())
    for label, runner in runners.items():
        t = best_in_process(lambda: [runner(x[s:s + step]) for s in range(0, len(x), step)],
                            args.repeat if "Onnx" in label else min(args.repeat, 2))
        line(label, t, args.rows, reference=t_direct)


if __name__ == "__main__":
    main()
