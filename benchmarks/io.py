"""Data I/O throughput: nnctl.tabular against the usual ways, side by side, in one run.

    python benchmarks/io.py                 # 200,000 x 32 float32 CSV, .npy, 1 GB CSV memory
    python benchmarks/io.py --big-gb 0      # skip the 1 GB streaming run
    python benchmarks/io.py --rows 20000    # quicker

Reports MB/s of CSV text (read: input bytes; write: output bytes), best of --repeat runs in
this process; whether each writer's float32 text reads back exactly and is the shortest such
text; whole processes (start-up included) copying the CSV; .npy; and the peak resident memory
of a process streaming a 1 GB CSV through read_batches -> open_writer.
Libraries that are not installed are skipped.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nnctl.tabular import open_writer, read_batches  # noqa: E402


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def best_time(function, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def make_table(rows: int, columns: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((rows, columns)).astype(np.float32)


# --- readers: path -> float32 array ---------------------------------------------------------

def read_nnctl(path):
    return np.concatenate([b.array for b in read_batches(path, batch_size=16384)])


def read_numpy(path):
    return np.loadtxt(path, delimiter=",", dtype=np.float32)


def read_pandas(path):
    import pandas as pd

    return pd.read_csv(path, header=None, dtype=np.float32).to_numpy()


def read_pyarrow(path):
    import pyarrow as pa
    import pyarrow.csv as pcsv

    width = len(open(path).readline().split(","))
    names = [f"c{k}" for k in range(width)]
    table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(column_names=names),
                          convert_options=pcsv.ConvertOptions(
                              column_types={n: pa.float32() for n in names}))
    return np.column_stack([c.to_numpy() for c in table.columns])


def read_polars(path):
    import polars as pl

    width = len(open(path).readline().split(","))
    schema = {f"c{k}": pl.Float32 for k in range(width)}
    return pl.read_csv(path, has_header=False, schema=schema).to_numpy()


# --- writers: (array, path) -----------------------------------------------------------------

def write_nnctl(array, path):
    with open_writer(path) as out:
        for start in range(0, len(array), 16384):
            out.write(array[start:start + 16384])


def write_numpy(array, path):
    np.savetxt(path, array, delimiter=",", fmt="%.9g")  # 9 digits: enough to round-trip


def write_pandas(array, path):
    import pandas as pd

    pd.DataFrame(array).to_csv(path, header=False, index=False)


def write_pyarrow(array, path):
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pa.table({f"c{k}": array[:, k] for k in range(array.shape[1])})
    pcsv.write_csv(table, path, pcsv.WriteOptions(include_header=False))


def write_polars(array, path):
    import polars as pl

    pl.from_numpy(array).write_csv(path, include_header=False)


CANDIDATES = [  # name, module needed, reader, writer
    ("nnctl (polars blocks)", "polars", read_nnctl, write_nnctl),
    ("polars read/write_csv", "polars", read_polars, write_polars),
    ("pyarrow.csv", "pyarrow", read_pyarrow, write_pyarrow),
    ("pandas read_csv/to_csv", "pandas", read_pandas, write_pandas),
    ("numpy loadtxt/savetxt", "numpy", read_numpy, write_numpy),
]


def text_quality(writer, workdir) -> str:
    """Does the float32 text read back exactly, and is it the shortest that does?"""
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2 ** 32, size=(20000, 5), dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = np.where(np.isfinite(values), values, np.float32(1.5))
    values[:, 0] = rng.standard_normal(20000).astype(np.float32)
    values[:10, 1] = [0, -0.0, 1, 2, 100, 0.1, 1e-5, 3.4028235e38, 1e-45, 16777216]
    path = os.path.join(workdir, "quality.csv")
    writer(values, path)
    cells = [line.split(",") for line in open(path).read().split()]
    back = np.array([[np.float32(float(c)) for c in row] for row in cells], np.float32)
    exact = back.shape == values.shape and np.array_equal(back.view(np.uint32),
                                                          values.view(np.uint32))

    def digits(text):
        return text.lower().lstrip("-").split("e")[0].replace(".", "").strip("0")

    shortest = exact and all(len(digits(c)) <= len(digits(str(v)))
                             for row, vrow in zip(cells, values.tolist())
                             for c, v in zip(row, map(np.float32, vrow)))
    return ("exact" if exact else "NOT exact") + (", shortest" if shortest else "")


def run_candidates(csv_path, table, workdir, repeat):
    size = os.path.getsize(csv_path) / 1e6
    print(f"\nCSV {table.shape[0]:,} x {table.shape[1]} float32: {size:.1f} MB "
          f"(best of {repeat}, in-process)")
    print(f"{'':26s} {'read MB/s':>10s} {'write MB/s':>11s}   float32 text")
    for name, module, reader, writer in CANDIDATES:
        if not have(module):
            print(f"{name:26s} (not installed)")
            continue
        runs = 1 if name.startswith(("pandas", "numpy")) else repeat  # the slow ones: once
        warm = os.path.join(workdir, "warm.csv")  # imports and first-call costs are not I/O
        writer(table[:100], warm)
        reader(warm)
        read_s = best_time(lambda: reader(csv_path), runs)
        out = os.path.join(workdir, "out.csv")
        write_s = best_time(lambda: writer(table, out), runs)
        written = os.path.getsize(out) / 1e6
        print(f"{name:26s} {size / read_s:10.0f} {written / write_s:11.0f}   "
              f"{text_quality(writer, workdir)}", flush=True)


PROCESS_SCRIPTS = {
    "nnctl read_batches -> open_writer": """
        import sys
        from nnctl.tabular import read_batches, open_writer
        with open_writer(sys.argv[2]) as out:
            for batch in read_batches(sys.argv[1]):
                out.write(batch.array)
    """,
    "pandas read_csv -> to_csv": """
        import sys, numpy as np, pandas as pd
        frame = pd.read_csv(sys.argv[1], header=None, dtype=np.float32)
        frame.to_csv(sys.argv[2], header=False, index=False)
    """,
    "numpy loadtxt -> savetxt": """
        import sys, numpy as np
        np.savetxt(sys.argv[2], np.loadtxt(sys.argv[1], delimiter=",", dtype=np.float32),
                   delimiter=",", fmt="%.9g")
    """,
    "nnctl .npy -> .npy": """
        import sys
        from nnctl.tabular import read_batches, open_writer
        with open_writer(sys.argv[2]) as out:
            for batch in read_batches(sys.argv[1]):
                out.write(batch.array)
    """,
    "numpy load -> save (.npy)": """
        import sys, numpy as np
        np.save(sys.argv[2], np.load(sys.argv[1]))
    """,
}


# The child reports its own high-water mark (VmHWM): ru_maxrss from wait4 would count the
# benchmark's memory that the child shared between fork and exec.
PEAK_PROBE = """
import atexit, os
def _report_peak():
    with open("/proc/self/status") as status, open(os.environ["PEAK_FILE"], "w") as out:
        out.write(next(l for l in status if l.startswith("VmHWM")).split()[1])
