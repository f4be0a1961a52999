"""Reading HDF5 in a forked child process, so that a damaged file that crashes the HDF5 C
library (it can: a few flipped bytes in a heap or B-tree node give a segmentation fault) is
one error line, not a dead process.

A damaged file can also send the library into an endless loop: the child's CPU time is
limited (RLIMIT_CPU: 10 s plus 1 s per 20 MB of file, far above what reading takes), past
which it is killed and the file reported.

The child inherits everything by fork (no pickles, no re-import), runs the reading function,
and sends back the spec and the arrays in nnctl's model-file format (an .npz written with
NumPy, read back with allow_pickle=False), or an error as JSON. The parent reads the pipe to
its end, then reaps the child; a child killed by a signal becomes a WeightsError.
On systems without a safe fork (not Linux) the function runs in this process.
"""
from __future__ import annotations

import io
import json
import os
import signal
import sys

import numpy as np

from nnctl import errors

RESULT, ERROR = b"R", b"E"
NO_WEIGHTS = "__no_weights__"


def run_isolated(read, name: str, size: int = 0):
    """`read()` -> (spec dict or None, weights dict or None), run in a child process.
    size: the file's bytes, for the child's CPU time limit."""
    if not sys.platform.startswith("linux") or os.environ.get("NNCTL_HDF5_IN_PROCESS"):
        return read()
    _import_before_fork()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: never returns
        os.close(r)
        _limit_cpu(10 + size // (20 << 20))
        _child(read, w)
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.raise_signal(number)   # an interrupt meant for us all
        if number in (signal.SIGXCPU, signal.SIGKILL):
            raise errors.WeightsError("damaged HDF5 file: the HDF5 library was still reading "
                                      "it long after it should have finished", source=name)
        raise errors.WeightsError(f"damaged HDF5 file: the HDF5 library crashed reading it "
                                  f"({signal.Signals(number).name})", source=name)
    if payload[:1] == ERROR:
        report = json.loads(payload[1:].decode("utf-8"))
        kind = getattr(errors, report["kind"], errors.WeightsError)
        raise kind(report["message"], source=report["source"], line=report["line"],
                   column=report["column"])
    if payload[:1] != RESULT:
        raise errors.WeightsError(f"cannot read the file (the reading process exited with "
                                  f"status {os.waitstatus_to_exitcode(status)})", source=name)
    return _decoded(payload[1:], name)


def _import_before_fork() -> None:
    """What the child needs, imported here once: a child's imports die with it, and would
    cost every read again (about 1 s under load)."""
    import hashlib  # noqa: F401  (seeded weight draws)

    from nnctl.kerasfile import archive, config, h5, masks  # noqa: F401
    from nnctl import activations, initializers, masking, model, spec, weights  # noqa: F401

    h5.require_h5py()


def _limit_cpu(seconds: int) -> None:
    import resource

    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            seconds = min(seconds, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, hard))
    except (ValueError, OSError):
        pass


def _child(read, fd: int) -> None:
    code = 0
    try:
        try:
            spec, weights = read()
            payload = RESULT + _encoded(spec, weights)
        except errors.NnctlError as exc:
            payload = ERROR + _error(type(exc).__name__, exc.message, exc.source, exc.line,
                                     exc.column)
        except Exception as exc:  # a bug of nnctl's reading: say what it was, in one line
            text = " ".join(str(exc).split())
            payload = ERROR + _error("WeightsError", f"cannot read: {type(exc).__name__}: "
                                     f"{text}", None, None, None)
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(payload)
    except BaseException:
        code = 1
    finally:
        os._exit(code)   # no atexit handlers, no flushing of the parent's buffers


def _error(kind, message, source, line, column) -> bytes:
    return json.dumps({"kind": kind, "message": message, "source": source, "line": line,
                       "column": column}).encode("utf-8")


def _encoded(spec, weights) -> bytes:
    from nnctl.weights import SPEC_KEY, spec_bytes

    arrays = dict(weights) if weights is not None else {NO_WEIGHTS: np.zeros(0, np.uint8)}
    if spec is not None:
        arrays[SPEC_KEY] = spec_bytes(spec)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _decoded(data: bytes, name: str):
    from nnctl.weights import SPEC_KEY, _read_arrays

    arrays = _read_arrays(name, data)
    raw = arrays.pop(SPEC_KEY, None)
    spec = json.loads(raw.tobytes().decode("utf-8")) if raw is not None else None
    weights = None if NO_WEIGHTS in arrays else arrays
    return spec, weights
