"""Summaries equal Keras 3's: facts and piped text, against goldens made with Keras."""
from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from conftest import CONFIGS, GOLDEN, SPECS, run_nnctl
from nnctl import summary as summaries
from nnctl.model import GraphBuilder, build_model, load_model
from nnctl.render import print_summary_table
from nnctl.spec import read_spec

SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))
IDS = [p.stem for p in SPEC_FILES]


def golden(stem, suffix):
    return (GOLDEN / "summaries" / f"{stem}{suffix}").read_text()


def piped_table(path, **options) -> str:
    data = summaries.summarize(load_model(str(path)))
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=False, no_color=True,
                      highlight=False)
    print_summary_table(data, console, width=summaries.table_width(data, 80, options.get(
        "show_trainable", False)), **options)
    return buffer.getvalue()


def test_there_are_enough_architectures():
    assert len(SPEC_FILES) >= 16  # 6 configs + at least 10 more architectures


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_facts_equal_keras(path):
    want = json.loads(golden(path.stem, ".json"))
    data = json.loads(summaries.to_json(summaries.summarize(load_model(str(path)))))
    assert data["name"] == want["name"]
    assert data["type"] == want["type"]
    got_layers = [(r["name"], r["type"], r["output_shape"], r["params"], r["trainable_params"],
                   r["non_trainable_params"]) for r in data["layers"]]
    want_layers = [(r["name"], r["type"], r["output_shape"], r["params"], r["trainable_params"],
                    r["non_trainable_params"]) for r in want["layers"]
                   if not (want["type"] == "Sequential" and r["type"] == "InputLayer")]
    assert got_layers == want_layers
    for key in ("total_params", "trainable_params", "non_trainable_params"):
        assert data[key] == want[key], key


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_weight_names_and_shapes_equal_keras(path):
    want = json.loads(golden(path.stem, ".json"))
    expected = {f"{r['name']}/{w}": tuple(shape)
                for r in want["layers"] for w, shape in r["weights"].items()}
    got = {k: tuple(w.shape) for k, (_, w) in load_model(str(path)).weight_specs().items()}
    assert got == expected


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_piped_table_equals_keras(path):
    assert piped_table(path) == golden(path.stem, ".txt")


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_show_trainable_equals_keras(path):
    assert piped_table(path, show_trainable=True) == golden(path.stem, ".trainable.txt")


def test_article_sequential_cli(nnctl):
    r = nnctl("summary", CONFIGS / "article_sequential.yaml")
    assert r.code == 0, r.err
    assert r.err == ""
    assert r.out == golden("article_sequential", ".txt")
    assert " Total params: 26 (104.00 B)\n" in r.out
    assert " Trainable params: 26 (104.00 B)\n" in r.out
    assert " Non-trainable params: 0 (0.00 B)\n" in r.out
    assert "\x1b[" not in r.out  # no color when piped
    assert max(len(line) for line in r.out.splitlines()) == 76


def test_functional_cli_and_chain_rule(nnctl):
    r = nnctl("summary", CONFIGS / "article_functional.yaml")
    assert r.code == 0, r.err
    assert r.out == golden("article_functional", ".txt")
    assert "input (InputLayer)" in r.out and "Connected to" not in r.out
    r = nnctl("summary", CONFIGS / "two_input.yaml")
    assert "Connected to" in r.out and r.out == golden("two_input", ".txt")


