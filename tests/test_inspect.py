"""nnctl inspect: per-layer statistics (engine) and the command (table, chart, JSON, errors)."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import CONFIGS, ROOT
from nnctl import inspection
from nnctl.cli.inspect import bar, chart_lines, log_scale, number_text, percent_text
from nnctl.errors import ParameterError
from nnctl.model import build_model
from nnctl.spec import parse_spec
from nnctl.yamlpos import load_yaml


def model_from(text: str):
    return build_model(parse_spec(load_yaml(textwrap.dedent(text), "<test>")))


def mlp_text(activation: str, initializer: str, depth=10, width=64, inputs=32, last=None):
    layers = "".join(
        f"  - {{type: Dense, units: {width if i < depth - 1 else (last or width)}, "
        f"activation: {activation}, kernel_initializer: {initializer}}}\n"
        for i in range(depth))
    return f"name: mlp\ninput: [{inputs}]\nlayers:\n{layers}"


def mlp(*args, **kwargs):
    return model_from(mlp_text(*args, **kwargs))


def inspect_at_init(model, seed=0, batch=256):
    return inspection.inspect(model, inspection.random_inputs(model, batch, seed),
                              model.init_weights(seed))


def test_token_inputs_are_drawn_as_ids_and_a_shared_layer_is_one_row():
    """Integer inputs get token ids below the Embedding's input_dim (were normal floats,
    refused as ids); a shared Embedding's gradient adds its two calls'."""
    model = model_from("""\
        inputs: {left: {shape: [5], dtype: int32}, right: {shape: [5], dtype: int32}}
        layers:
          - {name: embed, type: Embedding, input_dim: 7, output_dim: 3, inputs: left}
          - {call: embed, inputs: right}
          - {name: sum, type: Add, inputs: [embed, 'embed[1][0]']}
        """)
    inputs = inspection.random_inputs(model, 64, 0)
    assert all(v.dtype == np.int32 and 0 <= v.min() and v.max() < 7 for v in inputs.values())
    report = inspect_at_init(model, batch=64)
    assert [row.name for row in report.layers] == ["embed", "sum"]
    assert report.layers[0].weights[0].grad_norm > 0


# --- the article's claims, measured --------------------------------------------------------------

SMALL_NORMAL = "{type: random_normal, stddev: 0.05}"


def test_deep_sigmoid_gradients_vanish_towards_the_input():
    report = inspect_at_init(mlp("sigmoid", SMALL_NORMAL, last=1))
    norms = [s.grad_norm for s in report.layers]
    assert len(norms) == 10
    # orders of magnitude: at seed 0 the first layer gets 1.5e-10 of the last layer's 1.0
    assert norms[0] < 1e-6 * norms[-1]
    assert all(a < b for a, b in zip(norms, norms[1:]))  # shrinking all the way down


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relu_he_normal_keeps_the_activation_std_within_a_factor_of_two(seed):
    report = inspect_at_init(mlp("relu", "he_normal"), seed=seed)
    stds = [s.std for s in report.layers]
    assert max(stds) / min(stds) < 2, stds


def test_relu_glorot_lets_the_activation_std_shrink():
    """The contrast that makes the He test meaningful: Glorot halves the variance per layer."""
    stds = [s.std for s in inspect_at_init(mlp("relu", "glorot_uniform")).layers]
    assert stds[0] / stds[-1] > 8, stds


def test_exploding_float32_network_still_shows_numbers():
    """Measured in float64: gradients float32 cannot hold (here about 1e45) are not inf/nan."""
    model = mlp("relu", "{type: random_normal, stddev: 50}")
    assert model.dtype == "float32"
    report = inspect_at_init(model, batch=32)
    norms = [s.grad_norm for s in report.layers]
    assert all(np.isfinite(norms)) and min(norms) > 1e38
    assert report.layers[-1].std > 1e20


# --- the statistics, on hand-made values -------------------------------------------------------

def activation_report(name, values):
    model = model_from(f"""
        dtype: float64
        input: [{len(values[0])}]
        layers: [{{type: Activation, activation: {name}}}]
    """)
    return inspection.inspect(model, {"input_layer": np.array(values, float)}, {}).layers[0]


def test_saturation_thresholds_sigmoid():
    # slope below 5% of the slope at 0: |x| > 4.3627
    stats = activation_report("sigmoid", [[5.0, 0.0, -4.4, 4.3], [-10.0, 1.0, 2.0, -4.0]])
    assert stats.saturated == pytest.approx(3 / 8)
    assert stats.dead is None


def test_saturation_thresholds_tanh():
    # 1 - tanh(x)^2 < 0.05: |x| > 2.1818
    stats = activation_report("tanh", [[2.2, 2.1, -3.0, 0.5]])
    assert stats.saturated == pytest.approx(2 / 4)


def test_no_dead_or_saturated_for_other_activations():
    stats = activation_report("leaky_relu", [[-1.0, 2.0]])
    assert stats.dead is None and stats.saturated is None


def test_dead_relu_units_are_zero_for_every_sample():
    model = model_from("""
        dtype: float64
        input: [2]
        layers: [{type: Dense, units: 4, activation: relu}]
    """)
    weights = {"dense/kernel": np.array([[1.0, 1.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0]]),
               "dense/bias": np.array([-100.0, 0.0, 100.0, 0.0])}
    x = np.array([[1.0, 0.0], [2.0, 5.0], [3.0, -1.0]])  # all positive first column
    stats = inspection.inspect(model, {"input_layer": x}, weights).layers[0]
    # unit 0: always below 0 (dead); unit 3: -x0 < 0 always (dead); units 1, 2 alive
    assert stats.dead == pytest.approx(0.5)
    assert stats.mean == pytest.approx(np.mean(np.maximum(x @ weights["dense/kernel"]
                                                          + weights["dense/bias"], 0)))


def test_loss_and_gradient_of_a_linear_layer_in_closed_form():
    model = model_from("""
        dtype: float64
        input: [3]
        layers: [{type: Dense, units: 2}]
    """)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 3))
    weights = {"dense/kernel": rng.standard_normal((3, 2)), "dense/bias": rng.standard_normal(2)}
    y = x @ weights["dense/kernel"] + weights["dense/bias"]
    report = inspection.inspect(model, {"input_layer": x}, weights)
    assert report.loss == "mean_square"
    assert report.loss_value == pytest.approx(np.mean(y * y))
    kernel = next(w for w in report.layers[0].weights if w.name == "kernel")
    assert kernel.grad_norm == pytest.approx(np.linalg.norm(x.T @ (2 * y / y.size)))
    # with a target: the MSE and its gradient
    t = rng.standard_normal((7, 2))
    report = inspection.inspect(model, {"input_layer": x}, weights,
                                targets=inspection.split_outputs(model, t))
    assert report.loss == "mse"
    assert report.loss_value == pytest.approx(np.mean((y - t) ** 2))
    bias = next(w for w in report.layers[0].weights if w.name == "bias")
    assert bias.grad_norm == pytest.approx(np.linalg.norm((2 * (y - t) / y.size).sum(axis=0)))


def test_frozen_weights_have_gradients_but_no_layer_norm():
    model = model_from("""
        input: [3]
        layers:
          - {type: Dense, units: 4, activation: relu, trainable: false}
          - {type: Dense, units: 1}
    """)
    frozen = inspect_at_init(model, batch=16).layers[0]
    assert frozen.grad_norm is None
    assert all(not w.trainable and w.grad_norm > 0 for w in frozen.weights)


def test_random_inputs_depend_on_the_seed_only():
    model = build_model(parse_spec(load_yaml((CONFIGS / "two_input.yaml").read_text(), "x")))
    a = inspection.random_inputs(model, 8, 3)
    b = inspection.random_inputs(model, 8, 3)
    c = inspection.random_inputs(model, 8, 4)
    assert set(a) == {"record", "patch"} and a["patch"].shape == (8, 4, 4)
    np.testing.assert_array_equal(a["record"], b["record"])
    assert not np.array_equal(a["record"], c["record"])
    assert a["record"].dtype == np.float32


def test_compare_equals_the_spec_written_with_that_initializer():
    """Replacing every kernel's initializer is the same as writing it into the spec."""
    plain = mlp("relu", "glorot_uniform", depth=3, width=8, inputs=5)
    written = mlp("relu", "he_uniform", depth=3, width=8, inputs=5)
    inputs = inspection.random_inputs(plain, 32, 0)
    [compared] = inspection.compare(plain, inputs, plain.init_weights(0), ["HeUniform"], 0)
    direct = inspection.inspect(written, inputs, written.init_weights(0))
    assert compared.kernel_initializer == "he_uniform"
    assert [s.std for s in compared.layers] == [s.std for s in direct.layers]
    assert [s.grad_norm for s in compared.layers] == [s.grad_norm for s in direct.layers]


