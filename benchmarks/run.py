"""Every path of nnctl against the script a user would write instead, in one run.

    python benchmarks/run.py              # small and large inputs, best of 5 (about 10 min idle)
    python benchmarks/run.py --quick      # smaller large inputs, best of 3
    python benchmarks/run.py --only npy,gelu --repeat 7

Prints the machine first (CPU, cores, memory, BLAS and its kernel, library versions, load),
then for each path the wall time of whole processes (Python start-up, reading, the forward pass,
writing) and the ratio nnctl / alternative, with the target where the project set one:

  startup  `nnctl act relu 1` / `python -c "import numpy"`
  csv      forward CSV -> CSV / a polars script (read_csv, the MLP in NumPy, write_csv)
  tsv      the same with tabs (and nnctl's TSV / nnctl's CSV: TSV at CSV's speed)
  jsonl    JSON Lines of arrays / a json-module script (and nnctl's JSONL / nnctl's CSV)
  npy      .npy -> .npy / a NumPy script (np.load, the MLP, np.save), / ONNX Runtime direct
  parquet  Parquet -> Parquet / a polars script (read_parquet, the MLP, write_parquet)
  gelu     the same network with exact GELU / with relu (.npy, NumPy engine and default engine);
           and the activation alone in process, CPU time (no start-up, I/O or BLAS)
  others   benchmarks/conv.py, rnn.py and deep.py, where they exist (deep.py for summary,
           plot, inspect, lint, build and forward, 50 to 10,000 layers)

The network is a 32 -> 64 -> 64 -> 10 MLP (weights drawn once with `nnctl build`); the
hand-written scripts compute it as `x @ W + b` with np.maximum(x, 0, out=x). nnctl runs with
its defaults (`--engine auto`) unless the line says otherwise. Contenders run in turn, round
after round, and each keeps its best time: a busy machine slows them alike, and the best of N
is the least disturbed. Absolute times belong to the machine printed above them.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
NNCTL = [sys.executable, "-m", "nnctl"]
WIDTH = 32

SPEC = """\
name: mlp
input: [32]
layers:
  - {{type: Dense, units: 64, activation: {act}, kernel_initializer: he_normal}}
  - {{type: Dense, units: 64, activation: {act}, kernel_initializer: he_normal}}
  - {{type: Dense, units: 10}}
"""

MLP = """
w = np.load(sys.argv[1])
for k in ("dense", "dense_1", "dense_2"):
    x = x @ w[k + "/kernel"] + w[k + "/bias"]
    if k != "dense_2":
        np.maximum(x, 0, out=x)
"""

SCRIPTS = {
    "polars csv": "import sys, numpy as np, polars as pl\n"
                  "x = pl.read_csv(sys.argv[2], has_header=False, separator={sep!r},\n"
                  "                schema={{f'c{{i}}': pl.Float32 for i in range(32)}}).to_numpy()\n"
                  + MLP +
                  "pl.DataFrame(x).write_csv(sys.argv[3], separator={sep!r})\n",
    "json": "import sys, json, numpy as np\n"
            "with open(sys.argv[2]) as f:\n"
            "    x = np.array([json.loads(line) for line in f], dtype=np.float32)\n"
            + MLP +
            "with open(sys.argv[3], 'w') as f:\n"
            "    f.writelines(json.dumps(row) + '\\n' for row in x.tolist())\n",
    "numpy": "import sys, numpy as np\nx = np.load(sys.argv[2])\n" + MLP
             + "np.save(sys.argv[3], x)\n",
    "polars parquet": "import sys, numpy as np, polars as pl\n"
                      "x = pl.read_parquet(sys.argv[2]).to_numpy()\n" + MLP +
                      "pl.DataFrame(x).write_parquet(sys.argv[3])\n",
    "onnxruntime": None,  # benchmarks/forward_onnx.py's DIRECT script, on the exported model
}


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------------------------------------
# The machine

def machine() -> list[str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    lines = [f"CPU: {cpu}, {cores} cores usable ({os.cpu_count()} online), "
             f"{memory:.0f} GiB memory, {platform.system()} {platform.release()}"]
    blas = "?"
    try:
        from threadpoolctl import threadpool_info

        found = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        blas = "; ".join(f"{i['internal_api']} {i.get('version')} kernel {i.get('architecture')}"
                         f", {i['num_threads']} threads" for i in found) or "none loaded"
    except ImportError:
        pass
    coretype = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                if k in os.environ}
    lines.append(f"BLAS: {blas}" + (f" (environment: {coretype})" if coretype else ""))
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    for module in ("polars", "onnxruntime"):
        if have(module):
            versions.append(f"{module} {__import__(module).__version__}")
    lines.append(", ".join(versions))
    lines.append("load average at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return lines


# ---------------------------------------------------------------------------------------------
# Timing

def wall(argv) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=ENV)
    elapsed = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"{' '.join(map(str, argv[:6]))} failed ({result.returncode}): "
                           f"{result.stderr.decode()[-500:]}")
    return elapsed


def best_times(contenders: dict[str, list], repeat: int) -> dict[str, float]:
    """Each contender's best wall time over `repeat` rounds, run in turn within a round."""
    best = {name: float("inf") for name in contenders}
    for _ in range(repeat):
        for name, argv in contenders.items():
            best[name] = min(best[name], wall(argv))
    return best


