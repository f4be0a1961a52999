"""Small hostile inputs, one per kind of file nnctl reads: each at most 20 MB, declaring or
expanding to far more. Each must be refused (or, for data that is simply long, streamed) in
under 2 s and under 300 MB peak memory (issue 18); prints the time and peak RSS of each run.

    python benchmarks/hostile.py

Times are whole processes (start-up included) and depend on the machine's load, printed too.
"""
from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "configs" / "article_sequential.yaml"   # 3 inputs

# runs the command, then reports its peak RSS (KB) and wall time on stderr's last line
_WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"MEASURED {code} {seconds:.3f} {peak}", file=sys.stderr)
"""


def measure(args: list[str], cwd: str) -> tuple[int, float, int, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, "-m", "nnctl",
                           *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines = proc.stderr.decode("utf-8", "replace").splitlines()
    _, code, seconds, peak = lines[-1].split()
    return int(code), float(seconds), int(peak), (lines[-2] if len(lines) > 1 else "")


def npz_declaring(path: Path, member: str, size: int) -> None:
    """An .npz whose zip directory says `member` inflates to `size` bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, extra=np.zeros(1_000_000, np.float32))
    path.write_bytes(declaring(buffer.getvalue(), member, size))


def npy_declaring(path: Path, shape: tuple) -> None:
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
                     + b"\0" * 1024)


def zip_of(path: Path, members: dict) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def declaring(data: bytes, member: str, size: int) -> bytes:
    """A zip archive's bytes with `member`'s uncompressed size in its directory set to `size`."""
    at = data.index(b"PK\x01\x02")
    while data[at + 46:at + 46 + len(member)] != member.encode():
        at = data.index(b"PK\x01\x02", at + 4)
    return data[:at + 24] + struct.pack("<I", size) + data[at + 28:]


KERAS_CONFIG = zipfile.ZipFile(ROOT / "tests" / "golden" / "keras" / "seq_mlp.keras").read(
    "config.json")
# a Keras config that is nothing but values: 2,000,001 zeros in 4 MB
MANY_VALUES = b'{"class_name": "Sequential", "config": {"layers": [' + b"0," * 2_000_000 + b"0]}}"


