"""Sequence models (Embedding, SimpleRNN, LSTM, GRU, Bidirectional, masks) against Keras 3.

Goldens: tools/golden/sequences.py over tests/specs/sequences/*.yaml writes Keras' summary
text and facts, its weights (by Keras 3 paths), inputs and outputs.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import GOLDEN, SPECS
from nnctl.model import load_model

SEQUENCE_SPECS = sorted((SPECS / "sequences").glob("*.yaml"))
IDS = [p.stem for p in SEQUENCE_SPECS]


def golden(stem):
    data = np.load(GOLDEN / "sequences" / f"{stem}.npz", allow_pickle=False)
    groups = {"weights": {}, "inputs": {}, "outputs": {}}
    for key in data.files:
        group, _, name = key.partition("/")
        groups[group][name] = data[key]
    outputs = [groups["outputs"][str(k)] for k in range(len(groups["outputs"]))]
    return groups["weights"], groups["inputs"], outputs


def flat_outputs(out: dict) -> list:
    arrays = []
    for value in out.values():
        arrays += value if isinstance(value, list) else [value]
    return arrays


@pytest.fixture(scope="module", params=SEQUENCE_SPECS, ids=IDS)
def case(request):
    path = request.param
    model = load_model(str(path))
    weights, inputs, outputs = golden(path.stem)
    return path, model, weights, inputs, outputs


def test_forward_equals_keras(case):
    _, model, weights, inputs, outputs = case
    out = flat_outputs(model.forward(inputs, model.check_weights(weights)))
    assert len(out) == len(outputs)
    for got, want in zip(out, outputs):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_weights_have_keras_paths_and_shapes(case):
    _, model, weights, _, _ = case
    expected = {key: tuple(w.shape) for key, (_, w) in model.weight_specs().items()}
    assert expected == {key: value.shape for key, value in weights.items()}


def test_summary_facts_equal_keras(case):
    path, model, _, _, _ = case
    from nnctl.summary import summarize

    facts = json.loads((GOLDEN / "sequences" / f"{path.stem}.json").read_text())
    summary = summarize(model)
    rows = [r for r in summary.rows if r.type not in ("InputLayer", "NotEqual")]  # layers
    want = [layer for layer in facts["layers"] if layer["type"] != "InputLayer"]
    assert [(r.name, r.type, r.params, r.output_shape) for r in rows] == \
        [(w["name"], w["type"], w["params"], w["output_shape"]) for w in want]
    assert summary.total_params == facts["total_params"]


# Keras' summary lists the operations that merge masks (logical_or, any, ...), nnctl's does not
# (docs/spec.md, Masks)
MERGED_MASK_OPS = {"masked_merges", "masked_products", "masked_concatenate_steps"}


@pytest.mark.parametrize("path", [p for p in SEQUENCE_SPECS if p.stem not in MERGED_MASK_OPS],
                         ids=[i for i in IDS if i not in MERGED_MASK_OPS])
def test_summary_text_equals_keras(nnctl, path):
    r = nnctl("summary", path)
    assert (r.code, r.err) == (0, "")
    assert r.out == (GOLDEN / "sequences" / f"{path.stem}.txt").read_text()


def test_the_mask_changes_the_results():
    """Without mask_zero the same weights give other numbers: the masked goldens test masks."""
    weights, inputs, outputs = golden("masked_stack")
    path = SPECS / "sequences" / "masked_stack.yaml"
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import load_yaml

    text = path.read_text().replace("mask_zero: true", "mask_zero: false")
    model = build_model(parse_spec(load_yaml(text, "unmasked.yaml")))
    (got,) = flat_outputs(model.forward(inputs, model.check_weights(weights)))
    assert not np.allclose(got, outputs[0], rtol=1e-3)


def test_parameter_counts():
    """LSTM: 4u(u + in + 1); GRU with reset_after: 3u(u + in) + 2 * 3u (its bias is (2, 3u))."""
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import load_yaml

    spec = ("input: [10, 7]\nlayers:\n  - {type: LSTM, units: 5, return_sequences: true}\n"
            "  - {type: GRU, units: 3}\n")
    lstm, gru = build_model(parse_spec(load_yaml(spec, "s.yaml"))).layers
    assert lstm.params == 4 * 5 * (5 + 7 + 1)
    assert gru.params == 3 * 3 * (3 + 5) + 2 * 3 * 3
    assert gru.weights[-1].shape == (2, 9)


# --- integer inputs ------------------------------------------------------------------------

CLASSIFIER = SPECS / "sequences" / "lstm_classifier.yaml"   # 6 token ids, input_dim 20


@pytest.mark.parametrize("row, message", [
    ("1,2,3.5,4,5,6", "column 3: 3.5 is not an integer: input 'input_layer' takes integers"),
    ("1,2,3,-1,5,6", "column 4: -1 is negative: input 'input_layer' holds indices for "
                     "embedding 'embedding' (input_dim 20), 0 to 19"),
    ("1,2,3,4,5,20", "column 6: 20 is out of range: input 'input_layer' holds indices for "
                     "embedding 'embedding' (input_dim 20), 0 to 19"),
    ("1,2,nan,4,5,6", "column 3: nan is not an integer"),
])
def test_bad_token_ids_stop_with_file_line_and_column(nnctl, tmp_path, row, message):
    data = tmp_path / "tokens.csv"
    data.write_text("1,2,3,4,5,6\n\n7,8,9,10,11,12\n" + row + "\n1,1,1,1,1,1\n")
    r = nnctl("forward", CLASSIFIER, data)
    assert r.code == 1
    assert r.err.startswith(f"nnctl: error: {data}:4: {message}")
    assert len(r.out.splitlines()) == 2   # the good rows before it came out


@pytest.mark.parametrize("fmt", ["jsonl", "tsv"])
def test_bad_token_ids_in_other_text_formats(nnctl, tmp_path, fmt):
    sep = "\t" if fmt == "tsv" else ", "
    wrap = (lambda r: f"[{r}]") if fmt == "jsonl" else (lambda r: r)
    data = tmp_path / f"tokens.{fmt}"
    data.write_text(wrap(sep.join(["1"] * 6)) + "\n" + wrap(sep.join(["1"] * 5 + ["2.5"])) + "\n")
    r = nnctl("forward", CLASSIFIER, data)
    assert (r.code, r.err) == (1, f"nnctl: error: {data}:2: column 6: 2.5 is not an integer: "
                                  "input 'input_layer' takes integers\n")


def test_bad_token_ids_in_binary_files_name_the_row(nnctl, tmp_path):
    tokens = np.ones((5, 6), dtype=np.int64)
    tokens[3, 1] = 25
    np.save(tmp_path / "tokens.npy", tokens)
    r = nnctl("forward", CLASSIFIER, tmp_path / "tokens.npy")
    assert r.code == 1
    assert r.err.startswith(f"nnctl: error: {tmp_path / 'tokens.npy'}: row 4: column 2: 25 is "
                            "out of range")
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    floats = tokens.astype(np.float64)
    floats[3, 1] = -2
    pq.write_table(pa.table({f"t{k}": floats[:, k] for k in range(6)}),
                   tmp_path / "tokens.parquet")
    r = nnctl("forward", CLASSIFIER, tmp_path / "tokens.parquet")
    assert r.code == 1
    assert r.err.startswith(f"nnctl: error: {tmp_path / 'tokens.parquet'}: row 4: column 2: "
                            "-2 is negative")


BAD_IDS = {"fraction": (2.5, "2.5 is not an integer: input 'input_layer' takes integers"),
           "negative": (-1, "-1 is negative: input 'input_layer' holds indices for embedding "
                            "'embedding' (input_dim 20), 0 to 19"),
           "too large": (20, "20 is out of range: input 'input_layer' holds indices for "
                             "embedding 'embedding' (input_dim 20), 0 to 19"),
           # beyond 2**53 float64 has no exact digits: the float's form, not made-up ones
           "huge": (1e30, "1e+30 is out of range: input 'input_layer' holds indices for "
                          "embedding 'embedding' (input_dim 20), 0 to 19")}


def write_table(path, rows: np.ndarray) -> None:
    """rows in the format of path's extension (integers written as integers)."""
    cell = (lambda v: str(int(v)) if v == int(v) else repr(float(v)))
    if path.suffix in (".csv", ".tsv"):
        sep = "," if path.suffix == ".csv" else "\t"
        path.write_text("".join(sep.join(map(cell, r)) + "\n" for r in rows))
    elif path.suffix == ".jsonl":
        path.write_text("".join("[" + ", ".join(map(cell, r)) + "]\n" for r in rows))
    elif path.suffix == ".npy":
        np.save(path, rows if (rows == np.trunc(rows)).all() else rows.astype(np.float64))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({f"t{k}": rows[:, k] for k in range(rows.shape[1])}), path)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "npy", "parquet"])
