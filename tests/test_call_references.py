"""References to a shared layer of several outputs: `rnn[1]` is output 1 of the layer's first
call, `rnn[1][2]` output 2 of its second call (docs/spec.md), everywhere a reference is read:
outputs, --tap, the Python API, the Keras and ONNX writers, columns, plots, lint."""
from __future__ import annotations

import numpy as np
import pytest

import nnctl
from conftest import run_nnctl
from nnctl.model import load_model

# A shared LSTM(return_state) called on a and on b: three outputs per call.
SHARED_LSTM = """\
inputs: {a: [5, 3], b: [5, 3]}
layers:
  - {name: rnn, type: LSTM, units: 2, return_state: true, inputs: a}
  - {call: rnn, inputs: b}
outputs: %s
"""


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    a, b = (rng.normal(size=(2, 5, 3)).astype(np.float32) for _ in range(2))
    rows = np.concatenate([a.reshape(2, -1), b.reshape(2, -1)], axis=1)
    return a, b, "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


@pytest.fixture(scope="module")
def calls(data, tmp_path_factory):
    """Each call's three outputs, computed by the engine with every output named alike."""
    a, b, _ = data
    spec = tmp_path_factory.mktemp("calls") / "all.yaml"
    spec.write_text(SHARED_LSTM % '["rnn", "rnn[1][0]", "rnn[1][1]", "rnn[1][2]"]')
    model = load_model(str(spec))
    out = model.forward({"a": a, "b": b}, model.init_weights(0))
    return out["rnn"], [out[f"rnn[1][{k}]"] for k in range(3)]


def read_csv(text: str) -> tuple[list[str], np.ndarray]:
    header, *rows = text.splitlines()
    return header.split(","), np.array([r.split(",") for r in rows], dtype=np.float32)


def test_the_calls_differ(calls):
    first, second = calls
    assert all(not np.allclose(x, y) for x, y in zip(first, second))


def test_forward_outputs_name_one_output_of_the_first_call(tmp_path, data, calls):
    """`outputs: [rnn[1][2], rnn[1]]`: it failed ('rows of 8 values written to a table of
    4 columns': rnn[1] was read as the whole second call)."""
    spec = tmp_path / "s.yaml"
    spec.write_text(SHARED_LSTM % '["rnn[1][2]", "rnn[1]"]')
    r = run_nnctl("forward", spec, "--output-header", input=data[2])
    assert (r.code, r.err) == (0, ""), r.err
    header, values = read_csv(r.out)
    assert header == ["rnn[1][2]_0", "rnn[1][2]_1", "rnn[1]_0", "rnn[1]_1"]
    first, second = calls
    np.testing.assert_allclose(values, np.concatenate([second[2], first[1]], axis=1),
                               rtol=1e-6)


def test_tap_of_an_output_of_a_shared_layer(tmp_path, data, calls):
    spec = tmp_path / "s.yaml"
    spec.write_text(SHARED_LSTM % '["rnn[1][2]", "rnn[0][1]"]')
    r = run_nnctl("forward", spec, "--tap", "rnn[1]", "--tap", "rnn[1][1]", "--tap", "rnn",
                  input=data[2])
    assert (r.code, r.err) == (0, ""), r.err
    header, values = read_csv(r.out)
    assert header == (["rnn[1]_0", "rnn[1]_1", "rnn[1][1]_0", "rnn[1][1]_1"]
                      + [f"rnn[0][{k}]_{j}" for k in range(3) for j in range(2)])
    first, second = calls
    np.testing.assert_allclose(values, np.concatenate([first[1], second[1], *first], axis=1),
                               rtol=1e-6)


def test_the_engines_names_for_calls_are_not_references(tmp_path, data):
    spec = tmp_path / "s.yaml"
    spec.write_text(SHARED_LSTM % '["rnn[1][2]"]')
    r = run_nnctl("forward", spec, "--tap", "rnn@1", input=data[2])
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: --tap: no layer named 'rnn@1' in the model (layer 'rnn' "
                     "is called 2 times: `rnn[0][0]` to `rnn[1][0]`)\n")
    r = run_nnctl("forward", spec, "--tap", "rnn[1][3]", input=data[2])
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: --tap: layer 'rnn' (call 2) has 3 output(s); 'rnn[1][3]' "
                     "names none of them\n")