atexit.register(_report_peak)
"""


def run_process(script: str, source: str, dest: str) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds) of a fresh Python process running `script`.

    CPU time (user + system, all threads) says what the work costs on a machine that others
    share; wall time says what a user waits.
    """
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak_file:
        env = dict(os.environ, PEAK_FILE=peak_file.name, PYTHONPATH=os.pathsep.join(
            [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")]
            + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
        code = PEAK_PROBE + textwrap.dedent(script)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", code, source, dest], env=env)
        wall = time.perf_counter() - start
        if result.returncode:
            raise RuntimeError(f"benchmark process failed ({result.returncode})")
        peak_kb = int(peak_file.read() or 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, peak_kb / 1024, cpu


def run_processes(csv_path, npy_path, workdir, repeat):
    print("\nWhole processes, start-up included (best of "
          f"{repeat}; MB/s of input):")
    size = os.path.getsize(csv_path) / 1e6
    npy_size = os.path.getsize(npy_path) / 1e6
    results = {}
    for name, script in PROCESS_SCRIPTS.items():
        needs = "pandas" if "pandas" in name else "polars" if "nnctl" in name else "numpy"
        if not have(needs):
            continue
        npy = ".npy" in name
        source = npy_path if npy else csv_path
        dest = os.path.join(workdir, "copy.npy" if npy else "copy.csv")
        runs = 1 if name.startswith(("pandas", "numpy loadtxt")) else repeat
        timings = [run_process(script, source, dest) for _ in range(runs)]
        wall = min(t for t, _, _ in timings)
        peak = max(m for _, m, _ in timings)
        cpu = min(c for _, _, c in timings)
        results[name] = wall
        mb = npy_size if npy else size
        print(f"  {name:36s} {wall:6.2f} s {mb / wall:7.0f} MB/s   cpu {cpu:5.2f} s   "
              f"peak {peak:5.0f} MB", flush=True)
    if "pandas read_csv -> to_csv" in results:
        ratio = results["pandas read_csv -> to_csv"] / results["nnctl read_batches -> open_writer"]
        print(f"  nnctl CSV copy is {ratio:.1f}x the pandas way")
    npy_ratio = results["nnctl .npy -> .npy"] / results["numpy load -> save (.npy)"]
    print(f"  nnctl .npy copy takes {npy_ratio:.2f}x the time of the pure NumPy process")


def run_big(workdir, gigabytes: float):
    """Peak memory of streaming a CSV of about `gigabytes` through read_batches -> open_writer."""
    path = os.path.join(workdir, "big.csv")
    target = gigabytes * 1e9
    block = make_table(100_000, 32)
    start = time.perf_counter()
    with open_writer(path, durable=False) as out:
        written = 0
        while written < target:
            out.write(block)
            written += 100_000 * 32 * 11  # about 11 bytes a value
    size = os.path.getsize(path)
    print(f"\nStreaming a {size / 1e9:.2f} GB CSV (made in {time.perf_counter() - start:.0f} s) "
          f"through read_batches -> open_writer in a fresh process:")
    dest = os.path.join(workdir, "big_copy.csv")
    wall, peak, cpu = run_process(PROCESS_SCRIPTS["nnctl read_batches -> open_writer"], path,
                                  dest)
    same = os.path.getsize(dest) == size
    print(f"  {wall:.1f} s, {size / 1e6 / wall:.0f} MB/s, cpu {cpu:.1f} s, peak resident memory "
          f"{peak:.0f} MB"
          f"{'' if same else '  (OUTPUT SIZE DIFFERS)'}")
    os.remove(path)
    os.remove(dest)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--columns", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-gb", type=float, default=1.0,
                        help="size of the memory run's CSV in GB (0: skip)")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} (others' work slows the wall times)")
    for module in ("polars", "pyarrow", "pandas"):
        if have(module):
            print(f"  {module} {__import__(module).__version__}")
    with tempfile.TemporaryDirectory(prefix="nnctl-io-") as workdir:
        table = make_table(args.rows, args.columns)
        csv_path = os.path.join(workdir, "table.csv")
        write_nnctl(table, csv_path)
        npy_path = os.path.join(workdir, "table.npy")
        np.save(npy_path, table)
        run_candidates(csv_path, table, workdir, args.repeat)
        size = os.path.getsize(npy_path) / 1e6
        read_nnctl(npy_path)
        read_s = best_time(lambda: read_nnctl(npy_path), args.repeat)
        load_s = best_time(lambda: np.load(npy_path), args.repeat)
        out = os.path.join(workdir, "out.npy")
        write_s = best_time(lambda: write_nnctl(table, out), args.repeat)
        save_s = best_time(lambda: np.save(out, table), args.repeat)
        print(f"\n.npy {size:.1f} MB: nnctl read {size / read_s:.0f} MB/s, write "
              f"{size / write_s:.0f} MB/s (atomic, fsync); numpy load {size / load_s:.0f} "
              f"MB/s, save {size / save_s:.0f} MB/s")
        run_processes(csv_path, npy_path, workdir, args.repeat)
        if args.big_gb > 0:
            run_big(workdir, args.big_gb)


if __name__ == "__main__":
    main()
