"""The conventions every command shares (DESIGN.md sections 5 and 6): exit codes, one error
line, --debug, colors only on terminals and never with NO_COLOR, quiet closed pipes, help and
version. Terminals are real pseudo-terminals; pipes are real shell pipelines."""
from __future__ import annotations

import math
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from conftest import CONFIGS, ROOT, run_nnctl
from nnctl import __version__
from nnctl.cli.commands import COMMANDS

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def has_color(text: str) -> bool:
    """Whether any SGR sequence sets a color (NO_COLOR forbids colors; bold is not one)."""
    colors = {str(n) for n in [*range(30, 39), *range(40, 49), *range(90, 98),
                               *range(100, 108)]}
    return any(colors & set(m.group(1).split(";"))
               for m in re.finditer(r"\x1b\[([0-9;]*)m", text))


def run_tty(*args, env=None, timeout=60) -> tuple[int, str]:
    """Run `python -m nnctl ARGS` with stdin, stdout and stderr on a pseudo-terminal;
    return (exit code, everything the terminal showed)."""
    master, slave = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update({"TERM": "xterm-256color", "COLUMNS": "80", "LINES": "30"})
    full_env.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", *args], stdin=slave, stdout=slave,
                            stderr=slave, env=full_env, cwd=ROOT, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        proc.kill()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------------
# Exit codes and the one error line

@pytest.mark.parametrize("args,code", [
    (["act", "relu", "1"], 0),
    (["act", "relux", "1"], 1),       # bad input
    (["act", "relu", "x"], 1),
    (["act"], 2),                     # missing argument
    (["act", "relu", "1", "--nope"], 2),  # unknown option
    (["nope"], 2),                    # unknown command
])
def test_exit_codes_and_one_error_line(args, code):
    r = run_nnctl(*args)
    assert r.code == code, r.err
    if code:
        lines = r.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), r.err
        assert "Traceback" not in r.err and r.out == ""
    else:
        assert r.err == ""


def test_debug_shows_the_traceback():
    r = run_nnctl("--debug", "act", "relux", "1")
    assert r.code != 0
    assert "Traceback (most recent call last)" in r.err
    assert "ParameterError" in r.err and "did you mean 'relu'" in r.err


def test_interrupt_exits_130_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "act", "relu"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    try:
        proc.stdin.write(b"1\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"1\n"  # running, blocked on stdin
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
        assert b"Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# Pipes

def test_closed_pipe_ends_quietly():
    """`nnctl ... | head -1` in a real shell: no message, no traceback; nnctl dies of SIGPIPE
    as a Unix filter does (141 in bash's PIPESTATUS)."""
    script = (f"'{sys.executable}' -m nnctl act relu --range 0,1 --num 2000000 | head -1; "
              "echo \"status=${PIPESTATUS[0]}\" >&2")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=ROOT, timeout=120)
    assert proc.stdout == b"0\n"
    assert proc.stderr.decode().strip() == "status=141"


@pytest.mark.parametrize("command", [["summary", "configs/article_sequential.yaml"],
                                     ["summary", "tests/golden/keras/seq_mlp.keras"]])
def test_rich_output_into_a_closed_pipe_dies_of_sigpipe(command):
    """A table printed by rich into a pipe nobody reads (`nnctl summary m.keras | head -1`,
    the reader gone before the write): killed by SIGPIPE as a filter, silent (rich itself
    exits with status 1)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "nnctl", *command], stdout=write_end,
                              stderr=subprocess.PIPE, cwd=ROOT, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == -signal.SIGPIPE and proc.stderr == b"", proc


def test_closed_pipe_with_several_models_dies_of_sigpipe():
    """`nnctl lint configs/*.yaml | head -1`: a closed stdout ends the run as a filter, silent;
    it was taken for one MODEL's error, 'nnctl: error: [Errno 32] Broken pipe' once a MODEL,
    and the next MODEL was checked."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    models = sorted(str(p) for p in CONFIGS.glob("*.yaml"))[:3]
    try:
        proc = subprocess.run([sys.executable, "-m", "nnctl", "lint", *models],
                              stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == -signal.SIGPIPE and proc.stderr == b"", proc


def test_closed_pipe_while_streaming_stdin():
    script = (f"seq 1 300000 | '{sys.executable}' -m nnctl act sigmoid | head -2; "
              "echo \"status=${PIPESTATUS[1]}\" >&2")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=ROOT, timeout=120)
    assert proc.stdout.decode().splitlines() == ["0.7310586", "0.880797"]
    assert proc.stderr.decode().strip() == "status=141"


def test_piped_output_has_no_color():
    r = run_nnctl("act", "softmax", "1", "2", "-f", "text")
    assert not ANSI.search(r.out) and not ANSI.search(r.err)
    r = run_nnctl("list", "activations")
    assert not ANSI.search(r.out)


