"""nnctl lint: every rule fires where the article says it should, and only there."""
from __future__ import annotations

import json
import textwrap

import pytest

from conftest import CONFIGS
from nnctl.lint import RULES, lint
from nnctl.model import build_model
from nnctl.spec import parse_spec
from nnctl.yamlpos import load_yaml


def spec_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def findings_of(text: str, source="net.yaml"):
    return lint(build_model(parse_spec(load_yaml(spec_text(text), source))))


def dense_stack(activations, initializer="he_normal", units=None):
    units = units or [16] * len(activations)
    rows = "".join(f"  - {{type: Dense, units: {u}, activation: {a}, "
                   f"kernel_initializer: {initializer}}}\n"
                   for a, u in zip(activations, units))
    return f"input: [8]\nlayers:\n{rows}"


# Each rule: specs where it fires (with how often) and specs where it must not.
CASES = {
    "softmax-one-unit": {
        "fires": [(dense_stack(["relu", "softmax"], units=[16, 1]), 1),
                  ("""
                   input: [4]
                   layers:
                     - {type: Dense, units: 1, kernel_initializer: he_normal}
                     - {type: Activation, activation: log_softmax}
                   """, 1)],
        "quiet": [dense_stack(["relu", "softmax"], units=[16, 3]),
                  dense_stack(["relu", "sigmoid"], units=[16, 1])],
    },
    "sigmoid-stack": {
        "fires": [(dense_stack(["sigmoid"] * 5, units=[16, 16, 16, 16, 1]), 1),
                  (dense_stack(["sigmoid", "relu", "sigmoid", "sigmoid", "sigmoid", "sigmoid"],
                               units=[16] * 5 + [1]), 1)],
        "quiet": [dense_stack(["sigmoid"] * 4, units=[16, 16, 16, 1]),
                  # five sigmoids, but never more than three on one path
                  ("""
                   inputs: {x: [4]}
                   layers:
                     - {name: a1, type: Dense, units: 4, activation: sigmoid, inputs: x}
                     - {name: a2, type: Dense, units: 4, activation: sigmoid}
                     - {name: a3, type: Dense, units: 4, activation: sigmoid}
                     - {name: b1, type: Dense, units: 4, activation: sigmoid, inputs: x}
                     - {name: b2, type: Dense, units: 4, activation: sigmoid}
                     - {name: out, type: Add, inputs: [a3, b2]}
                   """)],
    },
    "saturating-hidden": {
        "fires": [(dense_stack(["tanh", "relu", "relu", "linear"], initializer="he_normal"), 1),
                  # two layers: one finding naming both
                  (dense_stack(["sigmoid", "sigmoid", "relu", "sigmoid"], units=[16, 16, 16, 1]),
                   1)],
        "quiet": [dense_stack(["sigmoid", "sigmoid", "sigmoid"], units=[16, 16, 1]),  # shallow
                  dense_stack(["relu", "relu", "relu", "sigmoid"], units=[16, 16, 16, 1])],
    },
    "relu-init": {
        "fires": [("""
                   input: [8]
                   layers:
                     - {type: Dense, units: 16, activation: relu}
                     - {type: Dense, units: 1}
                   """, 1),
                  (dense_stack(["leaky_relu", "linear"], initializer="glorot_normal"), 1),
                  ("""
                   input: [64]
                   layers:
                     - type: Dense
                       units: 16
                       kernel_initializer: {type: random_normal, stddev: 0.05}
                     - {type: Activation, activation: relu}
                     - {type: Dense, units: 1, kernel_initializer: he_normal}
                   """, 1)],
        "quiet": [dense_stack(["relu", "linear"], initializer="he_normal"),
                  dense_stack(["relu", "linear"], initializer="he_uniform"),
                  # random_normal of std 0.5: He asks for sqrt(2/8) = 0.5
                  dense_stack(["relu", "linear"],
                              initializer="{type: random_normal, stddev: 0.5}"),
                  dense_stack(["tanh", "linear"], initializer="glorot_uniform")],
    },
    "linear-network": {
        "fires": [("""
                   input: [8]
                   layers:
                     - {type: Dense, units: 16}
                     - {type: Dropout, rate: 0.1}
                     - {type: Dense, units: 16, activation: linear}
                     - {type: BatchNormalization}
                     - {type: Dense, units: 1}
                   """, 1),
                  # a Dense applied to its own output, the last entry a call: the output
                  # is that call's (`step[1][0]`)
                  ("""
                   inputs: {x: [4]}
                   layers:
                     - {name: step, type: Dense, units: 4, inputs: x}
                     - {call: step, inputs: step}
                   """, 1)],
        "quiet": ["input: [8]\nlayers: [{type: Dense, units: 1}]\n",  # linear regression
                  dense_stack(["linear", "relu", "linear"]),
                  ("""
                   inputs: {x: [4]}
                   layers:
                     - {name: a, type: Dense, units: 4, inputs: x}
                     - {name: b, type: Dense, units: 4, inputs: x}
                     - {name: gated, type: Multiply, inputs: [a, b]}
                     - {name: out, type: Dense, units: 1}
                   """)],
    },
    "sigmoid-multi-unit": {
        "fires": [(dense_stack(["relu", "sigmoid"], units=[16, 3]), 1),
                  # the output is a shared layer's second call (`head[1][0]`): said once
                  ("""
                   inputs: {a: [4], b: [4]}
                   layers:
                     - {name: head, type: Dense, units: 3, activation: sigmoid,
                        kernel_initializer: glorot_uniform, inputs: a}
                     - {call: head, inputs: b}
                     - {call: head, inputs: a}
                   outputs: [head, "head[2][0]"]
                   """, 1)],
        "quiet": [dense_stack(["relu", "sigmoid"], units=[16, 1]),
                  dense_stack(["sigmoid", "softmax"], units=[16, 3])],  # hidden: not an output
    },
    "recurrent-activation": {
        "fires": [("""
                   input: [10, 4]
                   layers:
                     - {type: LSTM, units: 4, recurrent_activation: relu, return_sequences: true}
                     - {type: Bidirectional, layer: {type: GRU, units: 2,
                                                     recurrent_activation: tanh}}
                   """, 2)],
        "quiet": ["""
                  input: [10, 4]
                  layers:
                    - {type: LSTM, units: 4, return_sequences: true}
                    - {type: GRU, units: 2, recurrent_activation: hard_sigmoid}
                  """],
    },
    "long-simple-rnn": {
        "fires": [("""
                   input: {shape: [150], dtype: int32}
                   layers:
                     - {type: Embedding, input_dim: 50, output_dim: 4}
                     - {type: SimpleRNN, units: 4, return_sequences: true}
                     - {type: Bidirectional, layer: {type: SimpleRNN, units: 2}}
                   """, 2)],
        "quiet": ["input: [99, 3]\nlayers: [{type: SimpleRNN, units: 4}]\n",
                  "input: [500, 3]\nlayers: [{type: GRU, units: 4}]\n",
                  # a deep stack after an LSTM: its cell's tanh is not a hidden tanh layer
                  """
                  input: [20, 3]
                  layers:
                    - {type: LSTM, units: 8}
                    - {type: Dense, units: 8, activation: relu, kernel_initializer: he_normal}
                    - {type: Dense, units: 8, activation: relu, kernel_initializer: he_normal}
                    - {type: Dense, units: 8, activation: relu, kernel_initializer: he_normal}
                    - {type: Dense, units: 1}
                  """],
    },
    "unused-input": {
        "fires": [("""
                   inputs: {a: [3], b: [2], c: [4]}
                   layers:
                     - {name: x, type: Dense, units: 1, inputs: a}
                   """, 2)],
        "quiet": ["inputs: {a: [3], b: [2]}\nlayers:\n"
                  "  - {name: j, type: Concatenate, inputs: [a, b]}\n",
                  "input: [3]\nlayers: [{type: Dense, units: 1}]\n"],
    },
}


