"""Shared test helpers: run the real `nnctl` command and capture what a user would see."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
SPECS = ROOT / "tests" / "specs"
GOLDEN = ROOT / "tests" / "golden"


SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))


def forward_golden(stem: str) -> dict[str, dict]:
    """Keras' forward golden of a spec: {"weights": {LAYER/WEIGHT: array}, "inputs": {...},
    "outputs": {...}} (made by tools/golden/forward.py)."""
    import numpy as np

    data = np.load(GOLDEN / "forward" / f"{stem}.npz", allow_pickle=False)
    groups = {"weights": {}, "inputs": {}, "outputs": {}}
    for key in data.files:
        group, _, name = key.partition("/")
        groups[group][name] = data[key]
    return groups


@dataclass
class Result:
    code: int
    out: str
    err: str
    out_bytes: bytes


def run_nnctl(*args, input: str | bytes | None = None, cwd=None, env=None, timeout=60) -> Result:
    """Run `python -m nnctl ARGS` piped (not a terminal), as a script or a pipeline would."""
    full_env = {**_run_env(), **(env or {})}
    if isinstance(input, str):
        input = input.encode()
    server = _fork_server(full_env)
    ran = server and server.run(list(map(str, args)), input, cwd, full_env, timeout)
    if ran is None:
        proc = subprocess.run([sys.executable, "-m", "nnctl", *map(str, args)], input=input,
                              capture_output=True, cwd=cwd, env=full_env, timeout=timeout)
        ran = proc.returncode, proc.stdout, proc.stderr
    code, out, err = ran
    return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), out)


def _run_env() -> dict:
    """The environment of a run that asks for nothing else: this one, without the terminal's
    size, with this checkout's nnctl first whatever the cwd (an installed copy may be older)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


_SERVER = None


def _fork_server(env: dict):
    """This pytest process's fork server (tests/forkserver.py), or None where it cannot run a
    command in this environment (NNCTL_TEST_FORK=0 turns it off)."""
    global _SERVER
    if os.environ.get("NNCTL_TEST_FORK") == "0" or not hasattr(os, "fork"):
        return None
    if _SERVER is None:
        from forkserver import ForkServer

        # started as most runs are, whatever the first run asks (a PYTHONPATH of its own
        # would send every later run to a plain subprocess)
        _SERVER = ForkServer(_run_env(), str(ROOT))
    return _SERVER if _SERVER.can_run(env) else None


def pytest_sessionfinish(session, exitstatus):
    if _SERVER is not None:
        _SERVER.close()


@pytest.fixture
def nnctl():
    return run_nnctl