def test_compare_needs_a_dense_layer():
    model = model_from("input: [3]\nlayers: [{type: Activation, activation: relu}]\n")
    with pytest.raises(ParameterError, match="no layer with a kernel"):
        inspection.compare(model, inspection.random_inputs(model, 4, 0), {}, ["he_normal"], 0)


# --- rendering -----------------------------------------------------------------------------------

def test_number_and_percent_texts():
    assert [number_text(v) for v in (None, 0.0, 0.82634, 1.5e-10, 12.34, float("inf"))] == \
        ["-", "0", "0.826", "1.5e-10", "12.3", "inf"]
    assert [percent_text(v) for v in (None, 0.0, 0.004, 0.125, 1.0)] == \
        ["-", "0%", "<1%", "12%", "100%"]


def test_bars_are_logarithmic():
    scale = log_scale([1e-10, 1.0])
    assert scale == (-10, 0)
    lengths = [len(bar(v, scale, 40).rstrip()) for v in (1e-9, 1e-5, 1.0)]
    assert lengths == [4, 20, 40]
    assert bar(0.0, scale, 40) == " " * 40 and bar(None, scale, 40) == " " * 40
    assert bar(1e-12, scale, 40).strip() == "▏"  # below the scale: still visible


def test_chart_fits_80_columns_and_shows_vanishing():
    report = inspect_at_init(mlp("sigmoid", SMALL_NORMAL, last=1))
    lines = ["".join(text for text, _ in pieces) for pieces in chart_lines([report], 80)]
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if line.startswith("dense")]
    assert len(rows) == 10
    grad_bar = lambda line: line[line.index("  ", 30):].count("█")  # noqa: E731
    assert grad_bar(rows[0]) < grad_bar(rows[-1]) / 5


