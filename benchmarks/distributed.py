"""Many Parquet files: one `nnctl forward` per file, one after the other, against one
`nnctl forward DIR/ -o OUTDIR/ --workers N` on nnctl's local Dask cluster, in one run.

    python benchmarks/distributed.py                      # 8 files of 500,000 rows, 2 workers
    python benchmarks/distributed.py --files 4 --rows 100000   # quicker

The network is benchmarks/forward.py's 32 -> 64 -> 64 -> 10 relu MLP. Every figure is whole
processes, start-up included, in wall time and CPU time (the CPU time of the local cluster's
worker processes included: on a busy machine it is the steadier figure). Reported: rows/s both
ways and their ratio, here and as expected on idle cores from the CPU times; and the
cluster's own cost, from runs over tiny files (one row each): its start and stop (2 parts),
what each further part adds (the slope from 2 to --tiny parts), next to the cost of one
single-file process.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from forward import SPEC  # noqa: E402 - the same network as benchmarks/forward.py


class Cost(tuple):
    """(wall seconds, CPU seconds) of whole processes; CPU time counts the local cluster's
    worker processes too, and changes little with the machine's load, wall time a lot."""

    def __add__(self, other):
        return Cost((self[0] + other[0], self[1] + other[1]))


def nnctl(*args) -> Cost:
    """The cost of one `python -m nnctl ARGS` (this checkout's nnctl)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nnctl", *map(str, args)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"nnctl {' '.join(map(str, args[:3]))} failed: {proc.stderr.decode()}")
    return Cost((seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))


def write_parquet(path: str, rows: int, seed: int) -> None:
    import polars as pl

    x = np.random.default_rng(seed).standard_normal((rows, 32), dtype=np.float32)
    pl.DataFrame(x, schema=[f"x{k}" for k in range(32)]).write_parquet(path)


def best(repeat: int, run) -> Cost:
    return min((run() for _ in range(repeat)), key=lambda cost: cost[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tiny", type=int, default=18, help="parts of the overhead run")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="nnctl-bench-")
    try:
        spec = os.path.join(tmp, "mlp.yaml")
        with open(spec, "w") as f:
            f.write(SPEC)
        model = os.path.join(tmp, "model.npz")
        nnctl("build", spec, "--seed", "0", "-o", model)
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        inputs = []
        for k in range(args.files):
            inputs.append(os.path.join(data, f"part{k:03d}.parquet"))
            write_parquet(inputs[-1], args.rows, k)
        total = args.files * args.rows
        size = sum(os.path.getsize(p) for p in inputs)
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.files} Parquet "
              f"files of {args.rows:,} x 32 float32 rows ({size / 1e6:.0f} MB), "
              f"best of {args.repeat}")

        out = os.path.join(tmp, "out")
        os.makedirs(out, exist_ok=True)

        def sequential() -> Cost:
            total = Cost((0.0, 0.0))
            for p in inputs:
                total = total + nnctl("forward", model, p, "-o",
                                      os.path.join(out, os.path.basename(p)))
            return total

        def cluster(directory, parts_out) -> Cost:
            shutil.rmtree(parts_out, ignore_errors=True)
            return nnctl("forward", model, directory, "-o", parts_out + "/",
                         "--workers", args.workers)

        (w_seq, c_seq) = best(args.repeat, sequential)
        (w_dask, c_dask) = best(args.repeat, lambda: cluster(data, os.path.join(tmp, "parts")))
        print(f"  {'':44} {'wall':>8} {'rows/s':>12} {'CPU':>8}")
        print(f"  {'one nnctl forward per file, in sequence':44} {w_seq:7.2f}s "
              f"{total / w_seq:12,.0f} {c_seq:7.2f}s")
        print(f"  {f'nnctl forward DIR/ -o OUT/ --workers {args.workers}':44} {w_dask:7.2f}s "
              f"{total / w_dask:12,.0f} {c_dask:7.2f}s")
        print(f"  -> rows/s, --workers {args.workers} / in sequence: {w_seq / w_dask:.2f}x here; "
              f"on {args.workers} idle cores, from the CPU times: "
              f"{c_seq / (c_dask / args.workers):.2f}x")

        tiny = os.path.join(tmp, "tiny")
        os.mkdir(tiny)
        for k in range(args.tiny):
            write_parquet(os.path.join(tiny, f"t{k:03d}.parquet"), 1, k)
        two = os.path.join(tmp, "two")
        os.mkdir(two)
        for k in range(2):
            shutil.copy(os.path.join(tiny, f"t{k:03d}.parquet"), two)
        (w_two, c_two) = best(args.repeat, lambda: cluster(two, os.path.join(tmp, "two-out")))
        (w_many, c_many) = best(args.repeat,
                                lambda: cluster(tiny, os.path.join(tmp, "tiny-out")))
        (w_one, c_one) = best(args.repeat, lambda: nnctl(
            "forward", model, os.path.join(two, "t000.parquet"), "-o",
            os.path.join(tmp, "one.parquet")))
        print(f"  the cluster's start and stop (2 one-row parts): {w_two:.2f} s wall, "
              f"{c_two:.2f} s CPU")
        print(f"  each further part ({args.tiny} one-row parts): "
              f"{(c_many - c_two) / (args.tiny - 2) * 1000:.0f} ms CPU, "
              f"{(w_many - w_two) / (args.tiny - 2) * args.workers * 1000:.0f} ms of a "
              f"worker's wall time")
        print(f"  one single-file nnctl forward of one row: {w_one:.2f} s wall, "
              f"{c_one:.2f} s CPU")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
