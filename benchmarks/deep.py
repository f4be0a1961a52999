"""Deep models: `nnctl summary`, `forward` (and optionally plot, lint, inspect) on chains of
Dense layers, as whole processes (start-up included).

    python benchmarks/deep.py [--layers 50,500,1250,5000,10000] [--commands summary,forward]

Prints the wall time of each command at each depth, then, for every depth d with 4d also
measured, the ratio time(4d) / time(d): linear work gives at most 4 (start-up makes it less).
Targets (issues 18 and 21): summary of 5,000 layers under 2 s, 4x the layers at most 4.5x the
time; summary and forward of 10,000 layers under 10 s. Absolute times depend on the machine and
its load: the CPU, core count and load average are printed with them.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chain_spec(n_layers: int) -> str:
    return ("name: chain\ninput: [4]\nlayers:\n"
            + "  - {type: Dense, units: 4, activation: relu}\n" * n_layers)


def run(args: list[str], cwd: str, stdin: bytes = b"") -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nnctl", *args], cwd=cwd, input=stdin,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"deep.py: nnctl {' '.join(args)} failed: {proc.stderr.decode()[-300:]}")
    return seconds


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="50,500,1250,5000,10000")
    parser.add_argument("--commands", default="summary,forward")
    options = parser.parse_args()
    depths = [int(d) for d in options.layers.split(",")]
    commands = options.commands.split(",")
    print(f"{cpu_name()}, {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    times: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows = b"1,2,3,4\n" * 100
        for depth in depths:
            Path(tmp, f"{depth}.yaml").write_text(chain_spec(depth))
            for command in commands:
                args = {"forward": ["forward", f"{depth}.yaml"],
                        "inspect": ["inspect", f"{depth}.yaml", "--batch", "16"],
                        "plot": ["plot", f"{depth}.yaml", "-f", "svg"],
                        "build": ["build", f"{depth}.yaml", "-o", f"{depth}.npz"]}.get(
                    command, [command, f"{depth}.yaml"])
                times[command, depth] = run(args, tmp, rows if command == "forward" else b"")
                print(f"{command:8s} {depth:6,d} layers  {times[command, depth]:7.2f} s",
                      flush=True)
    for command in commands:
        for depth in depths:
            if (command, 4 * depth) in times:
                ratio = times[command, 4 * depth] / times[command, depth]
                print(f"{command:8s} {depth:,} -> {4 * depth:,} layers: {ratio:.2f}x the time "
                      "(target: at most 4.5x)")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
