"""Start-up time of nnctl against `python -c "import numpy"` (issue 2: within 2x).

    python benchmarks/startup.py [--runs 21] [--importtime]

Runs, interleaved so that a busy machine slows every contender alike:
  numpy    python -c "import numpy"         (the floor: nnctl computes with NumPy)
  script   nnctl act relu 1                 (the installed console script)
  module   python -m nnctl act relu 1
and prints the median wall time of each (after warm-up runs) and the ratios to numpy's.
--importtime adds the slowest imports of `nnctl act relu 1` (python -X importtime), the
first place to look when the ratio goes over.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

TARGET = 2.0


def console_script() -> str:
    """The installed `nnctl` of this interpreter (not a pyenv or asdf shim in front of it)."""
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(directory) / "nnctl"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nnctl")
    if found is None:
        sys.exit("startup.py: the nnctl console script is not installed "
                 "(pip install -e . first)")
    return found


def contenders() -> dict[str, list[str]]:
    return {
        "numpy": [sys.executable, "-c", "import numpy"],
        "script": [console_script(), "act", "relu", "1"],
        "module": [sys.executable, "-m", "nnctl", "act", "relu", "1"],
    }


def wall_time(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def measure(runs: int, warmup: int) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    commands = contenders()
    for name in ("script", "module"):  # they must work before they are timed
        out = subprocess.run(commands[name], capture_output=True, text=True, env=env)
        if (out.returncode, out.stdout) != (0, "1\n"):
            sys.exit(f"startup.py: {' '.join(commands[name])} failed: {out.stderr.strip()}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(warmup + runs):
        for name, command in commands.items():
            t = wall_time(command, env)
            if round_ >= warmup:
                times[name].append(t)
    return times


def slowest_imports(count: int = 15) -> list[tuple[float, str]]:
    """(cumulative ms, module) of the top-level imports of `nnctl act relu 1`."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "nnctl", "act", "relu", "1"],
                          capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 1:
            rows.append((int(cumulative) / 1000, name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs of each (default 21)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--importtime", action="store_true",
                        help="also list the slowest imports of nnctl act relu 1")
    args = parser.parse_args()

    times = measure(args.runs, args.warmup)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    labels = {name: " ".join(Path(c[0]).name if i == 0 else c[i] for i in range(len(c)))
              for name, c in contenders().items()}
    print(f"start-up, median of {args.runs} runs ({args.warmup} warm-up), "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for name, ts in times.items():
        ratio = medians[name] / medians["numpy"]
        print(f"  {labels[name]:<34} median {medians[name] * 1000:6.1f} ms   "
              f"min {min(ts) * 1000:6.1f} ms   {ratio:4.2f}x numpy")
    worst = max(medians["script"], medians["module"]) / medians["numpy"]
    verdict = "met" if worst <= TARGET else "NOT met"
    print(f"target: nnctl act relu 1 within {TARGET:g}x of import numpy: {verdict} "
          f"(script {medians['script'] / medians['numpy']:.2f}x, "
          f"module {medians['module'] / medians['numpy']:.2f}x)")
    if args.importtime:
        print("slowest imports of nnctl act relu 1 (cumulative ms):")
        for ms, name in slowest_imports():
            print(f"  {ms:7.1f}  {name}")


if __name__ == "__main__":
    main()
