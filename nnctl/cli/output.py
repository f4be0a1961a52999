"""Writing an array to stdout in the format the user asked for (act, init, ...).

text: as TensorFlow prints a tensor (the article's `tf.Tensor(...)` output), for terminals;
csv/tsv: one row per line (a 1-D array one value per line), shortest round-trip floats;
json: nested lists; npy: NumPy's binary format.
"""
from __future__ import annotations

import sys

import numpy as np

from nnctl.floatfmt import float_texts


def tensor_text(array: np.ndarray) -> str:
    """`tf.Tensor([...], shape=(9,), dtype=float32)`, as print(tensor) shows it in TF 2."""
    body = str(array)
    if "\n" in body:
        body = "\n" + body
    return f"tf.Tensor({body}, shape={tuple(array.shape)}, dtype={array.dtype.name})"


def delimited_text(array: np.ndarray, sep: str = ",") -> str:
    """Rows of values; a scalar or 1-D array is one value per line; more axes are flattened."""
    if array.ndim == 0:
        array = array.reshape(1, 1)
    elif array.ndim == 1:
        array = array.reshape(-1, 1)
    elif array.ndim > 2:
        array = array.reshape(array.shape[0], -1)
    texts = float_texts(array)
    width = array.shape[1]
    lines = (sep.join(texts[i:i + width]) for i in range(0, len(texts), width))
    return "".join(line + "\n" for line in lines)


def json_text(array: np.ndarray) -> str:
    """Nested lists, with each number in its shortest round-trip form."""
    if array.ndim == 0:
        return float_texts(array)[0].replace("inf", "Infinity").replace("nan", "NaN") + "\n"
    texts = iter(float_texts(array))

    def nest(shape):
        if len(shape) == 1:
            return "[" + ", ".join(_json_number(next(texts)) for _ in range(shape[0])) + "]"
        return "[" + ", ".join(nest(shape[1:]) for _ in range(shape[0])) + "]"

    return nest(array.shape) + "\n"


def _json_number(text: str) -> str:
    # JSON has no inf/nan; Python's json module reads these spellings back.
    return {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}.get(text, text)


def write_array(array: np.ndarray, fmt: str) -> None:
    if fmt == "npy":
        from nnctl.cli.console import refuse_binary_on_terminal

        refuse_binary_on_terminal(".npy", "redirect it to a file (> FILE) or pipe it")
        sys.stdout.flush()
        np.save(sys.stdout.buffer, array, allow_pickle=False)
        sys.stdout.buffer.flush()
        return
    if fmt == "text":
        text = tensor_text(array) + "\n"
    elif fmt == "json":
        text = json_text(array)
    else:
        text = delimited_text(array, "\t" if fmt == "tsv" else ",")
    write_text(text)


def write_text(text: str) -> None:
    """Write `text` to stdout in pieces no larger than its buffer.

    NOTE: CPython passes one large write straight to the pipe; when the reader has gone
    (`| head -1`), the partial write ends it without a BrokenPipeError, the rest is dropped
    and nnctl would exit 0. Through the buffer, the error comes, and nnctl ends as a filter.
    """
    import io

    step = io.DEFAULT_BUFFER_SIZE
    for start in range(0, len(text), step):
        sys.stdout.write(text[start:start + step])
