"""Which input columns are read (headers, --columns, --skip-columns), the output header, and
width errors that name each input's share."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import CONFIGS, run_nnctl
from nnctl.errors import DataError, UsageError
from nnctl.tabular import read_batches

SEQUENTIAL = CONFIGS / "article_sequential.yaml"  # 3 columns in, layer3 (2 columns) out
TWO_INPUT = CONFIGS / "two_input.yaml"  # record 6 + patch 16 in, score out


def rows_of(path, **options) -> tuple[np.ndarray, list | None]:
    with read_batches(str(path), prefetch=False, **options) as reader:
        arrays = [batch.array for batch in reader]
        return np.concatenate(arrays), reader.columns


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- headers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_pandas_unnamed_columns_are_a_header(tmp_path, fmt):
    sep = "," if fmt == "csv" else "\t"
    path = write(tmp_path, f"x.{fmt}", sep.join("012") + "\n" + sep.join("345") + "\n")
    array, columns = rows_of(path)
    assert columns == ["0", "1", "2"]
    np.testing.assert_array_equal(array, [[3, 4, 5]])


def test_numbered_first_row_is_data_with_no_header(tmp_path):
    path = write(tmp_path, "x.csv", "0,1,2\n3,4,5\n")
    array, columns = rows_of(path, header=False)
    assert columns is None
    np.testing.assert_array_equal(array, [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("first", ["1,2,3", "0,1,3", "0", "0,2,1", "0.0,1,2"])
def test_other_numbers_first_are_data(tmp_path, first):
    width = first.count(",") + 1
    path = write(tmp_path, "x.csv", first + "\n" + ",".join(["9"] * width) + "\n")
    array, columns = rows_of(path)
    assert columns is None and len(array) == 2


def test_numbered_header_with_pandas_index_column(tmp_path):
    path = write(tmp_path, "x.csv", ",0,1,2\n0,3,4,5\n1,6,7,8\n")
    array, columns = rows_of(path, n_columns=3, skip_columns=1)
    assert columns == ["0", "1", "2"]
    np.testing.assert_array_equal(array, [[3, 4, 5], [6, 7, 8]])


def test_cli_numbered_header_skipped_and_echoed(tmp_path):
    path = write(tmp_path, "x.csv", "0,1,2\n1,2,3\n")
    r = run_nnctl("forward", SEQUENTIAL, path, "--seed", "1")
    assert (r.code, r.err) == (0, "")
    assert r.out.splitlines()[0] == "layer3_0,layer3_1" and len(r.out.splitlines()) == 2
    r = run_nnctl("forward", SEQUENTIAL, path, "--seed", "1", "--no-header")
    assert (r.code, r.err) == (0, "")
    assert len(r.out.splitlines()) == 2 and not r.out.startswith("layer3")


def test_cli_index_column_header_hints_skip_columns(tmp_path):
    path = write(tmp_path, "x.csv", ",0,1,2\n0,1,2,3\n")
    r = run_nnctl("forward", SEQUENTIAL, path, "--seed", "1")
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"nnctl: error: {path}:1: expected 3 columns, got 4 in the header "
                     "(an index column first? give --skip-columns 1)\n")


def test_forced_empty_header_is_a_width_error(tmp_path):
    with pytest.raises(DataError) as caught:  # was an IndexError (found by test_fuzz_data)
        rows_of(write(tmp_path, "x.jsonl", "[]\n[1,2]\n"), header=True, n_columns=2)
    assert (caught.value.message, caught.value.line) == ("expected 2 columns, got 0 in the header",
                                                         1)


# --- --columns and --skip-columns -------------------------------------------------------------

NAMED = "id,a,b,c\n0,1,2,3\n1,4,5,6\n"


@pytest.mark.parametrize("picks, expected", [
    (["c", "a", "b"], [[3, 1, 2], [6, 4, 5]]),
    (["4", "2", "3"], [[3, 1, 2], [6, 4, 5]]),
    (["2-4"], [[1, 2, 3], [4, 5, 6]]),
    (["b", "1"], [[2, 0], [5, 1]]),
])
def test_columns_pick_and_order(tmp_path, picks, expected):
    array, columns = rows_of(write(tmp_path, "x.csv", NAMED), columns=picks)
    np.testing.assert_array_equal(array, expected)
    assert len(columns) == len(expected[0])


def test_skip_columns(tmp_path):
    array, columns = rows_of(write(tmp_path, "x.csv", NAMED), skip_columns=1, n_columns=3)
    np.testing.assert_array_equal(array, [[1, 2, 3], [4, 5, 6]])
    assert columns == ["a", "b", "c"]


@pytest.mark.parametrize("fmt", ["jsonl", "npy", "parquet"])
def test_columns_in_every_format(tmp_path, fmt):
    data = np.array([[0, 1, 2, 3], [1, 4, 5, 6]], dtype=np.float32)
    path = tmp_path / f"x.{fmt}"
    if fmt == "jsonl":
        path.write_text('["id","a","b","c"]\n[0,1,2,3]\n[1,4,5,6]\n')
    elif fmt == "npy":
        np.save(path, data)
    else:
        import polars as pl

        pl.DataFrame(data, schema=["id", "a", "b", "c"], orient="row").write_parquet(path)
    picks = ["4", "2"] if fmt == "npy" else ["c", "a"]
    array, _ = rows_of(path, columns=picks, n_columns=2)
    np.testing.assert_array_equal(array, [[3, 1], [6, 4]])
    array, _ = rows_of(path, skip_columns=2, n_columns=2)
    np.testing.assert_array_equal(array, [[2, 3], [5, 6]])


@pytest.mark.parametrize("options, message", [
    ({"columns": ["x"]}, "--columns: no column named 'x' in the header"),
    ({"columns": ["cc"]}, "--columns: no column named 'cc' in the header (did you mean 'c'?)"),
    ({"columns": ["5"]}, "--columns: column 5, but rows have 4 columns (numbered from 1)"),
    ({"columns": ["3-2"]}, "--columns: the range 3-2 runs backwards"),
    ({"columns": ["a", "b"], "n_columns": 3}, "expected 3 columns, --columns picks 2"),
    ({"skip_columns": 4}, "--skip-columns 4 leaves none of the 4 columns"),
])
def test_column_pick_errors(tmp_path, options, message):
    path = write(tmp_path, "x.csv", NAMED)
    with pytest.raises(DataError) as caught:
        rows_of(path, **options)
    assert caught.value.message == message and caught.value.source == str(path)


def test_column_names_need_a_header(tmp_path):
    with pytest.raises(DataError, match="'a' is a name, and there is no header row"):
        rows_of(write(tmp_path, "x.csv", "1,2\n"), columns=["a"])


def test_columns_and_skip_columns_exclude_each_other(tmp_path):
    with pytest.raises(UsageError):
        rows_of(write(tmp_path, "x.csv", NAMED), columns=["a"], skip_columns=1)


def test_cli_columns(tmp_path):
    path = write(tmp_path, "x.csv", "id,c,b,a\n7,3,2,1\n")
    plain = run_nnctl("forward", SEQUENTIAL, "--seed", "1", input="1,2,3\n")
    for picks in (["--columns", "a,b,c"], ["--columns", "4,3,2"]):
        r = run_nnctl("forward", SEQUENTIAL, path, "--seed", "1", "--no-output-header", *picks)
        assert (r.code, r.err, r.out) == (0, "", plain.out)
    r = run_nnctl("forward", SEQUENTIAL, path, "--seed", "1", "--columns", "a,b,z")
    assert (r.code, r.out) == (1, "")
    assert r.err == f"nnctl: error: {path}: --columns: no column named 'z' in the header\n"
    r = run_nnctl("forward", SEQUENTIAL, path, "--seed", "1", "--columns", "a", "--skip-columns",
                  "1")
    assert (r.code, r.out) == (2, "") and "do not go together" in r.err


def test_cli_skip_columns(tmp_path):
    path = write(tmp_path, "x.csv", "9,1,2,3\n")
    plain = run_nnctl("forward", SEQUENTIAL, "--seed", "1", input="1,2,3\n")
    r = run_nnctl("forward", SEQUENTIAL, path, "--seed", "1", "--skip-columns", "1")
    assert (r.code, r.err, r.out) == (0, "", plain.out)
    r = run_nnctl("forward", SEQUENTIAL, path, "--seed", "1", "--skip-columns", "2")
    assert (r.code, r.out) == (1, "")
    assert r.err == f"nnctl: error: {path}: expected 3 columns, --skip-columns 2 leaves 2\n"


# --- output header ---------------------------------------------------------------------------

def test_cli_output_header_on_request():
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "--output-header", input="1,2,3\n")
    assert (r.code, r.err) == (0, "")
    assert r.out.splitlines()[0] == "layer3_0,layer3_1" and len(r.out.splitlines()) == 2
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "--output-header", "-f", "tsv",
                  input="1,2,3\n")
    assert r.out.splitlines()[0] == "layer3_0\tlayer3_1"
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "--output-header", "-f", "npy",
                  input="1,2,3\n")
    assert (r.code, r.out) == (2, "")
    assert r.err == ("nnctl: error: --output-header names the columns of CSV, TSV, JSON Lines "
                     "(objects) or Parquet; .npy has no names\n")


def test_cli_output_header_jsonl_writes_objects_that_read_back():
    import json

    plain = run_nnctl("forward", SEQUENTIAL, "--seed", "1", input="1,2,3\n-1,inf,2\n")
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "--output-header", "-f", "jsonl",
                  input="1,2,3\n-1,inf,2\n")
    assert r.code == 0
    objects = [json.loads(line) for line in r.out.splitlines()]
    assert [list(o) for o in objects] == [["layer3_0", "layer3_1"]] * 2
    values = np.array([list(o.values()) for o in objects], dtype=np.float32)
    np.testing.assert_array_equal(values, np.loadtxt(plain.out.splitlines(), delimiter=",",
                                                      dtype=np.float32))
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "-f", "jsonl", input="a,b,c\n1,2,3\n")
    assert r.out.startswith("[")  # arrays unless asked, whatever the input's header


def test_cli_output_header_by_default_for_several_taps():
    taps = ["--tap", "layer1", "--tap", "layer3"]
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", *taps, input="1,2,3\n")
    assert (r.code, r.err) == (0, "")
    assert r.out.splitlines()[0] == "layer1_0,layer1_1,layer1_2,layer3_0,layer3_1"
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", *taps, "--no-output-header",
                  input="1,2,3\n")
    assert (r.code, r.err) == (0, "") and len(r.out.splitlines()) == 1
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "--tap", "layer1", input="1,2,3\n")
    assert len(r.out.splitlines()) == 1  # one layer: no header unless asked
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "--no-output-header",
                  input="a,b,c\n1,2,3\n")
    assert len(r.out.splitlines()) == 1  # the input's header is not echoed either


# --- width errors name each input's share ------------------------------------------------------

def test_width_error_per_input_csv():
    r = run_nnctl("forward", TWO_INPUT, "--seed", "1", input=",".join(["1"] * 784) + "\n")
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: <stdin>:1: expected 22 columns (record 6 + patch 16), "
                     "got 784\n")


@pytest.mark.parametrize("fmt", ["npy", "parquet"])
def test_width_error_per_input_binary(tmp_path, fmt):
    path = tmp_path / f"x.{fmt}"
    if fmt == "npy":
        np.save(path, np.ones((2, 784), np.float32))
        detail = "rows have 784 values (shape (2, 784)), expected 22 columns (record 6 + patch 16)"
    else:
        import polars as pl

        pl.DataFrame({"a": [1.0], "b": [2.0]}).write_parquet(path)
        detail = "expected 22 columns (record 6 + patch 16), got 2"
    r = run_nnctl("forward", TWO_INPUT, path, "--seed", "1")
    assert (r.code, r.out, r.err) == (1, "", f"nnctl: error: {path}: {detail}\n")


def test_width_error_one_input_has_no_breakdown():
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", input="1,2\n")
    assert r.err == "nnctl: error: <stdin>:1: expected 3 columns, got 2\n"


# --- JSON Lines of objects --------------------------------------------------------------------

def test_objects_read_in_the_first_lines_key_order(tmp_path):
    path = write(tmp_path, "x.jsonl", '{"b": 1, "a": 2.5}\n\n{"a": 4, "b": 3}\n')
    array, columns = rows_of(path)
    assert columns == ["b", "a"]
    np.testing.assert_array_equal(array, [[1, 2.5], [3, 4]])


def test_objects_keyed_by_the_callers_names_read_in_their_order(tmp_path):
    path = write(tmp_path, "x.jsonl", '{"x_1": 1, "x_0": 2}\n{"x_0": 4, "x_1": 3}\n')
    array, columns = rows_of(path, column_names=["x_0", "x_1"])
    assert columns == ["x_0", "x_1"]
    np.testing.assert_array_equal(array, [[2, 1], [4, 3]])
    array, _ = rows_of(path, column_names=["x_0", "other"])  # not its names: the file's order
    np.testing.assert_array_equal(array, [[1, 2], [3, 4]])


def test_objects_many_rows_fast_path(tmp_path):
    data = np.random.default_rng(0).standard_normal((3000, 3)).astype(np.float32)
    path = tmp_path / "x.jsonl"
    path.write_text("".join(f'{{"a": {a!r}, "b": {b!r}, "c": {c!r}}}\n'
                            for a, b, c in data.tolist()))
    array, _ = rows_of(path, column_names=["c", "b", "a"])
    np.testing.assert_array_equal(array, data[:, ::-1])


@pytest.mark.parametrize("line, message", [
    ('{"a": 5}', "missing key 'b' (the first line has a, b)"),
    ('{"a": 5, "b": 6, "c": 7}', "unknown key 'c' (the first line has a, b)"),
    ('{"a": 5, "b": "x"}', "key 'b': \"x\" is not a number"),
    ('{"a": 5, "b": true}', "key 'b': true is not a number"),
    ('[5, 6]', "not a JSON object (the first line is one: every line is)"),
])
def test_object_errors_name_the_line_after_the_good_rows(tmp_path, line, message):
    path = write(tmp_path, "x.jsonl", '{"a": 1, "b": 2}\n{"b": 4, "a": 3}\n' + line + "\n")
    good = []
    with pytest.raises(DataError) as caught:
        with read_batches(str(path), prefetch=False, batch_size=1) as reader:
            for batch in reader:
                good.append(batch.array)
    np.testing.assert_array_equal(np.concatenate(good), [[1, 2], [3, 4]])
    assert (caught.value.message, caught.value.line) == (message, 3)


def test_cli_objects_by_the_models_input_columns(tmp_path):
    plain = run_nnctl("forward", SEQUENTIAL, "--seed", "1", input="1,2,3\n")
    objects = '{"input_layer_2": 3, "input_layer_0": 1, "input_layer_1": 2}\n'
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "--no-output-header", "-f", "csv",
                  input=objects)
    assert (r.code, r.err, r.out) == (0, "", plain.out)
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", "--columns", "input_layer_0,input_layer_1,input_layer_2",
                  "--no-output-header", input=objects)
    assert (r.code, r.err, r.out) == (0, "", plain.out)
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", input='{"a": 1, "b": 2, "c": 3}\n'
                  '{"a": 1, "b": 2}\n')
    assert r.code == 1 and len(r.out.splitlines()) == 2  # header and the good row
    assert r.err == "nnctl: error: <stdin>:2: missing key 'c' (the first line has a, b, c)\n"
    r = run_nnctl("forward", SEQUENTIAL, "--seed", "1", input='{"a": 1, "b": 2}\n')
    assert (r.code, r.out) == (1, "")
    assert r.err == "nnctl: error: <stdin>:1: expected 3 columns, got 2 keys\n"


def test_cli_objects_of_several_inputs_by_name():
    row = {f"record_{k}": 1 for k in range(6)} | {f"patch_{k}": 2 for k in range(16)}
    import json

    shuffled = dict(sorted(row.items(), reverse=True))
    plain = run_nnctl("forward", TWO_INPUT, "--seed", "1", input=",".join(["1"] * 6 + ["2"] * 16))
    r = run_nnctl("forward", TWO_INPUT, "--seed", "1", "--no-output-header",
                  input=json.dumps(shuffled) + "\n")
    assert (r.code, r.err, r.out) == (0, "", plain.out)
