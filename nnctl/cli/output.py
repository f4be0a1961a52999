"""Writing an array to stdout in the format the user asked for (act, init, ...).

text: as TensorFlow prints a tensor (the article's `tf.Tensor(...)` output), for terminals;
csv/tsv: one row per line (a 1-D array one value per line), written as forward writes rows
(nnctl.floatfmt.format_rows); json: nested lists; npy: NumPy's binary format.
"""
from __future__ import annotations

import sys

import numpy as np

from nnctl.floatfmt import JSON_SPELLING, as_rows, float_texts, format_rows


def array_format(requested) -> str:
    """The format to print an array in: --format's (an ArrayFormat), else text on a terminal
    and CSV when piped."""
    from nnctl.cli.console import choose_format

    return choose_format(requested.value if requested else None, terminal="text", piped="csv")


def tensor_text(array: np.ndarray) -> str:
    """`tf.Tensor([...], shape=(9,), dtype=float32)`, as print(tensor) shows it in TF 2."""
    body = str(array)
    if "\n" in body:
        body = "\n" + body
    return f"tf.Tensor({body}, shape={tuple(array.shape)}, dtype={array.dtype.name})"


def json_text(array: np.ndarray) -> str:
    """Nested lists, with each number in its shortest round-trip form."""
    texts = iter(JSON_SPELLING.get(t, t) for t in float_texts(array))

    def nest(shape):
        if not shape:
            return next(texts)
        return "[" + ", ".join(nest(shape[1:]) for _ in range(shape[0])) + "]"

    return nest(array.shape) + "\n"


def write_array(array: np.ndarray, fmt: str) -> None:
    if fmt == "npy":
        refuse_npy_on_terminal()
        sys.stdout.flush()
        np.save(sys.stdout.buffer, array, allow_pickle=False)
        sys.stdout.buffer.flush()
        return
    if fmt == "text":
        text = tensor_text(array) + "\n"
    elif fmt == "json":
        text = json_text(array)
    else:
        text = format_rows(as_rows(array), fmt).decode()
    write_text(text)


def refuse_npy_on_terminal() -> None:
    """.npy bytes would garble a terminal: a usage error (call it before any work too)."""
    from nnctl.cli.console import refuse_binary_on_terminal

    refuse_binary_on_terminal(".npy", "redirect it to a file (> FILE) or pipe it")


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