# --- the command ---------------------------------------------------------------------------------

ARTICLE = CONFIGS / "article_sequential.yaml"


def test_piped_table(nnctl):
    r = nnctl("inspect", ARTICLE)
    assert r.code == 0, r.err
    assert r.err == ""
    lines = r.out.splitlines()
    assert lines[0].split() == ["layer", "act/type", "mean", "std", "dead", "sat", "weight",
                                "grad", "norm"]
    assert [line.split()[0] for line in lines[1:]] == ["layer1", "bias", "layer2", "bias",
                                                       "layer3", "bias"]
    assert lines[1].split()[1:2] == ["relu"] and lines[5].split()[1:2] == ["sigmoid"]
    assert "\x1b[" not in r.out and "█" not in r.out  # no color, no chart when piped


def test_json_shape_and_values(nnctl):
    r = nnctl("inspect", ARTICLE, "--format", "json", "--batch", "64", "--seed", "3")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert {k: data[k] for k in ("model", "batch", "seed", "loss")} == \
        {"model": "my_Sequential", "batch": 64, "seed": 3, "loss": "mean_square"}
    assert [layer["name"] for layer in data["layers"]] == ["layer1", "layer2", "layer3"]
    first = data["layers"][0]
    assert set(first) == {"name", "type", "activation", "output_shape", "mean", "std", "dead",
                          "saturated", "grad_norm", "output_grad_norm", "weights"}
    assert first["output_shape"] == [None, 3] and first["saturated"] is None
    assert [(w["name"], w["shape"], w["trainable"]) for w in first["weights"]] == \
        [("kernel", [3, 3], True), ("bias", [3], True)]
    # the same numbers as the engine, for the same seed
    model = build_model(parse_spec(load_yaml(ARTICLE.read_text(), str(ARTICLE))))
    report = inspect_at_init(model, seed=3, batch=64)
    assert first["std"] == report.layers[0].std
    assert data["layers"][2]["grad_norm"] == report.layers[2].grad_norm


