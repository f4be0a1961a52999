"""Streaming data in and out (nnctl.tabular): formats, exact floats, headers, errors, atomicity."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nnctl.errors import DataError, ParameterError
from nnctl.floatfmt import float_text
from nnctl.tabular import (FORMATS, format_for, format_rows, open_writer, read_batches)

TEXT_FORMATS = ["csv", "tsv", "jsonl"]
ALL_FORMATS = TEXT_FORMATS + ["npy", "parquet"]
EXT = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "npy": ".npy", "parquet": ".parquet"}


def read_all(source, **kwargs) -> np.ndarray:
    batches = [b.array for b in read_batches(source, **kwargs)]
    width = kwargs.get("n_columns") or (batches[0].shape[1] if batches else 0)
    return np.concatenate(batches) if batches else np.empty((0, width), np.float32)


def same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN where NaN, and the sign of zero kept (-0 reads back as -0)."""
    numbers = ~np.isnan(b)
    return (a.shape == b.shape and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=True)
            and np.array_equal(np.signbit(a[numbers]), np.signbit(b[numbers])))


def extreme_values(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    values = [0.0, -0.0, 1.0, -1.0, 2.0, 100.0, 1e7, 123456789.0, 0.1, 1e-5, 1.5e-5,
              float(info.max), -float(info.max), float(info.tiny), float(info.smallest_subnormal),
              -float(info.smallest_subnormal), float(info.eps), np.inf, -np.inf, np.nan,
              0.021671522, 3.4e-7, 16777217.0, 1e16, 1.0000001]
    return np.array(values, dtype=dtype)


def random_table(rows, columns, dtype=np.float32, seed=0) -> np.ndarray:
    """Normal values, wild values from random bit patterns, and the extremes, mixed."""
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal((rows, columns)).astype(dtype)
    uint = np.uint32 if np.dtype(dtype).itemsize == 4 else np.uint64
    bits = rng.integers(0, np.iinfo(uint).max, size=(rows, columns), dtype=uint, endpoint=True)
    wild = bits.view(dtype)
    table = np.where(rng.random((rows, columns)) < 0.5, normal, wild)
    extremes = extreme_values(dtype)
    table.flat[:len(extremes)] = extremes
    return table


# --- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_through_every_format_is_exact(tmp_path, fmt, dtype):
    table = random_table(1000, 7, dtype)
    path = tmp_path / f"data{EXT[fmt]}"
    with open_writer(str(path)) as out:
        for start in range(0, len(table), 300):  # several writes, uneven sizes
            out.write(table[start:start + 300])
    back = read_all(str(path), dtype=dtype, batch_size=128)
    assert same_floats(back, table)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_explicit_format_beats_the_extension(tmp_path, fmt):
    table = random_table(50, 3)
    path = tmp_path / "data.txt"
    with open_writer(str(path), fmt=fmt) as out:
        out.write(table)
    assert same_floats(read_all(str(path), fmt=fmt), table)


def test_format_names_and_extensions():
    assert format_for("a.CSV") == "csv" and format_for("b.tsv") == "tsv"
    assert format_for("c.ndjson") == "jsonl" and format_for("d.parquet") == "parquet"
    assert format_for("e.npy") == "npy" and format_for("f.dat") is None
    assert format_for("-") is None and format_for("x.csv", "NPY") == "npy"
    assert FORMATS.canonical("json") == "jsonl"
    with pytest.raises(ParameterError, match="unknown data format 'parqet' .*'parquet'"):
        format_for("x", "parqet")


def test_batches_have_the_asked_size_and_their_first_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n" + "".join(f"{i},{-i}\n" for i in range(10)))
    batches = list(read_batches(str(path), batch_size=3))
    assert [len(b.array) for b in batches] == [3, 3, 3, 1]
    assert [b.first_line for b in batches] == [2, 5, 8, 11]
    assert all(b.array.flags.c_contiguous and b.array.dtype == np.float32 for b in batches)
    assert batches[1].array.tolist() == [[3, -3], [4, -4], [5, -5]]


def test_batches_span_text_blocks_without_losing_or_reordering_rows(tmp_path, monkeypatch):
    import nnctl.tabular.text as text

    monkeypatch.setattr(text, "BLOCK_BYTES", 1000)  # many blocks, rows cut across them
    table = random_table(5000, 4)
    path = tmp_path / "t.csv"
    with open_writer(str(path)) as out:
        out.write(table)
    for batch_size in (1, 7, 4096, 100000):
        assert same_floats(read_all(str(path), batch_size=batch_size), table)
    monkeypatch.setattr(text, "BLOCK_BYTES", 16)  # every line longer than a block
    assert same_floats(read_all(str(path), batch_size=999), table)


# --- floats as text -------------------------------------------------------------------------

def significant_digits(text: str) -> str:
    mantissa = text.lower().lstrip("-").split("e")[0].replace(".", "")
    return mantissa.strip("0")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_written_floats_are_the_shortest_round_trip_text(dtype):
    table = random_table(2000, 5, dtype, seed=3)
    lines = format_rows(table, "csv").decode().splitlines()
    cells = [line.split(",") for line in lines]
    assert len(cells) == len(table)
    flat = [c for row in cells for c in row]
    values = table.ravel()
    back = np.array([dtype(float(c)) for c in flat], dtype=dtype)
    assert same_floats(back, values)  # reads back exactly, even through Python's float()
    for text, value in zip(flat, values.tolist()):
        reference = str(dtype(value))  # NumPy's shortest repr (Dragon4)
        assert significant_digits(text) == significant_digits(reference), (text, reference)
        assert text == float_text(value, dtype)  # every command writes a float alike
        if np.isfinite(value) and value == int(value):
            assert not text.endswith(".0"), text  # `2`, not `2.0`, as nnctl writes it


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floats_are_written_alike_with_polars_or_without(dtype):
    """A few values are formatted in Python (act, init: no polars to import), many by polars:
    the same text, for any bit pattern (NaN, infinities, subnormals) and every decade."""
    from nnctl.floatfmt import _rows_by_polars, _rows_by_python

    bits = np.uint32 if dtype == np.float32 else np.uint64
    rng = np.random.default_rng(5)
    noise = rng.integers(0, np.iinfo(bits).max, 30_000, dtype=bits, endpoint=True).view(dtype)
    decades = np.array([m * 10.0 ** e for e in range(-325, 300) for m in (1, 1.5, 0.7071068)])
    with np.errstate(over="ignore"):
        decades = decades.astype(dtype)
    values = np.concatenate([noise, decades, -decades, np.arange(-50, 50, dtype=dtype)])
    table = values[:len(values) // 4 * 4].reshape(-1, 4)
    for fmt in TEXT_FORMATS:
        assert _rows_by_python(table, fmt) == _rows_by_polars(table, fmt), fmt
    row = np.array([[1e-7, 1.5e-6, 123456789.0, 1e13, 1e16, 1.5e-5]], dtype)
    expected = {np.float32: b"1e-7,0.0000015,123456790,1e+13,1e+16,0.000015\n",
                np.float64: b"1e-7,1.5e-6,123456789,10000000000000,1e+16,0.000015\n"}
    assert format_rows(row, "csv") == expected[dtype]


def test_special_values_are_spelled_like_nnctl_everywhere():
    row = np.array([[2.0, -0.0, np.nan, np.inf, -np.inf, 0.5]], np.float32)
    assert format_rows(row, "csv") == b"2,-0,nan,inf,-inf,0.5\n"
    assert format_rows(row, "tsv") == b"2\t-0\tnan\tinf\t-inf\t0.5\n"
    assert format_rows(row, "jsonl") == b"[2,-0,NaN,Infinity,-Infinity,0.5]\n"
    import json

    assert json.loads(format_rows(row[:, [0, 5]], "jsonl")) == [2, 0.5]


def test_float64_text_keeps_float64_precision():
    row = np.array([[0.1, 1 / 3, 2.0]], np.float64)
    assert format_rows(row, "csv") == b"0.1,0.3333333333333333,2\n"
    assert format_rows(row.astype(np.float32), "csv") == b"0.1,0.33333334,2\n"


def test_writer_precision_is_the_dtype_asked_for(tmp_path):
    path = tmp_path / "o.csv"
    with open_writer(str(path), dtype=np.float32) as out:
        out.write(np.array([[1 / 3]], np.float64))
    assert path.read_text() == "0.33333334\n"


# --- headers --------------------------------------------------------------------------------

def test_header_is_detected_and_kept_as_column_names(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("x1,x2,\"x,3\"\n1,2,3\n")
    reader = read_batches(str(path))
    assert reader.columns == ["x1", "x2", "x,3"] and reader.n_columns == 3
    assert [b.array.tolist() for b in reader] == [[[1, 2, 3]]]


def test_numeric_first_line_is_data(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("1,2\n3,4\n")
    reader = read_batches(str(path))
    assert reader.columns is None
    assert read_all(str(path)).tolist() == [[1, 2], [3, 4]]


def test_forced_header_and_forced_no_header(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("1,2\n3,4\n")
    reader = read_batches(str(path), header=True)
    assert reader.columns == ["1", "2"]
    assert [b.array.tolist() for b in reader] == [[[3, 4]]]
    named = tmp_path / "named.csv"
    named.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"named.csv:1: column 1: 'a' is not a number"):
        read_all(str(named), header=False)


def test_a_first_line_with_one_bad_cell_is_an_error_not_a_header(tmp_path):
    path = tmp_path / "typo.csv"
    path.write_text("1,2o,3\n4,5,6\n")
    with pytest.raises(DataError, match=r"typo.csv:1: column 2: '2o' is not a number"):
        read_all(str(path))


def test_header_written_and_read_back(tmp_path):
    for fmt in ("csv", "tsv", "parquet"):
        path = tmp_path / f"h{EXT[fmt]}"
        with open_writer(str(path), columns=["out_0", "out 1"]) as out:
            out.write(np.array([[1.5, 2]], np.float32))
        reader = read_batches(str(path))
        assert reader.columns == ["out_0", "out 1"]
        assert [b.array.tolist() for b in reader] == [[[1.5, 2]]]
    assert (tmp_path / "h.csv").read_text() == "out_0,out 1\n1.5,2\n"


def test_byte_order_mark_blank_lines_crlf_quotes_and_spaces(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\r\n\r\n1, 2\r\n\"3\",4 \r\n  \r\n5,6")
    reader = read_batches(str(path), batch_size=2)
    assert reader.columns == ["a", "b"]
    batches = list(reader)
    assert [b.array.tolist() for b in batches] == [[[1, 2], [3, 4]], [[5, 6]]]
    assert [b.first_line for b in batches] == [3, 6]


def test_tsv_and_json_lines(tmp_path):
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\t-2.5\n")
    assert read_all(str(tsv)).tolist() == [[1, -2.5]]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('["a", "b"]\n[1, -2.5]\n[NaN, Infinity]\n\n[1e3,-Infinity]\n')
    reader = read_batches(str(jsonl))
    assert reader.columns == ["a", "b"]
    back = np.concatenate([b.array for b in reader])
    assert same_floats(back, np.array([[1, -2.5], [np.nan, np.inf], [1000, -np.inf]],
                                      np.float32))


@pytest.mark.parametrize("block, rows", [
    (b"[1,2]\n[3,4]\n", [[1, 2], [3, 4]]),
    (b"[1,2]\r\n[3,4]\r\n", [[1, 2], [3, 4]]),
    (b"[1,2]\n[3,4]", [[1, 2], [3, 4]]),  # the last line of a file, without its newline
    (b"[ 1,2]\n[-inf,nan]\n", [[1, 2], [-np.inf, np.nan]]),
    (b'["1",2]\n["3","4"]\r\n', [[1, 2], [3, 4]]),  # JSON strings: quoted cells, first too
    (b'[1,2]\n["3",4]', [[1, 2], [3, 4]]),
    (b'["1,2"]\n', None),
    (b"[,1,2]\n", None),  # the bracket's column is empty, a number's is not
    (b"[1,2]\n3,4\n", None),  # a bracket missing
    (b"[1,2]\n13,4]\n", None),  # ... where a digit would take its place
    (b"[1,2]\n[3,45\n", None),
    (b"[1,2]3,4]\n[\n", None),
    (b"[1,2]\n[3,4]]\n", None),  # one too many
    (b"[[1,2]\n[3,4]\n", None),
    (b"[1,2],\n[3,4]\n", None),
    (b"[1,2]\n[3,4,]\n", None),
    (b"[1]\n[3,4]\n", None),
    (b"[1,2,3]\n[3,4]\n", None),
    (b"[1,2] \n[3,4]\n", None),  # what the fast path does not read goes the careful way
    (b" [1,2]\n[3,4]\n", None),
    (b"[1,2]\n\n[3,4]\n", None),  # a blank line
    (b"[1,2]\r[3,4]\n", None),
    (b'[1,"]"]\n', None),
])
def test_json_lines_fast_path_takes_only_arrays(block, rows):
    from nnctl.tabular.text import TextParser

    array = TextParser("jsonl", 2, np.dtype(np.float32)).fast(block, block.count(b"\n"))
    if rows is None:
        assert array is None
    else:
        assert same_floats(array, np.array(rows, np.float32))


@pytest.mark.parametrize("line", ["[1,2]]", "[[1,2]", "[1,[2]]", "[1,2],[3]", "[1,2,]", "[1,]",
                                  "[,2]", "[1 2]", '[1,"]"]', "[1,2][3,4]"])
def test_json_lines_brackets_out_of_place_are_found_in_a_large_block(tmp_path, line):
    # the fast path lets the parser refuse a stray bracket: the careful path then names it
    path = tmp_path / "x.jsonl"
    good = "[0.5,-1]\n" * 50_000
    path.write_text(good + line + "\n" + good)
    rows, message = collect_until_error(str(path))
    assert len(rows) == 50_000 and ":50001" in message


def test_empty_inputs(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    reader = read_batches(str(empty))
    assert list(reader) == [] and reader.n_columns is None
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,c\n")
    reader = read_batches(str(header_only))
    assert list(reader) == [] and reader.n_columns == 3 and reader.columns == ["a", "b", "c"]


# --- errors ---------------------------------------------------------------------------------

def collect_until_error(source, **kwargs):
    rows = []
    with pytest.raises(DataError) as info:
        for batch in read_batches(source, **kwargs):
            rows.extend(batch.array.tolist())
    return rows, str(info.value)


@pytest.mark.parametrize("fmt,body,message", [
    ("csv", "1,2,3\n4,5,6\n7,abc,9\n10,11,12\n", "3: column 2: 'abc' is not a number"),
    ("csv", "1,2,3\n4,5,6\n7,8\n", "3: expected 3 columns, got 2"),
    ("csv", "1,2,3\n4,5,6\n7,8,9,10\n", "3: expected 3 columns, got 4"),
    ("csv", "1,2,3\n4,5,6\n7,,9\n", "3: column 2: '' is not a number"),
    ("csv", "1,2,3\n\n4,5,6\n1 2,3,4\n", "4: column 1: '1 2' is not a number"),
    ("tsv", "1\t2\t3\n4\t5\t6\n7\t8\tx\n", "3: column 3: 'x' is not a number"),
    ("jsonl", "[1,2,3]\n[4,5,6]\n[7,null,9]\n", "3: column 2: 'null' is not a number"),
    ("jsonl", "[1,2,3]\n[4,5,6]\n{\"a\": 1}\n", "3: not a JSON array: '{\"a\": 1}'"),
    ("jsonl", "[1,2,3]\n[4,5,6]\n[7,8]\n", "3: expected 3 columns, got 2"),
])
def test_bad_rows_name_file_line_and_column_after_the_good_rows(tmp_path, fmt, body, message):
    path = tmp_path / f"bad{EXT[fmt]}"
    path.write_text(body)
    rows, error = collect_until_error(str(path), batch_size=1000)
    assert error == f"{path}:{message}"
    assert rows == [[1, 2, 3], [4, 5, 6]]


def test_long_bad_cells_are_shortened_in_the_message(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("1,2\n3," + "x" * 500 + "\n")
    _, error = collect_until_error(str(path))
    assert error == f"{path}:2: column 2: '{'x' * 37}...' is not a number"


def test_a_bad_row_at_line_1000001_is_reported_with_that_line(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"0.5,1\n" * 1_000_000 + b"2,oops\n" + b"3,4\n" * 5)
    count = 0
    with pytest.raises(DataError) as info:
        for batch in read_batches(str(path), batch_size=65536):
            count += len(batch.array)
    assert str(info.value) == f"{path}:1000001: column 2: 'oops' is not a number"
    assert count == 1_000_000


def test_wrong_width_against_the_expected_number_of_columns(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("1,2\n3,4\n")
    with pytest.raises(DataError, match=r"w.csv:1: expected 3 columns, got 2"):
        read_all(str(path), n_columns=3)
    npy = tmp_path / "w.npy"
    np.save(npy, np.zeros((4, 2), np.float32))
    with pytest.raises(DataError, match=r"w.npy: rows have 2 values .* expected 3"):
        read_all(str(npy), n_columns=3)


def test_unreadable_sources(tmp_path):
    with pytest.raises(OSError, match=r"nope.csv: cannot open: No such file"):  # FileError
        read_batches(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="is a directory"):
        read_batches(str(tmp_path))
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY\x01\x00garbage")
    with pytest.raises(DataError, match=r"bad.npy: not a valid .npy file"):
        read_batches(str(bad))
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{}, []], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"objects.npy: holds Python objects .*never loads"):
        read_batches(str(objects))
    words = tmp_path / "words.npy"
    np.save(words, np.array([["a", "b"]]))
    with pytest.raises(DataError, match=r"words.npy: holds <U1 values, not numbers"):
        read_batches(str(words))
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("1,2\n")
    with pytest.raises(DataError, match=r"x.parquet: not a valid Parquet file"):
        read_batches(str(not_parquet))


def test_parquet_missing_values_are_reported_by_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "b": [4.0, None, 6.0]}), path)
    rows, error = collect_until_error(str(path))
    assert rows == [[1, 4]]
    assert error == f"{path}: row 2: column 2: missing value"


# --- npy ------------------------------------------------------------------------------------

def test_npy_rows_are_flattened_and_cast(tmp_path):
    path = tmp_path / "cube.npy"
    cube = np.arange(24, dtype=np.int64).reshape(4, 3, 2)
    np.save(path, cube)
    reader = read_batches(str(path), batch_size=3)
    assert reader.n_columns == 6 and reader.total_rows == 4
    assert read_all(str(path)).tolist() == cube.reshape(4, 6).astype(np.float32).tolist()
    fortran = tmp_path / "fortran.npy"
    np.save(fortran, np.asfortranarray(cube.reshape(4, 6).astype(np.float64)))
    assert read_all(str(fortran), batch_size=3).tolist() == cube.reshape(4, 6).tolist()
    column = tmp_path / "column.npy"
    np.save(column, np.array([1.5, 2.5], np.float32))
    assert read_all(str(column)).tolist() == [[1.5], [2.5]]


def test_npy_written_to_a_file_has_the_right_header(tmp_path):
    path = tmp_path / "o.npy"
    with open_writer(str(path)) as out:
        out.write(np.ones((3, 2), np.float32))
        out.write(np.zeros((2, 2), np.float32))
    loaded = np.load(path)
    assert loaded.shape == (5, 2) and loaded.dtype == np.float32
    assert (os.path.getsize(path) - loaded.nbytes) % 64 == 0  # header stays aligned
    with open_writer(str(path), n_columns=4) as out:
        pass
    assert np.load(path).shape == (0, 4)


# --- stdin and stdout -----------------------------------------------------------------------

def run_python(code: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], input=stdin,
                          capture_output=True, timeout=120)


READ_STDIN = """
    import sys, numpy as np
    from nnctl.tabular import read_batches
    reader = read_batches("-", batch_size=2)
    rows = np.concatenate([b.array for b in reader])
    print(reader.format, reader.columns, rows.tolist())
"""


@pytest.mark.parametrize("data,expected", [
    (b"a,b\n1,2\n3,4\n5,6\n", "csv ['a', 'b'] [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]"),
    (b"[1,2]\n[3,4]\n", "jsonl None [[1.0, 2.0], [3.0, 4.0]]"),
])
def test_text_on_stdin(data, expected):
    result = run_python(READ_STDIN, data)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == expected


def test_npy_on_stdin_is_recognized_by_its_magic_bytes():
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10, dtype=np.float64).reshape(5, 2))
    result = run_python(READ_STDIN, buffer.getvalue())
    assert result.returncode == 0, result.stderr.decode()
    expected = "npy None " + str(np.arange(10.0).reshape(5, 2).tolist())
    assert result.stdout.decode().strip() == expected


