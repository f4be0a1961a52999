"""Malformed specs: one error line, the right file:line:column, a helpful message, exit 1."""
from __future__ import annotations

import textwrap

import pytest

# (name, spec text, line, column, fragments the message must contain)
CASES = [
    # shared layers: `{call: NAME, inputs: ...}` calls a layer defined above it again
    ("call_of_unknown_layer", """\
        inputs: {a: [3], b: [3]}
        layers:
          - {name: shared, type: Dense, units: 2, inputs: a}
          - {call: shraed, inputs: b}
        """, 4, 12, ["`call` names 'shraed'", "did you mean 'shared'"]),
    ("call_with_other_keys", """\
        inputs: {a: [3], b: [3]}
        layers:
          - {name: shared, type: Dense, units: 2, inputs: a}
          - {call: shared, inputs: b, units: 3}
        """, 4, 31, ["unknown key 'units' in a `call` entry", "allowed: call, inputs"]),
    ("call_in_sequential", """\
        input: [3]
        layers:
          - {name: shared, type: Dense, units: 3}
          - {call: shared}
        """, 4, 12, ["`call` (a layer called again) belongs to Functional specs"]),
    ("call_on_a_shape_its_weights_do_not_fit", """\
        inputs: {a: [3], b: [5]}
        layers:
          - {name: shared, type: Dense, units: 2, inputs: a}
          - {call: shared, inputs: b}
        """, 4, 28, ["layer 'shared' is called on (None, 5)", "made for its first call, on "
                     "(None, 3)", "'kernel' would be (5, 2), it is (3, 2)"]),
    ("second_call_read_by_one_index", """\
        inputs: {a: [3], b: [3]}
        layers:
          - {name: shared, type: Dense, units: 2, inputs: a}
          - {call: shared, inputs: b}
          - {type: Add, inputs: [shared, "shared[1]"]}
        """, 5, 25, ["`shared[1]` names none of them", "call 2 of the shared layer is "
                     "`shared[1][0]`"]),
    ("call_that_does_not_exist", """\
        inputs: {a: [3], b: [3]}
        layers:
          - {name: shared, type: Dense, units: 2, inputs: a}
          - {call: shared, inputs: b}
          - {type: Add, inputs: [shared, "shared[5][0]"]}
        """, 5, 25, ["`inputs` names 'shared[5][0]'", "layer 'shared' is called 2 times: "
                     "`shared[0][0]` to `shared[1][0]`"]),
    ("call_output_misspelt", """\
        inputs: {a: [3], b: [3]}
        layers:
          - {name: shared, type: Dense, units: 2, inputs: a}
          - {call: shared, inputs: b}
        outputs: ["sharde[1][0]"]
        """, 5, 11, ["`outputs` names 'sharde[1][0]'", "did you mean 'shared[1][0]'?"]),
    ("call_of_an_input", """\
        inputs: {a: [3], b: [3]}
        layers:
          - {name: shared, type: Dense, units: 2, inputs: a}
          - {call: a, inputs: b}
        """, 4, 12, ["`call` names 'a', which is an input: `call` calls a layer again (an "
                     "input is read with `inputs:`)"]),
    ("call_of_a_merge_on_other_shapes", """\
        inputs: {a: [3], b: [3], c: [4]}
        layers:
          - {name: add, type: Add, inputs: [a, b]}
          - {call: add, inputs: [b, c]}
        """, 4, 25, ["call 2 of layer 'add' (`add[1][0]`): inputs have incompatible shapes "
                     "(None, 3) and (None, 4)"]),
    ("layer_name_like_a_reference", """\
        inputs: {a: [3]}
        layers:
          - {name: "d[1]", type: Dense, units: 3, inputs: a}
        """, 3, 12, ["a layer name may not end in `[N]` ('d[1]')", "reads output N"]),
    ("input_name_like_a_reference", """\
        inputs: {"x[0]": [3]}
        layers:
          - {type: Dense, units: 1}
        """, 1, 10, ["an input name may not end in `[N]` ('x[0]')"]),
    ("call_before_its_layer", """\
        inputs: {a: [3], b: [3]}
        layers:
          - {call: shared, inputs: b}
          - {name: shared, type: Dense, units: 2, inputs: a}
        """, 3, 12, ["`call` names 'shared', which is defined below it: a layer is called "
                     "again after its own entry"]),
    # Keras names unnamed layers dense, dense_1, ... without skipping taken names: a clash
    # is refused (as Keras refuses it), never renamed silently.
    ("default_name_taken_sequential", """\
        input: [3]
        layers:
          - {type: Dense, units: 2, name: dense_1}
          - {type: Dense, units: 2}
          - {type: Dense, units: 2}
        """, 5, 5, ["default name 'dense_1'", "Name 'dense_1' is already the name of a layer",
                    "give it a `name`"]),
    ("default_name_taken_functional", """\
        inputs: {x: [3]}
        layers:
          - {type: Dense, units: 2}
          - {type: Dense, units: 2, name: dense}
        """, 3, 5, ["default name 'dense'", 'The name "dense" is used 2 times in the model']),
    ("empty_inputs_name", """\
        inputs: {x: [4]}
        layers:
          - {name: a, type: Dense, units: 5, inputs: ''}
        """, 3, 46, ["`inputs` must be a name or a list of names"]),
    ("unknown_top_key", """\
        input: [3]
        layer:
          - {type: Dense, units: 2}
        """, 2, 1, ["unknown key 'layer'", "did you mean 'layers'", "allowed:"]),
    ("unknown_layer_arg", """\
        input: [3]
        layers:
          - {type: Dense, units: 2, activaton: relu}
        """, 3, 29, ["unknown argument 'activaton'", "did you mean 'activation'", "allowed:"]),
    ("unknown_layer_type", """\
        input: [3]
        layers:
          - {type: Dense, units: 2}
          - {type: Desne, units: 2}
        """, 4, 12, ["unknown layer type 'Desne'", "did you mean 'Dense'"]),
    ("unknown_activation", """\
        input: [3]
        layers:
          - {type: Dense, units: 2, activation: relux, name: layer2}
        """, 3, 41, ["layer 'layer2'", "unknown activation 'relux'", "did you mean 'relu'"]),
    ("unknown_initializer", """\
        input: [3]
        layers:
          - type: Dense
            units: 2
            kernel_initializer: he_normall
        """, 5, 25, ["unknown initializer 'he_normall'", "did you mean"]),
    ("negative_units", """\
        input: [3]
        layers:
          - type: Dense
            units: -2
        """, 4, 12, ["`units` must be a positive integer", "-2"]),
    ("units_not_int", """\
        input: [3]
        layers:
          - {type: Dense, units: two}
        """, 3, 26, ["`units` must be a positive integer", "'two'"]),
    ("missing_units", """\
        input: [3]
        layers:
          - {type: Dense, activation: relu}
        """, 3, 5, ["Dense needs `units`"]),
    ("missing_type", """\
        input: [3]
        layers:
          - {units: 3}
        """, 3, 5, ["no `type`"]),
    ("no_layers", """\
        input: [3]
        name: empty
        """, 1, 1, ["no `layers`"]),
    ("empty_layers", """\
        input: [3]
        layers: []
        """, 2, 9, ["non-empty list"]),
    ("no_input", """\
        layers:
          - {type: Dense, units: 2}
        """, 1, 1, ["needs `input: SHAPE`"]),
    ("bad_input_shape", """\
        input: [3, 0]
        layers:
          - {type: Dense, units: 2}
        """, 1, 12, ["positive integers", "0"]),
    ("merge_shapes", """\
        inputs: {a: [3], b: [4]}
        layers:
          - {name: da, type: Dense, units: 2, inputs: a}
          - {name: m, type: Add, inputs: [da, b]}
        """, 4, 34, ["incompatible shapes", "(None, 2)", "(None, 4)"]),
    ("concat_shapes", """\
        inputs: {a: [2, 3], b: [4, 5]}
        layers:
          - {name: c, type: Concatenate, axis: 1, inputs: [a, b]}
        """, 3, 51, ["matching shapes except along axis 1", "(None, 2, 3)", "(None, 4, 5)"]),
    ("cycle", """\
        inputs: {x: [3]}
        layers:
          - {name: a, type: Dense, units: 3, inputs: b}
          - {name: b, type: Dense, units: 3, inputs: a}
        """, 3, 46, ["cycle", "a -> b -> a"]),
    ("self_loop", """\
        inputs: {x: [3]}
        layers:
          - {name: a, type: Dense, units: 3, inputs: a}
        """, 3, 46, ["cycle", "a -> a"]),
    ("dangling", """\
        inputs: {x: [3]}
        layers:
          - {name: a, type: Dense, units: 3, inputs: x}
          - {name: b, type: Dense, units: 3, inputs: aa}
        """, 4, 46, ["'aa'", "neither an input nor a layer", "did you mean 'a'"]),
    ("dangling_output", """\
        inputs: {x: [3]}
        layers:
          - {name: a, type: Dense, units: 3}
        outputs: [b]
        """, 4, 11, ["`outputs` names 'b'"]),
    ("duplicate_name", """\
        input: [3]
        layers:
          - {type: Dense, units: 3, name: a}
          - {type: Dense, units: 3, name: a}
        """, 4, 35, ["duplicate layer name 'a'"]),
    ("duplicate_key", """\
        input: [3]
        layers:
          - {type: Dense, units: 3, units: 4}
        """, 3, 29, ["duplicate key 'units'"]),
    ("reshape_mismatch", """\
        input: [12]
        layers:
          - {type: Reshape, target_shape: [5, -1]}
        """, 3, 35, ["cannot reshape", "(12,)", "(5, -1)"]),
    ("two_minus_ones", """\
        input: [12]
        layers:
          - {type: Reshape, target_shape: [-1, -1]}
        """, 3, 35, ["only one dimension"]),
    ("dropout_rate", """\
        input: [3]
        layers:
          - {type: Dropout, rate: 1.5}
        """, 3, 27, ["`rate` must be <= 1", "1.5"]),
    ("bad_axis", """\
        input: [3]
        layers:
          - {type: BatchNormalization, axis: 3}
        """, 3, 38, ["axis 3 is out of bounds"]),
    ("sequential_with_inputs_key", """\
        input: [3]
        layers:
          - {type: Dense, units: 2, inputs: x}
        """, 3, 37, ["belongs to Functional specs"]),
    ("both_inputs", """\
        input: [3]
        inputs: {x: [3]}
        layers:
          - {type: Dense, units: 2}
        """, 1, 8, ["either `input`", "not both"]),
    ("bad_dtype", """\
        dtype: float16
        input: [3]
        layers:
          - {type: Dense, units: 2}
        """, 1, 8, ["`dtype` must be one of float32, float64"]),
    ("merge_one_input", """\
        inputs: {x: [3]}
        layers:
          - {name: s, type: Add, inputs: [x]}
        """, 3, 5, ["at least 2 inputs"]),
    ("dense_two_inputs", """\
        inputs: {x: [3], y: [3]}
        layers:
          - {name: d, type: Dense, units: 2, inputs: [x, y]}
        """, 3, 46, ["takes one input", "merge them first"]),
    ("several_inputs_no_inputs_key", """\
        inputs: {x: [3], y: [3]}
        layers:
          - {name: d, type: Dense, units: 2}
        """, 3, 5, ["several inputs", "say which with `inputs:`"]),
    ("python_tag", """\
        input: [3]
        layers: !!python/object/apply:os.system ["echo pwned"]
        """, 2, 9, ["unsupported YAML tag"]),
    ("yaml_syntax", """\
        input: [3]
        layers:
          - {type: Dense, units: 3
        """, 4, 1, ["invalid YAML"]),
    # a tab where YAML wants spaces (an editor's indentation): the error now says so
    ("tab_indent", "input: [3]\nlayers:\n\t- {type: Dense, units: 3}\n", 3, 1,
     ["invalid YAML: found character that cannot start any token (a tab: YAML indents with "
      "spaces)\n"]),
    ("tab_in_block", "input: [3]\nlayers:\n  - type: Dense\n  \tunits: 3\n", 4, 3,
     ["invalid YAML: found a tab character that violates indentation\n"]),
    ("not_a_mapping", """\
        - just
        - a list
        """, 1, 1, ["a spec is a mapping"]),
    ("trainable_not_bool", """\
        input: [3]
        layers:
          - {type: Dense, units: 2, trainable: maybe}
        """, 3, 40, ["`trainable` must be true or false"]),
    ("activation_bad_param", """\
        input: [3]
        layers:
          - {type: Dense, units: 2, activation: {type: leaky_relu, slope: 0.1}}
        """, 3, 41, ["slope"]),
    # augmentation factors out of Keras' range: Keras refuses to make (or load) the layer
    ("contrast_factor_above_one", """\
        input: [8, 8, 3]
        layers:
          - {type: RandomContrast, factor: 1.5}
        """, 3, 36, ["`factor` must be a number or [low, high] in [0, 1]", "got 1.5"]),
    ("zoom_factor_pair_above_one", """\
        input: [8, 8, 3]
        layers:
          - {type: RandomZoom, height_factor: [0.2, 1.1]}
        """, 3, 39, ["`height_factor` must be a number or [low, high] in (-1, 1]"]),
    ("translation_factor_below_minus_one", """\
        input: [8, 8, 3]
        layers:
          - {type: RandomTranslation, height_factor: 0.1, width_factor: -1.5}
        """, 3, 65, ["`width_factor` must be a number or [low, high] in [-1, 1]"]),
    ("brightness_factor_pair_outside", """\
        input: [8, 8, 3]
        layers:
          - {type: RandomBrightness, factor: [1.5, 2]}
        """, 3, 38, ["`factor` must be a number or [low, high] in [-1, 1]"]),
]


