"""`nnctl act` and `nnctl list`, run as a user runs them (python -m nnctl, piped)."""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys

import numpy as np
import pytest

from conftest import GOLDEN, run_nnctl

ARTICLE_X = ["0.2", "0.02", "0.15", "1.3", "0.5", "0.06", "1.1", "0.05", "3.75"]
# The article's print(tf.nn.softmax(x)), verbatim.
ARTICLE_TENSOR = ("tf.Tensor(\n"
                  "[0.02167152 0.01810157 0.02061459 0.06510484 0.02925349 0.01884031\n"
                  " 0.05330333 0.01865285 0.75445753], shape=(9,), dtype=float32)\n")

GOLDEN_ARRAYS = np.load(GOLDEN / "activations.npz")


def keras_value(case_id: str, x: float) -> np.floating:
    """Keras' output at x from the golden case `case_id` (x must be one of its inputs)."""
    xs = GOLDEN_ARRAYS[f"{case_id}/x"]
    (index,) = np.flatnonzero(xs == np.asarray(x, xs.dtype))[:1]
    return GOLDEN_ARRAYS[f"{case_id}/keras"][index]


def one_error_line(result, pattern: str):
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("nnctl: error: "), result.err
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in result.err


# ---------------------------------------------------------------------------------------------
# The issue's examples

def test_article_softmax_as_text():
    r = run_nnctl("act", "softmax", *ARTICLE_X, "--format", "text")
    assert (r.code, r.out, r.err) == (0, ARTICLE_TENSOR, "")


def test_article_softmax_piped_is_shortest_round_trip_float32():
    r = run_nnctl("act", "softmax", *ARTICLE_X)
    assert r.code == 0 and r.err == ""
    lines = r.out.splitlines()
    article = [float(v) for v in ARTICLE_TENSOR.split("[")[1].split("]")[0].split()]
    assert len(lines) == 9
    for line, printed in zip(lines, article):
        value = np.float32(line)
        assert line == str(value) or line == str(value).rstrip("0").rstrip(".")  # shortest
        assert round(float(value), 8) == printed  # the article's 8 digits


def test_relu_of_negative_numbers():
    r = run_nnctl("act", "relu", "-1", "2")
    assert (r.code, r.out, r.err) == (0, "0\n2\n", "")