class Report:
    def __init__(self):
        self.rows: list[dict] = []

    def ratio(self, section: str, label: str, mine: float, theirs: float, against: str,
              target: float | None = None) -> None:
        r = mine / theirs
        verdict = "" if target is None else (f"  target <= {target}x: "
                                             f"{'met' if r <= target else 'NOT met'}")
        print(f"  {label:<44} {mine:7.3f} s / {theirs:7.3f} s {against:<22} = {r:5.2f}x"
              f"{verdict}", flush=True)
        self.rows.append({"section": section, "case": label, "nnctl_s": round(mine, 4),
                          "against": against, "other_s": round(theirs, 4),
                          "ratio": round(r, 3), "target": target})


# ---------------------------------------------------------------------------------------------
# The data and the models

class Workdir:
    def __init__(self, path: str):
        self.path = path

    def __call__(self, name: str) -> str:
        return os.path.join(self.path, name)


def build_models(work: Workdir) -> None:
    for act in ("relu", "gelu"):
        with open(work(f"{act}.yaml"), "w") as f:
            f.write(SPEC.format(act=act))
        subprocess.run(NNCTL + ["build", work(f"{act}.yaml"), "--seed", "0", "-o",
                                work(f"{act}.npz")], check=True, env=ENV)
    with np.load(work("relu.npz")) as archive:
        np.savez(work("weights.npz"), **{k: archive[k] for k in archive.files
                                         if k != "__spec__"})


def write_data(work: Workdir, rows: int, fmt: str) -> str:
    from nnctl.tabular import open_writer

    path = work(f"x{rows}.{fmt}")
    if not os.path.exists(path):
        x = np.random.default_rng(rows).standard_normal((rows, WIDTH)).astype(np.float32)
        columns = [f"c{i}" for i in range(WIDTH)] if fmt == "parquet" else None
        with open_writer(path, fmt, columns=columns, durable=False) as out:
            out.write(x)
    return path


def script(name: str, work: Workdir, **fmt) -> list[str]:
    if name == "onnxruntime":
        from benchmarks.forward_onnx import DIRECT

        if not os.path.exists(work("relu.onnx")):
            subprocess.run(NNCTL + ["export", work("relu.npz"), "-o", work("relu.onnx")],
                           check=True, env=ENV)
        return [sys.executable, "-c", DIRECT, work("relu.onnx")]
    return [sys.executable, "-c", SCRIPTS[name].format(**fmt), work("weights.npz")]


# ---------------------------------------------------------------------------------------------
# The paths

def startup(report: Report, work: Workdir, args) -> None:
    print("\nstart-up (best of %d)" % (3 * args.repeat))
    t = best_times({"nnctl": NNCTL + ["act", "relu", "1"],
                    "numpy": [sys.executable, "-c", "import numpy"]}, 3 * args.repeat)
    report.ratio("startup", "nnctl act relu 1", t["nnctl"], t["numpy"],
                 'python -c "import numpy"', 1.2)


def text(report: Report, work: Workdir, args, fmt: str) -> None:
    print(f"\n{fmt.upper()} -> {fmt.upper()} (best of {args.repeat})")
    for rows in args.text_rows:
        source = write_data(work, rows, fmt)
        out = work(f"out.{fmt}")
        mine = NNCTL + ["forward", work("relu.npz"), source, "-o", out]
        contenders = {"nnctl": mine}
        if fmt == "jsonl":
            contenders["other"] = script("json", work) + [source, out + ".alt"]
            against = "json-module script"
        else:
            contenders["other"] = script("polars csv", work, sep="," if fmt == "csv" else "\t") \
                + [source, out + ".alt"]
            against = "polars script"
        if fmt != "csv":
            contenders["csv"] = NNCTL + ["forward", work("relu.npz"),
                                         write_data(work, rows, "csv"), "-o", work("out.csv")]
        t = best_times(contenders, args.repeat)
        big = rows == max(args.text_rows)
        report.ratio(fmt, f"{rows:,} rows", t["nnctl"], t["other"], against,
                     0.8 if fmt == "csv" and big else None)
        if fmt != "csv":
            report.ratio(fmt, f"{rows:,} rows, against nnctl's CSV", t["nnctl"], t["csv"],
                         "nnctl CSV -> CSV", 1.1 if big else None)