def test_every_rule_has_cases():
    assert set(CASES) == set(RULES)


FIRING = [(rule, i) for rule, case in CASES.items() for i in range(len(case["fires"]))]
QUIET = [(rule, i) for rule, case in CASES.items() for i in range(len(case["quiet"]))]


@pytest.mark.parametrize("rule, i", FIRING, ids=[f"{r}-{i}" for r, i in FIRING])
def test_rule_fires(rule, i):
    text, times = CASES[rule]["fires"][i]
    found = [f for f in findings_of(text) if f.rule == rule]
    assert len(found) == times, [f.text() for f in findings_of(text)]
    for f in found:
        assert f.level == RULES[rule].level
        assert f.layer and f.message.startswith((f"layer '{f.layer}': ", f"input '{f.layer}': "))
        assert f.fix and f.source == "net.yaml" and f.line and f.column


@pytest.mark.parametrize("rule, i", QUIET, ids=[f"{r}-{i}" for r, i in QUIET])
def test_rule_stays_quiet(rule, i):
    text = CASES[rule]["quiet"][i]
    assert [f.text() for f in findings_of(text) if f.rule == rule] == []


def test_positions_point_at_the_argument():
    text = """
        input: [8]
        layers:
          - {type: Dense, units: 16, activation: relu, kernel_initializer: glorot_normal}
          - type: Dense
            units: 1
            activation: softmax
        """
    found = {f.rule: f for f in findings_of(text)}
    assert (found["relu-init"].line, found["relu-init"].column) == (3, 68)
    assert (found["softmax-one-unit"].line, found["softmax-one-unit"].column) == (6, 17)
    # an argument left at its default: the layer itself
    found = findings_of("input: [8]\nlayers:\n  - {type: Dense, units: 4, activation: relu}\n")
    assert (found[0].line, found[0].column) == (3, 5)
    assert "glorot_uniform kernels (the default)" in found[0].message


