"""Counting the work a command does, to check how it grows without timing anything.

Work is the number of Python function calls and C calls made anywhere, plus the number of
lines run inside nnctl (a loop without calls shows in its lines). Both are deterministic: the
same command on the same input counts the same on any machine, loaded or idle."""
from __future__ import annotations

import os
import sys

import nnctl

NNCTL_DIR = os.path.dirname(nnctl.__file__)


def counted_work(function, *args, **kwargs) -> int:
    """function(*args, **kwargs), returning the work it did (its result is dropped)."""
    count = 0

    def lines(frame, event, arg):
        nonlocal count
        count += 1
        return lines

    def calls(frame, event, arg):
        nonlocal count
        count += 1
        # only nnctl's own frames are traced line by line (a line event each)
        return lines if frame.f_code.co_filename.startswith(NNCTL_DIR) else None

    def c_calls(frame, event, arg):
        nonlocal count
        if event == "c_call":
            count += 1

    sys.settrace(calls)
    sys.setprofile(c_calls)
    try:
        function(*args, **kwargs)
    finally:
        sys.settrace(None)
        sys.setprofile(None)
    return count


def chain_spec(n_layers: int, units: int = 2) -> str:
    """A Sequential spec of n_layers Dense layers."""
    return ("name: chain\ninput: [2]\nlayers:\n"
            + f"  - {{type: Dense, units: {units}, activation: relu}}\n" * n_layers)


def diamond_chain_spec(n_blocks: int) -> str:
    """A Functional spec of n_blocks residual diamonds in a row (two branches, then Add)."""
    lines = ["name: diamonds", "inputs: {x: [2]}", "layers:"]
    previous = "x"
    for k in range(n_blocks):
        lines += [f"  - {{name: a{k}, type: Dense, units: 2, inputs: {previous}}}",
                  f"  - {{name: b{k}, type: Dense, units: 2, activation: relu, inputs: {previous}}}",
                  f"  - {{name: s{k}, type: Add, inputs: [a{k}, b{k}]}}"]
        previous = f"s{k}"
    return "\n".join(lines) + "\n"


def wide_spec(n_branches: int) -> str:
    """A Functional spec of n_branches parallel Dense layers joined by one Concatenate."""
    lines = ["name: wide", "inputs: {x: [2]}", "layers:"]
    lines += [f"  - {{name: d{k}, type: Dense, units: 1, inputs: x}}" for k in range(n_branches)]
    lines.append("  - {name: joined, type: Concatenate, inputs: ["
                 + ", ".join(f"d{k}" for k in range(n_branches)) + "]}")
    return "\n".join(lines) + "\n"