# ---------------------------------------------------------------------------------------------
# Terminals: rich output and color, unless NO_COLOR

def test_terminal_gets_text_and_colored_errors():
    code, screen = run_tty("act", "softmax", "0.2", "0.02", "0.15", "1.3", "0.5", "0.06",
                           "1.1", "0.05", "3.75")
    assert code == 0
    assert ANSI.sub("", screen) == (
        "tf.Tensor(\n"
        "[0.02167152 0.01810157 0.02061459 0.06510484 0.02925349 0.01884031\n"
        " 0.05330333 0.01865285 0.75445753], shape=(9,), dtype=float32)\n")
    code, screen = run_tty("act", "relux", "1")
    assert code == 1
    assert has_color(screen)  # the red "error:"
    assert ANSI.sub("", screen).strip() == (
        "nnctl: error: unknown activation 'relux' (did you mean 'relu'?)")


def test_no_color_is_honoured_on_a_terminal():
    for args in (["act", "relux", "1"], ["list", "activations"],
                 ["act", "sigmoid", "--plot"]):
        code, screen = run_tty(*args, env={"NO_COLOR": "1"})
        assert not has_color(screen), (args, screen[:200])
    code, screen = run_tty("act", "sigmoid", "--plot")
    assert code == 0 and has_color(screen)  # colors otherwise


def test_terminal_without_input_asks_for_values():
    code, screen = run_tty("act", "relu", env={"NO_COLOR": "1"})
    assert code == 2
    assert screen.strip().startswith("nnctl: error: nothing to evaluate: give values")


def test_terminal_plot_fits_80_columns():
    code, screen = run_tty("act", "sigmoid", "--range", "-10,10", "--plot",
                           env={"NO_COLOR": "1"})
    assert code == 0
    lines = screen.rstrip("\n").splitlines()
    assert lines[0] == "sigmoid(x), x from -10 to 10, 100 points"
    assert max(len(line) for line in lines) <= 80 and len(lines) <= 30


# ---------------------------------------------------------------------------------------------
# Help and version

def test_help_lists_every_command():
    r = run_nnctl("--help")
    assert r.code == 0
    import importlib.util

    for name, target in COMMANDS.items():
        present = importlib.util.find_spec(target.split(":")[0]) is not None
        assert (re.search(rf"^\W*{name}\s", r.out, re.MULTILINE) is not None) == present, name
    assert re.search(r"^\W*act\s+Evaluate an activation function", r.out, re.MULTILINE)
    assert re.search(r"^\W*list\s+List the names nnctl knows", r.out, re.MULTILINE)


def test_version():
    r = run_nnctl("--version")
    assert (r.code, r.out) == (0, f"nnctl {__version__}\n")


def test_console_script_and_module_agree():
    script = subprocess.run(["nnctl", "act", "relu", "-1", "2"], capture_output=True,
                            cwd=ROOT, timeout=60)
    assert script.returncode == 0 and script.stdout == b"0\n2\n"


# ---------------------------------------------------------------------------------------------
# Option values (DESIGN.md section 6): outside the set or range --help states, bad usage (2);
# data and catalogue names (activations, initializers, numbers, --shape, --param), bad input (1)

SPEC = ROOT / "configs" / "article_sequential.yaml"