def test_parquet_on_stdin_and_truncated_npy_on_stdin(tmp_path):
    path = tmp_path / "p.parquet"
    with open_writer(str(path), columns=["u", "v"]) as out:
        out.write(np.array([[1, 2], [3, 4], [5, 6]], np.float32))
    result = run_python(READ_STDIN, path.read_bytes())
    assert result.stdout.decode().strip() == "parquet ['u', 'v'] " \
        "[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]"
    buffer = io.BytesIO()
    np.save(buffer, np.ones((4, 2), np.float32))
    result = run_python("""
        from nnctl.tabular import read_batches
        from nnctl.errors import DataError
        rows = 0
        try:
            for b in read_batches("-", batch_size=1):
                rows += len(b.array)
        except DataError as e:
            print(rows, e)
    """, buffer.getvalue()[:-10])
    assert result.stdout.decode().strip() == "2 <stdin>: truncated .npy: 4 rows announced, 2 found"


def test_a_npy_file_shorter_than_its_header_announces_says_so(tmp_path):
    """A header that declares more data than the file holds (10^12 rows in 1 KB, or a file cut
    short) is refused as truncated, with both sizes (it was mmap's 'length is greater than file
    size')."""
    from numpy.lib import format as npy

    for rows, data, expected in (
            (10**12, 100, "shape (1000000000000, 3) announced (12.00 TB of data)"),
            (20, 100, "shape (20, 3) announced (240 B of data)"),
            (20, 200, "shape (20, 3) announced (240 B of data)")):   # short by less than its header
        header = io.BytesIO()
        npy.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                            "shape": (rows, 3)})
        path = tmp_path / "short.npy"
        path.write_bytes(header.getvalue() + bytes(data))
        with pytest.raises(DataError) as caught:
            read_all(str(path))
        assert str(caught.value) == (f"{path}: truncated .npy: {expected}, the whole file is "
                                     f"{path.stat().st_size} B")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "npy", "parquet"])
