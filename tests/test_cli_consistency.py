"""One name per thing across commands: MODEL's forms, -f/--format."""
from __future__ import annotations

import pytest

from conftest import CONFIGS


def _commands():
    from nnctl.cli.app import click_command

    return click_command().commands


def test_model_is_declared_once_and_its_help_names_every_form():
    from nnctl.cli.params import MODEL_HELP

    takers = {name: p for name, cmd in _commands().items() for p in cmd.params
              if p.name in ("model", "models")}   # validate and lint take several
    assert set(takers) >= {"summary", "validate", "build", "forward", "export", "convert",
                           "plot", "inspect", "lint"}
    for name, param in takers.items():
        assert param.help.startswith(MODEL_HELP) and param.metavar == "MODEL", name
        assert (param.nargs == -1) == (name in ("validate", "lint")), name
    for form in (".yaml", ".npz", ".keras", ".h5", ".json", "file.py:NAME", "- for stdin"):
        assert form in MODEL_HELP
    # issue 18: the one form that runs code says so wherever MODEL is taken (and README.md)
    assert "file.py:NAME (imports and runs that Python file)" in MODEL_HELP


def test_weights_and_seed_of_a_model_are_declared_once():
    """--weights and --seed mean one thing wherever MODEL's weights are drawn or loaded."""
    from nnctl.cli.params import SEED_HELP, WEIGHTS_HELP

    commands = _commands()
    for name in ("build", "convert", "export", "forward", "inspect"):
        weights = next(p for p in commands[name].params if p.name == "weights")
        assert weights.help == WEIGHTS_HELP and weights.metavar == "FILE", name
    for name in ("build", "convert", "export", "forward"):  # inspect's also seeds its batch
        seed = next(p for p in commands[name].params if p.name == "seed")
        assert seed.help == SEED_HELP, name
    assert ".weights.h5" in WEIGHTS_HELP and "seed:" in SEED_HELP


def test_the_format_option_is_f_and_format_everywhere():
    for name, cmd in _commands().items():
        formats = [p for p in cmd.params if p.name in ("format", "output_format")]
        for param in formats:
            assert "-f" in param.opts and "--format" in param.opts, name


@pytest.mark.parametrize("option", ["-f", "--format", "--output-format"])
def test_forward_takes_the_output_format_by_every_name(nnctl, option):
    r = nnctl("forward", CONFIGS / "article_sequential.yaml", "--seed", "1", option, "tsv",
              input="1,2,3\n")
    assert r.code == 0, r.err
    assert r.out.count("\t") == 1 and r.out.endswith("\n")


def _complete(nnctl, line: str) -> list[str]:
    words = line.split(" ")
    r = nnctl(env={"_NNCTL_COMPLETE": "complete_bash", "COMP_WORDS": line,
                   "COMP_CWORD": str(len(words) - 1)})
    assert r.code == 0, r.err
    return r.out.split()


@pytest.mark.parametrize("line, expected", [
    ("nnctl su", ["summary"]),
    ("nnctl act si", ["silu", "sigmoid"]),
    ("nnctl init kaiming_n", ["kaiming_normal"]),
    ("nnctl summary net.yaml --for", ["--format"]),
    ("nnctl summary net.yaml --format ", ["table", "json", "markdown"]),
])
def test_shell_completion_completes_commands_options_and_names(nnctl, line, expected):
    assert sorted(_complete(nnctl, line)) == sorted(expected)


def test_completion_installs_for_bash(nnctl):
    r = nnctl("--show-completion", "bash")
    assert r.code == 0 and "complete -o default -F _nnctl_completion nnctl" in r.out


def test_forward_on_a_terminal_says_how_to_give_it_data(tmp_path):
    """Like act, forward reading a terminal says what it waits for; typed rows still work."""
    import os
    import pty
    import select
    import subprocess
    import sys

    from conftest import ROOT

    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "dumb", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "forward",
                             str(CONFIGS / "article_sequential.yaml"), "--seed", "1"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        while b"Ctrl-D" not in seen:  # the hint comes before any input
            ready, _, _ = select.select([master], [], [], 120)  # a hang guard only
            assert ready, seen
            seen += os.read(master, 4096)
        os.write(master, b"1,2,3\n\x04")
        while proc.poll() is None or select.select([master], [], [], 0)[0]:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(120) == 0
    finally:
        proc.kill()
        os.close(master)
    text = seen.decode()
    assert "nnctl: warning: reading rows from the terminal" in text
    assert "0.13942039" in text or "0.1394204" in text   # the typed row's output


def test_forward_on_a_terminal_gives_the_hint_only_once_the_model_opened(tmp_path):
    """A missing model is its one error line, not the hint about typing rows and then it."""
    from test_cli_conventions import run_tty

    code, screen = run_tty("forward", str(tmp_path / "missing.npz"), env={"NO_COLOR": "1"})
    assert code == 1, screen
    lines = [line for line in screen.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), screen
    assert "missing.npz" in lines[0] and "reading rows" not in screen