def test_seq_into_sigmoid_matches_keras():
    seq = "".join(f"{i}\n" for i in range(-5, 6))
    r = run_nnctl("act", "sigmoid", input=seq)
    assert r.code == 0 and r.err == ""
    got = [np.float32(v) for v in r.out.splitlines()]
    want = [keras_value("sigmoid-0-float32", i) for i in range(-5, 6)]
    np.testing.assert_allclose(got, want, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Values, ranges, arguments, dtypes, formats

def test_range_is_linspace():
    r = run_nnctl("act", "linear", "--range", "-10,10", "--num", "5")
    assert r.out == "-10\n-5\n0\n5\n10\n"
    r = run_nnctl("act", "relu", "--range=-1,1")
    assert len(r.out.splitlines()) == 100  # np.linspace's default num
    np.testing.assert_array_equal([np.float32(v) for v in r.out.split()],
                                  np.maximum(np.linspace(-1, 1, 100, dtype=np.float32), 0))


def test_derivative():
    r = run_nnctl("act", "sigmoid", "0", "--derivative")
    assert r.out == "0.25\n"
    r = run_nnctl("act", "relu", "-1", "2", "-d")
    assert r.out == "0\n1\n"
    r = run_nnctl("act", "softmax", "0", "0", "-d")  # the Jacobian's diagonal
    assert r.out == "0.25\n0.25\n"


@pytest.mark.parametrize("args,case,x", [
    (["leaky_relu", "-p", "negative_slope=0.01"], "leaky_relu-1-float32", -5.0),
    (["gelu", "--param", "approximate=true"], "gelu-1-float32", 1.0),
    (["gelu", "-p", "approximate=False"], "gelu-0-float32", 1.0),
    (["relu", "-p", "max_value=5", "-p", "max_value=5"], "relu-3-float32", 6.0),
    (["relu", "-p", "threshold=1.5"], "relu-4-float32", 2.0),
    (["elu", "-p", "alpha=2"], "elu-2-float32", -1.0),
    (["threshold", "-p", "threshold=0.5", "-p", "default_value=-1"], "threshold-0-float32", 0.499),
    (["squareplus", "-p", "b=1"], "squareplus-1-float32", -2.0),
])
def test_params_match_keras(args, case, x):
    r = run_nnctl("act", *args, str(x))
    assert r.code == 0, r.err
    np.testing.assert_allclose(np.float32(r.out), keras_value(case, x), rtol=1e-6)


@pytest.mark.parametrize("none", ["None", "none", "null", "NULL"])
def test_param_none_is_keras_none(none):
    """max_value=None is relu's default (no cap), as in keras.activations.relu(x, max_value=None)."""
    r = run_nnctl("act", "relu", "-p", f"max_value={none}", "7", "-1")
    assert (r.code, r.out, r.err) == (0, "7\n0\n", "")
    assert run_nnctl("act", "relu", "-p", "max_value=5", "7").out == "5\n"  # a cap does cap


def test_param_values_are_typed_the_same_as_init_does():
    # true/false in any case, numbers, and text: the same reader as `nnctl init -p`
    assert run_nnctl("act", "gelu", "-p", "approximate=TRUE", "1").out == \
        run_nnctl("act", "gelu", "-p", "approximate=true", "1").out
    assert run_nnctl("act", "leaky_relu", "-p", "negative_slope=1e-1", "-10").out == "-1\n"
    r = run_nnctl("act", "relu", "-p", "max_value='6'", "7")  # quotes are text, not a number
    assert r.code == 1 and "max_value must be a number or null" in r.err


def test_float64():
    r = run_nnctl("act", "sigmoid", "1", "--dtype", "float64")
    value = float(r.out)
    assert r.out == repr(value) + "\n"  # the shortest text of a float64
    np.testing.assert_allclose(value, keras_value("sigmoid-0-float64", 1.0), rtol=1e-15)
    assert float(np.float32(value)) != value  # float64 digits, not float32's


def test_formats():
    r = run_nnctl("act", "relu", "-1", "2.5", "-f", "json")
    assert json.loads(r.out) == [0, 2.5]
    r = run_nnctl("act", "relu", "-1", "2.5", "-f", "tsv")
    assert r.out == "0\n2.5\n"
    r = run_nnctl("act", "relu", "-1", "2.5", "-f", "npy")
    import io

    np.testing.assert_array_equal(np.load(io.BytesIO(r.out_bytes)),
                                  np.array([0, 2.5], np.float32))


def test_extremes_from_the_command_line():
    r = run_nnctl("act", "sigmoid", "-1000", "1000", "-3.4e38", "3.4e38")
    assert (r.code, r.out, r.err) == (0, "0\n1\n0\n1\n", "")
    r = run_nnctl("act", "softmax", "1000", "1000")
    assert r.out == "0.5\n0.5\n"
    r = run_nnctl("act", "softplus", "100")
    assert r.out == "100\n"


# ---------------------------------------------------------------------------------------------
# Rows on stdin

def test_stdin_rows_one_output_row_each():
    rows = "0.2 0.02 0.15 1.3 0.5 0.06 1.1 0.05 3.75\n\n1000,1000\n0, 0, 0, 0\n"
    r = run_nnctl("act", "softmax", input=rows)
    assert r.code == 0, r.err
    lines = r.out.split("\n")
    assert len(lines) == 5 and lines[-1] == ""  # 4 rows, then the final newline
    first = [np.float32(v) for v in lines[0].split(",")]
    article = [float(v) for v in ARTICLE_TENSOR.split("[")[1].split("]")[0].split()]
    np.testing.assert_allclose(first, article, atol=5e-9)
    assert lines[1] == ""  # an empty row stays an empty row
    assert lines[2] == "0.5,0.5"
    assert lines[3] == "0.25,0.25,0.25,0.25"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_long_range_is_written_in_pieces(fmt):
    """8,000,000 values: 64 MB as float32 arrays (x and y). The whole text at once took 400 MB
    as CSV, 970 MB as JSON, so a --num that passed the memory check of its array could need
    ten times that and meet the OOM killer."""
    from fuzzing import measured

    code, out, err, peak = measured(["act", "relu", "--range", "-1,1", "--num", "8000000",
                                     "-f", fmt])
    assert (code, err) == (0, ""), err
    if fmt == "json":
        assert out.startswith(b"[0, 0, 0, ") and out.endswith(b", 1]\n")
        assert out.count(b", ") == 7_999_999 and b"\n" not in out[:-1]
    else:
        lines = out.split(b"\n")
        assert len(lines) == 8_000_001 and lines[0] == b"0" and lines[-2:] == [b"1", b""]
    assert peak < 200_000, peak


@pytest.mark.parametrize("shape", [(), (1,), (7,), (0, 3), (4, 3), (3, 2, 2), (5, 1, 3)])
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_array_written_in_pieces_is_the_whole_array(monkeypatch, capsys, shape, fmt):
    from nnctl.cli import output

    array = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) / 4
    output.write_array(array, fmt)
    whole = capsys.readouterr().out
    monkeypatch.setattr(output, "PIECE_VALUES", 2)  # a piece of one row, or of two
    output.write_array(array, fmt)
    assert capsys.readouterr().out == whole
    if fmt == "json":
        assert json.loads(whole) == array.tolist()


