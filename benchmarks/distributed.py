"""Many Parquet files: one `nnctl forward` per file, one after the other, against one
`nnctl forward DIR/ -o OUTDIR/ --workers N` on nnctl's local Dask cluster, in one run.

    python benchmarks/distributed.py                      # 8 files of 500,000 rows, 2 workers
    python benchmarks/distributed.py --files 4 --rows 100000   # quicker

The network is benchmarks/forward.py's 32 -> 64 -> 64 -> 10 relu MLP. Every figure is whole
processes, start-up included. Reported: rows/s both ways and their ratio; and the cluster's own
cost, from runs over tiny files (one row each): its start and stop (the time for 2 parts), and
what each further part adds, in a worker's time (the slope from 2 to --tiny parts, times the
workers that share them), next to the start of one single-file process.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from forward import SPEC  # noqa: E402 - the same network as benchmarks/forward.py


def nnctl(*args) -> float:
    """Wall seconds of one `python -m nnctl ARGS` (this checkout's nnctl)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nnctl", *map(str, args)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"nnctl {' '.join(map(str, args[:3]))} failed: {proc.stderr.decode()}")
    return seconds


def write_parquet(path: str, rows: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = np.random.default_rng(seed).standard_normal((rows, 32), dtype=np.float32)
    pq.write_table(pa.table({f"x{k}": x[:, k] for k in range(32)}), path)


def best(repeat: int, run) -> float:
    return min(run() for _ in range(repeat))


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

        def sequential() -> float:
            return sum(nnctl("forward", model, p, "-o",
                             os.path.join(out, os.path.basename(p))) for p in inputs)

        def cluster(directory, parts_out) -> float:
            shutil.rmtree(parts_out, ignore_errors=True)
            return nnctl("forward", model, directory, "-o", parts_out + "/",
                         "--workers", args.workers)

        t_seq = best(args.repeat, sequential)
        t_dask = best(args.repeat, lambda: cluster(data, os.path.join(tmp, "parts")))
        print(f"  one nnctl forward per file, in sequence   {t_seq:7.2f} s "
              f"{total / t_seq:12,.0f} rows/s")
        print(f"  nnctl forward DIR/ --workers {args.workers:<2}            {t_dask:7.2f} s "
              f"{total / t_dask:12,.0f} rows/s   {t_seq / t_dask:.2f}x")

        tiny = os.path.join(tmp, "tiny")
        os.mkdir(tiny)
        for k in range(args.tiny):
            write_parquet(os.path.join(tiny, f"t{k:03d}.parquet"), 1, k)
        two = os.path.join(tmp, "two")
        os.mkdir(two)
        for k in range(2):
            shutil.copy(os.path.join(tiny, f"t{k:03d}.parquet"), two)
        t_two = best(args.repeat, lambda: cluster(two, os.path.join(tmp, "two-out")))
        t_many = best(args.repeat, lambda: cluster(tiny, os.path.join(tmp, "tiny-out")))
        t_one = best(args.repeat, lambda: nnctl("forward", model, os.path.join(two, "t000.parquet"),
                                                "-o", os.path.join(tmp, "one.parquet")))
        per_part = (t_many - t_two) / (args.tiny - 2) * args.workers
        print(f"  the cluster's start and stop (2 one-row parts)   {t_two:6.2f} s")
        print(f"  each further part, in a worker's time            {per_part * 1000:6.0f} ms "
              f"(from {args.tiny} one-row parts: {t_many:.2f} s)")
        print(f"  one single-file nnctl forward of one row         {t_one:6.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