def test_json_format(nnctl):
    r = nnctl("summary", CONFIGS / "two_input.yaml", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert set(data) == {"name", "type", "layers", "total_params", "trainable_params",
                         "non_trainable_params", "total_bytes"}
    assert data["type"] == "Functional"
    joined = next(layer for layer in data["layers"] if layer["name"] == "joined")
    assert joined["connected_to"] == ["record_dense", "patch_dense"]
    assert joined["connected_tensors"] == ["record_dense[0][0]", "patch_dense[0][0]"]
    assert joined["output_shape"] == [None, 16]
    assert set(joined) == {"name", "type", "output_shape", "params", "trainable_params",
                           "non_trainable_params", "connected_to", "connected_tensors"}
    assert data["total_bytes"] == data["total_params"] * 4


def test_json_names_the_call_and_the_output_each_layer_reads(nnctl, tmp_path):
    """connected_to names the layers; connected_tensors says which call and which output, as
    Keras' Connected to column: a shared layer's second call, a layer's second output."""
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs: {a: [3], b: [3]}\n"
                    "layers:\n"
                    "  - {name: shared, type: Dense, units: 4, inputs: a}\n"
                    "  - {call: shared, inputs: b}\n"
                    "  - {name: merged, type: Concatenate, inputs: [shared, 'shared[1][0]']}\n")
    r = nnctl("summary", spec, "--format", "json")
    assert r.code == 0, r.err
    layers = {layer["name"]: layer for layer in json.loads(r.out)["layers"]}
    assert layers["merged"]["connected_to"] == ["shared", "shared"]
    assert layers["merged"]["connected_tensors"] == ["shared[0][0]", "shared[1][0]"]
    assert layers["shared"]["connected_tensors"] == ["a[0][0]", "b[0][0]"]
    assert layers["a"]["connected_tensors"] == []


def test_markdown_format(nnctl):
    r = nnctl("summary", CONFIGS / "article_sequential.yaml", "--format", "markdown")
    assert r.code == 0, r.err
    assert "| layer1 (Dense) | (None, 3) | 12 |" in r.out
    assert "- Total params: 26 (104.00 B)" in r.out


def test_markdown_escapes_what_markdown_would_read_in_a_name(nnctl, tmp_path):
    """A layer named `<b>x` made the rest of its row bold on GitHub, `*d*` italic: names are
    escaped (and `|`, as before); `dense_1` and the tensor indexes stay as written."""
    spec = tmp_path / "names.yaml"
    spec.write_text('name: _m_\ninputs: {"<b>x": [3]}\nlayers:\n'
                    '  - {type: Dense, units: 3, name: "*d*"}\n'
                    '  - {type: Dense, units: 3, name: dense_1, inputs: "<b>x"}\n'
                    '  - {type: Add, name: "a|b&c", inputs: ["*d*", dense_1]}\n')
    r = nnctl("summary", spec, "--format", "markdown")
    assert (r.code, r.err) == (0, "")
    assert r.out.splitlines()[:8] == [
        '**Model: "\\_m\\_"**', "",
        "| Layer (type) | Output Shape | Param # | Connected to |",
        "|:---|:---|---:|:---|",
        "| \\<b\\>x (InputLayer) | (None, 3) | 0 | - |",
        "| \\*d\\* (Dense) | (None, 3) | 12 | \\<b\\>x[0][0] |",
        "| dense_1 (Dense) | (None, 3) | 12 | \\<b\\>x[0][0] |",
        "| a\\|b\\&c (Add) | (None, 3) | 0 | \\*d\\*[0][0], dense_1[0][0] |"]


def test_float64_bytes():
    data = summaries.summarize(load_model(str(SPECS / "float64.yaml")))
    assert data.total_bytes == data.total_params * 8


def test_frozen_and_batchnorm_accounting():
    data = summaries.summarize(load_model(str(SPECS / "frozen.yaml")))
    rows = {r.name: r for r in data.rows}
    assert rows["frozen_base"].trainable_params == 0
    assert rows["frozen_base"].non_trainable_params == 8 * 16 + 16
    bn = rows["batch_normalization"]
    assert (bn.trainable_params, bn.non_trainable_params) == (32, 32)


