"""Fuzzing the spec reader and the model engine behind it: the example specs mutated as text
(keys, values, types, indentation, truncation, stray bytes) and as trees, and random mappings.
Every case either gives a model that summarizes, lints, draws and runs, or an NnctlError."""
from __future__ import annotations

import json
import os
import re
import tempfile

import numpy as np
import yaml
from hypothesis import given, strategies as st

from fuzzing import SPEC_FILES, engine_case, fuzz_cases, fuzz_settings  # noqa: F401

TEXTS = {p.name: p.read_text() for p in SPEC_FILES}
TREES = {name: yaml.safe_load(text) for name, text in TEXTS.items()}

# The spec vocabulary, so that mutations land on names the reader knows as well as junk.
KEYS = ["name", "input", "inputs", "layers", "outputs", "dtype", "seed", "type", "units",
        "activation", "use_bias", "kernel_initializer", "bias_initializer", "rate", "axis",
        "epsilon", "momentum", "center", "scale", "target_shape", "trainable", "negative_slope",
        "mode", "distribution", "value", "mean", "stddev", "minval", "maxval", "gamma_initializer",
        "moving_variance_initializer", "data_format", "noise_shape", "max_value", "threshold",
        "beta_initializer", "kernel_regularizer", "alpha", "unknown_key", "", "__spec__"]
LAYER_TYPES = ["Dense", "Activation", "Dropout", "Flatten", "Reshape", "Add", "Subtract",
               "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "BatchNormalization",
               "LayerNormalization", "InputLayer", "Conv2D", "dense", "batch_normalization"]
NAMES = ["relu", "sigmoid", "softmax", "tanh", "gelu", "leaky_relu", "he_normal", "glorot_uniform",
         "zeros", "ones", "orthogonal", "variance_scaling", "constant", "linear", "elu", "selu",
         "hard_sigmoid", "log_softmax", "relux", "identity", "truncated_normal", "fan_in",
         "fan_avg",
         "uniform", "normal", "float16", "float64", "float32", "input", "layer1", "dense", "cat"]
# YAML scalars and fragments that are numbers, specials, or break the syntax
TOKENS = ["0", "1", "2", "3", "-1", "-3", "16", "0.5", "-0.0", "1e-7", "1e308", "1e999",
          ".nan", ".inf", "-.inf", "nan", "1e12", "2147483648", "9223372036854775808",
          "10000000000000000000000000000000000000", "0x10", "0o17", "1_000", "true", "false",
          "yes", "no", "null", "~", "''", '""', "[]", "{}", "[3, 4]", "[0]", "[-1]", "[3, null]",
          "{type: relu}", "[", "]", "{", "}", ":", "- ", "&a", "*a", "*nope", "!!str", "!!int",
          "!!binary", "!!python/object/apply:os.system ['true']", "!!python/name:os.system",
          "!!set {a, b}", "!!timestamp 2001-12-14", "!custom x", "%YAML 1.1", "---", "...",
          "|", ">", "#", "'unterminated", '"\\x00"', '"\\ud800"', "\t", "@", "`", "\u00e9",
          "\u202e", "\U0001f600", "2001-12-14", "<<: {units: 3}"]


def _spec_path(tmpdir: str) -> str:
    return os.path.join(tmpdir, "fuzz.yaml")


def exercise(path: str):
    """Everything the commands do with a spec, through the engine: read, build (or the partial
    model of a broken one, as `summary` shows), summarize, lint, draw, initialize, run."""
    from nnctl import forward as engine
    from nnctl import lint, summary
    from nnctl.errors import SpecError
    from nnctl.model import GraphBuilder
    from nnctl.plot import draw
    from nnctl.spec import read_spec

    spec = read_spec(path)
    builder = GraphBuilder(spec)
    try:
        builder.build()
    except SpecError as exc:
        partial = builder.partial_model()
        data = summary.summarize(partial, error=str(exc))
        summary.to_json(data)
        summary.to_markdown(data)
        raise
    model = builder.model()
    data = summary.summarize(model)
    json.loads(summary.to_json(data, macs=True, batch=2))
    summary.to_markdown(data, show_trainable=True, macs=True, batch=1)
    for finding in lint.lint(model):
        str(finding)
    draw(model, "text", width=60)
    draw(model, "mermaid")
    if model.total_params > 200_000:
        return model  # a legitimately large model: building the weights is slow, not wrong
    weights = model.check_weights(model.init_weights(seed=1), source="init")
    try:
        widths = engine.input_widths(model)
    except SpecError:
        return model  # free dimensions: no rows of data for it
    if sum(widths.values()) > 100_000:
        return model
    rows = np.random.default_rng(0).standard_normal((2, sum(widths.values())))
    rows[0, 0] = np.nan
    out = list(engine.run(model, weights, [rows.astype(model.dtype)]))
    assert out[0].shape[0] == 2
    return model


