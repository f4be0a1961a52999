"""Fuzzing every command's arguments: random command lines drawn from each command's own
options (read from the click command, so a new option or command is fuzzed too) with good
values, bad values and junk, and random stdin. Each run ends with exit 0, 1 or 2, at most one
`nnctl: error:` line, no traceback, no internal error, within the time bound.

Most cases run in this process (fuzzing.run_inprocess); a few run `python -m nnctl` for real
(start-up, signals, the real stdout and stderr encodings)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fuzzing import (CASE_SECONDS, CONFIGS, SPECS, Run, check_run, checkout_env,  # noqa: F401
                     fuzz_cases, fuzz_settings, run_inprocess)

SKIPPED_OPTIONS = {"--debug"}  # --debug shows a traceback on purpose


def _command():
    from nnctl.cli import app

    return app.click_command()


COMMAND = _command()
COMMAND_NAMES = sorted(COMMAND.commands)


# --- the files the command lines refer to ----------------------------------------------------

def make_workdir(root: Path) -> None:
    """Inputs of every kind in `root` (the cwd of the fuzzed runs): good, broken, hostile."""
    from nnctl.model import load_model
    from nnctl.tabular import open_writer
    from nnctl.weights import save_model, save_weights

    root.mkdir(parents=True, exist_ok=True)
    for spec in ("article_sequential.yaml", "two_input.yaml", "batchnorm_mlp.yaml"):
        shutil.copy(CONFIGS / spec, root / spec)
    shutil.copy(SPECS / "reshapes.yaml", root / "reshapes.yaml")
    model = load_model(str(CONFIGS / "article_sequential.yaml"))
    weights = model.init_weights(seed=3)
    save_weights(root / "weights.npz", weights)
    save_model(root / "model.npz", model.spec.doc.value, weights)
    nan_weights = {k: v.copy() for k, v in weights.items()}
    nan_weights["layer1/kernel"][0, 0] = np.nan
    save_weights(root / "nan_weights.npz", nan_weights)
    other = load_model(str(CONFIGS / "two_input.yaml"))
    save_weights(root / "other_weights.npz", other.init_weights(seed=0))
    (root / "broken.yaml").write_text(
        "name: x\ninput: [3]\nlayers:\n  - {type: Dense, units: -2}\n")
    (root / "bomb.yaml").write_text("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh")))
    (root / "tagged.yaml").write_text("!!python/object/apply:os.system ['echo pwned']\n")
    (root / "empty.yaml").write_text("")
    (root / "corrupt.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (root / "pymodel.py").write_text(
        "import nnctl\n"
        "def build():\n"
        "    return nnctl.Sequential(\n"
        "        [nnctl.layers.Dense(2, activation='relu', input_shape=(3,))])\n"
        "def broken():\n"
        "    raise RuntimeError('no')\n")
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((5, 3)).astype(np.float32)
    rows[2, 1] = np.nan
    for fmt in ("csv", "tsv", "jsonl", "npy", "parquet"):
        with open_writer(str(root / f"data.{fmt}"), fmt) as out:
            out.write(rows)
    with open_writer(str(root / "wide.csv")) as out:
        out.write(rng.standard_normal((4, 22)).astype(np.float32))
    np.savez(root / "inputs.npz", record=rng.standard_normal((3, 6)),
             patch=rng.standard_normal((3, 4, 4)))
    (root / "bad.csv").write_text("1,2,3\n4,x,6\n")
    (root / "targets.csv").write_text("0,1\n1,0\n1,1\n0,0\n1,1\n")
    (root / "folder").mkdir(exist_ok=True)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-cli")
    make_workdir(root)
    return root


# --- values for each option ------------------------------------------------------------------

JUNK = ["", "-", "--", "x", "-x", "0", "-1", "1.5", "nan", "-inf", "1e309", "2" * 30, " ",
        "a,b", ",", "=", "\u00e9", "\U0001f600", "\udcff", "--nope", "-h", "folder",
        "missing.yaml", "missing.npz", "../", "/", "/dev/null"]
MODELS = ["article_sequential.yaml", "two_input.yaml", "batchnorm_mlp.yaml", "reshapes.yaml",
          "model.npz", "weights.npz", "broken.yaml", "bomb.yaml", "tagged.yaml", "empty.yaml",
          "corrupt.npz", "data.csv", "folder", "missing.yaml", "pymodel.py:build",
          "pymodel.py:broken", "pymodel.py", "pymodel.py:nope", "-"]
DATA = ["data.csv", "data.tsv", "data.jsonl", "data.npy", "data.parquet", "wide.csv", "bad.csv",
        "inputs.npz", "-", "missing.csv", "folder", "article_sequential.yaml", "model.npz",
        "corrupt.npz"]
WEIGHTS = ["weights.npz", "model.npz", "nan_weights.npz", "other_weights.npz", "corrupt.npz",
           "missing.npz", "data.npy", "folder", "article_sequential.yaml"]
OUTPUTS = ["out.csv", "out.tsv", "out.jsonl", "out.npy", "out.parquet", "out.npz", "out.svg",
           "out.dot", "out.mmd", "out.txt", "out.png", "out", "-", "/dev/null", "/dev/full",
           "folder", "missing/out.csv", "/proc/version"]
FORMATS = ["csv", "tsv", "jsonl", "json", "npy", "parquet", "npz", "text", "table", "markdown",
           "dot", "mermaid", "svg", "png", "ndjson", "CSV", "xml"]
INTS = ["0", "1", "2", "3", "7", "-1", "-0", "+5", "1000", "2147483648", "18446744073709551617",
        "99999999999999999999999", "1e3", "0x10", "1_0", "x"]
SMALL_COUNTS = ["1", "2", "3", "16", "100", "0", "-1", "-5", "10000", str(10 ** 15),
                str(2 ** 63), "1e2", "x"]
SHAPES = ["3", "3,2", "9,1", "2,3,4", "1000,100", "0", "0,3", "-1,2", "3,,2", ",", "", "a",
          "1e9,1e9", "100000,100000,100000", "99999999999999999999", "3.5", "(3, 2)", "[3,2]",
          "3 2", "2**40"]
RANGES = ["0,1", "-5,5", "-1e3,1e3", "1,0", "0,0", "nan,1", "0,inf", "-3.4e38,3.4e38", "0",
          "a,b", "1,2,3", "", "-1e309,0", "-5,-1"]
PARAMS = ["stddev=0.1", "mean=-1", "scale=2", "scale=-1", "mode=fan_out", "mode=fan_x",
          "distribution=uniform", "distribution=nope", "seed=3", "seed=-1", "seed=2e70",
          "gain=inf", "value=nan", "value=[1,2]", "minval=1", "maxval=-1", "axis=5",
          "axis=-1", "negative_slope=0.1", "negative_slope=nan", "alpha=1e309",
          "max_value=-1", "threshold=x", "approximate=true", "=1", "x", "k=", "nope=1",
          "beta=0", "order=9", "stddev=" + "[" * 3000 + "]" * 3000]
DTYPES = ["float32", "float64", "float16", "int8", "bfloat16", "x"]
VALUES = ["1", "-1", "0", "-0", "2.5", "-2.5e3", "nan", "inf", "-inf", "1e309", "-1e-46",
          "3.4028235e38", "x", "1,2", "", "--", "-x", "0x1"]


def _registry_names(kind: str) -> list[str]:
    from nnctl import activations, initializers

    registry = activations.ACTIVATIONS if kind == "activations" else initializers.INITIALIZERS
    return sorted(registry.names()) + ["relux", "HeNormal", "he-normal", "HE_NORMAL", "",
                                       "softmax2"]


POOLS = {
    "model": MODELS, "input": DATA, "weights": WEIGHTS, "output": OUTPUTS, "target": DATA,
    "format": FORMATS, "input_format": FORMATS, "output_format": FORMATS,
    "seed": INTS, "batch_size": SMALL_COUNTS, "batch": SMALL_COUNTS, "num": SMALL_COUNTS,
    "shape": SHAPES, "range_": RANGES, "param": PARAMS, "dtype": DTYPES, "values": VALUES,
    "tap": ["layer1", "layer2", "layer3", "input", "record_dense", "joined", "nope", ""],
    "rankdir": ["TB", "LR", "BT", "RL", "tb", "XY"],
    "what": ["activations", "initializers", "layers", "activation", "nope"],
    "compare_init": ["he_normal", "he_normal,glorot_uniform", "zeros,ones", "relux", ",", ""],
}
NAME_POOLS = {"init": _registry_names("initializers"), "act": _registry_names("activations")}


def values_for(command: str, param, hostile: bool) -> st.SearchStrategy:
    """Good values of this option (its own choices, the pools above) and, in hostile command
    lines, junk."""
    pool = list(NAME_POOLS.get(command) if param.name == "name" else POOLS.get(param.name, []))
    choices = getattr(getattr(param, "type", None), "choices", None)
    if choices:
        pool = [str(getattr(c, "value", c)) for c in choices]
    known = st.sampled_from(pool) if pool else st.sampled_from(JUNK)
    if not hostile:
        return known
    # argv cannot hold NUL; no "/" keeps junk output paths inside the work directory
    junk_text = st.text(max_size=6).filter(lambda t: "\x00" not in t and "/" not in t)
    return st.one_of(known, st.sampled_from(JUNK + POOLS.get(param.name, [])), junk_text)


@st.composite
def command_line(draw, name: str) -> list[str]:
    """A command line of `name`: mostly well-formed (good values, an option or two), one in
    four hostile (junk values, options repeated, moved, cut short, unknown)."""
    command = COMMAND.commands[name]
    hostile = draw(st.integers(0, 3)) == 0
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option"
               and not set(p.opts) & SKIPPED_OPTIONS and "--help" not in p.opts]
    words = []
    for param in arguments:
        if param.required or draw(st.booleans()):
            count = draw(st.integers(0, 4)) if param.nargs == -1 else 1
            words += [draw(values_for(name, param, hostile)) for _ in range(count)]
    chosen = draw(st.lists(st.sampled_from(options), max_size=4 if hostile else 3,
                           unique=not hostile)) if options else []
    chosen += [p for p in options if p.required and p not in chosen
               and (not hostile or draw(st.integers(0, 9)) > 0)]
    for param in chosen:
        flag = draw(st.sampled_from(list(param.opts) + list(param.secondary_opts)))
        if getattr(param, "is_flag", False):
            words.append(flag)
            continue
        value = draw(values_for(name, param, hostile))
        if not hostile or draw(st.integers(0, 3)):
            words += [flag, value]
        else:
            words.append(f"{flag}={value}" if flag.startswith("--") else flag + value)
    if hostile:
        if words and draw(st.integers(0, 3)) == 0:  # options and arguments in another order
            words = list(draw(st.permutations(words)))
        if draw(st.integers(0, 3)) == 0:
            words.insert(draw(st.integers(0, len(words))),
                         draw(st.sampled_from(["--nope", "-z", "--help", "-h", "--", "-"])))
        if words and draw(st.integers(0, 3)) == 0:
            words = words[:draw(st.integers(0, len(words) - 1))]  # cut short
    return [name] + words


STDIN = [b"", b"1,2,3\n4,5,6\n", b"1 2 3\n", b"nan,inf,-inf\n", b"x\n", b"1,2\n3\n",
         b"[1, 2, 3]\n", b"\x93NUMPY garbage", b"PAR1\x00\x00", b"1,2,3\n" * 2000,
         b"\xff\xfe\x00", b"0.5\n-1\n2\n", b"1,2,3,4,5,6," + b"0," * 15 + b"0\n"]


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_random_command_lines(fuzz_cases, workdir, name):
    """200 command lines per command (the loop is inside, so each command gets its own
    budget whatever the number of commands)."""

    @fuzz_settings(200)
    @given(args=command_line(name), stdin=st.sampled_from(STDIN) | st.binary(max_size=40))
    def fuzz(args, stdin):
        fuzz_cases.add("cli")
        check_run(run_inprocess(args, stdin, cwd=workdir))

    fuzz()


TOP_WORDS = COMMAND_NAMES + ["--version", "--help", "-h", "nope", "", "--debugx", "ACT", "summ",
                             "-"]


@fuzz_settings(200)
@given(args=st.lists(st.sampled_from(TOP_WORDS) | st.text(max_size=5).filter(
    lambda t: "/" not in t), max_size=3))
def test_random_top_level_words(fuzz_cases, workdir, args):
    fuzz_cases.add("cli")
    args = [a for a in args if "\x00" not in a and a != "--debug"]
    check_run(run_inprocess(args, b"", cwd=workdir))


# --- real processes --------------------------------------------------------------------------

def run_subprocess(args, stdin: bytes, cwd) -> Run:
    env = {k: v for k, v in checkout_env().items()
           if k not in ("COLUMNS", "LINES", "NNCTL_FUZZ")}
    import time

    start = time.perf_counter()
    encoded = [os.fsencode(a) for a in args]  # surrogates back to the bytes a shell passes
    proc = subprocess.run([sys.executable, "-m", "nnctl", *encoded], input=stdin,
                          capture_output=True, cwd=cwd, env=env, timeout=CASE_SECONDS * 3)
    seconds = time.perf_counter() - start
    return Run(list(args), proc.returncode, proc.stdout,
               proc.stderr.decode("utf-8", "backslashreplace"), seconds / 3)


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_random_command_lines_in_real_processes(fuzz_cases, workdir, name):
    """A few per command: the real encodings, start-up and exit path (no in-process shortcut)."""

    @fuzz_settings(3)
    @given(args=command_line(name), stdin=st.sampled_from(STDIN))
    def fuzz(args, stdin):
        fuzz_cases.add("cli-subprocess")
        check_run(run_subprocess(args, stdin, workdir))

    fuzz()


CHOSEN = [
    ["validate", "\udcff.yaml"],                        # a file name that is not UTF-8
    ["summary", "\udcff", "--format", "json"],
    ["act", "relux\n", "1"],
    ["act", "relu", "-1", "nan", "1e309", "--format", "json"],
    ["init", "he_normal", "--shape", "1e9,1e9"],
    ["forward", "article_sequential.yaml", "bad.csv"],
    ["forward", "model.npz", "data.npy", "-o", "out.parquet"],
    ["forward", "article_sequential.yaml", "--weights", "nan_weights.npz"],
    ["plot", "two_input.yaml", "--format", "png", "-o", "out.png"],
    ["lint", "tagged.yaml"],
    ["list", "nope"],
    ["inspect", "article_sequential.yaml", "--weights", "nan_weights.npz"],
    ["build", "bomb.yaml", "-o", "out.npz"],
    ["export", "article_sequential.yaml", "-o", "-"],
    ["nope"], [], ["--version"], ["forward"],
]


@pytest.mark.parametrize("args", CHOSEN, ids=lambda a: " ".join(a).encode("unicode_escape")
                         .decode() or "nothing")
def test_chosen_command_lines_in_real_processes(workdir, args):
    """Hostile command lines picked by hand, through the real start-up and exit path."""
    check_run(run_subprocess(args, b"1,2,3\nnan,inf,-inf\n", workdir))


def test_the_fuzz_budget_is_at_least_ten_thousand_cases():
    """The budgets of the fuzz tests add up to the 10,000 cases asked of the suite (the
    count actually run is printed in the pytest summary). A @fuzz_settings(n) nested in a
    test parametrized over the commands counts once per command."""
    import ast

    total = 0
    for path in Path(__file__).parent.glob("test_fuzz_*.py"):
        for test in ast.parse(path.read_text()).body:
            if not isinstance(test, ast.FunctionDef):
                continue
            for node in ast.walk(test):
                decorators = getattr(node, "decorator_list", [])
                for deco in decorators:
                    if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == \
                            "fuzz_settings":
                        total += deco.args[0].value * (len(COMMAND_NAMES) if node is not test
                                                       else 1)
    assert total >= 10_000, total