def test_macs_and_activation_memory(nnctl):
    data = summaries.summarize(load_model(str(CONFIGS / "article_sequential.yaml")))
    assert [r.macs for r in data.rows] == [9, 6, 4]
    assert data.total_macs == 19
    r = nnctl("summary", CONFIGS / "article_sequential.yaml", "--macs", "--batch", "10",
              "--format", "json")
    out = json.loads(r.out)
    assert out["total_macs"] == 190 and out["batch"] == 10   # every figure is the batch's
    assert [layer["macs"] for layer in out["layers"]] == [90, 60, 40]
    assert out["activation_bytes"] == (3 + 2 + 2) * 4 * 10
    r = nnctl("summary", CONFIGS / "softmax_classifier.yaml", "--macs")
    assert r.code == 0, r.err
    assert "Total MACs: 109,184 (batch of 1)" in r.out   # 784*128 + 128*64 + 64*10
    assert "MACs" in r.out.splitlines()[2]


def test_rank3_dense_macs():
    model = load_model(str(SPECS / "rank3_dense.yaml"))
    data = summaries.summarize(model)
    assert data.rows[0].macs == 5 * 7 * 4


def test_broken_spec_prints_rows_before_the_error(nnctl, tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text("name: broken\n"
                    "input: [3]\n"
                    "layers:\n"
                    "  - {type: Dense, units: 4, name: ok1}\n"
                    "  - {type: Dense, units: 2, name: ok2}\n"
                    "  - {type: Dense, units: 2, activation: relux, name: bad}\n"
                    "  - {type: Dense, units: 1}\n")
    r = nnctl("summary", spec)
    assert r.code == 1
    assert "ok1 (Dense)" in r.out and "ok2 (Dense)" in r.out and "bad" not in r.out
    assert r.err.count("\n") == 1
    assert r.err.startswith(f"nnctl: error: {spec}:6:")
    assert "relux" in r.err and "did you mean 'relu'" in r.err


def test_validate_is_silent_on_valid_specs(nnctl):
    for path in sorted(CONFIGS.glob("*.yaml")):
        r = nnctl("validate", path)
        assert (r.code, r.out, r.err) == (0, "", ""), path


def test_layer_order_follows_keras_depth_rule():
    model = build_model(read_spec(str(SPECS / "diamond.yaml")))
    assert [n.name for n in model.layers] == ["x", "left1", "left2", "right1", "left3",
                                             "join", "skip", "total", "out"]


def test_unused_layer_is_left_out_with_a_warning(nnctl, tmp_path):
    spec = tmp_path / "unused.yaml"
    spec.write_text("inputs: {x: [2]}\nlayers:\n"
                    "  - {name: a, type: Dense, units: 2, inputs: x}\n"
                    "  - {name: b, type: Dense, units: 2, inputs: x}\n"
                    "outputs: [b]\n")
    r = nnctl("summary", spec, "--format", "json")
    assert r.code == 0
    assert [layer["name"] for layer in json.loads(r.out)["layers"]] == ["x", "b"]
    assert "layer 'a' does not lead to any output" in r.err


def test_an_unused_call_of_a_shared_layer_is_named_as_the_spec_writes_it(nnctl, tmp_path):
    spec = tmp_path / "unused.yaml"
    spec.write_text("inputs: {x: [2], y: [2]}\nlayers:\n"
                    "  - {name: d, type: Dense, units: 2, inputs: x}\n"
                    "  - {call: d, inputs: y}\n"
                    "  - {name: out, type: Dense, units: 1, inputs: d}\n")
    r = nnctl("summary", spec, "--format", "json")
    assert r.code == 0
    assert r.err == ("nnctl: warning: call 2 of layer 'd' (`d[1][0]`) does not lead to any "
                     "output; it is left out of the model\n")


def test_partial_builder_keeps_built_nodes():
    import textwrap

    from nnctl.spec import parse_spec
    from nnctl.yamlpos import load_yaml

    doc = load_yaml(textwrap.dedent("""\
        inputs: {x: [3]}
        layers:
          - {name: a, type: Dense, units: 2}
          - {name: b, type: Add, inputs: [a, x]}
        """), "t.yaml")
    builder = GraphBuilder(parse_spec(doc))
    with pytest.raises(Exception):
        builder.build()
    assert list(builder.partial_model().nodes) == ["x", "a"]


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_macs_for_a_batch_are_one_set_of_numbers_in_every_format(nnctl, fmt):
    """Per-layer MACs and the totals are for the batch, in the table, Markdown and JSON."""
    r = nnctl("summary", CONFIGS / "residual_mlp.yaml", "--macs", "--batch", "1000",
              "--show-trainable", "--format", fmt)
    assert r.code == 0, r.err
    if fmt == "json":
        out = json.loads(r.out)
        assert out["layers"][1]["macs"] == 512_000 and out["total_macs"] == 2_656_000
    else:
        assert "512,000" in r.out and "1,024,000" in r.out and "2,656,000" in r.out


def test_show_trainable_adds_the_column_to_json_as_to_the_table(nnctl):
    """--show-trainable changed the table and Markdown, and was ignored by --format json."""
    spec = CONFIGS / "batchnorm_mlp.yaml"
    table = nnctl("summary", spec, "--show-trainable").out
    column = [line.split("│")[-2].strip() for line in table.splitlines()
              if line.startswith("│") and line.split("│")[-2].strip()]
    r = nnctl("summary", spec, "--show-trainable", "--format", "json")
    assert (r.code, r.err) == (0, "")
    assert [layer["trainable"] for layer in json.loads(r.out)["layers"]] == column
    assert set(column) == {"Y", "-"}
    plain = json.loads(nnctl("summary", spec, "--format", "json").out)
    assert "trainable" not in plain["layers"][0]


def test_the_macs_table_cuts_no_number_at_76_columns(nnctl):
    r = nnctl("summary", CONFIGS / "article_sequential.yaml", "--macs", "--show-trainable",
              "--batch", "100000000")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert max(len(line) for line in lines) == 76
    assert "Trainable" in lines[2] and "…" not in r.out
    assert "900,000,000" in r.out and "Total MACs: 1,900,000,000 (batch of 100000000)" in r.out


def test_batch_without_macs_is_a_usage_error(nnctl):
    r = nnctl("summary", CONFIGS / "article_sequential.yaml", "--batch", "8")
    assert r.code == 2 and r.err == ("nnctl: error: --batch goes with --macs (the MACs and "
                                     "activation memory of a batch)\n")


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_a_broken_spec_prints_its_rows_then_the_error_and_no_totals(nnctl, tmp_path, fmt):
    spec = tmp_path / "broken.yaml"
    spec.write_text("input: [3]\nlayers:\n  - {type: Dense, units: 3}\n"
                    "  - {type: Dense, units: 2, activation: relux}\n")
    r = nnctl("summary", spec, "--format", fmt)
    assert r.code == 1
    assert "dense (Dense)" in r.out or '"name": "dense"' in r.out
    assert "Total params" not in r.out and "total_params" not in r.out
    assert r.err.endswith("unknown activation 'relux' (did you mean 'relu'?)\n")


def test_a_long_title_wraps_at_80_columns_as_keras_when_piped(tmp_path):
    """Keras prints the title on an 80-column console: tests/api_scripts/summary_options.py
    has Keras' text for this name."""
    name = "a_model_whose_name_is_long_enough_to_wrap_the_title_of_its_summary_at_eighty_columns"
    spec = tmp_path / "long.yaml"
    spec.write_text(f"name: {name}\ninput: [8]\nlayers:\n  - {{type: Dense, units: 4}}\n")
    result = run_nnctl("summary", spec)
    assert result.code == 0, result.err
    keras = (GOLDEN / "api_scripts" / "summary_options.txt").read_text().splitlines()
    assert result.out.splitlines()[:3] == keras[:3]
    assert keras[2] == 'lumns"'
