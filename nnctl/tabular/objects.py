"""JSON Lines of objects (`{"a": 1, "b": 2}`): rows read by key, and written so on request.

The first object's keys name the columns: in the order of the caller's column names (a model's
input columns, `record_0`, ..., `patch_15`) when the keys are exactly those, else in the
file's order. Every line must have the same keys; a missing or extra key is an error at its
line. Blocks are parsed by polars' NDJSON reader when clean, else line by line with Python's
json module to name the bad line.
"""
from __future__ import annotations

import io
import json

import numpy as np

from nnctl.errors import DataError


def object_keys(text: bytes, source: str, line: int, wanted: list[str] | None) -> list[str]:
    """The column names of a first line `{...}`, ordered as `wanted` when they are its names."""
    row = _object(text, source, line)
    keys = list(row)
    if wanted is not None and sorted(keys) == sorted(wanted) and len(set(wanted)) == len(wanted):
        return list(wanted)
    return keys


def _object(text: bytes, source: str, line: int) -> dict:
    try:
        row = json.loads(text)
    except ValueError as exc:
        raise DataError(f"not a JSON object ({exc.msg})", source=source, line=line,
                        column=exc.colno) from None
    except RecursionError:  # json recurses once per level: {"a": {"a": ...}} runs out of stack
        raise DataError("not a JSON object of numbers: nested too deeply", source=source,
                        line=line) from None
    if not isinstance(row, dict):
        raise DataError("not a JSON object (the first line is one: every line is)",
                        source=source, line=line)
    return row


class ObjectParser:
    """Blocks of JSON objects -> arrays with the columns in `keys` order."""

    def __init__(self, keys: list[str], dtype: np.dtype):
        import polars as pl

        self._pl = pl
        self.keys = keys
        self.dtype = dtype
        self.schema = {key: pl.Float64 for key in keys}
        self._quotes = 2 * len(keys)  # per line of a clean block: its keys' quotes, no more

    def fast(self, block: bytes, newlines: int) -> np.ndarray | None:
        """The rows of a clean block (every line an object of numbers with the same keys)."""
        rows = newlines + (not block.endswith(b"\n"))
        # polars reads the keys of the schema and passes over others: an extra key (or a
        # string value) shows in the count of quotes, a missing one as a null
        if block.count(b'"') != self._quotes * rows:
            return None
        try:
            frame = self._pl.read_ndjson(io.BytesIO(block), schema=self.schema)
        except Exception:  # noqa: BLE001 - any refusal sends the block to the careful path
            return None
        if frame.height != rows or any(frame.null_count().row(0)):
            return None
        return np.ascontiguousarray(frame.to_numpy(), dtype=self.dtype)

    def careful(self, block: bytes, first_line: int, reader):
        """(good rows, their line numbers, the first error or None), line by line."""
        from nnctl.tabular.text import numbered_rows

        good, numbers, error = [], [], None
        for line, raw in numbered_rows(block, first_line):
            try:
                reader.refuse_far_too_wide(raw, line, "keys")
                good.append(self._values(_object(raw, reader.name, line)))
            except DataError as exc:
                error = exc.at(reader.name, line)
                break
            numbers.append(line)
        array = np.array(good, dtype=np.float64).reshape(len(good), len(self.keys))
        return array.astype(self.dtype), np.array(numbers, dtype=np.int64), error

    def _values(self, row: dict) -> list[float]:
        missing = [k for k in self.keys if k not in row]
        if missing:
            raise DataError(f"missing key '{missing[0]}' (the first line has "
                            f"{_listed(self.keys)})")
        extra = [k for k in row if k not in self.keys]
        if extra:
            raise DataError(f"unknown key '{extra[0]}' (the first line has "
                            f"{_listed(self.keys)})")
        values = []
        for key in self.keys:
            value = row[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(f"key '{key}': {json.dumps(value)[:40]} is not a number")
            values.append(value)
        return values


def format_objects(text: bytes, names: list[str]) -> bytes:
    """JSON Lines of arrays of numbers (format_rows' text) as objects keyed by `names`."""
    keys = [json.dumps(name).encode() + b": " for name in names]
    lines = text.split(b"\n")
    out = [b"{" + b", ".join(key + value for key, value in zip(keys, line[1:-1].split(b",")))
           + b"}" for line in lines[:-1]]
    return b"\n".join(out) + b"\n" if out else b""


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:6])
    return shown + (f", ... ({len(keys)} keys)" if len(keys) > 6 else "")