def test_stdin_json_arrays_as_act_and_forward_write_them():
    """`forward -f jsonl | nnctl act softmax`, `act -f json | act`: a JSON array is a row."""
    r = run_nnctl("act", "relu", "-f", "json", input="[-1, 2]\n[]\n[3,-4.5]\n  [ 5 ]\n")
    assert (r.code, r.out, r.err) == (0, "[0, 2]\n[]\n[3, 0]\n[5]\n", "")
    r = run_nnctl("act", "relu", input="[1,x]\n")
    assert (r.code, r.out, r.err) == (1, "", "nnctl: error: <stdin>:1: column 2: 'x' is not a "
                                             "number\n")


def test_stdin_from_a_windows_editor_byte_order_mark_and_crlf():
    """Notepad's UTF-8 starts with a byte order mark: not part of the first number (as
    forward reads such a file)."""
    r = run_nnctl("act", "relu", input=b"\xef\xbb\xbf-1,2\r\n3\r\n")
    assert (r.code, r.out, r.err) == (0, "0,2\n3\n", "")


def test_stdin_json_lines_and_elementwise_ragged_rows():
    r = run_nnctl("act", "relu", "-f", "json", input="-1 2\n3\n\n-4,5,-6\n")
    assert [json.loads(line) for line in r.out.splitlines()] == [[0, 2], [3], [], [0, 5, 0]]


def test_stdin_axis_must_be_the_row():
    r = run_nnctl("act", "softmax", "-p", "axis=0", input="0 0\n")
    assert r.out == "0.5,0.5\n"
    r = run_nnctl("act", "softmax", "-p", "axis=1", input="0 0\n")
    assert r.code == 1
    one_error_line(r, "on stdin each row is one vector")


def test_stdin_is_streamed():
    """An answer per line as the line arrives, not at the end of the input."""
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "act", "relu"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"-1 2\n")
        proc.stdin.flush()
        # stdin stays open: an answer that waited for the end of the input would never come
        # (the select is a hang guard, not a speed claim)
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "no answer while stdin was open: the rows are not streamed"
        assert proc.stdout.readline() == b"0,2\n"
        proc.stdin.write(b"3\n")
        proc.stdin.close()
        assert proc.stdout.read() == b"3\n"
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# Bad input: one line, exit 1 (2 for usage)

