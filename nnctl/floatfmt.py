"""Numbers as text, both ways: the shortest text that reads back to the same float.

docs/formats.md: floats are written in the shortest round-trip form of the model's dtype
(float32 numbers as float32 would print them, not as the float64 they widen to).
"""
from __future__ import annotations

import math

import numpy as np

from nnctl.errors import ParameterError


def float_text(value, dtype=np.float32) -> str:
    """`0.021671522` for a float32, `2` for 2.0, `-inf`, `nan`."""
    text = str(np.dtype(dtype).type(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text


def float_texts(array: np.ndarray) -> list[str]:
    """Every element of `array` (flattened, C order) as float_text in its own dtype."""
    scalar = array.dtype.type
    return [float_text(v, scalar) for v in array.ravel().tolist()]


def parse_int(text: str, what: str = "value") -> int:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ParameterError(f"{what}: '{text}' is not an integer") from None
    if not math.isfinite(value) or value != int(value):
        raise ParameterError(f"{what}: '{text}' is not an integer")
    return int(value)