def test_saturating_hidden_is_said_once_naming_every_layer():
    text = dense_stack(["sigmoid", "tanh", "relu", "sigmoid", "linear"], initializer="he_normal")
    [f] = [f for f in findings_of(text) if f.rule == "saturating-hidden"]
    assert (f.layer, f.layers, f.line, f.column) == ("dense", ["dense", "dense_1", "dense_3"],
                                                     3, 42)
    assert f.message == (
        "layer 'dense': 3 hidden sigmoid and tanh layers in a network 5 Dense layers deep "
        "(dense, dense_1, dense_3): sigmoid passes at most 1/4 of the gradient and tanh "
        "saturates for |x| > 2, so gradients vanish towards the input")
    [f] = [f for f in findings_of(dense_stack(["relu", "tanh", "relu", "linear"]))
           if f.rule == "saturating-hidden"]
    assert (f.layer, f.layers) == ("dense_1", ["dense_1"])
    assert f.message == ("layer 'dense_1': hidden tanh in a network 4 Dense layers deep: it "
                         "saturates for |x| > 2, so gradients vanish towards the input")


def test_path_findings_list_their_layers():
    text = dense_stack(["sigmoid"] * 5, units=[16, 16, 16, 16, 1])
    [f] = [f for f in findings_of(text) if f.rule == "sigmoid-stack"]
    assert f.layers == ["dense", "dense_1", "dense_2", "dense_3", "dense_4"]
    [f] = findings_of(dense_stack(["linear"] * 3))
    assert (f.rule, f.layers) == ("linear-network", ["dense", "dense_1", "dense_2"])


def test_relu_init_reports_the_numbers():
    text = dense_stack(["relu", "linear"], initializer="{type: random_normal, stddev: 0.05}")
    [f] = [f for f in findings_of(text) if f.rule == "relu-init"]
    assert "std 0.05" in f.message and "0.5 for fan_in 8" in f.message
    assert "10-fold" in f.message


def test_the_articles_networks():
    """He-initialized relu hidden layers pass; the 2-unit sigmoid output is a question."""
    seq = lint(build_model(parse_spec(load_yaml(
        (CONFIGS / "article_sequential.yaml").read_text(), "a.yaml"))))
    assert [(f.rule, f.level, f.layer) for f in seq] == [("sigmoid-multi-unit", "info", "layer3")]
    func = lint(build_model(parse_spec(load_yaml(
        (CONFIGS / "article_functional.yaml").read_text(), "f.yaml"))))
    assert [(f.rule, f.layer) for f in func] == [("relu-init", "layer1"), ("relu-init", "layer2"),
                                                 ("sigmoid-multi-unit", "layer3")]


