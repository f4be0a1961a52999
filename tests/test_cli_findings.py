"""What a new user's first session with nnctl found on the command line: binary output on a
terminal, Parquet column names, .npy streamed to stdout, a model file piped into `forward -`,
and --help that reads well in 80 and 60 columns."""
from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import CONFIGS, ROOT, run_nnctl
from nnctl.cli.commands import COMMANDS
from test_cli_conventions import run_tty

ARTICLE = CONFIGS / "article_functional.yaml"   # 3 inputs -> layer3: 2 outputs


def write_csv(path, rows, header=None):
    lines = ([",".join(header)] if header else []) + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_parquet(data: bytes):
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "m.npz"
    assert run_nnctl("build", ARTICLE, "--seed", "3", "-o", path).code == 0
    return path


# ---------------------------------------------------------------------------------------------
# 1. Binary output is refused on a terminal (as gzip does), unchanged on pipes and files

@pytest.mark.parametrize("args,what,fix", [
    (["build", str(ARTICLE), "-o", "-"], "a model file (.npz)", "give -o FILE.npz or pipe it"),
    (["convert", "M", "-o", "-"], "a model file (.npz)", "give -o FILE.npz or pipe it"),
    (["forward", "M", "S", "--output-format", "npy"], ".npy", "give -o FILE or pipe it"),
    (["forward", "M", "S", "--output-format", "parquet"], "Parquet", "give -o FILE or pipe it"),
    (["forward", "M", "S", "--output-format", "pq", "-o", "-"], "Parquet",
     "give -o FILE or pipe it"),
    (["act", "relu", "1", "2", "-f", "npy"], ".npy", "redirect it to a file (> FILE) or pipe it"),
    (["init", "he_normal", "--shape", "2", "--seed", "0", "-f", "npy"], ".npy",
     "redirect it to a file (> FILE) or pipe it"),
    # without --seed: refused before a seed is drawn, so the error is the only line
    (["init", "he_normal", "--shape", "2", "-f", "npy"], ".npy",
     "redirect it to a file (> FILE) or pipe it"),
])
def test_binary_output_is_refused_on_a_terminal(tmp_path, model_file, args, what, fix):
    data = write_csv(tmp_path / "s.csv", [[1, 2, 3]])
    args = [{"M": str(model_file), "S": str(data)}.get(a, a) for a in args]
    code, screen = run_tty(*args, env={"NO_COLOR": "1"})
    assert (code, screen) == (2, f"nnctl: error: refusing to write {what} to a terminal: {fix}\n")


def test_binary_output_to_a_file_from_a_terminal(tmp_path, model_file):
    data = write_csv(tmp_path / "s.csv", [[1, 2, 3]])
    out = tmp_path / "y.npy"
    code, screen = run_tty("forward", str(model_file), str(data), "-o", str(out),
                           env={"NO_COLOR": "1"})
    assert (code, screen) == (0, "")
    piped = run_nnctl("forward", model_file, data)
    np.testing.assert_array_equal(np.load(out), np.loadtxt(io.StringIO(piped.out), delimiter=",",
                                                           dtype=np.float32, ndmin=2))


def test_binary_output_through_pipes_is_unchanged(tmp_path, model_file):
    data = write_csv(tmp_path / "s.csv", [[1, 2, 3], [-1, 0.5, 2]])
    text = run_nnctl("forward", model_file, data)
    expected = np.loadtxt(io.StringIO(text.out), delimiter=",", dtype=np.float32)
    npy = run_nnctl("forward", model_file, data, "--output-format", "npy")
    assert npy.code == 0 and npy.err == ""
    np.testing.assert_array_equal(np.load(io.BytesIO(npy.out_bytes)), expected)
    built = run_nnctl("build", ARTICLE, "--seed", "3", "-o", "-")
    assert built.code == 0 and built.out_bytes == model_file.read_bytes()
    act = run_nnctl("act", "relu", "-1", "2", "-f", "npy")
    np.testing.assert_array_equal(np.load(io.BytesIO(act.out_bytes)), [0, 2])