@pytest.mark.parametrize("named", [True, False], ids=["by-option", "by-content"])
def test_a_pipe_given_as_a_path_is_read_as_a_stream(tmp_path, fmt, named):
    """`nnctl forward MODEL <(zcat rows.npy.gz)`: the path (/dev/fd/N) is a pipe, read once
    as stdin is (an .npy's header was read, then the path opened again and found empty: 'not
    a valid .npy file'; Parquet could not be mapped: 'No such device')."""
    import threading

    rows = np.array([[1, 2, 3], [4, 5, 6.5]], np.float32)
    path = tmp_path / f"rows.{fmt}"
    with open_writer(str(path)) as out:
        out.write(rows)
    read_end, write_end = os.pipe()

    def write():
        with open(write_end, "wb") as pipe:
            pipe.write(path.read_bytes())

    writer = threading.Thread(target=write)
    writer.start()
    try:
        got = read_all(f"/dev/fd/{read_end}", fmt=fmt if named else None)
    finally:
        writer.join(timeout=30)
        os.close(read_end)
    np.testing.assert_array_equal(got, rows)


def test_parquet_on_stdin_is_refused_past_the_spool_limit(tmp_path):
    """Parquet on stdin is copied to a temporary file: up to MAX_STDIN_PARQUET_BYTES, then one
    error line (exit 1) that says the limit and asks for a file path. Here the limit is the
    size of the file itself, then a byte less."""
    from nnctl.limits import human_bytes
    from nnctl.tabular import parquet

    assert parquet.MAX_STDIN_PARQUET_BYTES == 10 ** 9
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [2]\nlayers:\n  - {type: Dense, units: 1, kernel_initializer: ones}\n")
    path = tmp_path / "p.parquet"
    with open_writer(str(path)) as out:
        out.write(np.array([[1, 2], [3, 4], [5, 6]], np.float32))
    data = path.read_bytes()

    def forward_with_limit(limit: int) -> subprocess.CompletedProcess:
        return run_python(f"""
            import nnctl.tabular.parquet as parquet
            parquet.MAX_STDIN_PARQUET_BYTES = {limit}
            from nnctl.cli.app import main
            main(["forward", {str(spec)!r}, "-"])
        """, data)

    result = forward_with_limit(len(data))
    assert (result.returncode, result.stdout, result.stderr) == (0, b"dense\n3\n7\n11\n", b"")
    result = forward_with_limit(len(data) - 1)
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode() == (
        "nnctl: error: <stdin>: Parquet on stdin is copied to a temporary file first (Parquet "
        f"keeps its index at the end), and this one is over {human_bytes(len(data) - 1)}: give it as a file "
        "path instead\n")


