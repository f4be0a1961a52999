"""The keras.io MNIST convnet: nnctl forward (NumPy engine, ONNX Runtime engine) against ONNX
Runtime called directly on the exported model.

    python benchmarks/conv.py                    # 10,000 28x28x1 float32 images in an .npy
    python benchmarks/conv.py --images 2000 --repeat 3

The network is configs/mnist_convnet.yaml (Conv2D 32 3x3 relu, MaxPooling2D, Conv2D 64 3x3
relu, MaxPooling2D, Flatten, Dropout, Dense 10 softmax: 2.44 M multiply-adds an image), its
weights drawn once with `nnctl build`, written to model.onnx with `nnctl export`. The images
are an .npy of shape (N, 28, 28, 1).

Whole processes (Python start-up, loading, the forward pass, writing the result), best of
--repeat, run in turn so that a busy machine slows them alike, with their peak resident memory:
  nnctl forward x.npy -o y.npy --engine numpy | onnxruntime
  ONNX Runtime directly: a script that imports onnxruntime and numpy, opens model.onnx, loads
  the array with np.load, runs it in batches of --batch-size images, and saves with np.save.
Targets (issue 14): the NumPy engine within 3x of ONNX Runtime directly; --engine onnxruntime
within 1.2x. It prints the load average at its start and end: on a shared machine
rerun it when the load is low (about 35 s with the defaults).
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

from benchmarks.forward_onnx import DIRECT, ENV  # noqa: E402 - the same direct script

SPEC = os.path.join(ROOT, "configs", "mnist_convnet.yaml")


def measure(argv) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak resident MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed: {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256,
                        help="images per session.run in the direct script")
    args = parser.parse_args()
    began = time.perf_counter()
    nnctl = [sys.executable, "-m", "nnctl"]
    tmp = tempfile.mkdtemp(prefix="nnctl-conv-bench-")
    model, onnx_file = os.path.join(tmp, "mnist.npz"), os.path.join(tmp, "mnist.onnx")
    subprocess.run(nnctl + ["build", SPEC, "--seed", "0", "-o", model], check=True, env=ENV)
    subprocess.run(nnctl + ["export", model, "-o", onnx_file], check=True, env=ENV)
    x = np.random.default_rng(0).random((args.images, 28, 28, 1), dtype=np.float32)
    data, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(data, x)

    import onnxruntime as ort

    print(f"{args.images:,} images of 28x28x1 float32 ({os.path.getsize(data) / 1e6:.0f} MB "
          f".npy), the keras.io MNIST convnet; onnxruntime {ort.__version__}, "
          f"{os.cpu_count()} CPUs; load average at start {load()} (others' work slows the "
          "wall times)")
    direct = f"ONNX Runtime directly (batches of {args.batch_size:,})"
    commands = {
        direct: [sys.executable, "-c", DIRECT, onnx_file, data, out, str(args.batch_size), "1"],
        "nnctl forward --engine onnxruntime": nnctl + ["forward", model, data, "-o", out,
                                                       "--engine", "onnxruntime"],
        "nnctl forward --engine numpy": nnctl + ["forward", model, data, "-o", out,
                                                 "--engine", "numpy"],
    }
    results = {label: [] for label in commands}
    for _ in range(args.repeat):
        for label, argv in commands.items():
            results[label].append(measure(argv))
    best = {label: min(runs) for label, runs in results.items()}
    reference = best[direct][0]
    print(f"\nWhole processes, best of {args.repeat} (ratio: time / ONNX Runtime directly)")
    for label, (wall, cpu, peak) in best.items():
        print(f"  {label:<40} {wall:7.3f} s {cpu:7.3f} s CPU {args.images / wall:9,.0f} "
              f"images/s {peak:7.0f} MB peak {wall / reference:6.2f}x")
    numpy_ratio = best["nnctl forward --engine numpy"][0] / reference
    ort_ratio = best["nnctl forward --engine onnxruntime"][0] / reference
    print(f"  -> NumPy engine / ONNX Runtime directly = {numpy_ratio:.2f} (target: within 3)")
    print(f"  -> --engine onnxruntime / ONNX Runtime directly = {ort_ratio:.2f} "
          "(target: within 1.2)")
    print(f"load average at the end {load()}; the benchmark took "
          f"{time.perf_counter() - began:.0f} s")


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