# ---------------------------------------------------------------------------------------------
# 2. Parquet columns are the output names whatever the input; CSV keeps the input's header

@pytest.mark.parametrize("header", [None, ["a", "b", "c"]])
def test_parquet_columns_are_the_output_names(tmp_path, model_file, header):
    data = write_csv(tmp_path / "s.csv", [[1, 2, 3], [4, 5, 6]], header)
    r = run_nnctl("forward", model_file, data, "--output-format", "parquet")
    assert r.code == 0, r.err
    table = read_parquet(r.out_bytes)
    assert table.column_names == ["layer3_0", "layer3_1"]
    assert table.num_rows == 2
    csv = run_nnctl("forward", model_file, data)
    assert csv.out.startswith("layer3_0,layer3_1\n") == (header is not None)
    np.testing.assert_array_equal(
        np.column_stack([c.to_numpy() for c in table.columns]),
        np.loadtxt(io.StringIO(csv.out), delimiter=",", dtype=np.float32,
                   skiprows=1 if header else 0))


def test_parquet_columns_of_an_npz_input_and_a_tap(tmp_path):
    import pyarrow.parquet as pq

    model = tmp_path / "two.npz"
    assert run_nnctl("build", CONFIGS / "two_input.yaml", "-o", model).code == 0
    np.savez(tmp_path / "x.npz", record=np.ones((3, 6), np.float32),
             patch=np.ones((3, 4, 4), np.float32))
    out = tmp_path / "y.parquet"
    r = run_nnctl("forward", model, tmp_path / "x.npz", "-o", out)
    assert r.code == 0, r.err
    assert pq.read_table(out).column_names == ["score"]
    r = run_nnctl("forward", model, tmp_path / "x.npz", "-o", out, "--tap", "patch_dense",
                  "--tap", "score")
    assert r.code == 0, r.err
    assert pq.read_table(out).column_names == [f"patch_dense_{k}" for k in range(8)] + ["score"]


# ---------------------------------------------------------------------------------------------
# 3. .npy in, .npy out on stdout: rows go out as they are computed, not at the end

def test_npy_to_stdout_streams_when_the_row_count_is_known(model_file):
    rows, width = 4000, 3
    x = np.arange(rows * width, dtype=np.float32).reshape(rows, width) / 1000
    buffer = io.BytesIO()
    np.save(buffer, x)
    data = buffer.getvalue()
    body = len(data) - rows * width * 4
    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "forward", str(model_file), "-",
                             "--batch-size", "500", "--output-format", "npy"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        half = body + rows // 2 * width * 4
        proc.stdin.write(data[:half])      # the header and half the rows; stdin stays open
        proc.stdin.flush()
        got, deadline = b"", time.monotonic() + 30
        while len(got) < 8192 and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 0.5)[0]:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                got += chunk
        # 2000 rows of 2 float32 are 16000 bytes: more than a buffer's worth before the end
        assert len(got) >= 8192, "no output before the input ended: the rows were spooled"
        proc.stdin.write(data[half:])
        proc.stdin.close()
        rest, err = proc.stdout.read(), proc.stderr.read()
        assert proc.wait(30) == 0, err
    finally:
        proc.kill()
    result = np.load(io.BytesIO(got + rest))
    whole = run_nnctl("forward", model_file, "-", "--output-format", "npy", input=data)
    np.testing.assert_array_equal(result, np.load(io.BytesIO(whole.out_bytes)))
    assert result.shape == (rows, 2)


# ---------------------------------------------------------------------------------------------
# 4. `-` as MODEL: a model file on stdin (zip magic) as well as a YAML spec