@pytest.mark.parametrize("name,text,line,column,fragments", CASES, ids=[c[0] for c in CASES])
def test_malformed_spec(nnctl, tmp_path, name, text, line, column, fragments):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(textwrap.dedent(text))
    r = nnctl("validate", spec)
    assert r.code == 1, r.err
    assert r.out == ""
    assert r.err.count("\n") == 1 and "Traceback" not in r.err, r.err
    location = str(spec) if line is None else f"{spec}:{line}:{column}"
    assert r.err.startswith(f"nnctl: error: {location}: "), r.err
    for fragment in fragments:
        assert fragment in r.err, (fragment, r.err)


def test_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_alias_bomb_is_refused_quickly(nnctl, tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    spec = tmp_path / "bomb.yaml"
    spec.write_text("\n".join(lines) + "\n")
    r = nnctl("validate", spec)
    assert r.code == 1 and "alias bomb" in r.err and r.err.count("\n") == 1


def test_yaml_merge_keys_reuse_a_layers_arguments(nnctl, tmp_path):
    """`<<: *hidden` (YAML's merge key, which PyYAML's safe loader reads): the keys given
    beside it win; an error in a merged value points at the line that wrote it."""
    (tmp_path / "merged.yaml").write_text(textwrap.dedent("""\
        name: m
        input: [3]
        layers:
          - &hidden {type: Dense, units: 4, activation: relu, kernel_initializer: he_normal}
          - {<<: *hidden, name: a}
          - <<: [{use_bias: false}, *hidden]
            units: 5
          - {type: Dense, units: 1}
        """))
    (tmp_path / "plain.yaml").write_text(textwrap.dedent("""\
        name: m
        input: [3]
        layers:
          - {type: Dense, units: 4, activation: relu, kernel_initializer: he_normal}
          - {type: Dense, units: 4, activation: relu, kernel_initializer: he_normal, name: a}
          - {type: Dense, units: 5, activation: relu, kernel_initializer: he_normal,
             use_bias: false}
          - {type: Dense, units: 1}
        """))
    merged = nnctl("summary", tmp_path / "merged.yaml")
    assert (merged.code, merged.err) == (0, "")
    assert merged.out == nnctl("summary", tmp_path / "plain.yaml").out
    (tmp_path / "bad.yaml").write_text("input: [3]\nlayers:\n  - {<<: 3, type: Dense}\n")
    r = nnctl("validate", tmp_path / "bad.yaml")
    assert (r.code, r.err) == (1, f"nnctl: error: {tmp_path / 'bad.yaml'}:3:10: a merge key "
                                  "`<<` takes a mapping or a list of mappings\n")
    (tmp_path / "typo.yaml").write_text(
        "input: [3]\nlayers:\n  - &d {type: Dense, units: 2, activation: relux}\n"
        "  - {<<: *d}\n")
    r = nnctl("validate", tmp_path / "typo.yaml")
    assert r.code == 1 and r.err.startswith(f"nnctl: error: {tmp_path / 'typo.yaml'}:3:"), r.err


def test_missing_file(nnctl, tmp_path):
    r = nnctl("summary", tmp_path / "nope.yaml")
    assert r.code == 1
    assert r.err == f"nnctl: error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_debug_shows_traceback(nnctl, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("input: [3]\nlayers:\n  - {type: Dense, units: -1}\n")
    r = nnctl("--debug", "validate", spec)
    assert r.code == 1 and "Traceback" in r.err


def test_yaml_float_strings_are_numbers(nnctl, tmp_path):
    spec = tmp_path / "eps.yaml"
    spec.write_text("input: [3]\nlayers:\n  - {type: BatchNormalization, epsilon: 1e-5}\n")
    r = nnctl("validate", spec)
    assert (r.code, r.err) == (0, "")


def test_validate_reports_every_independent_error_in_file_order(nnctl, tmp_path):
    spec = tmp_path / "many.yaml"
    spec.write_text("inputs: {a: [3], b: [4]}\nlayers:\n"
                    "  - {name: x, type: Dense, units: 3, activation: relux, inputs: a}\n"
                    "  - {name: y, type: Dense, units: 4, inputs: b}\n"
                    "  - {name: z, type: Dense, units: 0, inputs: y}\n"
                    "  - {name: w, type: Add, inputs: [x, y]}\n"      # depends on broken x: skipped
                    "  - {name: v, type: Add, inputs: [a, y]}\n"
                    "  - {name: out, type: Concatenate, inputs: [w, v, nope]}\n")
    r = nnctl("validate", spec)
    assert r.code == 1 and r.out == ""
    lines = r.err.splitlines()
    assert [line.split(": ")[2].split(":")[1] for line in lines] == ["3", "5", "7", "8"]
    assert "unknown activation 'relux'" in lines[0] and "got 0" in lines[1]
    assert "incompatible shapes (None, 3) and (None, 4)" in lines[2]
    assert "names 'nope'" in lines[3]
    assert all(line.startswith("nnctl: error: ") for line in lines)


def test_validate_skips_the_calls_of_a_broken_shared_layer(nnctl, tmp_path):
    spec = tmp_path / "shared.yaml"
    spec.write_text("inputs: {a: [3], b: [3]}\nlayers:\n"
                    "  - {name: shared, type: Dense, units: 0, inputs: a}\n"
                    "  - {call: shared, inputs: b}\n"                 # broken with it: skipped
                    "  - {name: other, type: Dense, unitz: 2, inputs: a}\n"
                    "  - {name: sum, type: Add, inputs: [shared, 'shared[1][0]']}\n"
                    "  - {call: other, inputs: c}\n")
    r = nnctl("validate", spec)
    assert r.code == 1 and r.out == ""
    lines = r.err.splitlines()
    assert [line.split(": ")[2].split(":")[1] for line in lines] == ["3", "5"]
    assert "got 0" in lines[0] and "unknown argument 'unitz'" in lines[1]


def test_a_missing_model_file_names_the_one_meant(nnctl, tmp_path):
    """A typo in a file name, or the extension left out, was only 'no such file'."""
    (tmp_path / "article_sequential.yaml").write_text(
        "input: [3]\nlayers:\n  - {type: Dense, units: 2}\n")
    (tmp_path / "notes.txt").write_text("article_sequentia\n")   # not a model's name
    for given in ("article_sequental.yaml", "article_sequential", "article_sequential.yml"):
        r = nnctl("summary", given, cwd=tmp_path)
        assert (r.code, r.out, r.err) == (1, "", f"nnctl: error: {given}: no such file (did "
                                                 "you mean 'article_sequential.yaml'?)\n")
    r = nnctl("summary", tmp_path / "other.yaml")     # nothing close: no guess
    assert r.err == f"nnctl: error: {tmp_path / 'other.yaml'}: no such file\n"
    r = nnctl("summary", "article_sequentia", cwd=tmp_path)
    assert r.err == "nnctl: error: article_sequentia: no such file (did you mean " \
                    "'article_sequential.yaml'?)\n"


def test_validate_checks_every_model_given(nnctl, tmp_path):
    """`nnctl validate configs/*.yaml`, as a CI job writes it, was a usage error ('Got
    unexpected extra argument(s)'): each file is checked, its errors one line each."""
    good = tmp_path / "good.yaml"
    good.write_text("input: [3]\nlayers:\n  - {type: Dense, units: 2}\n")
    typo = tmp_path / "typo.yaml"
    typo.write_text("input: [3]\nlayers:\n  - {type: Dens, units: 2}\n")
    two = tmp_path / "two.yaml"
    two.write_text("input: [3]\nlayers:\n  - {type: Dense, units: 0}\n  - {type: Dense, unitz: 1}\n")
    r = nnctl("validate", good, good)
    assert (r.code, r.out, r.err) == (0, "", "")
    r = nnctl("validate", typo, good, tmp_path / "missing.yaml", two, tmp_path)
    assert (r.code, r.out) == (1, "")
    assert r.err.splitlines() == [
        f"nnctl: error: {typo}:3:12: unknown layer type 'Dens' (did you mean 'Dense'?)",
        f"nnctl: error: {tmp_path / 'missing.yaml'}: no such file",
        f"nnctl: error: {two}:3:26: layer 'dense': `units` must be a positive integer, got 0",
        f"nnctl: error: {two}:4:19: layer 'dense_1': unknown argument 'unitz' for Dense (did "
        "you mean 'units'?); allowed: units, activation, use_bias, kernel_initializer, "
        "bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer, "
        "kernel_constraint, bias_constraint, name, trainable, dtype",
        f"nnctl: error: {tmp_path}: is a directory, not a spec file"]


def test_validate_stops_at_twenty_errors(nnctl, tmp_path):
    spec = tmp_path / "many.yaml"
    spec.write_text("input: [3]\nlayers:\n" + "  - {type: Dense, units: -1}\n" * 30)
    r = nnctl("validate", spec)
    assert r.code == 1 and len(r.err.splitlines()) == 20
