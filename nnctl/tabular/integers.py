"""Columns that must hold integers (the token ids of an Embedding), checked as they are read.

A model's integer inputs are read as float64 (exact for every integer below 2**53) and
checked here, per part of the input, so that a bad value is named by its file, line (or row,
in a binary file) and column: never a silent cast of 3.5 to 3, or of -1 to the last row of a
table.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnctl.errors import DataError


@dataclass(frozen=True)
class IntegerColumns:
    """Columns [start, stop) of a row: integers in [0, high) (or any int32 when high is None)."""

    start: int
    stop: int
    what: str                 # for messages: "input 'tokens'"
    high: int | None = None   # an Embedding's input_dim
    reader: str = ""          # for messages: "embedding 'embedding' (input_dim 20)"

    def bad(self, block: np.ndarray) -> np.ndarray:
        """A boolean mask of the values in `block` (rows, stop - start) that are not valid."""
        with np.errstate(invalid="ignore"):
            wrong = block != np.trunc(block)   # fractions, NaN, +-inf
            if self.high is not None:
                wrong |= (block < 0) | (block >= self.high)
            else:
                wrong |= (block < -2**31) | (block >= 2**31)
        return wrong

    def explain(self, value: float) -> str:
        text = _number(value)
        if value != np.trunc(value) or not np.isfinite(value):
            return f"{text} is not an integer: {self.what} takes integers"
        if self.high is None:
            return f"{text} is out of the int32 range: {self.what} is int32"
        if value < 0:
            return (f"{text} is negative: {self.what} holds indices for {self.reader}, "
                    f"0 to {self.high - 1}")
        return (f"{text} is out of range: {self.what} holds indices for {self.reader}, "
                f"0 to {self.high - 1}")


def first_bad(array: np.ndarray, columns: list[IntegerColumns]):
    """(row, column, IntegerColumns) of the first invalid value in `array`, or None."""
    found = None
    for spec in columns:
        wrong = spec.bad(array[:, spec.start:spec.stop])
        if not wrong.any():
            continue
        rows, cols = np.nonzero(wrong)
        k = int(np.argmin(rows * (spec.stop - spec.start) + cols))  # first in reading order
        here = (int(rows[k]), spec.start + int(cols[k]), spec)
        if found is None or here[:2] < found[:2]:
            found = here
    return found


def check_part(array, lines, columns, source: str, binary: bool):
    """(the valid rows before the first bad one, the DataError for it or None).

    `lines`: the first row's line (text) or row number (binary), or one number per row.
    """
    found = first_bad(array, columns)
    if found is None:
        return array, None
    row, column, spec = found
    line = lines + row if isinstance(lines, (int, np.integer)) else int(lines[row])
    message = f"column {column + 1}: {spec.explain(float(array[row, column]))}"
    if binary:
        return array[:row], DataError(f"row {line}: {message}", source=source)
    return array[:row], DataError(message, source=source, line=line)


def _number(value: float) -> str:
    """The value as read: an integer's digits while float64 holds them exactly (below 2**53),
    else the float's shortest form (`1e+30`, never 1000000000000000019884624838656)."""
    if np.isfinite(value) and value == np.trunc(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))