@pytest.mark.parametrize("args,stdin,code,pattern", [
    (["relux", "1"], None, 1, r"unknown activation 'relux' \(did you mean 'relu'\?\)"),
    # the article's tf.nn.relu(x) as a name: its last part is meant
    (["tf.nn.relu", "1"], None, 1,
     r"^nnctl: error: unknown activation 'tf.nn.relu' \(did you mean 'relu'\?\)$"),
    (["relu", "abc"], None, 1, r"value 'abc' is not a number"),
    (["relu", "1e39"], None, 1, r"value '1e39' is out of range for float32"),
    (["relu", "1", "-p", "slope=1"], None, 1,
     r"activation 'relu' has no argument 'slope'; its arguments: negative_slope, max_value"),
    # tf.keras' name, as tutorials (and tf.nn.leaky_relu) write it
    (["leaky_relu", "1", "-p", "alpha=0.1"], None, 1,
     r"^nnctl: error: activation 'leaky_relu' has no argument 'alpha' \(tf.keras' `alpha` is "
     r"`negative_slope` in Keras 3\); its arguments: negative_slope$"),
    (["relu", "1", "-p", "max_value=-1"], None, 1, r"max_value must not be negative"),
    (["relu", "1", "-p", "max_value=six"], None, 1, r"max_value must be a number or null"),
    (["relu", "1", "-p", "max_value"], None, 1, r"--param 'max_value': expected KEY=VALUE"),
    (["gelu", "1", "-p", "approximate=maybe"], None, 1, r"approximate must be true or false"),
    (["relu", "--range", "1"], None, 1, r"--range '1': expected A,B"),
    (["relu", "--range", "a,b"], None, 1, r"--range 'a,b': expected A,B"),
    (["relu", "--range", "0,inf"], None, 1, r"--range '0,inf': expected A,B, two finite"),
    (["relu", "--range", "0,1", "--num", "99999999999999"], None, 1, r"needs .* more than"),
    (["glu", "1", "2", "3"], None, 1, r"glu splits axis -1 in two halves, but it has 3"),
    (["threshold", "1"], None, 1, r"needs the arguments threshold and default_value"),
    (["relu"], "1 2\n3 x 4\n", 1, r"^nnctl: error: <stdin>:2: column 2: 'x' is not a number$"),
    (["relu"], "1,2\n3,,4\n", 1, r"^nnctl: error: <stdin>:2: column 2: empty value$"),
    (["relu"], "1\n2\n 1e40\n", 1,
     r"^nnctl: error: <stdin>:3: column 1: '1e40' is out of range for float32 \(largest "),
    (["relu"], "1   2    x\n", 1, r"^nnctl: error: <stdin>:1: column 3: 'x' is not a number$"),
    (["relu"], "1, 2,\t it's\n", 1, r"^nnctl: error: <stdin>:1: column 3: \"it's\" is not a "),
    (["relu"], "0\n" + "9" * 50 + "z\n", 1,
     r"^nnctl: error: <stdin>:2: column 1: '9{37}\.\.\.' is not a number$"),
    (["relu", "1", "-p", "type=elu"], None, 1,
     r"^nnctl: error: --param type=elu: the activation is NAME \('relu'\), not a --param$"),
    (["relu", "1", "-p", "max_value=[1,"], None, 1, r"--param max_value=\[1,: not valid JSON"),
    (["relu", "--range", "0,1", "--num", "0"], None, 2,
     r"^nnctl: error: Invalid value for '--num' / '-n': must be at least 1 \(got 0\) "
     r"\(see 'nnctl act --help'\)$"),
    (["relu", "--range", "-1,1", "--num", "-3"], None, 2, r"Invalid value for '--num' / '-n'"),
    (["relux", "1", "--range", "0,1"], None, 2, r"give values or --range, not both"),
    (["relu", "1", "--dtype", "float16"], None, 2, r"Invalid value for '--dtype'"),
    (["relu", "--num", "5"], None, 2, r"--num goes with --range"),
    (["relu", "1", "--range", "0,1"], None, 2, r"give values or --range, not both"),
    (["relu", "1", "--format", "xml"], None, 2, r"Invalid value for '--format'"),
    (["relu", "1", "--bogus"], None, 2, r"No such option: --bogus"),
    (["relu", "--range", "0,1", "--num", "ten"], None, 2, r"Invalid value for '--num'"),
    (["relu", "1", "--plot", "--format", "csv"], None, 2, r"--plot draws a chart"),
    (["glu", "--plot"], None, 2, r"glu maps 2n values to n"),
    (["relu", "-f", "npy"], "1\n", 2, r"--format npy writes one array"),
])
def test_bad_input(args, stdin, code, pattern):
    r = run_nnctl("act", *args, input=stdin if stdin is not None else b"")
    assert r.code == code, r.err
    one_error_line(r, pattern)
    assert r.out == ""


# ---------------------------------------------------------------------------------------------
# The chart

def test_plot_piped_is_a_plain_chart_with_axes():
    r = run_nnctl("act", "sigmoid", "--range", "-10,10", "--plot")
    assert r.code == 0 and r.err == ""
    lines = r.out.splitlines()
    assert lines[0] == "sigmoid(x), x from -10 to 10, 100 points"
    assert "\x1b[" not in r.out  # no color when piped
    assert max(len(line) for line in lines) <= 80
    assert 15 <= len(lines) <= 30
    # the x axis: ticks at matplotlib's places for this range
    assert re.fullmatch(r"\s*-10\s+-7.5\s+-5\s+-2.5\s+0\s+2.5\s+5\s+7.5\s+10\s*", lines[-1])
    # the y axis, labelled on the left, from 0 to 1
    y_labels = [m.group(1) for m in (re.match(r"^\s*([-\d.]+)┼", line) for line in lines) if m]
    assert y_labels[0] == "1" and y_labels[-1] == "0"
    assert "sigmoid(x)" in r.out  # the legend


