"""Keras 3 functional files with masks: Keras records Embedding(mask_zero=True)'s mask as a
NotEqual operation passed as mask= (goldens: func_masked*, tools/golden/keras_files.py, read
by test_kerasfile.py). What is not the mask nnctl hands on itself is refused in one line."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import GOLDEN, run_nnctl
from test_kerasfile import one_error_line

KERAS = GOLDEN / "keras"


def config(stem: str) -> dict:
    return json.loads((KERAS / f"{stem}.json").read_text())


def layer(cfg: dict, name: str) -> dict:
    return next(entry for entry in cfg["config"]["layers"] if entry["name"] == name)


def mask_kwarg(cfg: dict, name: str) -> dict:
    return layer(cfg, name)["inbound_nodes"][0]["kwargs"]["mask"]["config"]


def other_value(cfg):
    layer(cfg, "not_equal")["inbound_nodes"][0]["args"][1] = 1


def as_data(cfg):
    cfg["config"]["output_layers"] = [["not_equal", 0, 0]]


def no_mask_zero(cfg):
    layer(cfg, "embed")["config"]["mask_zero"] = False


def not_a_not_equal(cfg):
    mask_kwarg(cfg, "lstm")["keras_history"] = ["embed", 0, 0]


def two_args(cfg):
    layer(cfg, "not_equal")["inbound_nodes"][0]["args"][1] = layer(
        cfg, "not_equal")["inbound_nodes"][0]["args"][0]


def another_operation(cfg):
    layer(cfg, "not_equal")["class_name"] = "ExpandDims"   # a merged mask's, e.g.


@pytest.mark.parametrize("mutate, fragments", [
    (other_value, ["layer 'lstm' is called with mask= 'not_equal' (tokens != 1)",
                   "only the mask of Embedding(mask_zero=True), tokens != 0"]),
    (as_data, ["'masked_text' reads 'not_equal' (NotEqual) as data"]),
    (no_mask_zero, ["layer 'lstm' is called with mask= 'not_equal' (tokens != 0), but no "
                    "Embedding(mask_zero=True) on tokens masks its input"]),
    (not_a_not_equal, ["layer 'lstm' is called with mask= 'embed', which is not a NotEqual"]),
    (another_operation, ["layer 'not_equal' (ExpandDims): a Keras operation (",
                         "nnctl reads none but NotEqual"]),
    (two_args, ["layer 'not_equal' (NotEqual): nnctl reads a NotEqual of one tensor and a "
                "number"]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_a_mask_nnctl_would_not_hand_on_is_refused_naming_the_layer(tmp_path, mutate,
                                                                    fragments):
    cfg = config("func_masked")
    mutate(cfg)
    (tmp_path / "m.json").write_text(json.dumps(cfg))
    one_error_line(run_nnctl("summary", "m.json", cwd=tmp_path), "m.json", *fragments)


def test_the_mask_of_another_embedding_is_refused(tmp_path):
    # right_gru reads right_embed's mask; a file that gives it left's is not what nnctl does
    cfg = config("func_masked_two")
    args = layer(cfg, "not_equal_1")["inbound_nodes"][0]["args"]
    args[0]["config"].update(keras_history=["left", 0, 0], shape=[None, 4])
    (tmp_path / "m.json").write_text(json.dumps(cfg))
    one_error_line(run_nnctl("summary", "m.json", cwd=tmp_path),
                   "layer 'right_gru' is called with mask= 'not_equal_1' (left != 0), but the "
                   "mask its input carries is right != 0")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras_file_with_masks_runs_in_the_cli_as_keras(tmp_path, suffix):
    # Keras 3.15 cannot load its own .h5 of this model back; nnctl reads it
    want = json.loads((KERAS / "func_masked.expected.json").read_text())
    rows = want["inputs"]["tokens"]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_nnctl("forward", str(KERAS / f"func_masked{suffix}"), "in.jsonl",
                       cwd=tmp_path)
    assert result.code == 0, result.err
    got = [[float(v) for v in line.split(",")] for line in result.out.splitlines()]
    np.testing.assert_allclose(got, want["outputs"][0], rtol=1e-5, atol=1e-6)


def test_converted_to_yaml_the_summary_keeps_keras_mask_names(tmp_path):
    # func_masked_two's layers list right before left, but Keras made left's mask first:
    # not_equal is left's, kept by the spec's mask_names
    want = json.loads((KERAS / "func_masked_two.expected.json").read_text())["summary"]
    result = run_nnctl("convert", str(KERAS / "func_masked_two.keras"), "-o", "m.yaml",
                       cwd=tmp_path)
    assert result.code == 0, result.err
    assert "mask_names: {left_embed: not_equal, right_embed: not_equal_1}" in \
        (tmp_path / "m.yaml").read_text()
    summary = run_nnctl("summary", "m.yaml", cwd=tmp_path)
    assert (summary.code, summary.out) == (0, want), summary.err


def other_mask_value(cfg):
    layer(cfg, "not_equal")["inbound_nodes"][0]["args"][1] = 0.0   # pad_x compares with -1.0


def kept_axis(cfg):
    layer(cfg, "any")["config"]["keepdims"] = True


def any_of_data(cfg):
    layer(cfg, "any")["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["x", 0, 0]


def mask_of_the_other_input(cfg):
    mask_kwarg(cfg, "lstm")["keras_history"] = ["any_1", 0, 0]


@pytest.mark.parametrize("mutate, fragments", [
    (other_mask_value, ["layer 'lstm' is called with mask= 'any' (x != 0.0), over the last "
                        "axis; nnctl reads such a mask only as the mask of a Masking layer"]),
    (mask_of_the_other_input, ["layer 'lstm' is called with mask= 'any_1' (y != 0.0)"]),
    (kept_axis, ["layer 'any' (Any): nnctl reads an Any over the last axis of a NotEqual"]),
    (any_of_data, ["layer 'any' (Any): nnctl reads an Any over the last axis of a NotEqual"]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_a_masking_mask_nnctl_would_not_hand_on_is_refused(tmp_path, mutate, fragments):
    """Keras records Masking's mask as Any(NotEqual(x, mask_value), axis=-1) (golden
    masking_func): read only when it is the mask of that Masking layer."""
    cfg = config("masking_func")
    mutate(cfg)
    (tmp_path / "m.json").write_text(json.dumps(cfg))
    one_error_line(run_nnctl("summary", "m.json", cwd=tmp_path), "m.json", *fragments)


def test_masking_converted_to_yaml_keeps_keras_operation_names(tmp_path):
    """A Masking's two mask operations (not_equal, any; the second Masking's not_equal_1,
    any_1) go into the spec's mask_names; the spec's summary is Keras'."""
    want = json.loads((KERAS / "masking_func.expected.json").read_text())["summary"]
    result = run_nnctl("convert", str(KERAS / "masking_func.keras"), "-o", "m.yaml",
                       cwd=tmp_path)
    assert result.code == 0, result.err
    text = (tmp_path / "m.yaml").read_text()
    assert "mask_names: {pad_x: [not_equal, any], pad_y: [not_equal_1, any_1]}" in text, text
    summary = run_nnctl("summary", "m.yaml", cwd=tmp_path)
    assert (summary.code, summary.out) == (0, want), summary.err
    renamed = text.replace("[not_equal_1, any_1]", "[not_equal_7, any_3]")
    (tmp_path / "renamed.yaml").write_text(renamed)
    again = run_nnctl("summary", "renamed.yaml", cwd=tmp_path)
    assert "│ any_3 (Any)  " in again.out and "not_equal_7[0][0]" in again.out, again.out
    wrong = text.replace("pad_y: [not_equal_1, any_1]", "proj: [not_equal_1, any_1]")
    (tmp_path / "wrong.yaml").write_text(wrong)
    one_error_line(run_nnctl("summary", "wrong.yaml", cwd=tmp_path),
                   "mask_names: 'proj' is not a Masking layer")
