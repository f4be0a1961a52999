"""What a data file is: format names and aliases, extensions, magic bytes, and sniffing.

Also how sources are named in messages (`<stdin>`, `<stdout>`, a library's error on one line).
"""
from __future__ import annotations

import os

from nnctl.naming import Registry
from nnctl.spec import ZIP_MAGIC  # an .npz is a zip archive

FORMATS = Registry("data format")
FORMATS.register("csv", "csv")
FORMATS.register("tsv", "tsv", aliases=("tab",))
FORMATS.register("jsonl", "jsonl", aliases=("ndjson", "json", "jsonlines"))
FORMATS.register("npy", "npy", aliases=("numpy",))
FORMATS.register("parquet", "parquet", aliases=("pq",))

TEXT = ("csv", "tsv", "jsonl")  # the formats parsed and formatted as text
SEPARATORS = {"csv": ",", "tsv": "\t", "jsonl": ","}

EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".npy": "npy", ".parquet": "parquet", ".pq": "parquet"}

NPY_MAGIC = b"\x93NUMPY"
PARQUET_MAGIC = b"PAR1"
STDIN_NAME = "<stdin>"
STDOUT_NAME = "<stdout>"


def format_for(path: str | None, fmt: str | None = None) -> str | None:
    """The canonical format: `fmt` if given (any alias), else by extension, else None."""
    if fmt:
        return FORMATS.canonical(fmt)
    if path and path != "-":
        return EXTENSIONS.get(os.path.splitext(path)[1].lower())
    return None


def sniff(stream) -> str:
    """The format of a PeekableInput by its first bytes (none consumed).

    .npy and Parquet by their magic bytes, JSON Lines by a leading `[` or `{`, else CSV; "npz" for
    a zip archive (which is not a table: the caller says what to do with it).
    """
    def enough(data: bytes) -> bool:  # a magic number, or what rules them out
        if len(data) >= 8:
            return True
        text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
        return bool(text) and not any(magic.startswith(data[:len(magic)])
                                      for magic in (NPY_MAGIC, PARQUET_MAGIC, ZIP_MAGIC))

    start = stream.peek(64, enough)
    if start.startswith(NPY_MAGIC):
        return "npy"
    if start.startswith(PARQUET_MAGIC):
        return "parquet"
    if start.startswith(ZIP_MAGIC):
        return "npz"
    if start.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
        return "jsonl"
    return "csv"


def display_name(path: str, stdin: bool = True) -> str:
    return (STDIN_NAME if stdin else STDOUT_NAME) if path == "-" else str(path)


def error_detail(exc: BaseException) -> str:
    """A library's error message on one line (polars' and NumPy's can run over several)."""
    return " ".join(str(exc).split()) or type(exc).__name__
