"""Numbers as text, both ways: the shortest text that reads back to the same float, and rows
of them as CSV, TSV or JSON Lines: the one writer of floats of every command.

docs/formats.md: floats are written in the shortest round-trip form of the model's dtype
(float32 numbers as float32 would print them, not as the float64 they widen to), positional
near 1 and scientific far from it, as polars writes them: large tables are formatted by
polars, a few values (act, init, a row typed at a terminal) in Python, to the same text
(tested), so that polars is imported only where it pays.
"""
from __future__ import annotations

import io
import math
import sys

import numpy as np

from nnctl.errors import ParameterError

# The decimal exponents written positionally (`0.0000015`, `123456790`), low <= e < high;
# outside, scientific (`1.5e-7`, `1e+13`). polars' choice, per dtype.
POSITIONAL = {np.dtype(np.float32): (-6, 13), np.dtype(np.float64): (-5, 16)}

# JSON has no inf/nan; Python's json module reads these spellings back.
JSON_SPELLING = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}


def float_text(value, dtype=np.float32) -> str:
    """`0.021671522` for a float32, `2` for 2.0, `1e-7`, `1.5e+16`, `-0`, `-inf`, `nan`."""
    x = np.dtype(dtype).type(value)
    text = str(x)  # NumPy's shortest round-trip digits (Dragon4), in either notation
    if "e" not in text:  # nan, inf, or positional from 1e-4 to 1e8 (float32) or 1e16: as polars
        return text[:-2] if text.endswith(".0") else text
    sign = "-" if text.startswith("-") else ""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)  # the decimal point falls after digits[:point]
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    if not digits:
        return sign + "0"
    low, high = POSITIONAL.get(x.dtype, POSITIONAL[np.dtype(np.float64)])
    if not low <= point - 1 < high:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if point >= 1 else '-'}{abs(point - 1)}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def float_texts(array: np.ndarray) -> list[str]:
    """Every element of `array` (flattened, C order) as float_text in its own dtype."""
    scalar = array.dtype.type
    return [float_text(v, scalar) for v in array.ravel().tolist()]


def text_rows(rows, fmt: str = "csv") -> str:
    """Rows of text cells as CSV or TSV lines (a header row, a table of statistics), quoted
    where a cell holds the separator or a quote."""
    import csv

    out = io.StringIO()
    csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n").writerows(rows)
    return out.getvalue()


def as_rows(array: np.ndarray) -> np.ndarray:
    """`array` as a table for format_rows: a scalar is one cell, a 1-D array one column, and
    the axes after the first are flattened."""
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    return array if array.ndim == 2 else array.reshape(len(array), -1)


def format_rows(array: np.ndarray, fmt: str = "csv") -> bytes:
    """Rows of a 2-D float array as CSV/TSV/JSON Lines text, one line per row."""
    rows, width = array.shape
    if rows == 0:
        return b""
    if width == 0:
        return (b"[]\n" if fmt == "jsonl" else b"\n") * rows
    # The same text either way. polars formats 5 to 50 times faster, but importing it takes
    # ~0.1 s, the time Python takes for some 50,000 values.
    if array.size > (256 if "polars" in sys.modules else 20_000):
        return _rows_by_polars(array, fmt)
    return _rows_by_python(array, fmt)


def _rows_by_python(array: np.ndarray, fmt: str) -> bytes:
    texts = float_texts(array)
    if fmt == "jsonl":
        texts = [JSON_SPELLING.get(t, t) for t in texts]
    sep = "\t" if fmt == "tsv" else ","
    width = array.shape[1]
    lines = [sep.join(texts[i:i + width]) for i in range(0, len(texts), width)]
    if fmt == "jsonl":
        return "".join(f"[{line}]\n" for line in lines).encode()
    return "".join(line + "\n" for line in lines).encode()


# polars writes the shortest round-trip form in the array's dtype, but `2.0` and `NaN` where
# nnctl writes `2` and `nan`. Zeros, the common case (ReLU), are written as polars' null text
# "0"; other integral values and NaN are fixed up in the text, only in batches that hold them
# (checked on the numbers, which is cheaper).
_FIXES = {
    "csv": [(b".0,", b","), (b".0\n", b"\n")],
    "tsv": [(b".0\t", b"\t"), (b".0\n", b"\n")],
    "jsonl": [(b".0,", b","), (b".0]", b"]")],
}


def _rows_by_polars(array: np.ndarray, fmt: str) -> bytes:
    import polars as pl

    with np.errstate(invalid="ignore"):  # signalling NaNs
        integral = array == np.trunc(array)  # infinities too: harmless
    nan = bool(np.isnan(array).any())
    zeros = integral & (array == 0) & ~np.signbit(array)
    if not nan and zeros.any():
        frame = pl.DataFrame(np.where(zeros, array.dtype.type(np.nan), array), orient="row",
                             nan_to_null=True)
        integral &= ~zeros
    else:
        frame = pl.from_numpy(array, orient="row")
    sink = io.BytesIO()
    if fmt == "jsonl":  # each line closes its array and opens the next
        sink.write(b"[")
    frame.write_csv(sink, include_header=False, separator="\t" if fmt == "tsv" else ",",
                    quote_style="never", null_value="0",
                    line_terminator="]\n[" if fmt == "jsonl" else "\n")
    if fmt == "jsonl":
        sink.truncate(sink.tell() - 1)
    text = sink.getvalue()
    if integral.any():
        for old, new in _FIXES[fmt]:
            text = text.replace(old, new)
    if fmt == "jsonl":
        if nan or not np.isfinite(array).all():
            text = text.replace(b"inf", b"Infinity")  # JSON spellings Python's json reads
    elif nan:
        text = text.replace(b"NaN", b"nan")
    return text


def parse_int(text: str, what: str = "value") -> int:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ParameterError(f"{what}: '{text}' is not an integer") from None
    if not math.isfinite(value) or value != int(value):
        raise ParameterError(f"{what}: '{text}' is not an integer")
    return int(value)
