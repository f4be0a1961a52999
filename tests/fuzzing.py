"""What the fuzz tests share: an in-process `nnctl`, the one property every case must keep,
a time bound, a case counter for the pytest summary, and the hypothesis settings for CI.

The property (DESIGN.md section 6): a run ends with exit 0, 1 or 2; on failure stderr holds
exactly one line `nnctl: error: ...`; never a traceback, never "internal error"; within a
time bound. Engine-level cases keep the equivalent: only an NnctlError escapes.

Cases run in this process (nnctl.cli.app.run with stdin/stdout/stderr redirected) because a
subprocess costs ~300 ms of start-up; the few subprocess cases are in test_fuzz_cli.py.

Settings: derandomized (the same cases on every run, so CI is deterministic) and without an
example database. NNCTL_FUZZ=deep runs 20 times as many cases with fresh randomness, for
hunting locally: `NNCTL_FUZZ=deep python -m pytest tests/test_fuzz_*.py`.
"""
from __future__ import annotations

import contextlib
import io
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
SPECS = ROOT / "tests" / "specs"
SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))

DEEP = os.environ.get("NNCTL_FUZZ") == "deep"
CASE_SECONDS = 120.0  # a hang guard only (SIGALRM fails a case that never ends); no speed claim
CASE_MEMORY = 4 << 30  # the memory bound of one case (a runaway allocation fails it)
MIN_CASES = 10_000    # what the whole fuzz suite must generate (checked in the summary)

settings.register_profile(
    "nnctl-ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example])
settings.register_profile(
    "nnctl-deep", derandomize=False, database=None, deadline=None, print_blob=True,
    suppress_health_check=list(HealthCheck))


def fuzz_settings(max_examples: int) -> settings:
    """The settings of one fuzz test: derandomized for CI, `max_examples` cases."""
    profile = settings.get_profile("nnctl-deep" if DEEP else "nnctl-ci")
    return settings(profile, max_examples=max_examples * (20 if DEEP else 1))


# --- counting cases --------------------------------------------------------------------------

class _Counter:
    """A pytest plugin (registered by the `fuzz_cases` fixture) that counts generated cases
    per test file and prints them at the end of the run."""

    def __init__(self):
        self.cases: dict[str, int] = {}
        self.whole_suite = False
        self.session = None

    def add(self, group: str, n: int = 1) -> None:
        self.cases[group] = self.cases.get(group, 0) + n

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        total = sum(self.cases.values())
        parts = ", ".join(f"{k}: {v:,}" for k, v in sorted(self.cases.items()))
        terminalreporter.write_sep("-", f"fuzz: {total:,} generated cases ({parts})")
        if self.whole_suite and total < MIN_CASES:
            terminalreporter.write_line(f"fuzz: fewer than {MIN_CASES:,} generated cases",
                                        red=True)
            self.session.exitstatus = pytest.ExitCode.TESTS_FAILED


COUNTER = _Counter()


@pytest.fixture(scope="session", autouse=False)
def fuzz_cases(request):
    """The session's case counter (its total is printed in the pytest summary)."""
    manager = request.config.pluginmanager
    if not manager.is_registered(COUNTER):
        manager.register(COUNTER, "nnctl-fuzz-counter")
        COUNTER.session = request.session
        # the budget is checked only when every fuzz test of every fuzz file runs
        files = {p.name for p in Path(__file__).parent.glob("test_fuzz_*.py")}
        running = {Path(str(item.fspath)).name for item in request.session.items}
        COUNTER.whole_suite = files <= running and not request.config.option.keyword \
            and not request.config.option.markexpr
    return COUNTER


# --- the time bound --------------------------------------------------------------------------

class CaseTimeout(BaseException):
    """A case ran past its time bound (a BaseException: nnctl's catch-alls must not eat it)."""


def _virtual_memory() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def time_limit(seconds: float = CASE_SECONDS, memory: int = CASE_MEMORY):
    """The case's bounds: `seconds` (SIGALRM), and `memory` bytes more address space than
    now, so that a runaway allocation (reading /dev/zero whole) is a MemoryError that fails
    the case, not the machine's memory taken away from CI."""
    def expire(signum, frame):
        raise CaseTimeout(f"the case ran longer than {seconds} s")

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _virtual_memory() + memory
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# --- nnctl in this process -------------------------------------------------------------------

@dataclass
class Run:
    args: list
    code: int
    out: bytes
    err: str
    seconds: float
    warnings: list = None   # Python warnings a real run would print on stderr


# Warnings Python does not show by default outside __main__: not seen by a user
QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ResourceWarning, ImportWarning)


_COMMAND = None


def _cached_command(app):
    """typer rebuilds the click command on every run (~20 ms); the fuzz runs share one."""
    global _COMMAND
    if _COMMAND is None:
        _COMMAND = _GET_COMMAND(app)
    return _COMMAND


def _original_get_command():
    import typer.main

    return typer.main.get_command


_GET_COMMAND = _original_get_command()