def test_each_bad_index_in_each_format_names_its_place(tmp_path, fmt):
    """What `forward` reads through (nnctl.pipeline): a fraction, a negative or a too large
    token id stops the reading at FILE:LINE: column K (text) or FILE: row R: column K
    (binary), after the good rows before it."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    from nnctl import tabular
    from nnctl.errors import DataError
    from nnctl.forward import integer_columns, read_dtype

    model = load_model(str(CLASSIFIER))
    for kind, (value, message) in BAD_IDS.items():
        rows = np.ones((4, 6), dtype=np.float64 if kind in ("fraction", "huge") else np.int64)
        rows[2, 4] = value
        path = tmp_path / f"{kind.replace(' ', '_')}.{fmt}"
        write_table(path, rows)
        reader = tabular.read_batches(str(path), n_columns=6, dtype=read_dtype(model),
                                      integers=integer_columns(model), batch_size=2)
        good = []
        with pytest.raises(DataError) as caught:
            for batch in reader:
                good.append(batch.array)
        place = f"{path}: row 3" if fmt in ("npy", "parquet") else f"{path}:3"
        assert str(caught.value) == f"{place}: column 5: {message}", kind
        assert sum(len(a) for a in good) == 2, kind


def test_token_ids_run_through_every_format(nnctl, tmp_path):
    weights, inputs, outputs = golden("lstm_classifier")
    np.savez(tmp_path / "w.npz", **weights)
    tokens = inputs["input_layer"]
    (tmp_path / "t.csv").write_text("\n".join(",".join(map(str, r)) for r in tokens) + "\n")
    np.save(tmp_path / "t.npy", tokens)
    for name in ("t.csv", "t.npy"):
        r = nnctl("forward", CLASSIFIER, tmp_path / name, "--weights", tmp_path / "w.npz")
        assert (r.code, r.err) == (0, "")
        got = np.array([[float(v) for v in line.split(",")] for line in r.out.splitlines()])
        np.testing.assert_allclose(got, outputs[0], rtol=1e-5)


def test_mixed_integer_and_float_inputs(nnctl, tmp_path):
    weights, inputs, outputs = golden("mixed_inputs")
    np.savez(tmp_path / "w.npz", **weights)
    rows = np.concatenate([inputs["tokens"].astype(np.float64), inputs["features"]], axis=1)
    text = "\n".join(",".join(repr(float(v)) for v in r) for r in rows) + "\n"
    r = nnctl("forward", SPECS / "sequences" / "mixed_inputs.yaml", "--weights",
              tmp_path / "w.npz", input=text)
    assert (r.code, r.err) == (0, "")
    got = np.array([float(line) for line in r.out.splitlines()])
    np.testing.assert_allclose(got, outputs[0][:, 0], rtol=1e-5)
    np.savez(tmp_path / "in.npz", tokens=inputs["tokens"], features=inputs["features"])
    r = nnctl("forward", SPECS / "sequences" / "mixed_inputs.yaml", tmp_path / "in.npz",
              "--weights", tmp_path / "w.npz")
    assert (r.code, r.err) == (0, "")
    np.testing.assert_allclose([float(v) for v in r.out.split()], outputs[0][:, 0], rtol=1e-5)


def test_engine_refuses_fractional_indices_from_python():
    from nnctl.errors import DataError

    model = load_model(str(CLASSIFIER))
    weights = model.init_weights(0)
    with pytest.raises(DataError, match=r"input 'input_layer' takes integers \(int32\), got 1.5"):
        model.forward({"input_layer": np.full((1, 6), 1.5)}, weights)
    with pytest.raises(DataError, match=r"index 20 is out of range \[0, 20\)"):
        model.forward({"input_layer": np.full((1, 6), 20)}, weights)


# --- spec errors --------------------------------------------------------------------------

@pytest.mark.parametrize("spec, message", [
    ("input: {shape: [5], dtype: int8}\nlayers: [{type: Embedding, input_dim: 3, output_dim: 2}]",
     "s.yaml:1:28: an input's `dtype` must be one of int32, int64, float32, float64, got 'int8'"),
    ("input: {dtype: int32}\nlayers: [{type: Embedding, input_dim: 3, output_dim: 2}]",
     "s.yaml:1:8: an input given as a mapping needs `shape`"),
    ("inputs: {x: [4, 2]}\nlayers:\n  - {name: l, type: LSTM, units: 2, return_state: true}\n"
     "  - {type: Dense, units: 1, inputs: l}",
     "s.yaml:4:37: layer 'dense': 'l' has 3 outputs; say which one: l[0], l[1], l[2]"),
    ("inputs: {x: [4, 2]}\nlayers:\n  - {name: l, type: LSTM, units: 2, return_state: true}\n"
     "  - {type: Dense, units: 1, inputs: 'l[3]'}",
     "layer 'dense': 'l' has 3 outputs, so `l[3]` names none of them"),
    ("input: [4, 2]\nlayers: [{type: LSTM, units: 2, stateful: true}]",
     "`stateful: true` carries states"),
    ("input: [4]\nlayers: [{type: LSTM, units: 2}]",
     "LSTM takes sequences (steps, features), got input shape (4,)"),
    ("input: [4, 2]\nlayers: [{type: Bidirectional, layer: {type: Dense, units: 2}}]",
     "Bidirectional wraps SimpleRNN, LSTM or GRU, got 'Dense'"),
    ("input: [4, 2]\nlayers: [{type: Bidirectional, layer: {type: GRU, units: 2}, "
     "merge_mode: max}]", "`merge_mode` must be one of concat, sum, mul, ave or null"),
    # Keras runs a backward_layer in place of `layer` backwards: refused, never ignored
    ("input: [4, 2]\nlayers: [{type: Bidirectional, layer: {type: LSTM, units: 2}, "
     "backward_layer: {type: LSTM, units: 5, go_backwards: true}}]",
     "s.yaml:2:79: layer 'bidirectional': `backward_layer` is not supported; nnctl runs "
     "`layer` both ways (drop backward_layer)"),
    # Keras refuses it too (both halves would go backwards)
    ("input: [4, 2]\nlayers: [{type: Bidirectional, layer: {type: GRU, units: 2, "
     "go_backwards: true}}]",
     "s.yaml:2:39: layer 'bidirectional': the wrapped layer has `go_backwards: true`"),
])
def test_spec_errors(nnctl, tmp_path, spec, message):
    path = tmp_path / "s.yaml"
    path.write_text(spec + "\n")
    r = nnctl("summary", path)
    assert r.code == 1, r.err
    assert message in r.err, r.err
    assert r.err.startswith("nnctl: error: ") and r.err.count("\n") == 1


def test_python_api_refuses_what_bidirectional_cannot_run_exactly():
    import nnctl

    L = nnctl.layers
    with pytest.raises(ValueError, match="`backward_layer` is not supported"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(5, go_backwards=True))
    with pytest.raises(ValueError, match="the wrapped layer has `go_backwards: true`"):
        L.Bidirectional(L.SimpleRNN(2, go_backwards=True))


def keras_bidirectional_config(**changes) -> dict:
    """tests/golden/keras/bidirectional_rnn.json with a backward_layer (Keras writes one) whose
    config takes `changes`."""
    import copy

    config = json.loads((GOLDEN / "keras" / "bidirectional_rnn.json").read_text())
    wrapper = config["config"]["layers"][1]["config"]
    backward = copy.deepcopy(wrapper["layer"])
    backward["config"].update(name="backward_lstm", go_backwards=True)
    backward["config"].update(changes)
    wrapper["backward_layer"] = backward
    return config


@pytest.mark.parametrize("changes, message", [
    ({}, None),   # Keras' own: the layer run backwards
    ({"units": 5}, "a backward_layer that differs from the forward layer is not supported"),
])
def test_keras_files_backward_layer(tmp_path, changes, message):
    from nnctl.errors import NnctlError

    path = tmp_path / "m.json"
    path.write_text(json.dumps(keras_bidirectional_config(**changes)))
    if message is None:
        assert load_model(str(path)).total_params == 300
    else:
        with pytest.raises(NnctlError, match=message):
            load_model(str(path))


def test_keras_files_forward_layer_going_backwards_is_refused(tmp_path):
    """Bidirectional(LSTM(go_backwards=True), backward_layer=LSTM(go_backwards=False)) is
    Keras' too, but not nnctl's: refused, not run as two backward passes."""
    from nnctl.errors import NnctlError

    config = keras_bidirectional_config(go_backwards=False)
    config["config"]["layers"][1]["config"]["layer"]["config"]["go_backwards"] = True
    path = tmp_path / "m.json"
    path.write_text(json.dumps(config))
    with pytest.raises(NnctlError, match="the wrapped layer has `go_backwards: true`"):
        load_model(str(path))


def test_a_bidirectional_inner_default_name_may_be_a_model_layer_name(nnctl):
    """The unnamed inner LSTM of a Bidirectional takes the default name 'lstm' that a model
    layer has too: Keras accepts it (the inner layer is not one of the model's layers), and so
    does nnctl (its weights, summary and outputs against Keras: the goldens above)."""
    r = nnctl("validate", SPECS / "sequences" / "bidirectional_inner_name.yaml")
    assert (r.code, r.out, r.err) == (0, "", "")


def test_bidirectional_inner_names_are_counted_per_model():
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import load_yaml

    spec = ("input: [4, 2]\nlayers:\n  - {type: LSTM, units: 2, return_sequences: true}\n"
            "  - {type: Bidirectional, layer: {type: LSTM, units: 2}}\n")
    model = build_model(parse_spec(load_yaml(spec, "s")))
    assert list(model.weight_specs())[3:5] == [
        "bidirectional/forward_lstm_1/lstm_cell/kernel",
        "bidirectional/forward_lstm_1/lstm_cell/recurrent_kernel"]


def test_onnxruntime_equals_keras(case):
    """The ONNX export (ONNX's LSTM/GRU/RNN operators, or the steps written out where a mask
    or an activation needs it) run by onnxruntime gives Keras' outputs."""
    ort = pytest.importorskip("onnxruntime")
    from nnctl.onnx.graph import build_graph
    from nnctl.onnx.proto import serialize

    _, model, weights, inputs, outputs = case
    graph = build_graph(model, model.check_weights(weights))
    session = ort.InferenceSession(serialize(graph), providers=["CPUExecutionProvider"])
    feeds = {k: v.astype(model.nodes[k].dtype) for k, v in inputs.items()}
    got = session.run(None, feeds)
    assert len(got) == len(outputs)
    for a, want in zip(got, outputs):
        np.testing.assert_allclose(a, want, rtol=1e-4, atol=1e-5)


# --- Python API ----------------------------------------------------------------------------

def test_python_api_builds_sequence_models_as_keras_does():
    import nnctl

    L = nnctl.layers
    tokens = nnctl.Input(shape=(6,), dtype="int32", name="tokens")
    x = L.Embedding(20, 4, mask_zero=True, name="embed")(tokens)
    sequence, h, c = L.LSTM(3, return_sequences=True, return_state=True, name="enc")(x)
    both = L.Bidirectional(L.GRU(2, name="gru"), name="bi")(sequence)
    joined = L.Concatenate(name="joined")([h, c, both])
    model = nnctl.Model(tokens, [joined, sequence], name="api_seq")
    assert [w.path for w in model.weights][:4] == [
        "embed/embeddings", "enc/lstm_cell/kernel", "enc/lstm_cell/recurrent_kernel",
        "enc/lstm_cell/bias"]
    assert "bi/forward_gru/gru_cell/kernel" in [w.path for w in model.weights]
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 0, 5, 6, 7, 8]])
    out, seq = model(ids)
    assert out.shape == (2, 10) and seq.shape == (2, 6, 3)
    # the same graph as a spec: same numbers from the engine
    engine, weights = model.engine, model.engine.check_weights(model._weight_dict())
    again = flat_outputs(engine.forward({"tokens": ids}, weights))
    np.testing.assert_array_equal(again[0], out)
    assert engine.spec.input_dtypes == {"tokens": "int32"}
    assert engine.outputs == ["joined", "enc[0]"]