def pipeline(first: list, second: list, cwd) -> tuple[int, bytes, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    a = subprocess.Popen([sys.executable, "-m", "nnctl", *map(str, first)],
                         stdout=subprocess.PIPE, env=env, cwd=cwd)
    b = subprocess.run([sys.executable, "-m", "nnctl", *map(str, second)], stdin=a.stdout,
                       capture_output=True, env=env, cwd=cwd, timeout=60)
    a.stdout.close()
    assert a.wait(30) == 0
    return b.returncode, b.stdout, b.stderr.decode()


def test_build_piped_into_forward_dash(tmp_path, model_file):
    data = write_csv(tmp_path / "s.csv", [[1, 2, 3], [-1, 0.5, 2]])
    code, out, err = pipeline(["build", ARTICLE, "--seed", "3", "-o", "-"],
                              ["forward", "-", data], tmp_path)
    assert (code, err) == (0, "")
    assert out.decode() == run_nnctl("forward", model_file, data).out
    # the model file's own weights, not ones drawn from the initializers with seed 0
    assert out.decode() != run_nnctl("forward", ARTICLE, data, "--seed", "0").out


def test_model_file_on_stdin_for_other_commands(model_file):
    data = model_file.read_bytes()
    summary = run_nnctl("summary", "-", input=data)
    assert summary.code == 0 and summary.out == run_nnctl("summary", model_file).out
    assert run_nnctl("validate", "-", input=data).code == 0
    again = run_nnctl("build", "-", "-o", "-", input=data)   # keeps the weights it is given
    assert again.code == 0 and again.err == "" and again.out_bytes == data
    yaml = run_nnctl("summary", "-", input=ARTICLE.read_bytes())
    assert yaml.code == 0 and yaml.out == summary.out


@pytest.mark.parametrize("source", ["spec", "model file"])
def test_a_model_through_a_pipe_given_as_a_path(tmp_path, model_file, source):
    """`nnctl forward <(cat net.yaml) data.csv`, or a FIFO: read once, as MODEL `-` is (the
    first bytes were read to tell the kind, then the path opened again: 'the spec is empty')."""
    import threading

    data = write_csv(tmp_path / "s.csv", [[1, 2, 3], [-1, 0.5, 2]])
    content = (ARTICLE if source == "spec" else model_file).read_bytes()
    fifo = tmp_path / "model"
    os.mkfifo(fifo)

    def feed():  # once; a second opening of the FIFO would wait for a writer (the timeout)
        with open(fifo, "wb") as f:
            f.write(content)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    r = run_nnctl("forward", fifo, data, timeout=20)
    writer.join(timeout=5)
    expected = run_nnctl("forward", ARTICLE if source == "spec" else model_file, data)
    assert (r.code, r.err, r.out) == (0, "", expected.out)


def test_broken_model_file_on_stdin_is_one_error_line(model_file):
    r = run_nnctl("forward", "-", "/dev/null", input=model_file.read_bytes()[:100])
    assert r.code == 1
    assert re.fullmatch(r"nnctl: error: <stdin>: not a valid \.npz file \(.+\)\n", r.err), r.err
    r = run_nnctl("forward", "-", "/dev/null", input=b"\x93NUMPY garbage")
    assert (r.code, r.err) == (1, "nnctl: error: <stdin>: a NumPy array (.npy), not a model: "
                                  "the model comes first (nnctl forward MODEL INPUT)\n")
    r = run_nnctl("forward", "-", "/dev/null", input=b"\x00\xff garbage")
    assert (r.code, r.err) == (1, "nnctl: error: <stdin>: not UTF-8 text (byte 1)\n")


def test_an_onnx_file_or_data_in_the_model_place_says_what_it_is(tmp_path, model_file):
    """After `nnctl export -o net.onnx`, `nnctl forward net.onnx x.npy`; or INPUT and MODEL
    swapped: what the file is and what to give instead (was: not UTF-8 text (byte 57))."""
    exported = tmp_path / "net.onnx"
    exported.write_bytes(b"\x08\x08\x12\x05nnctl\xb2\x01")   # the start of an ONNX protobuf
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((2, 3), np.float32))
    r = run_nnctl("forward", exported, data)
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"nnctl: error: {exported}: an ONNX model, which nnctl writes (nnctl "
                     "export) but does not read: give the spec or model file it was exported "
                     "from (with --engine onnxruntime, forward runs that in ONNX Runtime)\n")
    r = run_nnctl("forward", data, model_file)
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"nnctl: error: {data}: a NumPy array (.npy), not a model: the model "
                     "comes first (nnctl forward MODEL INPUT)\n")