def run_inprocess(args, stdin: bytes = b"", cwd: str | os.PathLike | None = None) -> Run:
    """nnctl.cli.app.run(args) with stdin (a real file descriptor, as a redirect gives),
    stdout and stderr captured; SystemExit counts as its code (never expected)."""
    import typer

    from nnctl.cli import app

    args = [str(a) for a in args]
    with tempfile.TemporaryFile() as stdin_file, tempfile.TemporaryFile() as stdout_file:
        stdin_file.write(stdin)
        stdin_file.seek(0)
        # real files, as a shell's redirections give: they have descriptors; stdout is
        # strict UTF-8 and stderr escapes what it cannot encode, as Python sets them up
        new_in = io.TextIOWrapper(open(os.dup(stdin_file.fileno()), "rb"), encoding="utf-8")
        new_out = io.TextIOWrapper(open(os.dup(stdout_file.fileno()), "wb"), encoding="utf-8",
                                   errors="strict", write_through=True)
        new_err = io.StringIO()
        saved = sys.stdin, sys.stdout, sys.stderr
        typer.main.get_command = _cached_command
        sys.stdin, sys.stdout, sys.stderr = new_in, new_out, new_err
        start = time.perf_counter()
        try:
            with contextlib.chdir(cwd) if cwd else contextlib.nullcontext(), \
                    warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with time_limit():
                    try:
                        code = app.run(args)
                    except SystemExit as exc:  # noqa: PERF203
                        code = ("SystemExit", exc.code)
        finally:
            seconds = time.perf_counter() - start
            sys.stdin, sys.stdout, sys.stderr = saved
            typer.main.get_command = _GET_COMMAND
            new_in.close()
            try:
                new_out.close()
            except ValueError:  # closed by the command already
                pass
        stdout_file.seek(0)
        out = stdout_file.read()
    err = new_err.getvalue()
    err.encode("utf-8", "backslashreplace")
    shown = [f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in caught
             if not issubclass(w.category, QUIET_WARNINGS)]
    return Run(args, code, out, err, seconds, shown)


def checks_many(args) -> bool:
    """Whether the command line is validate's or lint's, which report every error of every
    MODEL given (one line each) rather than stop at the first."""
    command = next((a for a in args if not a.startswith("-")), None)
    return command in ("validate", "lint")


def check_run(run: Run, allowed=(0, 1, 2)) -> Run:
    """The property every fuzzed command line keeps (see the module docstring)."""
    where = f"nnctl {' '.join(map(repr, run.args))}"
    assert run.code in allowed, f"{where}: exit {run.code!r}\n{run.err}"
    assert "Traceback" not in run.err, f"{where}: a traceback\n{run.err}"
    errors = [line for line in run.err.splitlines() if line.startswith("nnctl: error:")]
    if run.code == 0:
        assert not errors, f"{where}: exit 0 with an error line\n{run.err}"
    elif run.code == 2 and not errors and b"Usage:" in run.out + run.err.encode():
        pass  # `nnctl` alone: the help, as a usage error
    elif checks_many(run.args):   # one line per error, and per MODEL (docs/cli.md)
        assert errors, f"{where}: exit {run.code} without an error line\n{run.err}"
    else:
        assert len(errors) == 1, f"{where}: exit {run.code}, {len(errors)} error lines\n{run.err}"
        assert run.err.endswith("\n") and errors[0] == run.err.splitlines()[-1], \
            f"{where}: the error is not the last line\n{run.err}"
    assert "internal error" not in run.err, f"{where}: an internal error\n{run.err}"
    assert not run.warnings, f"{where}: Python warnings on stderr\n" + "\n".join(run.warnings)
    assert "out of memory" not in run.err, f"{where}: more than {CASE_MEMORY >> 30} GB\n{run.err}"
    return run


def engine_case(function, *args, **kwargs):
    """Call an engine function; it may return or raise an NnctlError, nothing else."""
    from nnctl.errors import NnctlError

    with time_limit(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = function(*args, **kwargs)
        except NnctlError as exc:
            # the CLI prints it on one line (nnctl.cli.console.one_line escapes the control
            # characters a message may echo from the input)
            assert isinstance(exc.message, str) and exc.message.strip(), repr(exc)
            result = exc
    shown = [f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in caught
             if not issubclass(w.category, QUIET_WARNINGS)]
    assert not shown, "Python warnings (a run prints them on stderr):\n" + "\n".join(shown)
    return result


# --- peak memory of a real process -----------------------------------------------------------

# NOTE: Linux carries a process's peak RSS over fork and exec, so a child of pytest (hundreds
# of MB by the end of the suite) would report at least pytest's peak. A small reaper process
# forks the command instead; wait4 in the reaper gives the command's own peak.
_REAPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
os.write(2, b"\\nMAXRSS %d\\n" % usage.ru_maxrss)
if os.WIFSIGNALED(status):  # end the same way, so the caller sees the signal
    import signal
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def checkout_env(env: dict | None = None) -> dict:
    """os.environ with this checkout first on PYTHONPATH: `python -m nnctl` run from another
    directory runs this nnctl, not an installed copy that may be older."""
    full = dict(os.environ, **(env or {}))
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full.get("PYTHONPATH")) if p)
    return full


def measured(args, input: bytes = b"", cwd=None, timeout: float = 120):
    """Run `python -m nnctl ARGS`: (exit code, stdout bytes, stderr text, peak RSS in KB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryFile() as stdin:
        stdin.write(input)
        stdin.seek(0)
        proc = subprocess.run([sys.executable, "-c", _REAPER, sys.executable, "-m", "nnctl",
                               *map(str, args)], stdin=stdin, stdout=out, stderr=err, cwd=cwd,
                              timeout=timeout, env=checkout_env())
        out.seek(0)
        err.seek(0)
        data, text = out.read(), err.read().decode("utf-8", "replace")
    text, _, peak = text.rpartition("\nMAXRSS ")
    return proc.returncode, data, text, int(peak)
