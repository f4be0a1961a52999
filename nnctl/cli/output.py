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
    return _nested(iter(JSON_SPELLING.get(t, t) for t in float_texts(array)), array.shape) + "\n"


def _nested(texts, shape) -> str:
    # NOTE: a module function, not a closure calling itself: that closure is a reference
    # cycle, which kept every value's text alive until a garbage collection (67 MB a call
    # for 1,000,000 values, act's rows on stdin calling it once a row)
    if not shape:
        return next(texts)
    return "[" + ", ".join(_nested(texts, shape[1:]) for _ in range(shape[0])) + "]"


# values formatted at a time: the text of a value takes 10-50 times its 4 or 8 bytes, so a
# large array (act --num 10^8) is written in pieces, not as one string
PIECE_VALUES = 1 << 18


def write_array(array: np.ndarray, fmt: str) -> None:
    if fmt == "npy":
        refuse_npy_on_terminal()
        sys.stdout.flush()
        np.save(sys.stdout.buffer, array, allow_pickle=False)
        sys.stdout.buffer.flush()
        return
    if fmt == "text":  # NumPy elides the middle of a large array: one short string
        write_text(tensor_text(array) + "\n")
    elif fmt == "json":
        for piece in json_pieces(array):
            write_text(piece)
    else:
        rows = as_rows(array)
        for part in _row_slices(rows):
            write_text(format_rows(part, fmt).decode())


def _row_slices(array: np.ndarray):
    """`array` in slices along its first axis of about PIECE_VALUES values each."""
    step = max(1, PIECE_VALUES // max(1, array[0].size)) if len(array) else 1
    for start in range(0, max(len(array), 1), step):
        yield array[start:start + step]


def json_pieces(array: np.ndarray):
    """json_text(array), in pieces of about PIECE_VALUES values."""
    if array.ndim == 0 or array.size <= PIECE_VALUES:
        yield json_text(array)
        return
    yield "["
    for k, part in enumerate(_row_slices(array)):
        yield (", " if k else "") + json_text(part)[1:-2]  # the rows, without `[` and `]\n`
    yield "]\n"


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