def test_plot_takes_num_for_its_default_range():
    """--plot draws -10..10 without --range, but --num with it was refused ('--num goes
    with --range A,B'); it is the number of points of that range."""
    r = run_nnctl("act", "relu", "--plot", "--num", "11")
    assert (r.code, r.err) == (0, "")
    assert r.out.splitlines()[0] == "relu(x), x from -10 to 10, 11 points"
    r = run_nnctl("act", "relu", "--num", "5")
    assert (r.code, r.out) == (2, "")
    assert r.err == ("nnctl: error: --num goes with --range A,B (or --plot alone, for its "
                     "range -10,10)\n")


def test_plot_with_derivative_has_both_curves():
    r = run_nnctl("act", "tanh", "--plot", "--derivative", "--range", "-3,3")
    assert r.code == 0, r.err
    assert r.out.startswith("tanh(x) and its derivative, x from -3 to 3")
    assert "tanh(x)" in r.out and "derivative of tanh" in r.out
    assert "⢕" in r.out  # the derivative's marker, told apart from the curve's without color


def test_plot_values_from_stdin_and_default_range():
    r = run_nnctl("act", "relu", "--plot", input="-2\n1\n0\n3\n")
    assert r.out.startswith("relu(x), x from -2 to 3, 4 points")
    r = run_nnctl("act", "relu", "--plot", input="")
    assert r.out.startswith("relu(x), x from -10 to 10, 100 points")  # the article's range


# ---------------------------------------------------------------------------------------------
# nnctl list

def test_list_activations_json_is_the_catalog():
    from nnctl import activations

    r = run_nnctl("list", "activations", "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == json.loads(json.dumps(activations.catalog()))


def test_list_activations_piped_is_tab_separated():
    r = run_nnctl("list", "activation")  # the singular works too
    lines = r.out.splitlines()
    assert lines[0].split("\t")[:3] == ["name", "aliases", "arguments"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows["relu"][2] == "negative_slope=0.0, max_value=None, threshold=0.0"
    assert rows["silu"][1] == "swish"
    assert rows["threshold"][2] == "threshold, default_value"
    assert "multi-class" in "\t".join(rows["softmax"])
    assert all(len(line.split("\t")) == len(lines[0].split("\t")) for line in lines)


def test_list_everything_and_bad_kind():
    r = run_nnctl("list")
    assert r.code == 0, r.err
    assert "# activations" in r.out.splitlines()
    r = run_nnctl("list", "activ")
    assert r.code == 2
    one_error_line(r, r"unknown kind 'activ' \(did you mean 'activations'\?\)")


def test_list_a_kind_whose_module_is_missing(tmp_path):
    # A stand-in nnctl.layers without catalog(): the command says so in one line.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys, types\n"
        "sys.modules['nnctl.layers'] = types.ModuleType('nnctl.layers')\n")
    env = {"PYTHONPATH": str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = run_nnctl("list", "layers", env=env)
    assert r.code == 1
    one_error_line(r, r"'nnctl list layers' is not available yet")


def test_act_and_forward_write_a_float_alike(tmp_path):
    """One writer of floats: act's 1e-7 is forward's 1e-7 (not 1e-07), in float32 and float64."""
    values = ["1e-7", "123456789", "1.5e-5", "-0", "2", "3e38"]
    for dtype in ("float32", "float64"):
        spec = tmp_path / f"{dtype}.yaml"
        spec.write_text(f"dtype: {dtype}\ninput: [1]\nlayers:\n  - {{type: Activation, "
                        "activation: linear}\n")
        act = run_nnctl("act", "linear", "--dtype", dtype, *values)
        forward = run_nnctl("forward", spec, input="\n".join(values) + "\n")
        assert (act.code, forward.code) == (0, 0), (act.err, forward.err)
        assert act.out == forward.out
    assert act.out == "1e-7\n123456789\n0.000015\n-0\n2\n3e+38\n"