def test_compare_init_json(nnctl):
    r = nnctl("inspect", CONFIGS / "softmax_classifier.yaml", "--compare-init",
              "HeNormal,glorot_uniform,normal", "-f", "json", "--batch", "32")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert [c["kernel_initializer"] for c in data["compare"]] == \
        ["he_normal", "glorot_uniform", "random_normal"]
    assert all(len(c["layers"]) == 4 for c in data["compare"])
    he, glorot = data["compare"][0]["layers"], data["compare"][1]["layers"]
    # Flatten comes before any kernel: same outputs, though different gradients reach it
    assert (he[0]["mean"], he[0]["std"]) == (glorot[0]["mean"], glorot[0]["std"])
    assert he[0]["output_grad_norm"] != glorot[0]["output_grad_norm"]
    assert he[1]["std"] != glorot[1]["std"]


def test_compare_init_piped_table(nnctl):
    r = nnctl("inspect", CONFIGS / "softmax_classifier.yaml", "--compare-init",
              "he_normal,random_normal", "--batch", "32")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["he_normal", "random_normal"]
    assert lines[1].split() == ["layer", "std", "grad", "norm", "std", "grad", "norm"]
    assert [line.split()[0] for line in lines[2:]] == ["flatten", "dense", "dense_1", "dense_2"]


def test_input_file_stdin_and_target(nnctl, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 3))
    data = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in x)
    (tmp_path / "x.csv").write_text(data)
    (tmp_path / "t.csv").write_text("0.5,0.5\n" * 10)
    r = nnctl("inspect", ARTICLE, tmp_path / "x.csv", "--batch", "10", "--target",
              tmp_path / "t.csv", "-f", "json")
    assert r.code == 0, r.err
    data_out = json.loads(r.out)
    assert data_out["batch"] == 10 and data_out["loss"] == "mse"
    r2 = nnctl("inspect", ARTICLE, "-", "--batch", "10", "--target", tmp_path / "t.csv",
               "-f", "json", input=data)
    assert json.loads(r2.out) == data_out


def test_target_rows_must_match(nnctl, tmp_path):
    (tmp_path / "x.csv").write_text("1,2,3\n" * 6)
    (tmp_path / "t.csv").write_text("1,0\n" * 4)  # (0,1 first would be a pandas header)
    r = nnctl("inspect", ARTICLE, tmp_path / "x.csv", "--target", tmp_path / "t.csv")
    assert r.code == 1 and r.out == ""
    assert r.err == f"nnctl: error: {tmp_path / 't.csv'}: the target has 4 rows, the input " \
                    "batch 6\n"
    # a longer target was cut to the input's rows without a word: misaligned files
    (tmp_path / "t.csv").write_text("1,0\n" * 7)
    r = nnctl("inspect", ARTICLE, tmp_path / "x.csv", "--target", tmp_path / "t.csv")
    assert (r.code, r.out) == (1, "")
    assert r.err == f"nnctl: error: {tmp_path / 't.csv'}: the target has more than 6 rows, " \
                    "the input 6 (a target row for each input row)\n"
    # INPUT and target longer than --batch: both cut to it, as --batch says
    r = nnctl("inspect", ARTICLE, tmp_path / "x.csv", "--target", tmp_path / "t.csv",
              "--batch", "5", "-f", "json")
    assert (r.code, json.loads(r.out)["batch"]) == (0, 5)