def cases(tmp: Path):
    """(what, nnctl arguments) after writing the file each reads."""
    (tmp / "many.yaml").write_text("[" + ",".join(["1"] * 7_000_000) + "]\n")
    yield "YAML, 7,000,000 values (14 MB)", ["validate", "many.yaml"]
    (tmp / "maps.yaml").write_text("name: x\ninput: [3]\nlayers:\n"
                                   + "  - {type: Dense, units: 1}\n" * 550_000)
    yield "YAML, 550,000 small mappings (15 MB)", ["validate", "maps.yaml"]
    (tmp / "deep.yaml").write_text("[" * 5_000_000 + "]" * 5_000_000 + "\n")
    yield "YAML, nested 5,000,000 deep (10 MB)", ["validate", "deep.yaml"]
    (tmp / "many.json").write_bytes(MANY_VALUES)
    yield "Keras .json config of 2,000,001 values (4 MB)", ["summary", "many.json"]
    npz_declaring(tmp / "bomb.npz", "extra.npy", 4_000_000_000)
    yield ".npz member declaring 4 GB (4 KB)", ["forward", str(SPEC), "--weights", "bomb.npz"]
    zip_of(tmp / "members.npz", {f"m{k}.npy": b"" for k in range(100_001)})
    yield ".npz of 100,001 members (10 MB)", ["forward", str(SPEC), "--weights", "members.npz"]
    np.savez(tmp / "spec.npz", __spec__=np.frombuffer(b'["a",' * 3_400_000 + b'"a"]', np.uint8))
    yield "model .npz whose __spec__ is 3,400,000 strings (17 MB)", ["summary", "spec.npz"]
    np.savez_compressed(tmp / "data.npz", input_layer=np.zeros((1_000_000, 3), np.float32))
    (tmp / "data.npz").write_bytes(declaring((tmp / "data.npz").read_bytes(),
                                             "input_layer.npy", 4_000_000_000))
    yield "input-data .npz member declaring 4 GB (12 KB)", \
        ["forward", str(SPEC), "data.npz", "-o", os.devnull]
    zip_of(tmp / "config.keras", {"metadata.json": b'{"keras_version": "3.5.0"}',
                                  "config.json": MANY_VALUES})
    yield ".keras whose config.json has 2,000,001 values (4 MB)", ["summary", "config.keras"]
    zip_of(tmp / "weights.keras", {"metadata.json": b'{"keras_version": "3.5.0"}',
                                   "config.json": KERAS_CONFIG,
                                   "model.weights.h5": bytes(4_000_000)})
    (tmp / "weights.keras").write_bytes(declaring((tmp / "weights.keras").read_bytes(),
                                                  "model.weights.h5", 4_000_000_000))
    yield ".keras whose model.weights.h5 declares 4 GB (4 MB)", ["forward", "weights.keras"]
    yield from h5_cases(tmp)
    for suffix, sep in ((".csv", ","), (".tsv", "\t")):
        (tmp / f"wide{suffix}").write_text(sep.join(["1"] * 5_000_000) + "\n")
        yield f"{suffix[1:].upper()}, one row of 5,000,000 cells (10 MB)", \
            ["forward", str(SPEC), f"wide{suffix}"]
    (tmp / "wide.jsonl").write_text("[" + ",".join(["1"] * 5_000_000) + "]\n")
    yield "JSONL, one row of 5,000,000 cells (10 MB)", ["forward", str(SPEC), "wide.jsonl"]
    (tmp / "keys.jsonl").write_text("{" + ",".join(f'"c{k}":1' for k in range(1_500_000))
                                    + "}\n")
    yield "JSONL, one object of 1,500,000 keys (17 MB)", ["forward", str(SPEC), "keys.jsonl"]
    npy_declaring(tmp / "huge.npy", (10 ** 12, 3))
    yield ".npy declaring 10^12 rows (1 KB)", ["forward", str(SPEC), "huge.npy"]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return
    column = pa.array(np.zeros(20_000_000, np.float32))
    pq.write_table(pa.table({"a": column, "b": column, "c": column}), tmp / "zeros.parquet",
                   compression="zstd", row_group_size=20_000_000)
    size = (tmp / "zeros.parquet").stat().st_size
    pq.write_table(pa.table({f"c{k}": pa.array(np.zeros(1, np.float32)) for k in range(75_000)}),
                   tmp / "columns.parquet")
    size_columns = (tmp / "columns.parquet").stat().st_size
    yield (f"Parquet, one row of 75,000 columns ({size_columns / 1e6:.1f} MB)",
           ["forward", str(SPEC), "columns.parquet"])
    yield (f"Parquet, 20,000,000 rows of zeros in one row group ({size / 1e6:.1f} MB)", ["forward", str(SPEC), "zeros.parquet", "-o", os.devnull])


def h5_cases(tmp: Path):
    try:
        import h5py
    except ImportError:
        return
    with h5py.File(tmp / "config.h5", "w") as f:
        f.attrs["model_config"] = MANY_VALUES.decode()
        f.create_group("model_weights")
    yield ".h5 whose model_config has 2,000,001 values (4 MB)", ["summary", "config.h5"]
    shutil.copy(ROOT / "tests" / "golden" / "keras" / "func_article.keras2.h5", tmp / "huge.h5")
    with h5py.File(tmp / "huge.h5", "a") as f:
        group = f["model_weights/layer1/layer1"]
        name = next(iter(group))
        del group[name]
        group.create_dataset(name, shape=(1_000_000, 1_000_000), dtype="f4",
                             chunks=(1000, 1000))   # 4 TB declared, nothing stored
    yield ".h5 whose weight declares 4 TB (func_article, 20 KB)", ["forward", "huge.h5"]


def main() -> None:
    print(f"{os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        for what, args in cases(Path(tmp)):
            code, seconds, peak, message = measure(args, tmp)
            ok = seconds < 2 and peak < 300_000
            print(f"{'ok  ' if ok else 'OVER'} {seconds:6.2f} s {peak / 1000:7.0f} MB  exit {code}"
                  f"  {what}\n       {message[:150]}", flush=True)


if __name__ == "__main__":
    main()
