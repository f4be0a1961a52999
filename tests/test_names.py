"""Names read from a spec, a model file or Python are shown on terminals and written into
files: control characters (NUL, ESC, newline, C1) and names longer than the documented limit
are refused at their place in the spec, before anything is built or written."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_nnctl

MAX_NAME_LENGTH = 255   # docs/limits.md

BAD_NAMES = {
    "nul": ("a\x00b", "U+0000 at character 2"),
    "escape": ("\x1b[2J\x1b[31mred", "U+001B at character 1"),
    "newline": ("two\nlines", "U+000A at character 4"),
    "c1": ("x\x85y", "U+0085 at character 2"),
    "delete": ("x\x7f", "U+007F at character 2"),
    "bidi": ("ab\u202ecd", "U+202E at character 3"),   # right-to-left override
    "arabic-letter-mark": ("ab\u061ccd", "U+061C at character 3"),   # a bidi control too
    "too-long": ("n" * 70_000, "70,000 characters long, more than the 255 allowed"),
    # Keras refuses it; nnctl took it and wrote .keras files Keras could not open
    "slash": ("a/kernel", "cannot contain the character '/', got 'a/kernel' (Keras refuses "
                          "it: it separates the parts of a weight's path, LAYER/WEIGHT)"),
}


def one_error_line(result, *fragments) -> str:
    assert result.code == 1, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), result.err
    assert "internal error" not in result.err and "\x1b" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def sequential(layer_name: str, model_name: str = "m") -> str:
    return (f"name: {json.dumps(model_name)}\ninput: [3]\nlayers:\n"
            f"  - {{type: Dense, units: 2}}\n"
            f"  - {{type: Dense, units: 1, name: {json.dumps(layer_name)}}}\n")


@pytest.mark.parametrize("kind", sorted(BAD_NAMES))
def test_a_bad_layer_name_is_refused_at_its_place(tmp_path, kind):
    name, detail = BAD_NAMES[kind]
    (tmp_path / "s.yaml").write_text(sequential(name))
    for command in ("validate", "summary"):
        one_error_line(run_nnctl(command, "s.yaml", cwd=tmp_path), "s.yaml:5:", "a layer name",
                       detail)


def test_a_bad_name_never_replaces_a_good_model(tmp_path):
    (tmp_path / "good.yaml").write_text(sequential("out"))
    assert run_nnctl("build", "good.yaml", "-o", "m.npz", cwd=tmp_path).code == 0
    before = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "s.yaml").write_text(sequential("a\x00b"))
    one_error_line(run_nnctl("build", "s.yaml", "-o", "m.npz", cwd=tmp_path), "U+0000")
    assert (tmp_path / "m.npz").read_bytes() == before


@pytest.mark.parametrize("kind", ["escape", "too-long"])
def test_a_bad_model_name_is_refused(tmp_path, kind):
    name, detail = BAD_NAMES[kind]
    (tmp_path / "s.yaml").write_text(sequential("out", model_name=name))
    one_error_line(run_nnctl("summary", "s.yaml", cwd=tmp_path), "s.yaml:1:7",
                   "the model's name", detail)


def test_a_slash_in_a_name_is_refused_in_python_when_the_layer_is_made():
    import nnctl

    with pytest.raises(ValueError, match=r"^Dense: `name` cannot contain the character '/', "
                                         r"got 'a/b' \(Keras refuses it"):
        nnctl.layers.Dense(2, name="a/b")
    with pytest.raises(ValueError, match=r"^Input: `name` cannot contain the character '/'"):
        nnctl.Input(shape=(3,), name="x/y")
    with pytest.raises(ValueError, match=r"^InputLayer: `name` cannot contain the character"):
        nnctl.layers.InputLayer(shape=(3,), name="x/y")
    # a model's too when it is made, as Keras (it was taken until built: an empty Sequential)
    with pytest.raises(ValueError, match=r"^Sequential: `name` cannot contain the character "
                                         r"'/'"):
        nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)], name="s/t")
    with pytest.raises(ValueError, match=r"^Sequential: `name` cannot contain the character"):
        nnctl.Sequential(name="m/x")
    x = nnctl.Input((2,))
    with pytest.raises(ValueError, match=r"^Model: `name` cannot contain the character '/'"):
        nnctl.Model(x, nnctl.layers.Dense(1)(x), name="f/g")


def test_a_bad_input_name_is_refused(tmp_path):
    (tmp_path / "s.yaml").write_text('inputs: {"in\\e[1m": [3]}\nlayers:\n'
                                     "  - {type: Dense, units: 1}\n")
    one_error_line(run_nnctl("summary", "s.yaml", cwd=tmp_path), "s.yaml:1:",
                   "an input name", "U+001B")


def test_a_name_at_the_limit_is_taken(tmp_path):
    (tmp_path / "s.yaml").write_text(sequential("n" * MAX_NAME_LENGTH))
    result = run_nnctl("build", "s.yaml", "-o", "m.npz", cwd=tmp_path)
    assert result.code == 0, result.err
    assert run_nnctl("summary", "m.npz", cwd=tmp_path).code == 0


def test_a_model_file_carrying_a_bad_name_is_refused(tmp_path):
    (tmp_path / "s.yaml").write_text(sequential("out"))
    assert run_nnctl("build", "s.yaml", "-o", "m.npz", cwd=tmp_path).code == 0
    with np.load(tmp_path / "m.npz") as data:
        arrays = {k: data[k] for k in data.files}
    spec = json.loads(arrays["__spec__"].tobytes())
    spec["layers"][1]["name"] = "\x1b]0;owned\x07"
    arrays["__spec__"] = np.frombuffer(json.dumps(spec).encode(), np.uint8)
    arrays = {k.replace("out/", "\x1b]0;owned\x07/"): v for k, v in arrays.items()}
    np.savez(tmp_path / "evil.npz", **arrays)
    # the archive's entry names are checked first, from its zip directory
    one_error_line(run_nnctl("summary", "evil.npz", cwd=tmp_path), "evil.npz",
                   "entry '\\x1b]0;owned\\x07/kernel' is not a weight name")
    np.savez(tmp_path / "evil.npz", **{k: v for k, v in arrays.items() if "owned" not in k})
    one_error_line(run_nnctl("summary", "evil.npz", cwd=tmp_path), "evil.npz",
                   "a layer name cannot contain control characters")


def test_warnings_and_notes_are_escaped_for_the_terminal(capsys, monkeypatch):
    from nnctl.cli import console

    console.warn("layer '\x1b[2Jx' does not lead to any output")
    monkeypatch.setattr(console, "stderr_is_terminal", lambda: True)
    console.message("wrote \x1b]0;title\x07.npz")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[2Jx" in err and "\\x1b]0;title\\x07" in err


def test_a_wrapped_layers_name_is_checked_too(nnctl, tmp_path):
    """The fuzzer's `layer: {type: LSTM, name: [null]}` inside a Bidirectional was an
    internal error ('list' object has no attribute 'removeprefix')."""
    for name, message in (("[null]", "the wrapped layer's `name` must be text, got [None]"),
                          ('"a\\x1bb"', "the wrapped layer's name cannot contain control")):
        spec = tmp_path / "bi.yaml"
        spec.write_text("input: [5, 3]\nlayers:\n"
                        f"  - {{type: Bidirectional, layer: {{type: LSTM, units: 2, name: {name}}}}}\n")
        r = nnctl("validate", spec)
        assert r.code == 1 and r.err.count("\n") == 1 and message in r.err, r.err
        assert r.err.startswith(f"nnctl: error: {spec}:3:")


ESCAPED_NAME_SOURCES = {   # a model whose layer is named "a<ESC>[31mRED", from each kind of file
    "m.yaml": sequential("a\x1b[31mRED"),
    "m.json": json.dumps({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "name": "in"}},
        {"class_name": "Dense", "config": {"name": "a\x1b[31mRED", "units": 2}}]}}),
    "m.py": "import nnctl as keras\n\ndef make():\n    return keras.Sequential([keras.Input((3,)), "
            "keras.layers.Dense(2, name='a\\x1b[31mRED')])\n",
}


@pytest.mark.parametrize("file", sorted(ESCAPED_NAME_SOURCES))
def test_no_command_prints_a_name_with_control_characters(tmp_path, file):
    """Every command that prints names (summary, plot, inspect, lint, validate), whatever kind
    of file the model comes from: the name is refused, and the error shows it escaped."""
    from fuzzing import run_inprocess

    (tmp_path / file).write_text(ESCAPED_NAME_SOURCES[file])
    model = f"{file}:make" if file.endswith(".py") else file
    for command in ("summary", "plot", "inspect", "lint", "validate"):
        run = run_inprocess([command, model], cwd=tmp_path)
        assert run.code == 1 and run.out == b"", (command, run.err)
        assert "\x1b" not in run.err and "'a\\x1b[31mRED' (U+001B at character 2)" in run.err, \
            (command, run.err)


def test_a_name_too_long_for_a_zip_entry_is_refused_at_build(tmp_path):
    """The issue's case: a 70,000-character name was 'internal error: ushort format requires
    ...' at build (a zip entry's name has at most 65,535 bytes); it is refused at its place."""
    from fuzzing import run_inprocess

    (tmp_path / "s.yaml").write_text(sequential("n" * 70_000))
    for command in (["build", "s.yaml", "-o", "m.npz"], ["convert", "s.yaml", "-o", "m.keras"]):
        run = run_inprocess(command, cwd=tmp_path)
        assert run.code == 1 and run.err.startswith("nnctl: error: s.yaml:5:"), run.err
        assert "70,000 characters long, more than the 255 allowed" in run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]
