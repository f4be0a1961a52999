"""nnctl forward as a whole process, side by side with the usual ways, in one run.

    python benchmarks/forward.py                  # 200,000-row CSV, 1,000,000-row .npy, 1 GB CSV
    python benchmarks/forward.py --rows 50000 --npy-rows 200000 --big-gb 0   # quicker

The network is a 32 -> 64 -> 64 -> 10 relu MLP (weights drawn once into a model file). Every
figure is a whole process: Python start-up, loading the data, the forward pass, writing the
result. Baselines: (a) a pure NumPy process (load, matmul chain, save), (b) the usual way
(pandas.read_csv -> NumPy -> DataFrame.to_csv), with pandas' defaults and told float32,
(c) ONNX Runtime or PyTorch on the same array, where installed. Reported: wall time (best of
--repeat), MB/s of input, rows/s, peak memory (the child's max RSS), and nnctl's ratio to each
baseline.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = """\
name: mlp
input: [32]
layers:
  - {type: Dense, units: 64, activation: relu, kernel_initializer: he_normal}
  - {type: Dense, units: 64, activation: relu, kernel_initializer: he_normal}
  - {type: Dense, units: 10}
"""

NUMPY_PROCESS = """
import sys, numpy as np
w = np.load(sys.argv[1])
x = {load}
for k in ("dense", "dense_1", "dense_2"):
    x = x @ w[k + "/kernel"] + w[k + "/bias"]
    if k != "dense_2":
        np.maximum(x, 0, out=x)
{save}
"""

# The usual way, as most scripts write it (pandas' defaults: float64) and told float32 (the
# dtype nnctl computes in: less to parse, compute and write).
PANDAS_PROCESS = """
import sys, numpy as np, pandas as pd
w = np.load(sys.argv[1])
x = pd.read_csv(sys.argv[2], header=None{dtype}).to_numpy()
for k in ("dense", "dense_1", "dense_2"):
    x = x @ w[k + "/kernel"] + w[k + "/bias"]
    if k != "dense_2":
        np.maximum(x, 0, out=x)
pd.DataFrame(x).to_csv(sys.argv[3], header=False, index=False)
"""

ORT_PROCESS = """
import sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper
w = np.load(sys.argv[1])
nodes, inits, prev = [], [], "x"
for i, k in enumerate(("dense", "dense_1", "dense_2")):
    inits += [numpy_helper.from_array(w[k + "/kernel"], k + "_w"),
              numpy_helper.from_array(w[k + "/bias"], k + "_b")]
    nodes.append(helper.make_node("Gemm", [prev, k + "_w", k + "_b"], [k + "_y"]))
    prev = k + "_y"
    if k != "dense_2":
        nodes.append(helper.make_node("Relu", [prev], [k + "_r"]))
        prev = k + "_r"
graph = helper.make_graph(nodes, "mlp",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 32])],
    [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["n", 10])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
x = np.load(sys.argv[2])
out = np.empty((len(x), 10), np.float32)
for s in range(0, len(x), 8192):
    out[s:s + 8192] = session.run(None, {"x": x[s:s + 8192]})[0]
np.save(sys.argv[3], out)
"""


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# NOTE: Linux carries a process's peak RSS over fork and exec, so a child of this (large)
# process would report at least our own peak. A small reaper process forks the command
# instead: its child starts from the reaper's few MB, and wait4 gives the child's true peak.
# The reaper also times the command, from fork to exit: its own Python start-up (~30 ms) is
# not the command's.
REAPER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
os.write(2, b"\\nMAXRSS %d %.6f\\n" % (usage.ru_maxrss, time.perf_counter() - start))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_process(argv, stdin=None, stdout=None) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one child process."""
    proc = subprocess.run([sys.executable, "-c", REAPER, *argv], stdin=stdin,
                          stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE)
    err, _, figures = proc.stderr.decode().rpartition("\nMAXRSS ")
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed ({proc.returncode}): {err}")
    peak, elapsed = figures.split()
    return float(elapsed), int(peak) * 1024


def best(argv, repeat, **kw) -> tuple[float, int]:
    results = [run_process(argv, **kw) for _ in range(repeat)]
    return min(r[0] for r in results), max(r[1] for r in results)


