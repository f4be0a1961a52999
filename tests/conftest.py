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
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    # this checkout's nnctl, whatever the cwd (an installed copy may be older)
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    full_env.update(env or {})
    if isinstance(input, str):
        input = input.encode()
    proc = subprocess.run([sys.executable, "-m", "nnctl", *map(str, args)], input=input,
                          capture_output=True, cwd=cwd, env=full_env, timeout=timeout)
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                  proc.stderr.decode("utf-8", "replace"), proc.stdout)


@pytest.fixture
def nnctl():
    return run_nnctl
