"""Soak: `nnctl forward` over millions of rows keeps its memory flat (DESIGN.md section 4).

    python benchmarks/soak.py [--rows 1000000,10000000] [--spec configs/article_sequential.yaml]
                              [--input-format csv|npy] [--batch-size N] [--engine numpy]

For each row count, rows are generated on the fly into nnctl's stdin (never stored: a few
distinct blocks of random rows, written over and over) and its stdout is read and counted.
The peak resident memory of the nnctl process is its VmHWM, read from /proc/PID/status
while it runs and, exactly, from wait4's ru_maxrss when it ends (NOTE: Linux carries a
parent's peak RSS into a forked child; this script stays near 55 MB, below any nnctl peak,
and the two figures agree); its VmRSS is sampled along the way. Printed side by side for every row count, with the ratio of the largest run's peak
to the smallest's: flat memory is a ratio near 1. Exit status 1 if a row was lost, the
command failed, or the peak grew by more than --max-growth (default 1.25).
"""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BLOCK_ROWS = 50_000
DISTINCT_BLOCKS = 4


def input_width(spec: str) -> int:
    sys.path.insert(0, str(ROOT))
    from nnctl.forward import input_widths
    from nnctl.model import load_model

    return sum(input_widths(load_model(spec)).values())


def blocks(width: int, fmt: str) -> list[bytes]:
    """A few blocks of BLOCK_ROWS random rows, already in the input format."""
    rng = np.random.default_rng(0)
    result = []
    for _ in range(DISTINCT_BLOCKS):
        rows = (rng.standard_normal((BLOCK_ROWS, width)) * 2).astype(np.float32)
        if fmt == "npy":
            result.append(rows.tobytes())
        else:
            text = io.StringIO()
            np.savetxt(text, rows, delimiter=",", fmt="%.7g")
            result.append(text.getvalue().encode())
    return result


def npy_header(rows: int, width: int) -> bytes:
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {width}), }}"
    text += " " * (-(len(text) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KB (empty once it has gone)."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":")
                    values[key] = int(value.split()[0])
    except OSError:
        pass
    return values


def soak(spec: str, rows: int, fmt: str, extra: list[str]) -> dict:
    width = input_width(spec)
    data = blocks(width, fmt)
    command = [sys.executable, "-m", "nnctl", "forward", spec, "--input-format", fmt, *extra]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    fed = [0]
    out = {"lines": 0, "bytes": 0}
    samples: list[tuple[float, int, int]] = []   # (seconds, rows fed, VmRSS KB)
    hwm = [0]

    def feed():
        try:
            if fmt == "npy":
                proc.stdin.write(npy_header(rows, width))
            k = 0
            while fed[0] < rows:
                block = data[k % DISTINCT_BLOCKS]
                take = min(BLOCK_ROWS, rows - fed[0])
                if take < BLOCK_ROWS:
                    block = (block[:take * width * 4] if fmt == "npy"
                             else b"".join(block.splitlines(keepends=True)[:take]))
                proc.stdin.write(block)
                fed[0] += take
                k += 1
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass

    def drain():
        while chunk := proc.stdout.read(1 << 20):
            out["lines"] += chunk.count(b"\n")
            out["bytes"] += len(chunk)

    def watch():
        while proc.poll() is None:
            values = status(proc.pid)
            if values:
                samples.append((time.perf_counter() - start, fed[0], values.get("VmRSS", 0)))
                hwm[0] = max(hwm[0], values.get("VmHWM", 0))
            time.sleep(0.1)

    start = time.perf_counter()
    threads = [threading.Thread(target=f, daemon=True) for f in (feed, drain, watch)]
    for t in threads:
        t.start()
    _, wait_status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(wait_status)
    for t in threads:
        t.join(timeout=10)
    err = proc.stderr.read().decode(errors="replace")
    return {"rows": rows, "seconds": seconds, "code": proc.returncode, "err": err,
            "out_rows": out["lines"], "peak_kb": usage.ru_maxrss, "hwm_kb": hwm[0],
            "samples": samples}


def rss_along(samples, rows: int, fraction: float) -> int | None:
    """VmRSS when `fraction` of the rows had been fed."""
    for _, fed, rss in samples:
        if fed >= fraction * rows:
            return rss
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000",
                        help="comma-separated row counts (default: 1000000,10000000)")
    parser.add_argument("--spec", default=str(ROOT / "configs" / "article_sequential.yaml"))
    parser.add_argument("--input-format", default="csv", choices=("csv", "npy"))
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--engine", default=None, help="numpy, onnxruntime or auto")
    parser.add_argument("--max-growth", type=float, default=1.25)
    args = parser.parse_args(argv)
    extra = []
    if args.batch_size:
        extra += ["--batch-size", str(args.batch_size)]
    if args.engine:
        extra += ["--engine", args.engine]
    counts = [int(n.replace("_", "")) for n in args.rows.split(",")]

    print(f"nnctl forward {Path(args.spec).name} --input-format {args.input_format} "
          f"{' '.join(extra)}".rstrip() + ", rows generated into stdin, stdout counted")
    header = (f"{'rows':>12} {'seconds':>8} {'rows/s':>10} {'peak RSS':>10} {'RSS@10%':>9} "
              f"{'RSS@50%':>9} {'RSS@90%':>9}  rows out")
    print(header)
    results, ok = [], True
    for rows in counts:
        r = soak(args.spec, rows, args.input_format, extra)
        results.append(r)

        def mb(kb):
            return f"{kb / 1024:.0f} MB" if kb else "-"

        print(f"{rows:>12,} {r['seconds']:>8.1f} {rows / r['seconds']:>10,.0f} "
              f"{mb(r['peak_kb']):>10} {mb(rss_along(r['samples'], rows, 0.1)):>9} "
              f"{mb(rss_along(r['samples'], rows, 0.5)):>9} "
              f"{mb(rss_along(r['samples'], rows, 0.9)):>9}  {r['out_rows']:,}", flush=True)
        if r["code"] != 0 or r["out_rows"] != rows:
            ok = False
            print(f"  FAILED: exit {r['code']}, {r['out_rows']:,} rows out of {rows:,}\n"
                  f"  {r['err'].strip()}")
    if len(results) > 1 and all(r["peak_kb"] for r in results):
        growth = results[-1]["peak_kb"] / results[0]["peak_kb"]
        print(f"peak RSS at {counts[-1]:,} rows / at {counts[0]:,} rows: {growth:.2f} "
              f"({'flat' if growth <= args.max_growth else 'GROWS'}; at most "
              f"{args.max_growth} allowed)")
        ok = ok and growth <= args.max_growth
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