def row(label, seconds, rss, nbytes, rows, reference=None):
    ratio = f"{seconds / reference:6.2f}x" if reference else "      "
    print(f"  {label:<44} {seconds:7.3f} s {nbytes / seconds / 1e6:8.1f} MB/s "
          f"{rows / seconds / 1e6:6.2f} Mrow/s {rss / 2**20:8.1f} MB  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--npy-rows", type=int, default=1_000_000)
    parser.add_argument("--big-gb", type=float, default=1.0, help="0 to skip the 1 GB CSV")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    nnctl = [sys.executable, "-m", "nnctl"]
    # An installed nnctl is byte-compiled by pip; a checkout may not be (PYTHONDONTWRITEBYTECODE)
    import nnctl as package

    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.dirname(package.__file__)],
                   check=True, stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="nnctl-bench-")
    spec = os.path.join(tmp, "mlp.yaml")
    with open(spec, "w") as f:
        f.write(SPEC)
    model = os.path.join(tmp, "mlp.npz")
    subprocess.run(nnctl + ["build", spec, "--seed", "0", "-o", model], check=True)
    weights = os.path.join(tmp, "weights.npz")
    with np.load(model) as archive:
        np.savez(weights, **{k: archive[k] for k in archive.files if k != "__spec__"})

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, 32)).astype(np.float32)
    csv = os.path.join(tmp, "x.csv")
    np.savetxt(csv, x, delimiter=",", fmt="%.9g")  # 9 digits read back every float32 exactly
    csv_bytes = os.path.getsize(csv)
    os.sync()  # the kernel writing back the new file would be timed with the first runs
    out_csv = os.path.join(tmp, "out.csv")
    import polars

    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, polars {polars.__version__}, "
          f"{os.cpu_count()} cores\n")
    print(f"CSV in -> CSV out: {args.rows:,} x 32 float32 rows, {csv_bytes / 1e6:.1f} MB "
          f"(whole processes, best of {args.repeat}; ratio = time / nnctl's)")
    t_nnctl, m = best(nnctl + ["forward", model, csv, "-o", out_csv, "--engine", "numpy"],
                      args.repeat)
    row("nnctl forward FILE -o out.csv", t_nnctl, m, csv_bytes, args.rows)
    with open(csv, "rb") as stdin_file:
        t, m = run_process(nnctl + ["forward", model, "--engine", "numpy"], stdin=stdin_file)
    row("cat x.csv | nnctl forward (stdin -> stdout)", t, m, csv_bytes, args.rows, t_nnctl)
    t, m = best([sys.executable, "-c", NUMPY_PROCESS.format(
        load="np.loadtxt(sys.argv[2], delimiter=',', dtype=np.float32)",
        save="np.savetxt(sys.argv[3], x, delimiter=',', fmt='%.9g')"), weights, csv, out_csv],
        1)
    row("numpy loadtxt -> matmul -> savetxt", t, m, csv_bytes, args.rows, t_nnctl)
    if have("pandas"):
        for label, dtype in (("defaults, float64", ""), ("dtype=float32", ", dtype=np.float32")):
            t, m = best([sys.executable, "-c", PANDAS_PROCESS.format(dtype=dtype), weights, csv,
                         out_csv], args.repeat)
            row(f"pandas read_csv -> to_csv ({label})", t, m, csv_bytes, args.rows, t_nnctl)
            print(f"  -> pandas ({label}) / nnctl = {t / t_nnctl:.2f} (target: at least 4)")
    print(f"  -> nnctl: {csv_bytes / t_nnctl / 1e6:.0f} MB/s of CSV as a whole process "
          "(target: at least 150)")

    xn = rng.standard_normal((args.npy_rows, 32)).astype(np.float32)
    npy = os.path.join(tmp, "x.npy")
    np.save(npy, xn)
    npy_bytes = os.path.getsize(npy)
    os.sync()
    out_npy = os.path.join(tmp, "out.npy")
    print(f"\n.npy in -> .npy out: {args.npy_rows:,} x 32 float32 rows, {npy_bytes / 1e6:.1f} MB")
    t_npy, m = best(nnctl + ["forward", model, npy, "-o", out_npy, "--engine", "numpy"],
                    args.repeat)
    row("nnctl forward x.npy -o out.npy (numpy engine)", t_npy, m, npy_bytes, args.npy_rows)
    t, m = best([sys.executable, "-c", NUMPY_PROCESS.format(
        load="np.load(sys.argv[2])", save="np.save(sys.argv[3], x)"), weights, npy, out_npy],
        args.repeat)
    row("pure NumPy process (load, matmul chain, save)", t, m, npy_bytes, args.npy_rows, t_npy)
    print(f"  -> nnctl / pure NumPy = {t_npy / t:.2f} (target: within 1.3)")
    if have("onnxruntime") and have("onnx"):
        t_ort, m = best([sys.executable, "-c", ORT_PROCESS, weights, npy, out_npy], args.repeat)
        row("ONNX Runtime process (Gemm+Relu, batches 8192)", t_ort, m, npy_bytes,
            args.npy_rows, t_npy)
        # the engines by name (the default, auto, takes onnxruntime for this much work)
        for engine in ("onnxruntime", "numpy"):
            t, m = best(nnctl + ["forward", model, npy, "-o", out_npy, "--engine", engine],
                        args.repeat)
            row(f"nnctl forward x.npy --engine {engine}", t, m, npy_bytes, args.npy_rows, t_npy)
            if engine == "onnxruntime":
                t_engine = t
        print(f"  -> --engine onnxruntime / ONNX Runtime process = {t_engine / t_ort:.2f} "
              "(target: within 1.2; benchmarks/forward_onnx.py for more)")
    elif have("torch"):
        print("  (PyTorch baseline not written; install onnxruntime for the runtime baseline)")

    if args.big_gb > 0:
        big = os.path.join(tmp, "big.csv")
        target = int(args.big_gb * 1e9)
        block = open(csv, "rb").read()
        with open(big, "wb") as f:
            written = 0
            while written < target:
                f.write(block)
                written += len(block)
        os.sync()
        rows = written // csv_bytes * args.rows
        print(f"\nStreaming {written / 1e9:.2f} GB of CSV ({rows:,} rows) to /dev/null")
        t, m = run_process(nnctl + ["forward", model, big, "-o", "/dev/null",
                                    "--output-format", "csv", "--engine", "numpy"])
        row("nnctl forward big.csv (peak memory: target < 300 MB)", t, m, written, rows)
        os.remove(big)


if __name__ == "__main__":
    main()
