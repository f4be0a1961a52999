"""Fuzzing every data reader (nnctl.tabular): CSV, TSV and JSON Lines text built from good and
bad cells and then mutated, .npy files with mutated headers and bodies, Parquet files with
odd columns and flipped bytes, and random bytes in every format. Reading either yields
batches of the asked width and dtype or raises an NnctlError; no reader thread is left."""
from __future__ import annotations

import io
import os
import tempfile
import threading

import numpy as np
from hypothesis import given, strategies as st

from fuzzing import engine_case, fuzz_cases, fuzz_settings  # noqa: F401

CELLS = ["0", "1", "-1", "2.5", "-0", "1e5", "1E-5", "+.5", "-.5e1", "nan", "-inf", "Infinity",
         "1e39", "1e309", "-1e-46", "3.4028235e38", "007", "", " ", "x", "1,5", "1.2.3", "--1",
         "0x10", "1_0", "\u0661", "\uff11", '"1"', '"', "'1'", "[1]", "null", "true", "1e",
         "inf\x00", "\x00", "1\r", "\t1", "\u00e9", "\U0001f600", "9" * 400, "a,b", "[", "]"]
FORMATS = ["csv", "tsv", "jsonl"]
SEPARATOR = {"csv": ",", "tsv": "\t", "jsonl": ", "}


def read_everything(path: str, fmt, header, n_columns, batch_size, dtype, prefetch):
    """Iterate a reader to the end (or its error), checking what it yields."""
    from nnctl.tabular import read_batches

    reader = read_batches(path, fmt, batch_size=batch_size, header=header, n_columns=n_columns,
                          dtype=dtype, prefetch=prefetch)
    with reader:
        rows = 0
        for batch in reader:
            array = batch.array
            assert array.ndim == 2 and array.dtype == np.dtype(dtype)
            assert array.shape[1] == reader.n_columns
            assert 0 < len(array) <= batch_size and batch.first_line >= 1
            if n_columns is not None:
                assert array.shape[1] == n_columns
            rows += len(array)
    return rows


def check_data(data: bytes, suffix: str, fmt, header=None, n_columns=None, batch_size=3,
               dtype=np.float32, prefetch=True):
    threads = threading.active_count()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        engine_case(read_everything, path, fmt, header, n_columns, batch_size, dtype, prefetch)
    # the reader's thread ends with it (allow a moment for one that is finishing)
    for _ in range(200):
        if threading.active_count() <= threads:
            break
        threading.Event().wait(0.005)
    assert threading.active_count() <= threads + 1, "a reader thread was left running"


reading = dict(
    header=st.none() | st.booleans(),
    n_columns=st.none() | st.integers(0, 4),
    batch_size=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
    prefetch=st.booleans(),
)


# --- text ------------------------------------------------------------------------------------

@st.composite
def text_table(draw):
    fmt = draw(st.sampled_from(FORMATS))
    width = draw(st.integers(0, 4))
    rows = draw(st.lists(st.lists(st.sampled_from(CELLS) | st.text(max_size=3),
                                  min_size=width, max_size=width + draw(st.integers(0, 1))),
                         max_size=8))
    if draw(st.booleans()):  # mostly clean rows, so that the fast path runs too
        rows = [[draw(st.sampled_from(CELLS[:14])) for _ in range(width)] for _ in rows] + rows[:1]
    sep = SEPARATOR[fmt]
    lines = [("[" + sep.join(r) + "]") if fmt == "jsonl" else sep.join(r) for r in rows]
    if draw(st.booleans()):
        lines.insert(0, sep.join(draw(st.lists(st.sampled_from(["a", "b c", '"q"', "", "1"]),
                                               min_size=width, max_size=width))))
    end = draw(st.sampled_from(["\n", "\r\n", "\n\n", "\r"]))
    text = end.join(lines) + draw(st.sampled_from(["", end]))
    data = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + text.encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 2))):  # byte-level damage
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
        if how == "cut":
            data = data[:at]
        elif how == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif how == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
        else:
            data = data[:at] + data[at + 1:]
    return fmt, data


@fuzz_settings(1500)
@given(table=text_table(), explicit=st.booleans(), **reading)
def test_text_tables(fuzz_cases, table, explicit, header, n_columns, batch_size, dtype,
                     prefetch):
    fmt, data = table
    fuzz_cases.add("data")
    check_data(data, "." + fmt if not explicit else ".dat", fmt if explicit else None, header,
               n_columns, batch_size, dtype, prefetch)


def rows_and_error(path: str, fmt, n_columns):
    """Every row read (as float64 bits) and the error's message, or None."""
    from nnctl.errors import DataError
    from nnctl.tabular import read_batches

    rows = []
    try:
        for batch in read_batches(path, fmt, n_columns=n_columns, dtype=np.float64):
            rows.append(batch.array)
        error = None
    except DataError as exc:
        error = str(exc)
    return (np.concatenate(rows) if rows else np.empty((0, 0))).tobytes(), error