def test_python_api_and_keras_file(tmp_path, data, calls):
    """predict gives as many arrays as output_shape lists, the right ones; a .keras file
    written from the model records the same tensors (it recorded the second call)."""
    a, b, rows = data
    first, second = calls
    spec = tmp_path / "s.yaml"
    spec.write_text(SHARED_LSTM % '["rnn[1][2]", "rnn[0][1]"]')
    model = nnctl.load_model(str(spec))
    out = model.predict([a, b], verbose=0)
    assert len(out) == len(model.output_shape) == 2
    np.testing.assert_allclose(out[0], second[2], rtol=1e-6)
    np.testing.assert_allclose(out[1], first[1], rtol=1e-6)
    keras_file = tmp_path / "s.keras"
    assert run_nnctl("convert", spec, "-o", keras_file).code == 0
    r = run_nnctl("forward", keras_file, input=rows)
    assert (r.code, r.err) == (0, ""), r.err
    np.testing.assert_allclose(np.array([l.split(",") for l in r.out.splitlines()], float),
                               np.concatenate([second[2], first[1]], axis=1), rtol=1e-6)


def test_onnx_export_names_and_values(tmp_path, data, calls):
    ort = pytest.importorskip("onnxruntime")
    a, b, _ = data
    first, second = calls
    spec = tmp_path / "s.yaml"
    spec.write_text(SHARED_LSTM % '["rnn[0][0]", "rnn[1][2]", "rnn[2]", "rnn[1]"]')
    path = tmp_path / "s.onnx"
    r = run_nnctl("export", spec, "-o", path)
    assert (r.code, r.err) == (0, ""), r.err
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["rnn", "rnn[1][2]", "rnn[0][2]",
                                                       "rnn[0][1]"]
    got = session.run(None, {"a": a, "b": b})
    for x, y in zip(got, [first[0], second[2], first[2], first[1]]):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_plot_and_lint_write_calls_as_keras(tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text("inputs: {a: [3]}\nlayers:\n  - {name: d, type: Dense, units: 3}\n"
                    "  - {call: d, inputs: d}\n  - {call: d, inputs: 'd[1][0]'}\n")
    r = run_nnctl("lint", spec)
    assert "3 Dense layers (d, d[1][0], d[2][0])" in r.out + r.err and "@" not in r.out + r.err
    r = run_nnctl("plot", spec, "--neurons", "-f", "dot")
    assert r.code == 0 and "@" not in r.out and '"d[2][0]/label"' in r.out, r.err


# --- one tensor named twice in `outputs:` (Keras allows it) -----------------------------------

TWICE = "inputs: {a: [3]}\nlayers:\n  - {name: d, type: Dense, units: 2, inputs: a}\n" \
        "outputs: [d, d]\n"


def test_an_output_named_twice_is_computed_twice(tmp_path):
    """It collapsed: forward failed ('rows of 2 values written to a table of 4 columns'),
    predict returned one array."""
    spec = tmp_path / "d.yaml"
    spec.write_text(TWICE)
    r = run_nnctl("forward", spec, input="1,2,3\n4,5,6\n")
    assert (r.code, r.err) == (0, ""), r.err
    values = np.array([l.split(",") for l in r.out.splitlines()], float)
    assert values.shape == (2, 4) and (values[:, :2] == values[:, 2:]).all()
    pytest.importorskip("onnxruntime")
    r = run_nnctl("forward", spec, "--engine", "onnxruntime", input="1,2,3\n4,5,6\n")
    assert (r.code, r.err) == (0, ""), r.err
    np.testing.assert_allclose(np.array([l.split(",") for l in r.out.splitlines()], float),
                               values, rtol=1e-6)
    model = nnctl.load_model(str(spec))
    out = model.predict(np.array([[1, 2, 3], [4, 5, 6]], np.float32), verbose=0)
    assert len(out) == len(model.output_shape) == 2
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_allclose(out[0], values[:, :2], rtol=1e-6)


@pytest.mark.parametrize("args", [["--output-header"], ["-f", "jsonl", "--output-header"],
                                  ["-o", "out.parquet"]])
def test_named_columns_of_an_output_named_twice_are_refused(tmp_path, args):
    spec = tmp_path / "d.yaml"
    spec.write_text(TWICE)
    r = run_nnctl("forward", spec, *args, input="1,2,3\n", cwd=tmp_path)
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: the outputs name 'd' twice, so their columns would have "
                     "the same names; write CSV/TSV with --no-output-header or .npy, or tap "
                     "each tensor once\n")
    assert not (tmp_path / "out.parquet").exists()


