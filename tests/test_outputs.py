"""Every command that writes a file (-o), tried as a hostile or careless user would: a symlink
at the output, the output equal to an input, a trailing slash, a directory, an unknown
extension, a closed stdout; an existing file's mode; temporary files left by a killed run.
And every command with a closed stdout or stdin: one error line, exit 1, never an internal error.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import CONFIGS, run_nnctl

SPEC = CONFIGS / "article_sequential.yaml"    # input 3, output 2

# command -> (arguments before -o, output name); INPUT files are made by the `work` fixture
WRITERS = {
    "build": (["build", "net.yaml", "--seed", "1"], "model.npz"),
    "convert": (["convert", "net.yaml"], "model.keras"),
    "forward": (["forward", "net.yaml", "rows.csv"], "out.csv"),
    "export": (["export", "net.yaml"], "model.onnx"),
    "plot": (["plot", "net.yaml"], "net.svg"),
}
INPUT_OF = {"build": "net.yaml", "convert": "net.yaml", "forward": "rows.csv", "export": "net.yaml", "plot": "net.yaml"}


@pytest.fixture
def work(tmp_path):
    shutil.copy(SPEC, tmp_path / "net.yaml")
    (tmp_path / "rows.csv").write_text("1,2,3\n-1,0.5,2\n")
    return tmp_path


def error_line(result, code, *fragments) -> str:
    assert result.code == code, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), result.err
    assert "internal error" not in result.err and "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def listing(directory) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_symlink_at_the_output_is_replaced_never_followed(work, command):
    args, name = WRITERS[command]
    victim = work / "victim"
    victim.mkdir()
    (victim / "precious").write_text("someone else's data\n")
    (work / name).symlink_to(victim / "precious")
    result = run_nnctl(*args, "-o", name, cwd=work)
    assert result.code == 0, result.err
    assert (victim / "precious").read_text() == "someone else's data\n"
    assert not (work / name).is_symlink() and (work / name).stat().st_size > 0


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_output_that_is_an_input_is_refused(work, command):
    args, _ = WRITERS[command]
    source = INPUT_OF[command]
    before = (work / source).read_bytes()
    error_line(run_nnctl(*args, "-o", source, "--output-format", "csv", cwd=work)
               if command == "forward" else run_nnctl(*args, "-o", source, cwd=work),
               2, f"-o {source}: is an input")
    os.link(work / source, work / "same")   # another name, the same file (device and inode)
    error_line(run_nnctl(*args, "-o", "same", "--output-format", "csv", cwd=work)
               if command == "forward" else run_nnctl(*args, "-o", "same", cwd=work),
               2, f"is the same file as {source}")
    assert (work / source).read_bytes() == before


def test_a_model_file_given_as_its_own_output_is_refused(work):
    assert run_nnctl("build", "net.yaml", "-o", "m.npz", cwd=work).code == 0
    before = (work / "m.npz").read_bytes()
    for args in (["build", "m.npz"], ["convert", "m.npz"], ["export", "m.npz"], ["plot", "m.npz"],
                 ["forward", "m.npz", "rows.csv", "--output-format", "csv"],
                 ["forward", "net.yaml", "rows.csv", "--weights", "m.npz",
                  "--output-format", "csv"]):
        error_line(run_nnctl(*args, "-o", "m.npz", cwd=work), 2, "-o m.npz: is an input")
    assert (work / "m.npz").read_bytes() == before


# forward -o OUTDIR/ (or an existing directory) writes one file per input into it: the
# many-file run of tests/test_distributed.py (test_one_file_to_a_directory_...)
@pytest.mark.parametrize("command", sorted(set(WRITERS) - {"forward"}))
def test_a_trailing_slash_or_a_directory_is_refused(work, command):
    args, name = WRITERS[command]
    before = listing(work)
    error_line(run_nnctl(*args, "-o", name + "/", cwd=work), 2, "ends in '/'")
    assert listing(work) == before
    (work / "dir").mkdir()
    error_line(run_nnctl(*args, "-o", "dir", cwd=work), 2, "-o dir: is a directory")
    assert listing(work / "dir") == []


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_output_in_a_missing_directory_is_one_error_line(work, command):
    args, name = WRITERS[command]
    before = listing(work)
    error_line(run_nnctl(*args, "-o", f"missing/{name}", cwd=work), 1,
               f"missing/{name}: No such file or directory")
    assert listing(work) == before


def test_convert_of_weights_to_a_spec_in_a_missing_directory_is_one_error_line(work):
    """The warning that a .yaml holds no weights comes only once the file is written."""
    assert run_nnctl("build", "net.yaml", "-o", "m.npz", cwd=work).code == 0
    error_line(run_nnctl("convert", "m.npz", "-o", "missing/net.yaml", cwd=work), 1,
               "missing/net.yaml: No such file or directory")
    result = run_nnctl("convert", "m.npz", "-o", "again.yaml", cwd=work)
    assert result.code == 0 and "again.yaml holds no weights" in result.err, result.err


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_existing_file_keeps_its_mode(work, command):
    args, name = WRITERS[command]
    (work / name).write_text("old\n")
    os.chmod(work / name, 0o604)
    assert run_nnctl(*args, "-o", name, cwd=work).code == 0
    assert (work / name).read_text(errors="replace") != "old\n"
    assert (work / name).stat().st_mode & 0o777 == 0o604


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file")
def test_a_file_we_may_not_write_is_not_replaced(work):
    (work / "out.csv").write_text("read-only\n")
    os.chmod(work / "out.csv", 0o444)
    error_line(run_nnctl("forward", "net.yaml", "rows.csv", "-o", "out.csv", cwd=work), 1,
               "out.csv: Permission denied")
    assert (work / "out.csv").read_text() == "read-only\n"


def test_an_output_with_other_hard_links_is_refused(work):
    (work / "out.csv").write_text("old\n")
    os.link(work / "out.csv", work / "backup.csv")
    error_line(run_nnctl("forward", "net.yaml", "rows.csv", "-o", "out.csv", cwd=work), 1,
               "out.csv: has 1 other hard link(s)")
    assert (work / "backup.csv").read_text() == "old\n"


@pytest.mark.parametrize("args, name, fragment", [
    (["forward", "net.yaml", "rows.csv"], "out.dat", "cannot tell the format"),
    (["forward", "net.yaml", "rows.csv"], "out", "cannot tell the format"),
    (["build", "net.yaml"], "model.bin", "'.bin' is not a model format nnctl writes"),
    (["convert", "net.yaml"], "model", "no extension is not a model format nnctl writes"),
    (["export", "net.yaml"], "model.npz", "an ONNX model is written as .onnx"),
    (["plot", "net.yaml"], "net.xyz", "cannot tell the format"),
])
def test_an_unknown_output_extension_is_refused(work, args, name, fragment):
    before = listing(work)
    error_line(run_nnctl(*args, "-o", name, cwd=work), 2, fragment)
    assert listing(work) == before


def test_the_output_format_option_names_any_file(work):
    result = run_nnctl("forward", "net.yaml", "rows.csv", "-o", "out.dat",
                       "--output-format", "tsv", cwd=work)
    assert result.code == 0 and "\t" in (work / "out.dat").read_text()


def test_special_files_need_no_extension(work):
    assert run_nnctl("build", "net.yaml", "-o", os.devnull, cwd=work).code == 0
    result = run_nnctl("forward", "net.yaml", "rows.csv", "-o", "/dev/stdout", cwd=work)
    assert result.code == 0 and len(result.out.splitlines()) == 2


def stale_name(name: str, pid: int) -> str:
    return f".{name}.{pid}.0123456789abcdef.tmp"


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


def test_stale_temporary_files_of_a_killed_run_are_removed_safely(work):
    stale = work / stale_name("out.csv", dead_pid())
    stale.write_text("half a file\n")
    os.utime(stale, (1, 1))
    alive = work / stale_name("out.csv", os.getpid())    # a run still going: left alone
    alive.write_text("in progress\n")
    os.utime(alive, (1, 1))
    other = work / stale_name("other.csv", dead_pid())   # another output's: left alone
    other.write_text("x\n")
    os.utime(other, (1, 1))
    (work / "precious").write_text("keep\n")
    planted = work / stale_name("out.csv", dead_pid() + 1)   # a symlink: never followed
    planted.symlink_to(work / "precious")
    assert run_nnctl("forward", "net.yaml", "rows.csv", "-o", "out.csv", cwd=work).code == 0
    assert not stale.exists()
    assert alive.exists() and other.exists() and planted.is_symlink()
    assert (work / "precious").read_text() == "keep\n"


def run_with_closed(fd: int, *args, cwd=None):
    """`nnctl ARGS` with descriptor `fd` (0 stdin, 1 stdout) closed, as `<&-` / `>&-` do."""
    from fuzzing import checkout_env

    redirect = "<&-" if fd == 0 else ">&-"
    command = " ".join(f"'{a}'" for a in [sys.executable, "-m", "nnctl", *map(str, args)])
    proc = subprocess.run(["sh", "-c", f"exec {command} {redirect}"], cwd=cwd,
                          env=checkout_env(), stdin=subprocess.DEVNULL if fd == 1 else None,
                          stdout=subprocess.PIPE if fd == 0 else None, stderr=subprocess.PIPE,
                          timeout=60)
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


STDOUT_COMMANDS = [
    ["summary", "net.yaml"], ["act", "relu", "1"], ["init", "he_normal", "--shape", "2,2"],
    ["list"], ["lint", "net.yaml"], ["inspect", "net.yaml"], ["plot", "net.yaml"],
    ["forward", "net.yaml", "rows.csv"], ["build", "net.yaml", "-o", "-"],
    ["export", "net.yaml", "-o", "-"],
]


@pytest.mark.parametrize("args", STDOUT_COMMANDS, ids=lambda a: " ".join(a[:1]))
def test_a_closed_stdout_is_a_clear_error(work, args):
    code, err = run_with_closed(1, *args, cwd=work)
    assert code == 1, err
    assert err.splitlines() == ["nnctl: error: <stdout>: standard output is closed"], err


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_outputs_to_files_complete_with_a_closed_stdout(work, command):
    args, name = WRITERS[command]
    code, err = run_with_closed(1, *args, "-o", name, cwd=work)
    assert code == 0 and err == "", err
    assert (work / name).stat().st_size > 0
    assert not [n for n in listing(work) if n.endswith(".tmp")]


@pytest.mark.parametrize("args", [["forward", "net.yaml"], ["summary", "-"], ["act", "relu"],
                                  ["validate", "-"], ["inspect", "net.yaml", "-"]],
                         ids=lambda a: " ".join(a))
def test_a_closed_stdin_is_a_clear_error(work, args):
    code, err = run_with_closed(0, *args, cwd=work)
    assert code == 1, err
    assert err.splitlines() == ["nnctl: error: <stdin>: standard input is closed"], err


def test_a_closed_stdin_does_not_matter_when_unused(work):
    code, err = run_with_closed(0, "summary", "net.yaml", cwd=work)
    assert code == 0 and err == ""



def run_with_closed_stdin_inprocess(args, cwd, monkeypatch, capsys) -> tuple[int, str]:
    """`nnctl ARGS <&-` in this process: Python makes a closed stdin None, which nnctl's
    start-up turns into the ClosedStream the subprocess tests above meet."""
    from nnctl.cli import app

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "stdin", app.ClosedStream("<stdin>", "standard input"))
    code = app.run([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args", [["lint", "-"], ["plot", "-"], ["build", "-", "-o", "m.npz"],
                                  ["export", "-", "-o", "m.onnx"], ["convert", "-", "-o", "m.keras"],
                                  ["forward", "-", "rows.csv", "-o", "out.csv"]],
                         ids=lambda a: a[0])
def test_every_command_reading_a_model_from_a_closed_stdin_says_so(work, args, monkeypatch,
                                                                    capsys):
    code, err = run_with_closed_stdin_inprocess(args, work, monkeypatch, capsys)
    assert (code, err) == (1, "nnctl: error: <stdin>: standard input is closed\n")
    assert listing(work) == ["net.yaml", "rows.csv"]


@pytest.mark.skipif(os.geteuid() != 0, reason="making files of other users needs root")
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_link_in_a_sticky_directory_to_another_users_file_is_not_followed(work, command,
                                                                            monkeypatch, capsys):
    """The issue's case: a shared 1777 directory where someone planted OUTPUT -> a file of a
    third user; the shell's `>` is refused there (fs.protected_symlinks), nnctl replaces the
    link and leaves the file alone (as root here: a user may not replace another's link in a
    sticky directory, and gets a Permission denied error instead)."""
    from fuzzing import run_inprocess

    args, name = WRITERS[command]
    shared = work / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    victim = work / "victim.txt"
    victim.write_text("someone else's data\n")
    os.chown(victim, 65534, 65534)
    (shared / name).symlink_to(victim)
    os.lchown(shared / name, 1000, 1000)
    run = run_inprocess([*args, "-o", shared / name], cwd=work)
    assert run.code == 0, run.err
    assert victim.read_text() == "someone else's data\n" and victim.stat().st_uid == 65534
    assert not (shared / name).is_symlink() and (shared / name).stat().st_size > 0


def test_many_files_into_their_own_directory_are_refused(work):
    """`forward net.yaml 'd/*.csv' -o d/ --output-format csv` took each input for its own
    finished output: '0 of 2 parts written, 2 skipped', exit 0."""
    from nnctl.errors import UsageError
    from nnctl.parts import plan

    (work / "d").mkdir()
    shutil.copy(work / "rows.csv", work / "d" / "a.csv")
    with pytest.raises(UsageError, match=r"-o .*d: .*a.csv is its own output there \(a.csv\)"):
        plan([str(work / "d" / "a.csv")], str(work / "d"), "csv")
    assert [p.dest for p in plan([str(work / "d" / "a.csv")], str(work / "d"), "parquet")] \
        == [str(work / "d" / "a.parquet")]


@pytest.mark.parametrize("args", [["convert", "net.yaml", "-o", "-"], ["plot", "net.yaml", "-o", "-"],
                                  ["forward", "net.yaml", "rows.csv", "-o", "-"],
                                  ["validate", "net.yaml"]],
                         ids=lambda a: a[0])
def test_writing_to_a_closed_stdout_with_dash_says_so(work, args, monkeypatch, capsys):
    """`-o -` with stdout closed (in this process: the ClosedStream nnctl's start-up puts for
    it; the subprocess tests above close the descriptor). validate prints nothing: exit 0."""
    from nnctl.cli import app

    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "stdout", app.ClosedStream("<stdout>", "standard output"))
    code = app.run(args)
    err = capsys.readouterr().err
    if args[0] == "validate":
        assert (code, err) == (0, "")
    else:
        assert (code, err) == (1, "nnctl: error: <stdout>: standard output is closed\n")
    assert listing(work) == ["net.yaml", "rows.csv"]