def test_python_api_loads_a_sequence_spec_with_keras_weights():
    import nnctl

    weights, inputs, outputs = golden("lstm_states")
    model = nnctl.load_model(str(SPECS / "sequences" / "lstm_states.yaml"))
    model.set_weights([weights[w.path] for w in model.weights])
    got = model(inputs["x"])
    for a, want in zip(got, outputs):
        np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-6)


# --- the commands on sequence models ---------------------------------------------------------

STATES = SPECS / "sequences" / "lstm_states.yaml"   # encoder: LSTM with return_state


def test_tap_one_output_of_several_and_all_of_them(nnctl, tmp_path):
    weights, inputs, _ = golden("lstm_states")
    np.savez(tmp_path / "w.npz", **weights)
    x = inputs["x"].reshape(len(inputs["x"]), -1)
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in x) + "\n"
    model = load_model(str(STATES))
    want = model.forward({"x": inputs["x"]}, model.check_weights(weights), ["encoder"])
    sequence, h, c = want["encoder"]
    r = nnctl("forward", STATES, "--weights", tmp_path / "w.npz", "--tap", "encoder[2]",
              input=text)
    assert (r.code, r.err) == (0, "")
    np.testing.assert_allclose(np.loadtxt(r.out.splitlines(), delimiter=","), c, rtol=1e-6)
    r = nnctl("forward", STATES, "--weights", tmp_path / "w.npz", "--tap", "encoder",
              "--output-format", "csv", "-o", tmp_path / "all.csv", input=text)
    assert (r.code, r.err) == (0, "")
    lines = (tmp_path / "all.csv").read_text().splitlines()
    assert len(lines) == len(x)
    got = np.loadtxt(lines, delimiter=",")
    np.testing.assert_allclose(got, np.concatenate([sequence.reshape(len(x), -1), h, c], 1),
                               rtol=1e-6)
    r = nnctl("forward", STATES, "--tap", "encoder[3]", input=text)
    assert (r.code, r.err) == (1, "nnctl: error: --tap: layer 'encoder' has 3 output(s); "
                                  "'encoder[3]' names none of them\n")