def test_error_on_stdin_names_stdin():
    result = run_python("""
        from nnctl.tabular import read_batches
        from nnctl.errors import DataError
        try:
            for b in read_batches("-"):
                pass
        except DataError as e:
            print(e)
    """, b"1,2\n3,x\n")
    assert result.stdout.decode().strip() == "<stdin>:2: column 2: 'x' is not a number"


WRITE_STDOUT = """
    import sys, numpy as np
    from nnctl.tabular import open_writer
    fmt, n_rows = sys.argv[1], (int(sys.argv[2]) if len(sys.argv) > 2 else None)
    with open_writer("-", fmt=fmt, n_rows=n_rows, columns=["a", "b"]) as out:
        out.write(np.array([[1.5, -2], [3, 4]], np.float32))
        out.write(np.array([[5, 6]], np.float32))
"""


@pytest.mark.parametrize("fmt,known", [("npy", None), ("npy", 3), ("parquet", None),
                                       ("csv", None), ("jsonl", None)])
def test_writing_to_stdout(tmp_path, fmt, known):
    args = [sys.executable, "-c", textwrap.dedent(WRITE_STDOUT), fmt]
    if known is not None:
        args.append(str(known))
    result = subprocess.run(args, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    path = tmp_path / f"out{EXT[fmt]}"
    path.write_bytes(result.stdout)
    assert read_all(str(path)).tolist() == [[1.5, -2], [3, 4], [5, 6]]
    if fmt == "csv":
        assert result.stdout == b"a,b\n1.5,-2\n3,4\n5,6\n"


# --- atomic writes --------------------------------------------------------------------------

def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_an_error_mid_write_leaves_the_previous_file(tmp_path, fmt, failure):
    path = tmp_path / f"out{EXT[fmt]}"
    path.write_bytes(b"previous")
    with pytest.raises(failure):
        with open_writer(str(path)) as out:
            out.write(np.ones((1000, 3), np.float32))
            raise failure()
    assert path.read_bytes() == b"previous"
    assert leftovers(tmp_path) == []
    fresh = tmp_path / f"fresh{EXT[fmt]}"
    with pytest.raises(failure):
        with open_writer(str(fresh)) as out:
            out.write(np.ones((10, 3), np.float32))
            raise failure()
    assert not fresh.exists() and leftovers(tmp_path) == []


def test_nothing_is_visible_until_the_writer_closes(tmp_path):
    path = tmp_path / "o.csv"
    with open_writer(str(path)) as out:
        out.write(np.ones((10, 2), np.float32))
        assert not path.exists()
    assert path.read_text() == "1,1\n" * 10


def test_sigterm_mid_write_leaves_no_partial_file(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("previous\n")
    script = textwrap.dedent(f"""
        import signal, sys, numpy as np
        from nnctl.cli.app import _on_terminate
        from nnctl.tabular import open_writer
        signal.signal(signal.SIGTERM, _on_terminate)
        with open_writer({str(path)!r}) as out:
            out.write(np.ones((1000, 8), np.float32))
            print("writing", flush=True)
            while True:
                out.write(np.ones((1000, 8), np.float32))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout.readline() == b"writing\n"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert path.read_text() == "previous\n"
    assert leftovers(tmp_path) == []


def test_special_files_are_written_in_place(tmp_path):
    with open_writer(os.devnull) as out:
        out.write(np.ones((3, 2), np.float32))
    assert not os.path.isfile(os.devnull)  # still the device, not replaced by a file


def test_written_files_get_ordinary_permissions_and_replace_symlinks(tmp_path):
    path = tmp_path / "o.csv"
    with open_writer(str(path)) as out:
        out.write(np.ones((1, 1), np.float32))
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    os.chmod(path, 0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(path)
    with open_writer(str(link)) as out:
        out.write(np.zeros((1, 1), np.float32))
    # the link itself is replaced (a link planted in a shared directory is never followed)
    assert not link.is_symlink() and link.read_text() == "0\n"
    assert path.read_text() == "1\n" and os.stat(path).st_mode & 0o777 == 0o640


def test_leaving_a_loop_early_stops_the_reader(tmp_path):
    path = tmp_path / "t.csv"
    with open_writer(str(path)) as out:
        out.write(np.ones((100000, 4), np.float32))
    reader = read_batches(str(path), batch_size=10)
    for batch in reader:
        break
    reader.close()
    assert batch.array.shape == (10, 4)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("background", [True, False])
def test_a_full_disk_is_an_error_from_write_or_close(background):
    import errno

    with pytest.raises(OSError) as info:
        with open_writer("/dev/full", background=background) as out:
            for _ in range(5):
                out.write(np.ones((20000, 8), np.float32))
    assert info.value.errno == errno.ENOSPC


def test_background_and_foreground_writers_write_the_same_bytes(tmp_path):
    table = random_table(30000, 6)
    for background in (True, False):
        with open_writer(str(tmp_path / f"{background}.csv"), background=background) as out:
            for start in range(0, len(table), 1000):
                out.write(table[start:start + 1000])
    assert (tmp_path / "True.csv").read_bytes() == (tmp_path / "False.csv").read_bytes()


CELLS = ["1", "+1", "-1", "1.", "-.5", ".5", "1e5", "1E5", "1e+5", "1e-5", "1.5e5", "1.e5",
         ".5e1", "e5", "1e", "1e+", "+.5", "-.", ".", "nan", "NaN", "-nan", "+nan", "inf",
         "+inf", "-inf", "Inf", "INF", "infinity", "Infinity", "-Infinity", "+infinity",
         "infin", "in", "na", "1d5", "0x1", "1_0", "١", "１", "0001", "-0", "+-1", "1e0005",
         "1e-400", "00.5e-0", "1.5f", "--1", "true", "null", "1,5"]


@pytest.mark.parametrize("cell", CELLS)
def test_the_careful_path_accepts_exactly_what_the_fast_path_accepts(cell):
    """A cell is a number for the line-by-line check iff the fast parser reads it."""
    import polars as pl

    from nnctl.tabular import NUMBER

    try:
        frame = pl.read_csv(f'"{cell}"\n'.encode(), has_header=False,
                            schema={"a": pl.Float32})
        fast = frame["a"].null_count() == 0
    except Exception:  # noqa: BLE001 - a refusal
        fast = False
    assert bool(NUMBER.fullmatch(cell.encode())) == fast


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_zeros_and_square_batches(tmp_path, fmt):
    """Zeros take a shortcut in the writer (ReLU outputs are full of them); -0 keeps its sign."""
    table = np.array([[0, 1.5, -0.0], [2, 0, np.nan], [0, 0, 0]], np.float32)  # square
    expected = {"csv": b"0,1.5,-0\n2,0,nan\n0,0,0\n", "tsv": b"0\t1.5\t-0\n2\t0\tnan\n0\t0\t0\n",
                "jsonl": b"[0,1.5,-0]\n[2,0,NaN]\n[0,0,0]\n"}[fmt]
    assert format_rows(table, fmt) == expected
    assert format_rows(table[[0, 2]], fmt) == b"".join(expected.splitlines(True)[i] for i in (0, 2))
    relu = np.maximum(random_table(3000, 3000 // 1000 + 2, seed=5), 0)
    path = tmp_path / f"relu{EXT[fmt]}"
    with open_writer(str(path)) as out:
        out.write(relu)
    assert same_floats(read_all(str(path)), relu)


def test_rows_that_trickle_in_are_handed_out_without_waiting_for_more():
    """A filter in a live pipe (`tail -f log | ...`) must not sit on the rows it has."""
    import select

    script = textwrap.dedent("""
        from nnctl.tabular import read_batches
        for batch in read_batches("-", batch_size=1000):
            print(len(batch.array), batch.first_line, flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        process.stdin.write(b"a,b\n1,2\n3,4\n5,6\n")
        process.stdin.flush()  # and the input stays open
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "no rows came out while the input was open"
        assert process.stdout.readline() == b"3 2\n"
        process.stdin.write(b"7,8\n")
        process.stdin.close()
        assert process.stdout.read() == b"1 5\n"
    finally:
        process.kill()
        process.wait()


def test_npz_inputs_come_in_batches_by_name(tmp_path):
    from nnctl.tabular import read_npz_inputs

    a = np.arange(20, dtype=np.float64).reshape(10, 2)
    b = np.arange(30, dtype=np.int32).reshape(10, 3, 1)
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / "inputs.npz"
        save(path, b=b, a=a, extra=np.zeros(3))
        batches = list(read_npz_inputs(str(path), ["a", "b"], batch_size=4))
        assert [len(x["a"]) for x in batches] == [4, 4, 2]
        assert np.concatenate([x["a"] for x in batches]).tolist() == a.tolist()
        assert np.concatenate([x["b"] for x in batches]).tolist() == b.reshape(10, 3).tolist()
        assert all(x["a"].dtype == np.float32 for x in batches)
    with pytest.raises(DataError, match=r"inputs.npz: no array for input 'c' \(the archive "
                                        r"has b, a, extra\)"):
        read_npz_inputs(str(path), ["a", "c"])
    np.savez(path, a=a, b=b[:5])
    with pytest.raises(DataError, match="different numbers of rows: a: 10, b: 5"):
        read_npz_inputs(str(path), ["a", "b"])
    np.savez(path, a=np.array([{}], dtype=object), b=b)
    with pytest.raises(DataError, match="array 'a' holds object, not numbers"):
        read_npz_inputs(str(path), ["a"])
    path.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a valid .npz file"):
        read_npz_inputs(str(path), ["a"])