def check_spec_text(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _spec_path(tmp)
        with open(path, "wb") as f:
            f.write(data)
        engine_case(exercise, path)


# --- text mutations --------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|-?\d+(?:\.\d*)?(?:e-?\d+)?|\[|\]|\{|\}|:|,|-")


@st.composite
def mutated_text(draw) -> bytes:
    text = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["token", "token", "token", "key", "line", "indent",
                                   "truncate", "insert", "swap"]))
        lines = text.split("\n")
        if op in ("token", "key"):
            spans = [m.span() for m in _TOKEN.finditer(text)]
            if not spans:
                continue
            start, end = draw(st.sampled_from(spans))
            pool = TOKENS + NAMES + LAYER_TYPES if op == "token" else KEYS
            new = draw(st.sampled_from(pool) | st.text(max_size=6))
            text = text[:start] + new + text[end:]
        elif op == "line":
            k = draw(st.integers(0, len(lines) - 1))
            how = draw(st.sampled_from(["delete", "duplicate", "blank"]))
            lines[k:k + 1] = {"delete": [], "duplicate": [lines[k]] * 2, "blank": [""]}[how]
            text = "\n".join(lines)
        elif op == "indent":
            k = draw(st.integers(0, len(lines) - 1))
            indent = draw(st.sampled_from(["", " ", "  ", "    ", "\t", "      - "]))
            lines[k] = indent + lines[k].lstrip()
            text = "\n".join(lines)
        elif op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif op == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=8) | st.sampled_from(TOKENS)) + text[at:]
        else:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # bytes that are not UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


@fuzz_settings(1500)
@given(data=mutated_text())
def test_mutated_spec_text(fuzz_cases, data):
    fuzz_cases.add("spec")
    check_spec_text(data)


# --- tree mutations --------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-5, 20)
           | st.sampled_from([0, -1, 10 ** 12, 2 ** 63, 10 ** 40, -(2 ** 31)])
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
           | st.sampled_from(NAMES + LAYER_TYPES + KEYS))
values = st.recursive(scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=4), max_leaves=10)


def _paths(tree, path=()):
    yield path
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, path + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _paths(v, path + (i,))


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def mutated_tree(draw):
    tree = json.loads(json.dumps(TREES[draw(st.sampled_from(sorted(TREES)))]))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(tree))
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent, key = _get(tree, path[:-1]), path[-1]
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "wrap", "number"]))
        if op == "replace":
            parent[key] = draw(values)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = draw(values)
        elif op == "add":
            parent.insert(key, draw(values))
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"type": parent[key]}]))
        elif isinstance(parent[key], int) and not isinstance(parent[key], bool):
            parent[key] = parent[key] + draw(st.sampled_from([-1, 1, -100, 10 ** 6, 10 ** 15]))
    return tree


def _dump(tree, style: str) -> bytes:
    if style == "json":  # JSON is YAML too, and keeps NaN/Infinity as YAML reads them
        return json.dumps(tree).encode()
    return yaml.safe_dump(tree, default_flow_style=style == "flow", allow_unicode=True).encode()


@fuzz_settings(1500)
@given(tree=mutated_tree(), style=st.sampled_from(["block", "flow", "json"]))
def test_mutated_spec_tree(fuzz_cases, tree, style):
    fuzz_cases.add("spec")
    check_spec_text(_dump(tree, style))


@fuzz_settings(300)
@given(tree=mutated_tree())
def test_mutated_spec_in_a_model_file(fuzz_cases, tree):
    """The same trees as a model file's `__spec__` (JSON inside an .npz)."""
    from nnctl.weights import spec_bytes

    fuzz_cases.add("spec")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        np.savez(path, __spec__=spec_bytes(tree))
        engine_case(exercise, path)


# --- random documents ------------------------------------------------------------------------

layer = st.fixed_dictionaries(
    {"type": st.sampled_from(LAYER_TYPES)},
    optional={"units": st.integers(-2, 6) | scalars, "activation": st.sampled_from(NAMES) | values,
              "name": st.sampled_from(NAMES) | st.text(max_size=4),
              "inputs": st.sampled_from(NAMES) | st.lists(st.sampled_from(NAMES), max_size=3),
              "axis": st.integers(-4, 4), "target_shape": st.lists(st.integers(-1, 6), max_size=3),
              "rate": st.floats(-1, 2), "trainable": scalars, "use_bias": scalars,
              "kernel_initializer": st.sampled_from(NAMES) | values})
shape = st.integers(-1, 8) | st.lists(st.integers(-1, 8) | st.none(), max_size=3) | scalars
document = st.fixed_dictionaries(
    {"layers": st.lists(layer, max_size=5) | values},
    optional={"input": shape, "inputs": st.dictionaries(st.sampled_from(NAMES), shape, max_size=3),
              "name": scalars, "dtype": st.sampled_from(["float32", "float64"]) | scalars,
              "outputs": st.lists(st.sampled_from(NAMES), max_size=2) | scalars,
              "seed": scalars})


@fuzz_settings(800)
@given(doc=document | values, style=st.sampled_from(["block", "flow", "json"]))
def test_random_spec_documents(fuzz_cases, doc, style):
    fuzz_cases.add("spec")
    check_spec_text(_dump(doc, style))


@fuzz_settings(400)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(
    lambda t: t.encode("utf-8", "surrogatepass")))
def test_random_bytes_as_a_spec(fuzz_cases, data):
    fuzz_cases.add("spec")
    check_spec_text(data)
