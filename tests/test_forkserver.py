"""run_nnctl's fork server (tests/forkserver.py) ends a run as subprocess.run does.

The commands here are a stand-in `nnctl` package in the run's working directory: `python -m`
puts the working directory first on sys.path, in a fresh interpreter and in a forked child.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import conftest
import forkserver
from conftest import run_nnctl

STAND_IN = """\
import os, subprocess, sys, time
if sys.argv[1] == "linger":   # leaves a process that holds stdout and stderr, then ends
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open("lingering.pid", "w") as f:
        f.write(str(child.pid))
elif sys.argv[1] == "nap":
    time.sleep(float(sys.argv[2]))
print("ran", sys.argv[1])
"""


@pytest.fixture
def stand_in(tmp_path):
    (tmp_path / "nnctl").mkdir()
    (tmp_path / "nnctl" / "__init__.py").write_text("")
    (tmp_path / "nnctl" / "__main__.py").write_text(STAND_IN)
    return tmp_path


@pytest.mark.parametrize("fork", ["1", "0"])
def test_a_process_left_holding_the_pipes_is_a_timeout_not_a_hang(stand_in, fork,
                                                                  monkeypatch):
    monkeypatch.setenv("NNCTL_TEST_FORK", fork)
    raised = []

    def run():
        try:
            run_nnctl("linger", cwd=stand_in, timeout=1)
        except subprocess.TimeoutExpired as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        thread.join(60)  # a hang guard only: the run gives up after its 1 s
        assert not thread.is_alive(), "run_nnctl waited past its timeout"
        assert len(raised) == 1
    finally:
        pid_file = stand_in / "lingering.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        thread.join(30)


@pytest.mark.skipif(not os.path.exists("/proc/self"), reason="reads /proc (Linux)")
def test_a_command_ending_as_its_time_runs_out_leaves_the_server_in_step(stand_in,
                                                                         monkeypatch):
    """The timeout's kill finds the command already ended (and reaped by the server): the
    run is a TimeoutExpired, and the next run gets its own status and output."""
    env = conftest._run_env()
    server = forkserver.ForkServer(env, str(stand_in))
    kill = os.kill

    def kill_after_the_end(pid, sig):
        deadline = time.monotonic() + 60  # a hang guard only
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.01)
        return kill(pid, sig)

    try:
        monkeypatch.setattr(os, "kill", kill_after_the_end)
        with pytest.raises(subprocess.TimeoutExpired):
            server.run(["nap", "0.5"], None, stand_in, env, timeout=0.1)
        monkeypatch.setattr(os, "kill", kill)
        assert server.run(["nap", "0"], None, stand_in, env, timeout=60) == (0, b"ran nap\n",
                                                                            b"")
    finally:
        server.close()


def test_the_server_starts_as_plain_runs_do_whatever_the_first_run_asks(stand_in,
                                                                        monkeypatch):
    monkeypatch.setattr(conftest, "_SERVER", None)
    monkeypatch.delenv("NNCTL_TEST_FORK", raising=False)
    try:
        own_path = {"PYTHONPATH": f"{stand_in}{os.pathsep}{conftest.ROOT}"}
        assert run_nnctl("nap", "0", cwd=stand_in, env=own_path).out == "ran nap\n"
        assert conftest._SERVER is not None and conftest._SERVER.can_run(conftest._run_env())
    finally:
        if conftest._SERVER is not None:
            conftest._SERVER.close()


def test_stand_in_runs_as_python_m_does(stand_in):
    """The stand-in is what `python -m nnctl` runs in that directory."""
    proc = subprocess.run([sys.executable, "-m", "nnctl", "nap", "0"], cwd=stand_in,
                          capture_output=True, env=conftest._run_env(), timeout=60)
    assert (proc.returncode, proc.stdout) == (0, b"ran nap\n")


def test_a_command_line_too_long_for_one_message_still_runs(stand_in):
    """300 KB of arguments (a fresh process takes 2 MB): more than the server's socket carries
    in one message."""
    long = "x" * 100_000
    result = run_nnctl("nap", "0", long, long, long, cwd=stand_in)
    assert (result.code, result.out) == (0, "ran nap\n")


class _Alarm(Exception):
    pass


def test_a_run_cut_short_by_an_exception_retires_the_server(stand_in):
    """An exception in the middle of a run (here from a signal handler, as Ctrl-C or a test
    timeout's alarm would raise it) leaves the command's replies unread: the server takes no
    further run (the next run's exit code was the previous command's pid read as a status)."""
    env = conftest._run_env()
    server = forkserver.ForkServer(env, str(stand_in))

    def alarm(signum, frame):
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(_Alarm):
            server.run(["nap", "2"], None, stand_in, env, timeout=60)
        signal.setitimer(signal.ITIMER_REAL, 0)
        assert not server.can_run(env)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        server.close()


def test_the_server_sets_nnctl_s_blas_thread_timeout():
    """Forked commands keep the BLAS settings the server's NumPy read when it started: the
    server (which never imports nnctl) sets nnctl's timeout by a copy of its value."""
    from nnctl.cli.tuning import BLAS_THREAD_TIMEOUT

    assert forkserver.BLAS_THREAD_TIMEOUT == BLAS_THREAD_TIMEOUT