# --- the command ---------------------------------------------------------------------------------

def write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(spec_text(text))
    return path


def test_cli_text_and_exit_status_for_an_error(nnctl, tmp_path):
    path = write(tmp_path, dense_stack(["relu", "softmax"], units=[16, 1]))
    r = nnctl("lint", path)
    assert r.code == 1
    assert r.err == ""
    assert r.out == (
        f"{path}:4:41: error: layer 'dense_1': softmax over 1 unit is always 1.0, whatever "
        "the input (fix: for a binary output use 1 unit with activation: sigmoid; for N "
        "classes use N units with softmax) [softmax-one-unit]\n")


def test_cli_warnings_exit_zero(nnctl, tmp_path):
    path = write(tmp_path, dense_stack(["relu", "linear"], initializer="glorot_uniform"))
    r = nnctl("lint", path)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}:3:") and ": warning: layer 'dense': relu after " \
        "glorot_uniform kernels" in lines[0] and lines[0].endswith(" [relu-init]")


def test_cli_clean_network(nnctl, tmp_path):
    path = write(tmp_path, dense_stack(["relu", "relu", "softmax"], units=[16, 16, 3]))
    r = nnctl("lint", path)
    assert (r.code, r.out, r.err) == (0, "", "")


def test_cli_json(nnctl, tmp_path):
    path = write(tmp_path, dense_stack(["sigmoid"] * 5 + ["softmax"], units=[8] * 5 + [1]))
    r = nnctl("lint", path, "--format", "json")
    assert r.code == 1
    data = json.loads(r.out)
    assert set(data) == {"model", "file", "findings", "counts"}
    assert data["counts"] == {"error": 2, "warning": 1, "info": 0}
    assert {f["rule"] for f in data["findings"]} == \
        {"sigmoid-stack", "saturating-hidden", "softmax-one-unit"}
    first = data["findings"][0]
    assert set(first) == {"rule", "level", "message", "fix", "layer", "layers", "source",
                          "line", "column"}
    assert first["source"] == str(path) and isinstance(first["line"], int)


def test_cli_model_file_has_no_positions(nnctl, tmp_path):
    path = write(tmp_path, dense_stack(["relu", "softmax"], units=[16, 1]))
    model_file = tmp_path / "net.npz"
    assert nnctl("build", path, "-o", model_file).code == 0
    r = nnctl("lint", model_file)
    assert r.code == 1
    assert r.out.startswith(f"{model_file}: error: layer 'dense_1': softmax over 1 unit")


def test_cli_broken_spec(nnctl, tmp_path):
    path = write(tmp_path, "input: [3]\nlayers:\n  - {type: Dense, units: 2, activation: relux}\n")
    r = nnctl("lint", path)
    assert r.code == 1 and r.out == ""
    assert r.err.startswith(f"nnctl: error: {path}:3:") and "did you mean 'relu'" in r.err


def test_cli_lints_every_model_given(nnctl, tmp_path):
    """`nnctl lint configs/*.yaml` was a usage error: the findings of each file in order, the
    JSON an array of each file's object, exit 1 for an error finding or a file not read."""
    clean = write(tmp_path, dense_stack(["relu", "relu", "softmax"], units=[16, 16, 3]), "a.yaml")
    warned = write(tmp_path, dense_stack(["relu", "linear"], initializer="glorot_uniform"),
                   "b.yaml")
    broken = write(tmp_path, dense_stack(["relu", "softmax"], units=[16, 1]), "c.yaml")
    r = nnctl("lint", clean, warned)
    assert (r.code, r.err) == (0, "")
    assert [line.split(": ")[0] for line in r.out.splitlines()] == [f"{warned}:3:68"]
    r = nnctl("lint", broken, tmp_path / "missing.yaml", warned)
    assert r.code == 1
    assert [line.split(": ")[:2] for line in r.out.splitlines()] == [
        [f"{broken}:4:41", "error"], [f"{warned}:3:68", "warning"]]
    assert r.err == f"nnctl: error: {tmp_path / 'missing.yaml'}: no such file\n"
    r = nnctl("lint", clean, broken, "--format", "json")
    assert r.code == 1
    data = json.loads(r.out)
    assert [(d["file"], d["counts"]["error"]) for d in data] == [(str(clean), 0), (str(broken), 1)]
    assert set(json.loads(nnctl("lint", clean, "--format", "json").out)) == {
        "model", "file", "findings", "counts"}      # one MODEL: its object, as before