@pytest.mark.parametrize("args,code,named", [
    (["summary", SPEC, "--format", "xml"], 2, "Invalid value for '--format' / '-f'"),
    (["summary", SPEC, "--batch", "0"], 2, "Invalid value for '--batch'"),
    (["plot", SPEC, "-f", "foo"], 2, "Invalid value for '--format' / '-f'"),
    (["plot", SPEC, "--rankdir", "XY"], 2, "Invalid value for '--rankdir'"),
    (["plot", SPEC, "-o", "net.xyz"], 2, "cannot tell the format from the file name 'net.xyz'"),
    (["lint", SPEC, "-f", "xml"], 2, "Invalid value for '--format' / '-f'"),
    (["list", "-f", "xml"], 2, "Invalid value for '--format' / '-f'"),
    (["list", "activatons"], 2, "unknown kind 'activatons' (did you mean 'activations'?)"),
    (["inspect", SPEC, "--batch", "0"], 2, "Invalid value for '--batch'"),
    (["inspect", SPEC, "--seed", "-1"], 2, "Invalid value for '--seed'"),
    (["inspect", SPEC, "-f", "tabel"], 2, "Invalid value for '--format' / '-f'"),
    (["init", "he_normal", "--shape", "9", "--seed", "-1"], 2, "Invalid value for '--seed'"),
    (["init", "he_normal", "--shape", "9", "--dtype", "float16"], 2, "Invalid value for '--dtype'"),
    (["init", "he_normal", "--shape", "9", "-f", "xml"], 2, "Invalid value for '--format' / '-f'"),
    (["act", "relu", "1", "-f", "xml"], 2, "Invalid value for '--format' / '-f'"),
    (["act", "relu", "1", "--dtype", "f16"], 2, "Invalid value for '--dtype'"),
    (["act", "relu", "--range", "-1,1", "--num", "-3"], 2, "Invalid value for '--num' / '-n'"),
    (["build", SPEC, "-o", "m.npz", "--seed", "-1"], 2, "Invalid value for '--seed'"),
    (["forward", SPEC, "--input-format", "xml"], 2, "Invalid value for '--input-format'"),
    (["forward", SPEC, "--input-format", "cvs"], 2, "(did you mean 'csv'?)"),
    (["forward", SPEC, "--output-format", "cvs"], 2, "Invalid value for '--format' / '-f' / '--output-format'"),
    (["forward", SPEC, "--batch-size", "-5"], 2, "Invalid value for '--batch-size'"),
    (["forward", SPEC, "--seed", "-1"], 2, "Invalid value for '--seed'"),
    (["forward", SPEC, "--engine", "foo"], 2, "Invalid value for '--engine'"),
    (["export", SPEC, "-o", "m.onnx", "--seed", "-1"], 2, "Invalid value for '--seed'"),
    # data and catalogue names: bad input
    (["act", "relux", "1"], 1, "unknown activation 'relux' (did you mean 'relu'?)"),
    (["act", "relu", "abc"], 1, "value 'abc' is not a number"),
    (["act", "relu", "--range", "a,b"], 1, "--range 'a,b': expected A,B"),
    (["act", "relu", "1", "-p", "max_value=x"], 1, "max_value must be a number or null"),
    (["act", "relu", "1", "-p", "type=elu"], 1, "--param type=elu"),
    (["init", "he_nromal", "--shape", "9"], 1, "unknown initializer 'he_nromal'"),
    (["init", "he_normal", "--shape", "0"], 1, "--shape 0: dimensions must be positive"),
    (["init", "he_normal", "--shape", "9", "-p", "seed=-1"], 1, "seed=-1"),
    (["inspect", SPEC, "--compare-init", "he_nromal"], 1, "--compare-init: unknown initializer"),
    (["forward", SPEC, "--tap", "nosuch"], 1, "--tap: no layer named 'nosuch'"),
])
def test_option_values_follow_one_rule(tmp_path, args, code, named):
    r = run_nnctl(*args, input="1,2,3\n", cwd=tmp_path)
    assert r.code == code, r.err
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), r.err
    assert named in lines[0] and "Traceback" not in r.err
    assert r.out == "" and list(tmp_path.iterdir()) == []  # nothing written


def test_act_and_forward_word_a_bad_number_on_stdin_alike():
    rows = "1,2,3\n4,x,6\n"
    forward = run_nnctl("forward", SPEC, input=rows)
    act = run_nnctl("act", "relu", input=rows)
    assert forward.code == act.code == 1
    want = "nnctl: error: <stdin>:2: column 2: 'x' is not a number\n"
    assert forward.err == act.err == want


@pytest.mark.parametrize("text,value", [
    ("None", None), ("none", None), ("null", None), ("TRUE", True), ("false", False),
    ("3", 3), ("-3", -3), (" 2 ", 2), ("0.5", 0.5), ("1e-3", 0.001), ("-Infinity", -math.inf),
    ("[0, 1]", [0, 1]), ('"none"', "none"), ("fan_avg", "fan_avg"), ("1_000", "1_000"),
    ("9" * 5000, math.inf),
])
def test_param_values_one_reading_for_every_command(text, value):
    from nnctl.cli.params import parse_value

    got = parse_value(text)
    assert got == value and type(got) is type(value)


def test_param_items():
    from nnctl.cli.params import parse_params
    from nnctl.errors import ParameterError

    got = parse_params(["a=1", " b = x ", "a=2"], kind="activation", name="relu")
    assert got == {"a": 2, "b": "x"}  # the last of a repeated key wins
    with pytest.raises(ParameterError, match=r"^--param 'a': expected KEY=VALUE, e\.g\. "
                                             r"--param stddev=0\.1$"):
        parse_params(["a"], kind="initializer", name="he_normal")
    with pytest.raises(ParameterError, match=r"the initializer is NAME \('he_normal'\)"):
        parse_params(["type=zeros"], kind="initializer", name="he_normal")
    with pytest.raises(ParameterError, match=r"nested too deeply"):
        parse_params(["a=" + "[" * 5000 + "]" * 5000], kind="activation", name="relu")


def test_a_misspelt_choice_gets_a_suggestion():
    r = run_nnctl("summary", CONFIGS / "article_sequential.yaml", "--format", "tabel")
    assert (r.code, r.out) == (2, "")
    assert r.err == ("nnctl: error: Invalid value for '--format' / '-f': 'tabel' is not one of "
                     "'table', 'json', 'markdown' (did you mean 'table'?) "
                     "(see 'nnctl summary --help')\n")
