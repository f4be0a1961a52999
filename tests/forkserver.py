"""The tests' way to start `python -m nnctl` fast: a fork server.

The CLI tests run nnctl as a user does, one process per command, about 2,000 times a suite.
A fresh interpreter spends most of its start-up importing NumPy, PyYAML, rich and typer, the
same on every run. So each pytest worker starts one server process that imports those
libraries (never nnctl) and then forks a child per command. The child is a real process: its
own pid, its own stdin/stdout/stderr pipes, working directory, environment and exit status,
and it runs nnctl's real entry point (`python -m nnctl`, through runpy), which ends it with
os._exit as a fresh process would end.

What differs from a fresh interpreter is only that those libraries are already imported. A
run whose environment would change how Python or those libraries start (PYTHON*, the locale,
BLAS thread counts...) therefore takes a plain subprocess instead, as does a run asked for
while another is in progress (tests that run commands side by side).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

# Environment variables read when Python or a preloaded library starts: a run whose value
# differs from the server's gets a fresh interpreter.
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LANG", "OPENBLAS", "OMP_", "MKL_", "NPY_", "NUMPY",
                     "GOTO", "TYPER", "_TYPER", "PYYAML")
_PRELOADED = ("numpy", "yaml", "typer", "rich.console")
BLAS_THREAD_TIMEOUT = "16"  # nnctl.cli.tuning's, checked by tests/test_forkserver.py
_STATUS = struct.Struct("!q")
# A request (argv, environment, cwd) is one socket message, which the socket's send buffer
# bounds (about 208 KB on Linux: EMSGSIZE past it); a command line may be 2 MB: a larger
# request takes a plain subprocess
MAX_REQUEST_BYTES = 128 << 10

_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); import forkserver; "
         "forkserver.serve(int(sys.argv[2]))")


def _startup_env(env: dict) -> dict:
    return {k: v for k, v in env.items() if k.startswith(_STARTUP_PREFIXES)}


class ForkServer:
    """One server process; run() is a fork of it running `python -m nnctl ARGV`."""

    def __init__(self, env: dict, cwd: str):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._env = _startup_env(env)
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, os.path.dirname(os.path.abspath(__file__)),
             str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, env=env, cwd=cwd)
        theirs.close()
        self._socket = ours

    def can_run(self, env: dict) -> bool:
        return self._process.poll() is None and _startup_env(env) == self._env

    def run(self, argv: list[str], input: bytes | None, cwd, env: dict,
            timeout: float) -> tuple[int, bytes, bytes] | None:
        """(exit code, stdout, stderr) of the command, or None when the server is busy or the
        request too large (the caller then starts a plain subprocess). Raises
        subprocess.TimeoutExpired as subprocess.run does, after killing the command."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._run(argv, input, cwd, env, timeout)
        except subprocess.TimeoutExpired:
            raise
        except BaseException:
            # a run cut short (Ctrl-C, an alarm's exception) leaves its command's replies in
            # the socket, where the next run would read them as its own: no further runs here
            self._process.kill()
            self._process.wait()
            raise
        finally:
            self._lock.release()

    def _run(self, argv, input, cwd, env, timeout):
        deadline = time.monotonic() + timeout
        request = json.dumps({"argv": [str(a) for a in argv], "env": env,
                              "cwd": os.path.abspath(cwd or os.getcwd())}).encode()
        if len(request) > MAX_REQUEST_BYTES:
            return None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if input is None:  # inherited, as subprocess.run(input=None) leaves it
            in_r, in_w = 0, None
        else:
            in_r, in_w = os.pipe()
        try:
            socket.send_fds(self._socket, [request], [in_r, out_w, err_w])
        finally:
            for fd in (out_w, err_w) + ((in_r,) if in_w is not None else ()):
                os.close(fd)
        pid = _STATUS.unpack(self._socket.recv(_STATUS.size))[0]
        chunks = {out_r: [], err_r: []}

        def drain(fd: int) -> None:
            with open(fd, "rb", buffering=0, closefd=True) as f:
                while block := f.read(1 << 16):
                    chunks[fd].append(block)

        def feed() -> None:
            try:  # a command that stops reading early closes the pipe: as communicate() does
                with open(in_w, "wb", closefd=True) as f:
                    f.write(input)
            except OSError:
                pass

        threads = [threading.Thread(target=drain, args=(fd,), daemon=True)
                   for fd in (out_r, err_r)]
        if in_w is not None:
            threads.append(threading.Thread(target=feed, daemon=True))
        for thread in threads:
            thread.start()
        self._socket.settimeout(timeout)
        try:
            status = _STATUS.unpack(self._socket.recv(_STATUS.size))[0]
        except TimeoutError:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended as the time ran out: its status is on its way
                pass
            self._socket.settimeout(None)
            self._socket.recv(_STATUS.size)
            for thread in threads:
                thread.join(5)
            raise subprocess.TimeoutExpired(argv, timeout,
                                            b"".join(chunks[out_r]), b"".join(chunks[err_r]))
        finally:
            self._socket.settimeout(None)
        # the pipes' ends close with the command and the processes it started; one of those
        # that outlives it holds them open: TimeoutExpired then, as subprocess.run raises
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            raise subprocess.TimeoutExpired(argv, timeout,
                                            b"".join(chunks[out_r]), b"".join(chunks[err_r]))
        return (os.waitstatus_to_exitcode(status), b"".join(chunks[out_r]),
                b"".join(chunks[err_r]))

    def close(self) -> None:
        self._socket.close()  # the server's recv sees the end and it exits
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def serve(fd: int) -> None:
    """The server's loop: import the libraries, then one fork per request."""
    import importlib

    # OpenBLAS reads this when NumPy starts it, here, and forked children keep what it read:
    # set it as nnctl's entry point does before importing NumPy (nnctl.cli.tuning)
    if not {"OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT"} & set(os.environ):
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = BLAS_THREAD_TIMEOUT
    for name in _PRELOADED:
        importlib.import_module(name)
    del sys.path[0]  # forkserver's folder: a command's sys.path is a fresh one's
    base_path = list(sys.path)
    channel = socket.socket(fileno=fd)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 3)
        except OSError:
            return
        if not message:
            return
        pid = os.fork()
        if pid == 0:
            _child(channel, fds, json.loads(message), base_path)
        for descriptor in fds:
            os.close(descriptor)
        channel.sendall(_STATUS.pack(pid))
        _, status = os.waitpid(pid, 0)
        channel.sendall(_STATUS.pack(status))


def _child(channel: socket.socket, fds: list[int], request: dict, base_path: list[str]):
    code = 1
    try:
        channel.close()
        for target, descriptor in enumerate(fds):
            os.dup2(descriptor, target)
        for descriptor in fds:
            if descriptor > 2:
                os.close(descriptor)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[:] = [os.getcwd()] + base_path[1:]  # `python -m` puts the cwd first
        sys.argv = ["-m", *request["argv"]]
        import runpy

        runpy.run_module("nnctl", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # what Python itself prints for an uncaught exception
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                code = code or 120
        os._exit(code)