def npy(report: Report, work: Workdir, args) -> None:
    print(f"\n.npy -> .npy (best of {args.repeat})")
    ort = have("onnxruntime") and have("onnx")
    for rows in args.npy_rows:
        source = write_data(work, rows, "npy")
        contenders = {"nnctl": NNCTL + ["forward", work("relu.npz"), source, "-o",
                                        work("out.npy")],
                      "numpy": script("numpy", work) + [source, work("alt.npy")]}
        if ort:
            # ONNX Runtime's defaults (its threads spin between runs), nnctl's batch size
            contenders["ort"] = script("onnxruntime", work) + [source, work("alt2.npy"),
                                                               "16384", "1"]
        t = best_times(contenders, args.repeat)
        big = rows == max(args.npy_rows)
        report.ratio("npy", f"{rows:,} rows", t["nnctl"], t["numpy"], "NumPy script",
                     0.8 if big else None)
        if ort:
            report.ratio("npy", f"{rows:,} rows", t["nnctl"], t["ort"], "onnxruntime direct",
                         1.1 if rows == min(args.npy_rows) else None)


def parquet(report: Report, work: Workdir, args) -> None:
    print(f"\nParquet -> Parquet (best of {args.repeat})")
    for rows in args.parquet_rows:
        source = write_data(work, rows, "parquet")
        t = best_times({"nnctl": NNCTL + ["forward", work("relu.npz"), source, "-o",
                                          work("out.parquet")],
                        "polars": script("polars parquet", work) + [source,
                                                                    work("alt.parquet")]},
                       args.repeat)
        report.ratio("parquet", f"{rows:,} rows", t["nnctl"], t["polars"], "polars script",
                     0.9 if rows == max(args.parquet_rows) else None)


def gelu(report: Report, work: Workdir, args) -> None:
    rows = max(args.npy_rows)
    print(f"\nexact GELU against relu, same network, {rows:,} rows of .npy "
          f"(best of {args.repeat})")
    source = write_data(work, rows, "npy")
    for engine in ("numpy", "auto"):
        t = best_times({act: NNCTL + ["forward", work(f"{act}.npz"), source, "-o",
                                      work(f"{act}.npy"), "--engine", engine]
                        for act in ("gelu", "relu")}, args.repeat)
        # the target, for what a user gets by default (auto: ONNX Runtime when installed)
        # and on the NumPy engine alone
        report.ratio("gelu", f"--engine {engine}", t["gelu"], t["relu"], "the relu network", 1.3)
    # The activation alone, in this process: no start-up, I/O or BLAS, whose threads spin and
    # swing the whole-process times on a busy machine. CPU time of every thread (the GELU
    # runs on every core), median of the rounds, on one layer's values (rows x 64 float32).
    from nnctl import activations

    x = np.random.default_rng(0).standard_normal((rows, 64)).astype(np.float32)
    cpu = {}
    for act in ("gelu", "relu"):
        function, times = activations.get(act), []
        for _ in range(args.repeat):
            start = time.process_time()
            function(x)
            times.append(time.process_time() - start)
        cpu[act] = float(np.median(times))
    report.ratio("gelu", "the activation alone (CPU, in process)", cpu["gelu"], cpu["relu"],
                 "relu")


# deep.py measures every command that walks a whole model, not only its default two
OTHER_ARGUMENTS = {"deep": ["--commands", "summary,plot,inspect,lint,build,forward"]}


def others(report: Report, work: Workdir, args) -> None:
    for name in ("conv", "rnn", "deep"):
        path = os.path.join(ROOT, "benchmarks", f"{name}.py")
        if not os.path.exists(path):
            print(f"\nbenchmarks/{name}.py: not written yet")
            continue
        print(f"\nbenchmarks/{name}.py (its own output)", flush=True)
        result = subprocess.run([sys.executable, path, *OTHER_ARGUMENTS.get(name, [])],
                                env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        print("  " + result.stdout.rstrip().replace("\n", "\n  "), flush=True)
        report.rows.append({"section": name, "output": result.stdout,
                            "exit": result.returncode})


PATHS = {"startup": startup, "csv": lambda r, w, a: text(r, w, a, "csv"),
         "tsv": lambda r, w, a: text(r, w, a, "tsv"),
         "jsonl": lambda r, w, a: text(r, w, a, "jsonl"), "npy": npy, "parquet": parquet,
         "gelu": gelu, "others": others}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds; each keeps its best")
    parser.add_argument("--quick", action="store_true", help="smaller large inputs, 3 rounds")
    parser.add_argument("--only", help="comma-separated paths: " + ", ".join(PATHS))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 3)
    args.text_rows = [1_000, 50_000 if args.quick else 200_000]
    args.npy_rows = [100_000, 300_000 if args.quick else 1_000_000]
    args.parquet_rows = [1_000, 300_000 if args.quick else 1_000_000]
    chosen = args.only.split(",") if args.only else list(PATHS)
    unknown = set(chosen) - set(PATHS)
    if unknown:
        parser.error(f"unknown path(s): {', '.join(sorted(unknown))}")

    sys.path.insert(0, ROOT)
    # A checkout may not be byte-compiled (PYTHONDONTWRITEBYTECODE); an installed nnctl is.
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(ROOT, "nnctl")],
                   check=True, stdout=subprocess.DEVNULL)
    for line in machine():
        print(line)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="nnctl-bench-") as tmp:
        work = Workdir(tmp)
        build_models(work)
        for name in chosen:
            PATHS[name](report, work, args)
    print("\nload average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "rows": report.rows}, f, indent=1)


if __name__ == "__main__":
    main()