@fuzz_settings(500)
@given(table=text_table(), n_columns=st.none() | st.integers(1, 4))
def test_the_fast_path_reads_what_the_careful_path_reads(fuzz_cases, table, n_columns):
    """Whatever text the fast parser accepts (a block at a time: JSON Lines' brackets turned
    into a space and a comma, CSV and TSV as they are), the careful path, line by line, reads
    the same rows; and where it refuses, the same error comes out."""
    from unittest import mock

    from nnctl.tabular.text import TextParser

    fmt, data = table
    fuzz_cases.add("data")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data." + fmt)
        with open(path, "wb") as f:
            f.write(data)
        fast = rows_and_error(path, fmt, n_columns)
        with mock.patch.object(TextParser, "fast", lambda self, block, newlines: None):
            careful = rows_and_error(path, fmt, n_columns)
    assert fast == careful


@fuzz_settings(300)
@given(rows=st.integers(0, 50_000), width=st.integers(1, 3), bad=st.none() | st.integers(0, 50_000),
       cell=st.sampled_from(CELLS[14:]), fmt=st.sampled_from(FORMATS))
def test_large_text_with_one_bad_cell(fuzz_cases, rows, width, bad, cell, fmt):
    """Blocks the fast parser refuses are narrowed down to the bad line: big inputs too."""
    from nnctl.errors import DataError

    fuzz_cases.add("data")
    lines = ["[" + ", ".join(["1.5"] * width) + "]" if fmt == "jsonl"
             else SEPARATOR[fmt].join(["1.5"] * width)] * rows
    if bad is not None and bad < rows:
        cells = ["1.5"] * width
        cells[-1] = cell
        lines[bad] = ("[" + ", ".join(cells) + "]" if fmt == "jsonl"
                      else SEPARATOR[fmt].join(cells))
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data." + fmt)
        with open(path, "wb") as f:
            f.write(data)
        result = engine_case(read_everything, path, None, False, width, 4096, np.float32, True)
    if isinstance(result, DataError) and bad is not None and bad < rows:
        assert result.line == bad + 1, result
    elif isinstance(result, Exception):
        raise AssertionError(f"an error in good data: {result}")


# --- .npy ------------------------------------------------------------------------------------

DESCRS = ["'<f4'", "'>f8'", "'<f2'", "'|b1'", "'<i8'", "'|u1'", "'<c8'", "'|O'", "'<U3'",
          "'|V8'", "'|S2'", "[('a', '<f4')]", "'<M8[s]'", "'f4'", "'nope'", "42", "None"]
SHAPES = ["()", "(0,)", "(3,)", "(2, 3)", "(2, 3, 1)", "(0, 3)", "(3, 0)", "(-1, 3)",
          "(10**12, 3)", "(1000000000000, 3)", "(4611686018427387904, 4)", "(2, 2**40)",
          "(99999999999999999999999,)", "('a',)", "(2.5,)", "[2, 3]", "None"]


def npy_bytes(array: np.ndarray) -> bytes:
    sink = io.BytesIO()
    np.save(sink, array, allow_pickle=False)
    return sink.getvalue()


def npy_with_header(descr: str, fortran: str, shape: str, body: bytes, version=(1, 0)) -> bytes:
    header = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    size = len(header).to_bytes(2 if version[0] == 1 else 4, "little")
    return b"\x93NUMPY" + bytes(version) + size + header.encode("latin1") + body


arrays = st.sampled_from([np.float32, np.float64, np.int8, np.uint16, np.int64, np.bool_,
                          np.float16, ">f4"]).flatmap(lambda dtype: st.tuples(
                              st.just(dtype), st.lists(st.integers(0, 4), max_size=3)))


@st.composite
def npy_file(draw) -> bytes:
    choice = draw(st.sampled_from(["valid", "header", "header", "damaged", "random"]))
    if choice == "random":
        return b"\x93NUMPY" + draw(st.binary(max_size=200))
    if choice == "header":
        version = draw(st.sampled_from([(1, 0), (2, 0), (3, 0), (9, 9), (0, 0)]))
        body = draw(st.binary(max_size=64) | st.just(b"\x00" * 48))
        return npy_with_header(draw(st.sampled_from(DESCRS)),
                               draw(st.sampled_from(["False", "True", "1", "'yes'"])),
                               draw(st.sampled_from(SHAPES)), body, version)
    dtype, shape = draw(arrays)
    data = np.random.default_rng(len(shape)).standard_normal(shape or ()) * 3
    array = np.asarray(data).astype(dtype)
    if draw(st.booleans()) and array.ndim > 1:
        array = np.asfortranarray(array)
    data = npy_bytes(array)
    if choice == "damaged" and data:
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["cut", "flip", "flip", "extra"]))
        if how == "cut":
            data = data[:at]
        elif how == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        else:
            data = data + draw(st.binary(min_size=1, max_size=9))
    return data