def test_model_file_on_stdin_has_a_size_limit(monkeypatch, model_file):
    from nnctl import spec
    from nnctl.errors import SpecError

    data = model_file.read_bytes()

    def stdin(payload):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload)))

    monkeypatch.setattr(spec, "MAX_STDIN_MODEL_BYTES", len(data))
    stdin(data)
    model, weights = spec.read_stdin_model()
    assert model.name == "my_model"
    assert sorted(weights) == sorted(k for k in np.load(model_file).files if k != "__spec__")
    monkeypatch.setattr(spec, "MAX_STDIN_MODEL_BYTES", len(data) - 1)
    stdin(data)
    with pytest.raises(SpecError, match=r"^<stdin>: a model file larger than 0 MB on stdin: "
                                        r"give it as a file path$"):
        spec.read_stdin_model()


def test_build_uses_the_specs_seed_and_keeps_a_python_models_weights(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: 2\nseed: 5\nlayers:\n  - {type: Dense, units: 1}\n")
    default = run_nnctl("build", spec, "-o", "-")
    assert default.code == 0
    assert default.out_bytes == run_nnctl("build", spec, "--seed", "5", "-o", "-").out_bytes
    assert default.out_bytes != run_nnctl("build", spec, "--seed", "0", "-o", "-").out_bytes
    python = run_nnctl("build", "examples/article_functional.py:model", "-o", tmp_path / "p.npz",
                       cwd=ROOT)
    assert (python.code, python.err) == (0, "")


# ---------------------------------------------------------------------------------------------
# 5. --help in 80 and 60 columns: upper-case arguments, short value names, nothing cut

def help_of(*command, columns):
    r = run_nnctl(*command, "--help", env={"COLUMNS": str(columns)})
    assert r.code == 0 and r.err == ""
    return r.out


def collapsed(text: str) -> str:
    """Words in order, however the lines were wrapped (also after a hyphen)."""
    return re.sub(r"-\s+", "-", " ".join(text.split()))


def test_forward_help_usage_and_value_names():
    text = help_of("forward", columns=80)
    assert text.startswith("Usage: nnctl forward [OPTIONS] MODEL [INPUT]...\n")
    for line in ("  --weights FILE ", "  -o, --output FILE ", "  --input-format FORMAT ",
                 "  --seed N ", "  --tap LAYER ", "  --header / --no-header ",
                 "  --engine ENGINE "):
        assert "\n" + line in text, line


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_fits_and_cuts_nothing(command, columns):
    from nnctl.cli.app import click_command

    args = [command] if command else []
    text = help_of(*args, columns=columns)
    assert max(map(len, text.splitlines())) <= columns
    assert not re.search(r"<(str|int|float|bool|list)|\[x[<>]=|\{\w+\}", text), text
    group = click_command()
    cmd = group.commands[command] if command else group
    for param in cmd.params:
        for opt in param.opts + param.secondary_opts:
            if opt.startswith("-"):
                assert re.search(rf"(^|[\s,/]){re.escape(opt)}([\s,]|$)", text, re.M), opt
        if param.help:
            assert collapsed(param.help) in collapsed(text), param.help
    if not command:   # each command with its first sentence, whole (wrapped if need be)
        commands = collapsed(text.split("\nCommands:\n")[1])
        assert "..." not in commands
        for name, sub in group.commands.items():
            first = collapsed(sub.help.split("\n\n")[0]).split(". ")[0].rstrip(".")
            assert f"{name} {first}." in commands, (name, first)


def examples_of(text: str) -> list[str]:
    """The commands under a --help's "Examples:", a line ending in a backslash joined to the
    next one as the shell joins them."""
    block = text.split("\n  Examples:\n\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in re.sub(r" \\\n\s+", " ", block).splitlines()]


EXAMPLE_COMMANDS = ["act", "init", "list"]


@pytest.mark.parametrize("command", EXAMPLE_COMMANDS)
def test_help_examples_are_not_rewrapped(command):
    """An example is one command line at every width: click rewrapped each as a paragraph,
    and at 80 columns init's became two lines, the first ending in `-p` (pasted: 'Option -p
    requires an argument', then a shell variable set by the second)."""
    assert "Examples:" in help_of(command, columns=80)
    for columns in (80, 60):
        examples = examples_of(help_of(command, columns=columns))
        assert len(examples) >= 3
        assert all(re.match(r"(seq -5 5 \| )?nnctl " + command + " ", e) for e in examples), \
            examples


def test_help_examples_run_when_pasted(tmp_path):
    """Every example of every --help, pasted into a shell, succeeds."""
    examples = [e for command in EXAMPLE_COMMANDS for e in examples_of(help_of(command,
                                                                                columns=60))]
    script = "set -e -o pipefail\nnnctl() { \"$PYTHON\" -m nnctl \"$@\"; }\n" + "".join(
        f"echo '+ {e}' >&2\n{e} >/dev/null\n" for e in examples)
    env = {**os.environ, "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    env.pop("COLUMNS", None)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("\n+ ") + 1 == len(examples) >= 9


def test_nnctl_alone_shows_the_help_as_a_usage_error():
    alone = run_nnctl()
    assert (alone.code, alone.out) == (2, run_nnctl("--help").out)
    assert alone.out.startswith("Usage: nnctl [OPTIONS] COMMAND [ARGS]...\n")


# ---------------------------------------------------------------------------------------------
# An ASCII stdout (PYTHONIOENCODING=ascii, a cp1252 console): no internal error

@pytest.mark.parametrize("args", [
    ["summary", "configs/two_input.yaml"],
    ["summary", "configs/two_input.yaml", "--macs", "--show-trainable"],
    ["act", "sigmoid", "--plot", "--derivative"],
    ["init", "he_normal", "--shape", "100,10", "--plot", "--seed", "1"],
    ["plot", "configs/two_input.yaml"],
])
def test_an_ascii_stdout_gets_ascii_tables_and_charts(args):
    """summary and act/init --plot ended in 'internal error: UnicodeEncodeError' on a stdout
    that cannot encode box-drawing characters; plot drew ASCII art there already."""
    r = run_nnctl(*args, cwd=ROOT, env={"PYTHONIOENCODING": "ascii"})
    assert (r.code, r.err) == (0, "")
    assert r.out_bytes.isascii() and "?" not in r.out.replace("?)", "")
    assert len(r.out.splitlines()) > 8


def test_an_ascii_stdout_escapes_a_name_it_cannot_write(tmp_path):
    (tmp_path / "net.yaml").write_text("input: [3]\nlayers:\n  - {type: Dense, units: 2, "
                                       "name: 层1}\n", encoding="utf-8")
    r = run_nnctl("summary", "net.yaml", cwd=tmp_path, env={"PYTHONIOENCODING": "ascii"})
    assert (r.code, r.err) == (0, "")
    assert "\\u5c421 (Dense)" in r.out and r.out_bytes.isascii()
    r = run_nnctl("summary", "net.yaml", "-f", "markdown", cwd=tmp_path,
                  env={"PYTHONIOENCODING": "ascii"})
    assert (r.code, r.err) == (0, "") and "| \\u5c421 (Dense) |" in r.out