def test_cli_fail_on_sets_the_level_that_fails(nnctl, tmp_path):
    """A CI job that allows no warning had no way to fail on one: --fail-on warning."""
    warned = write(tmp_path, dense_stack(["relu", "linear"], initializer="glorot_uniform"))
    info = CONFIGS / "article_sequential.yaml"      # one info finding (sigmoid over 2 units)
    assert nnctl("lint", warned).code == 0
    r = nnctl("lint", warned, "--fail-on", "warning")
    assert (r.code, r.err) == (1, "") and ": warning: " in r.out
    assert nnctl("lint", info, "--fail-on", "warning").code == 0
    assert nnctl("lint", info, "--fail-on", "info").code == 1
    r = nnctl("lint", info, "--fail-on", "warn")
    assert (r.code, r.out) == (2, "")
    assert r.err.startswith("nnctl: error: Invalid value for '--fail-on': 'warn' is not one of")


def test_cli_bad_format(nnctl):
    r = nnctl("lint", CONFIGS / "article_sequential.yaml", "--format", "xml")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("nnctl: error: ")


def test_rules_see_any_layer_with_a_kernel():
    """Conv2D kernels count as Dense ones do: depth, the initializer for relu (also through a
    ReLU layer), a path of several kernel types named as weight layers."""
    found = findings_of("""
        input: [12, 12, 1]
        layers:
          - {type: Conv2D, filters: 4, kernel_size: 3}
          - {type: ReLU}
          - {type: Conv2D, filters: 4, kernel_size: 3, activation: tanh}
          - {type: MaxPooling2D}
          - {type: Conv2D, filters: 4, kernel_size: 3, activation: tanh}
          - {type: Flatten}
          - {type: Dense, units: 8, activation: tanh, kernel_initializer: lecun_normal}
          - {type: Dense, units: 3, activation: softmax}
    """)
    assert [(f.rule, f.layer) for f in found] == [("relu-init", "conv2d"),
                                                  ("saturating-hidden", "conv2d_1")]
    relu, saturating = found
    assert relu.message == ("layer 'conv2d': relu (in 're_lu') after glorot_uniform kernels "
                            "(the default): Glorot suits linear and tanh units; relu drops "
                            "about half the variance, so activations shrink layer by layer")
    assert relu.fix == "kernel_initializer: he_normal"
    assert "in a network 5 weight layers deep" in saturating.message
    assert saturating.layers == ["conv2d_1", "conv2d_2", "dense"]


def test_an_unused_functional_input_is_a_finding(nnctl, tmp_path):
    spec = tmp_path / "unused.yaml"
    spec.write_text("inputs: {a: [3], b: [4, 2]}\nlayers:\n"
                    "  - {name: x, type: Dense, units: 3, activation: relu, "
                    "kernel_initializer: he_normal, inputs: a}\n")
    r = nnctl("lint", spec)
    assert r.code == 0, r.err
    assert r.out == (f"{spec}:1:21: warning: input 'b': feeds no layer, yet every row still "
                     "carries its 8 column(s), read and thrown away (fix: connect it "
                     "(inputs: b) or remove it from `inputs:`) [unused-input]\n")


def test_a_python_models_fixes_are_spelled_in_python(nnctl):
    from conftest import ROOT

    r = nnctl("lint", f"{ROOT / 'examples' / 'article_sequential.py'}:model")
    assert r.code == 0, r.err
    assert 'activation="softmax"' in r.out and "activation: softmax" not in r.out


def test_python_fix_spelling():
    from nnctl.lint import python_fix

    assert python_fix("activation: relu, kernel_initializer: he_normal") == \
        'activation="relu", kernel_initializer="he_normal"'
    assert python_fix("type: LSTM or type: GRU") == "layers.LSTM(...) or layers.GRU(...)"
    assert python_fix("use 1 unit with units: 1") == "use 1 unit with units=1"