@pytest.mark.parametrize("args, code, message", [
    (["--compare-init", "he_normal,glorot_unifrm"], 1,
     "unknown initializer 'glorot_unifrm' (did you mean 'glorot_uniform'?)"),
    (["--compare-init", ","], 2, "--compare-init needs initializer names"),
    (["--batch", "0"], 2, "--batch"),
    (["/nonexistent/x.csv"], 1, "/nonexistent/x.csv: cannot open"),
])
def test_errors(nnctl, args, code, message):
    r = nnctl("inspect", ARTICLE, *args)
    assert r.code == code
    assert r.out == ""
    assert r.err.startswith("nnctl: error: ") and message in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_a_batch_whose_passes_cannot_fit_in_memory_is_refused_before_them():
    """--batch 20,000,000: 240 MB of inputs, but 5 GB of float64 layer values and gradients
    (the OOM killer ended `--batch 100000000` at 24 GB). Run under a 2 GiB address space so
    that a missing check fails here with a MemoryError, not by filling the machine."""
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "nnctl", "inspect", str(ARTICLE), "--batch",
                        "20000000"], capture_output=True, text=True, env=env, preexec_fn=cap,
                       timeout=120)
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    assert r.stderr.startswith("nnctl: error: inspecting a batch of 20,000,000 rows: its layer "
                               "values and gradients (float64) of shape (20000000, ") \
        and "more than the" in r.stderr and r.stderr.endswith("spare: inspect fewer rows\n"), r.stderr
    assert r.stderr.count("\n") == 1


def test_terminal_shows_a_chart():
    """On a terminal: a title, the table and the log-scale chart (run under a pty)."""
    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": "80", "LINES": "40", "TERM": "xterm", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "inspect", str(ARTICLE)],
                            stdout=child, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(main)
    out = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "my_Sequential: a batch of 256, loss = mean square of the outputs" in out
    assert "output std and weight-gradient norm per layer (log scales)" in out
    assert "█" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "\x1b[" not in out  # NO_COLOR: no escape codes


def test_terminal_compare_tables_wrap_to_the_width():
    from nnctl.cli.inspect import terminal_tables

    model = mlp("relu", "glorot_uniform", depth=3, width=8, inputs=5)
    names = ["he_normal", "glorot_uniform", "random_normal", "lecun_normal"]
    reports = inspection.compare(model, inspection.random_inputs(model, 16, 0),
                                 model.init_weights(0), names, 0)
    tables = terminal_tables(reports, True, 80)
    assert [t.groups[1][0] for t in tables] == ["he_normal", "lecun_normal"]
    assert [len(t.groups) - 1 for t in tables] == [3, 1]
    assert all(len(line) <= 80 for t in tables for line in t.lines())
    [wide] = terminal_tables(reports, True, 120)
    assert len(wide.groups) == 5


def test_weights_from_a_model_file_or_weights_option(nnctl, tmp_path):
    model_file = tmp_path / "article.npz"
    assert nnctl("build", ARTICLE, "--seed", "7", "-o", model_file).code == 0
    from_file = nnctl("inspect", model_file, "-f", "json", "--batch", "16")
    with_option = nnctl("inspect", ARTICLE, "--weights", model_file, "-f", "json",
                        "--batch", "16")
    from_seed = nnctl("inspect", ARTICLE, "--seed", "7", "-f", "json", "--batch", "16")
    assert from_file.code == with_option.code == from_seed.code == 0, from_file.err
    layers = lambda r: json.loads(r.out)["layers"]  # noqa: E731
    # the same weights (seed 7); the random batch comes from the seed (0 unless given)
    assert layers(from_file) == layers(with_option)
    assert [w["std"] for layer in layers(from_file) for w in layer["weights"]] == \
        [w["std"] for layer in layers(from_seed) for w in layer["weights"]]


