"""Streaming tables of numbers in and out: CSV, TSV, JSON Lines, .npy and Parquet
(docs/formats.md).

`read_batches(source)` yields the rows of a file or of stdin ("-") as 2-D arrays of
`batch_size` rows (fewer at the end, or when rows trickle in through a pipe); `open_writer(dest)`
writes such arrays to a file (atomically) or to stdout.
Memory stays bounded by a batch plus one block of text, whatever the size of the input.

Which library does the work is decided here and nowhere else (measured by benchmarks/io.py):

- CSV, TSV, JSON Lines: polars parses blocks of a few MB with its multi-threaded parser (correctly
  rounded to float32/float64) and formats floats as the shortest text that reads back to the
  same value in the array's dtype. Blocks are cut at line ends by this package, so every row
  keeps its physical line number: a block the fast parser refuses is re-read line by line to
  find and name the bad cell, after the good rows before it were handed out.
- .npy: NumPy; memory-mapped for files, read in row blocks from stdin.
- Parquet: polars' streaming reader and writer (the writer in polars' own threads).

polars is imported inside the functions that use it, never when this package is
imported: `nnctl forward` starts in about 0.2 s.

The modules, in the order a reader meets them:

    formats.py   names, aliases, extensions, magic bytes, sniffing a stream's format
    streams.py   peeking at stdin without losing bytes, pauses in a pipe, BLOCK_BYTES
    readers.py   read_batches, TableReader (opening, batching, the prefetch thread),
                 read_npz_inputs
    text.py      CSV/TSV/JSON Lines: header, blocks of lines, the polars parser and the
                 careful line-by-line path (rows are written by nnctl.floatfmt.format_rows)
    npy.py       .npy rows from a memory map or stdin; the .npy header a writer writes
    parquet.py   Parquet rows through polars (stdin spooled to a temporary file)
    writers.py   open_writer, TableWriter, the background writer thread
"""
from __future__ import annotations

from nnctl.floatfmt import format_rows
from nnctl.tabular.formats import (EXTENSIONS, FORMATS, NPY_MAGIC, PARQUET_MAGIC, STDIN_NAME,
                                   STDOUT_NAME, TEXT, ZIP_MAGIC, display_name, format_for)
from nnctl.tabular.npy import NPY_HEADER_ERRORS
from nnctl.tabular.readers import (DEFAULT_BATCH_SIZE, Batch, TableReader, read_batches,
                                   read_npz_inputs)
from nnctl.tabular.text import MAX_LINE_BYTES, NUMBER
from nnctl.tabular.writers import WRITEBACK_BYTES, TableWriter, open_writer

__all__ = [
    "Batch", "DEFAULT_BATCH_SIZE", "EXTENSIONS", "FORMATS", "MAX_LINE_BYTES",
    "NPY_HEADER_ERRORS", "NPY_MAGIC", "NUMBER", "PARQUET_MAGIC", "STDIN_NAME", "STDOUT_NAME",
    "TEXT", "TableReader", "TableWriter", "WRITEBACK_BYTES", "ZIP_MAGIC", "display_name",
    "format_for", "format_rows", "open_writer", "read_batches", "read_npz_inputs",
]