def test_export_and_onnxruntime_engine_on_token_ids(nnctl, tmp_path):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    path = SPECS / "sequences" / "masked_bidirectional.yaml"
    r = nnctl("build", path, "--seed", "3", "-o", tmp_path / "m.npz")
    assert r.code == 0, r.err
    r = nnctl("export", tmp_path / "m.npz", "-o", tmp_path / "m.onnx")
    assert r.code == 0, r.err
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT32
    ids = "1,2,3,0,0,4,5\n9,9,0,0,0,0,0\n"
    results = [nnctl("forward", tmp_path / "m.npz", "--engine", engine, input=ids)
               for engine in ("numpy", "onnxruntime")]
    assert [r.code for r in results] == [0, 0]
    np.testing.assert_allclose(np.loadtxt(results[0].out.splitlines(), delimiter=","),
                               np.loadtxt(results[1].out.splitlines(), delimiter=","),
                               rtol=1e-4, atol=1e-6)


def test_inspect_backpropagates_through_time(nnctl, tmp_path):
    path = SPECS / "sequences" / "lstm_classifier.yaml"
    (tmp_path / "ids.csv").write_text("1,2,3,4,5,6\n7,0,0,8,9,1\n")
    r = nnctl("inspect", path, tmp_path / "ids.csv", "--format", "json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    lstm = next(layer for layer in report["layers"] if layer["type"] == "LSTM")
    assert lstm["activation"] == "tanh" and lstm["grad_norm"] > 0
    assert [w["name"] for w in lstm["weights"]] == ["lstm_cell/kernel",
                                                    "lstm_cell/recurrent_kernel",
                                                    "lstm_cell/bias"]


@pytest.mark.parametrize("layer", ["{type: LSTM, units: 64}",
                                   "{type: Bidirectional, layer: {type: GRU, units: 64}}"])
def test_forward_slices_count_the_projection_of_every_step(layer):
    """A recurrent layer holds x @ kernel for every step while it runs (steps x gates x units
    values a row, 100 x 256 here against an output of 64): forward's slices of a batch count
    it, so memory stays near nnctl.forward.SLICE_BYTES (a 16,384-row batch of this LSTM took
    1.1 GB of memory; slices of 9,700 rows were cut by the outputs' size alone)."""
    from nnctl.forward import SLICE_BYTES, slice_rows
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import load_yaml

    model = build_model(parse_spec(load_yaml(f"input: [100, 8]\nlayers: [{layer}]\n", "s")))
    gates = 4 if "LSTM" in layer else 3
    assert slice_rows(model) * 100 * gates * 64 * 4 <= SLICE_BYTES


def test_compare_init_redraws_recurrent_kernels():
    """inspect --compare-init he_normal draws every kernel that multiplies an input from
    he_normal: a recurrent layer's and a Bidirectional's halves' too (they kept Glorot's, and
    an LSTM-only model was 'a model with no layer with a kernel'); recurrent kernels and
    biases stay."""
    from nnctl.inspection import kernel_layers, with_kernel_initializer

    model = load_model(str(SPECS / "sequences" / "bidirectional_modes.yaml"))
    weights = model.init_weights(0)
    assert [n.name for n in kernel_layers(model)] == ["b_mul", "b_sum", "b_ave", "b_none",
                                                      "b_state"]
    redrawn = with_kernel_initializer(model, weights, "he_normal", 0)
    changed = {k for k in weights if not np.array_equal(weights[k], redrawn[k])}
    assert changed == {k for k in weights if k.endswith("_cell/kernel")}
    assert len(changed) == 10
    lstm = redrawn["b_ave/forward_lstm/lstm_cell/kernel"]     # (3, 8): b_mul's 3 features
    assert abs(lstm.std() / np.sqrt(2 / 3) - 1) < 0.25          # he_normal (Glorot: 0.5)


def test_summary_macs_count_every_step(nnctl):
    r = nnctl("summary", SPECS / "sequences" / "gru_stack.yaml", "--macs", "--format", "json")
    assert r.code == 0, r.err
    layers = json.loads(r.out)["layers"]
    # GRU: steps x 3 gates x units x (features + units)
    assert [layer["macs"] for layer in layers] == [6 * 3 * 4 * (3 + 4), 6 * 3 * 3 * (4 + 3),
                                                   6 * 3 * 2 * (3 + 2)]


@pytest.mark.parametrize("layer, message", [
    ("{type: Softmax}", "layer 'softmax': Softmax would use the mask that 'embedding' carries "
                        "(mask_zero); nnctl does not compute masked Softmax; drop mask_zero or "
                        "the layer"),
    ("{type: GlobalAveragePooling1D, data_format: channels_first}",
     "GlobalAveragePooling1D would use the mask"),
])
def test_a_mask_nnctl_cannot_honour_is_refused(nnctl, tmp_path, layer, message):
    path = tmp_path / "s.yaml"
    path.write_text("input: {shape: [5], dtype: int32}\nlayers:\n"
                    "  - {type: Embedding, input_dim: 9, output_dim: 3, mask_zero: true}\n"
                    f"  - {layer}\n")
    r = nnctl("validate", path)
    assert r.code == 1 and r.err.count("\n") == 1
    assert r.err.startswith(f"nnctl: error: {path}:4:5: ") and message in r.err, r.err


def test_layers_that_drop_the_mask_are_exact():
    """Keras drops a mask at Flatten: the Dense after it sees every step, as here."""
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import load_yaml

    spec = ("input: {shape: [4], dtype: int32}\nlayers:\n"
            "  - {type: Embedding, input_dim: 9, output_dim: 2, mask_zero: true}\n"
            "  - {type: Flatten}\n  - {type: Dense, units: 2}\n")
    model = build_model(parse_spec(load_yaml(spec, "s.yaml")))
    assert [n.masked for n in model.layers] == [True, False, False]


def test_build_draws_keras_initializers():
    """Orthogonal recurrent kernels (rows orthonormal, as Keras' (u, 4u) matrix), the forget
    gate's bias at 1 (unit_forget_bias), zeros elsewhere, uniform embeddings."""
    model = load_model(str(SPECS / "sequences" / "masked_bidirectional.yaml"))
    weights = model.init_weights(5)
    r = weights["bidirectional/forward_lstm/lstm_cell/recurrent_kernel"]
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-5)
    np.testing.assert_array_equal(weights["bidirectional/backward_lstm/lstm_cell/bias"],
                                  [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(weights["bidirectional_1/forward_gru/gru_cell/bias"],
                                  np.zeros((2, 6)))
    table = weights["embedding/embeddings"]
    assert np.abs(table).max() <= 0.05 and table.std() > 0.01
    options = load_model(str(SPECS / "sequences" / "recurrent_options.yaml")).init_weights(5)
    np.testing.assert_array_equal(options["plain/lstm_cell/bias"], np.ones(8))   # no forget 1s
    r = options["lstm/lstm_cell/recurrent_kernel"]                                # gain 2
    np.testing.assert_allclose(r @ r.T, 4 * np.eye(2), atol=1e-5)
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import load_yaml

    spec = "input: [3, 2]\nlayers: [{type: LSTM, units: 2, unit_forget_bias: false}]\n"
    plain = build_model(parse_spec(load_yaml(spec, "s.yaml"))).init_weights(0)
    np.testing.assert_array_equal(plain["lstm/lstm_cell/bias"], np.zeros(8))


def test_plot_neurons_refuses_recurrent_layers(nnctl):
    r = nnctl("plot", SPECS / "sequences" / "gru_stack.yaml", "--neurons")
    assert r.code == 1 and r.out == ""
    assert r.err == (f"nnctl: error: {SPECS / 'sequences' / 'gru_stack.yaml'}:3:5: layer 'gru': "
                     "plot --neurons cannot draw a GRU layer (a recurrent layer feeds its units "
                     "back into themselves over the time steps); draw the model without "
                     "--neurons\n")


MASKED_FUNCTIONAL = ("inputs: {words: {shape: [5], dtype: int32}}\nlayers:\n"
                     "  - {name: embed, type: Embedding, input_dim: 9, output_dim: 3, "
                     "mask_zero: true, inputs: words}\n"
                     "  - {name: plain, type: Embedding, input_dim: 9, output_dim: 3, "
                     "inputs: words}\n"
                     "  - {name: rnn, type: SimpleRNN, units: 2, inputs: embed}\n"
                     "outputs: [rnn, plain]\n")


def test_mask_names_name_keras_mask_operations_in_the_summary(nnctl, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(MASKED_FUNCTIONAL + "mask_names: {embed: not_equal_7}\n")
    r = nnctl("summary", path, "--format", "markdown")
    assert (r.code, r.err) == (0, ""), r.err
    assert "| not_equal_7 (NotEqual) | (None, 5) | 0 | words[0][0] |" in r.out
    assert "| rnn (SimpleRNN) | (None, 2) | 12 | embed[0][0], not_equal_7[0][0] |" in r.out


@pytest.mark.parametrize("names, message", [
    ("{plain: not_equal}", "mask_names: 'plain' is not an Embedding with mask_zero: true"),
    ("{rnn: not_equal}", "mask_names: 'rnn' is not an Embedding with mask_zero: true"),
    ("[not_equal]", "`mask_names` maps an Embedding(mask_zero: true) to the name of its mask"),
])
def test_mask_names_must_name_masking_embeddings(nnctl, tmp_path, names, message):
    path = tmp_path / "s.yaml"
    path.write_text(MASKED_FUNCTIONAL + f"mask_names: {names}\n")
    for command in ("summary", "validate"):
        r = nnctl(command, path)
        assert r.code == 1 and "Traceback" not in r.err
        assert r.err.startswith(f"nnctl: error: {path}:") and message in r.err, r.err
        assert len(r.err.splitlines()) == 1