def test_compare_redraws_every_kind_of_kernel():
    """--compare-init works on any layer with a kernel (Conv2D's, DepthwiseConv2D's...), not
    only on Dense layers; other weights stay."""
    model = model_from("""
        input: [6, 6, 2]
        layers:
          - {type: Conv2D, filters: 3, kernel_size: 3, activation: relu}
          - {type: DepthwiseConv2D, kernel_size: 2}
          - {type: PReLU}
          - {type: Flatten}
          - {type: Dense, units: 2}
    """)
    assert [n.name for n in inspection.kernel_layers(model)] == [
        "conv2d", "depthwise_conv2d", "dense"]
    weights = model.init_weights(0)
    redrawn = inspection.with_kernel_initializer(model, weights, "ones", seed=0)
    changed = {k for k in weights if not np.array_equal(weights[k], redrawn[k])}
    assert changed == {"conv2d/kernel", "depthwise_conv2d/kernel", "dense/kernel"}
    reports = inspection.compare(model, inspection.random_inputs(model, 8, 0), weights,
                                 ["he_normal", "glorot_uniform"], 0)
    assert [r.kernel_initializer for r in reports] == ["he_normal", "glorot_uniform"]
    assert reports[0].layer("conv2d").std != reports[1].layer("conv2d").std


MULTI_OUTPUT = """\
    inputs: {a: [5, 3], b: [5, 3]}
    layers:
      - {name: enc, type: LSTM, units: 2, return_state: true, inputs: a}
      - {call: enc, inputs: b}
    outputs: [enc, "enc[1][1]"]
    """


def test_outputs_of_a_layer_of_several_and_of_a_shared_layers_call():
    """The loss covers every output tensor: the three of `enc` named alone and output 1 of
    its second call (inspect failed on a layer of several outputs, and on a call's output)."""
    model = model_from(MULTI_OUTPUT)
    inputs = inspection.random_inputs(model, 8, 0)
    weights = model.init_weights(0)
    report = inspection.inspect(model, inputs, weights)
    assert [row.name for row in report.layers] == ["enc"]
    outputs = model.forward(inputs, weights)
    tensors = [*outputs["enc"], outputs["enc[1][1]"]]
    want = sum(float(np.mean(np.square(t, dtype=np.float64))) for t in tensors)
    assert report.loss_value == pytest.approx(want, rel=1e-5)
    assert report.layers[0].grad_norm > 0


def test_target_of_several_output_tensors(nnctl, tmp_path):
    spec = tmp_path / "multi.yaml"
    spec.write_text(textwrap.dedent(MULTI_OUTPUT))
    np.save(tmp_path / "x.npy", np.ones((4, 30), np.float32))
    np.save(tmp_path / "t.npy", np.zeros((4, 8), np.float32))   # 4 tensors of 2 values
    r = nnctl("inspect", spec, tmp_path / "x.npy", "--target", tmp_path / "t.npy", "-f", "json")
    assert r.code == 0 and r.err == "", r.err
    assert json.loads(r.out)["loss"] == "mse"
    np.save(tmp_path / "t.npy", np.zeros((4, 7), np.float32))
    r = nnctl("inspect", spec, tmp_path / "x.npy", "--target", tmp_path / "t.npy")
    assert (r.code, r.out) == (1, "")
    assert r.err.startswith("nnctl: error: ") and r.err.count("\n") == 1 and "8" in r.err


def test_a_shared_layer_whose_first_call_no_output_reads(nnctl, tmp_path):
    """Only the second call of `d` reaches the output: the loss reaches its weights through
    that call, none reaches the first call's output (inspect failed: KeyError 'd')."""
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs: {a: [3], b: [3]}\n"
                    "layers:\n"
                    "  - {name: d, type: Dense, units: 3, inputs: a}\n"
                    "  - {call: d, inputs: b}\n"
                    "outputs: ['d[1][0]']\n")
    r = nnctl("inspect", spec, "-f", "json")
    assert r.code == 0 and r.err == "", r.err
    (row,) = json.loads(r.out)["layers"]
    assert row["name"] == "d" and row["output_grad_norm"] == 0.0
    assert all(w["grad_norm"] > 0 for w in row["weights"])