@fuzz_settings(1200)
@given(data=npy_file(), explicit=st.booleans(), **reading)
def test_npy_files(fuzz_cases, data, explicit, header, n_columns, batch_size, dtype, prefetch):
    fuzz_cases.add("data")
    check_data(data, ".npy" if not explicit else ".bin", "npy" if explicit else None, header,
               n_columns, batch_size, dtype, prefetch)


@fuzz_settings(300)
@given(data=npy_file(), n_columns=st.none() | st.integers(0, 4))
def test_npy_on_stdin(fuzz_cases, data, n_columns):
    """stdin is not seekable nor mappable: .npy is read in row blocks from a pipe there."""
    from fuzzing import time_limit
    from nnctl.errors import NnctlError
    from nnctl.tabular import read_batches

    fuzz_cases.add("data")
    read, write = os.pipe()
    writer = threading.Thread(target=_feed, args=(write, data), daemon=True)
    writer.start()
    saved = os.dup(0)
    try:
        os.dup2(read, 0)
        import sys

        stdin = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "rb", closefd=False)))
        try:
            with time_limit():
                try:
                    with read_batches("-", None, batch_size=2, n_columns=n_columns) as reader:
                        for batch in reader:
                            assert batch.array.shape[1] == reader.n_columns
                except NnctlError as exc:
                    assert "\n" not in str(exc)
        finally:
            sys.stdin = stdin
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read)
        writer.join(timeout=5)


def _feed(fd: int, data: bytes) -> None:
    try:
        os.write(fd, data)
    except OSError:  # the reader stopped early
        pass
    finally:
        os.close(fd)


# --- Parquet ---------------------------------------------------------------------------------

@st.composite
def parquet_file(draw) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    width = draw(st.integers(0, 3))
    rows = draw(st.integers(0, 6))
    columns = {}
    for k in range(width):
        kind = draw(st.sampled_from(["f4", "f8", "i8", "u1", "bool", "null", "str", "list",
                                     "f16", "date", "dict"]))
        values = draw(st.lists(st.floats(allow_nan=True) | st.none(), min_size=rows,
                               max_size=rows))
        if kind in ("f4", "f8"):
            column = pa.array(values, type=pa.float32() if kind == "f4" else pa.float64())
        elif kind in ("i8", "u1"):
            column = pa.array([None if v is None or v != v or abs(v) > 100 else int(abs(v))
                               for v in values], type=pa.int64() if kind == "i8" else pa.uint8())
        elif kind == "bool":
            column = pa.array([None if v is None else v > 0 for v in values])
        elif kind == "null":
            column = pa.nulls(rows)
        elif kind == "str":
            column = pa.array([str(v) for v in values])
        elif kind == "list":
            column = pa.array([[v] for v in values])
        elif kind == "f16":
            column = pa.array(np.array([0.5] * rows, np.float16))
        elif kind == "date":
            column = pa.array([0] * rows, type=pa.date32())
        else:
            column = pa.array(["a"] * rows).dictionary_encode()
        columns[f"c{k}"] = column
    table = pa.table(columns) if columns else pa.table({})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=draw(st.integers(1, 4)))
    data = sink.getvalue()
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["cut", "flip", "flip"]))
        if how == "cut":
            data = data[:at]
        else:
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        if not data:
            break
    return data


@fuzz_settings(800)
@given(data=parquet_file(), explicit=st.booleans(), **reading)
def test_parquet_files(fuzz_cases, data, explicit, header, n_columns, batch_size, dtype,
                       prefetch):
    fuzz_cases.add("data")
    check_data(data, ".parquet" if not explicit else ".bin", "parquet" if explicit else None,
               header, n_columns, batch_size, dtype, prefetch)


# --- random bytes ----------------------------------------------------------------------------

@fuzz_settings(600)
@given(data=st.binary(max_size=300), fmt=st.sampled_from([None, "csv", "tsv", "jsonl", "npy",
                                                          "parquet"]),
       prefix=st.sampled_from([b"", b"PAR1", b"\x93NUMPY", b"[", b"\xef\xbb\xbf"]), **reading)
def test_random_bytes_in_every_format(fuzz_cases, data, fmt, prefix, header, n_columns,
                                      batch_size, dtype, prefetch):
    fuzz_cases.add("data")
    check_data(prefix + data, ".dat", fmt, header, n_columns, batch_size, dtype, prefetch)