def test_a_tap_given_twice_is_refused(tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text(TWICE)
    r = run_nnctl("forward", spec, "--tap", "d", "--tap", "d", input="1,2,3\n")
    assert (r.code, r.out) == (1, "")
    assert r.err == "nnctl: error: --tap: 'd' is given twice; tap each tensor once\n"


@pytest.mark.parametrize("where, message", [
    ("inputs", "layer 'out': `inputs` names 'shared@1', which is neither an input nor a layer "
               "(layer 'shared' is called 2 times: `shared[0][0]` to `shared[1][0]`)"),
    ("outputs", "`outputs` names 'shared@1', which is not a layer or an input (layer 'shared' "
                "is called 2 times: `shared[0][0]` to `shared[1][0]`)"),
])
def test_a_spec_cannot_name_a_call_by_the_engines_name(tmp_path, where, message):
    spec = tmp_path / "s.yaml"
    last = ("  - {name: out, type: Dense, units: 1, inputs: 'shared@1'}\n" if where == "inputs"
            else "outputs: ['shared@1']\n")
    spec.write_text("inputs: {a: [3], b: [3]}\nlayers:\n"
                    "  - {name: shared, type: Dense, units: 2, inputs: a}\n"
                    "  - {call: shared, inputs: b}\n" + last)
    r = run_nnctl("validate", spec)
    assert (r.code, r.out) == (1, "")
    assert r.err.startswith(f"nnctl: error: {spec}:5:") and r.err.endswith(message + "\n"), r.err


def test_a_layer_after_a_call_reads_it(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs: {a: [3], b: [3]}\nlayers:\n"
                    "  - {name: shared, type: Dense, units: 2, inputs: a}\n"
                    "  - {call: shared, inputs: b}\n  - {name: out, type: Dense, units: 1}\n")
    r = run_nnctl("summary", spec)
    assert r.code == 0 and "shared[1][0]" in r.out and "@" not in r.out, r.err


def test_a_cycle_through_a_call_is_written_as_keras(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs: {a: [2]}\nlayers:\n"
                    "  - {name: d, type: Dense, units: 2, inputs: a}\n"
                    "  - {call: d, inputs: x}\n"
                    "  - {name: x, type: Dense, units: 2, inputs: 'd[1][0]'}\n")
    r = run_nnctl("validate", spec)
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"nnctl: error: {spec}:4:23: call 2 of layer 'd' (`d[1][0]`) is part of "
                     "a cycle: d[1][0] -> x -> d[1][0]\n")


def test_keras_reads_the_outputs_the_spec_names(tmp_path, data, calls):
    """The .keras file of `outputs: [rnn[1][2], rnn[0][1], rnn[1]]` predicts, in Keras, the
    tensors nnctl computes (its writer recorded the second call for `rnn[1]`)."""
    import json
    import os
    import subprocess

    from test_kerasfile import CHECK_IN_KERAS, keras_python

    if keras_python() is None:
        pytest.skip("keras is not installed (set NNCTL_KERAS_PYTHON to a Python that has it)")
    a, b, _ = data
    first, second = calls
    spec = tmp_path / "s.yaml"
    spec.write_text(SHARED_LSTM % '["rnn[1][2]", "rnn[0][1]", "rnn[1]"]')
    archive = tmp_path / "s.keras"
    assert run_nnctl("convert", spec, "-o", archive).code == 0
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "numpy")}
    done = subprocess.run([keras_python(), "-c", CHECK_IN_KERAS], capture_output=True,
                          input=json.dumps({str(archive): ([a.tolist(), b.tolist()], None)}),
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)[str(archive)]
    assert len(got) == 3
    for x, y in zip(got, [second[2], first[1], first[1]]):
        np.testing.assert_allclose(np.asarray(x), y, rtol=1e-5, atol=1e-6)
