"""Streaming tables of numbers in and out: CSV, TSV, JSON Lines, .npy and Parquet (DESIGN.md 4).

`read_batches(source)` yields the rows of a file or of stdin ("-") as 2-D arrays of
`batch_size` rows (fewer at the end, or when rows trickle in through a pipe); `open_writer(dest)` writes such arrays to a file (atomically) or to stdout.
Memory stays bounded by a batch plus one block of text, whatever the size of the input.

Which library does the work is decided here and nowhere else (measured by benchmarks/io.py):

- CSV, TSV, JSON Lines: polars parses blocks of a few MB with its multi-threaded parser (correctly
  rounded to float32/float64) and formats floats as the shortest text that reads back to the
  same value in the array's dtype. Blocks are cut at line ends by this module, so every row keeps
  its physical line number: a block the fast parser refuses is re-read line by line to find and
  name the bad cell, after the good rows before it were handed out.
- .npy: NumPy; memory-mapped for files, read in row blocks from stdin.
- Parquet: pyarrow, imported only when a Parquet file is read or written.
"""
from __future__ import annotations

import csv
import io
import math
import os
import queue
import re
import select
import sys
import tempfile
import threading
import tokenize
import time
from typing import Iterator, NamedTuple

import numpy as np

from nnctl.errors import DataError
from nnctl.naming import Registry

DEFAULT_BATCH_SIZE = 16384
BLOCK_BYTES = 4 << 20  # text is parsed in blocks of about this size (cut at a line end)
CAREFUL_BYTES = 16 << 10  # an unclean stretch of a block is checked line by line at this size
# A text row longer than this (or 256 bytes a column, if more) is not a row of numbers: reading
# /dev/zero or a binary file as CSV must end in an error, not in all the memory there is.
MAX_LINE_BYTES = 64 << 20
# A durable output file has the kernel start writing it to disk every this many bytes, so that
# the fsync at the end has little left to wait for.
WRITEBACK_BYTES = 4 << 20

FORMATS = Registry("data format")
FORMATS.register("csv", "csv")
FORMATS.register("tsv", "tsv", aliases=("tab",))
FORMATS.register("jsonl", "jsonl", aliases=("ndjson", "json", "jsonlines"))
FORMATS.register("npy", "npy", aliases=("numpy",))
FORMATS.register("parquet", "parquet", aliases=("pq",))

TEXT = ("csv", "tsv", "jsonl")  # the formats parsed and formatted as text

EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".npy": "npy", ".parquet": "parquet", ".pq": "parquet"}

NPY_MAGIC = b"\x93NUMPY"
PARQUET_MAGIC = b"PAR1"
STDIN_NAME = "<stdin>"
STDOUT_NAME = "<stdout>"

# What counts as a number in a (stripped) text cell: exactly what the fast parser accepts
# (tested), so that the line-by-line check and the fast path agree. ASCII only: bytes.
NUMBER = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)",
                    re.IGNORECASE)
_SEPARATORS = {"csv": ",", "tsv": "\t", "jsonl": ","}
# numpy.lib.format parses a header with ast and tokenize: a damaged one fails in these ways
NPY_HEADER_ERRORS = (ValueError, EOFError, SyntaxError, OverflowError, TypeError,
                     tokenize.TokenError)


_FLUSH = object()  # in a stream of parts: hand out the rows gathered so far


class Batch(NamedTuple):
    """Rows of the input: `array` is (rows, columns), C-contiguous, in the reader's dtype.

    `first_line` is the physical line (1-based, counting a header) of the first row in a text
    file, or the 1-based row number in a binary one (.npy, Parquet).
    """
    array: np.ndarray
    first_line: int


def format_for(path: str | None, fmt: str | None = None) -> str | None:
    """The canonical format: `fmt` if given (any alias), else by extension, else None."""
    if fmt:
        return FORMATS.canonical(fmt)
    if path and path != "-":
        return EXTENSIONS.get(os.path.splitext(path)[1].lower())
    return None


def display_name(path: str, stdin: bool = True) -> str:
    return (STDIN_NAME if stdin else STDOUT_NAME) if path == "-" else str(path)


# --- reading --------------------------------------------------------------------------------

class _Input:
    """A binary stream we can peek into without losing bytes (stdin is not seekable)."""

    def __init__(self, raw):
        self.raw = raw
        self.pending = b""
        self.bytes_read = 0

    def peek(self, n: int, enough=None) -> bytes:
        """Up to n bytes ahead, without consuming them; stops early once `enough(data)`.

        Reading from a pipe blocks until its writer sends more, so the caller says when
        what arrived suffices (a slow producer's first row need not wait for 64 KB).
        """
        chunks, size, checked = [self.pending], len(self.pending), -1
        while size < n:
            # enough() looks at everything peeked: asked again only once that has doubled
            # (or is still small), so that peeking far ahead stays linear, not quadratic
            if enough and (size < 1 << 16 or size >= 2 * checked):
                chunks, checked = [b"".join(chunks)], size
                if enough(chunks[0]):
                    break
            more = self.raw.read(max(n - size, 1 << 16))
            if not more:
                break
            chunks.append(more)
            size += len(more)
        self.pending = b"".join(chunks)
        return self.pending[:n]

    def read(self, n: int) -> bytes:
        """Up to n bytes; fewer only at the end of the stream."""
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
            if len(data) < n:
                data += self._read_raw(n - len(data))
        else:
            data = self._read_raw(n)
        self.bytes_read += len(data)
        return data

    def take(self) -> bytes:
        """What was peeked and not read yet; the caller reads the raw stream from there on."""
        data, self.pending = self.pending, b""
        self.bytes_read += len(data)
        return data

    def _read_raw(self, n: int) -> bytes:
        parts, size = [], 0
        while size < n:  # a pipe returns what it has; keep reading until n or the end
            more = self.raw.read(n - size)
            if not more:
                break
            parts.append(more)
            size += len(more)
        return b"".join(parts)


def read_batches(source, fmt: str | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 header: bool | None = None, n_columns: int | None = None,
                 dtype=np.float32, prefetch: bool = True) -> "TableReader":
    """Open `source` (a path, or "-" for stdin) and return an iterable of Batch.

    fmt: csv, tsv, jsonl, npy or parquet; default by extension, else by content (.npy and
    Parquet magic bytes, a JSON array), else CSV. header: None detects it (a first line with no
    number in it is a header), True/False forces it. n_columns: the number of values a row must
    have; default: as many as the first row. Errors (DataError) name the file, the physical
    line and the column, and come after every good row before them was yielded.

        for batch in read_batches("data.csv", batch_size=1024):
            process(batch.array)
    """
    return TableReader(source, fmt, batch_size=batch_size, header=header,
                       n_columns=n_columns, dtype=dtype, prefetch=prefetch)


class TableReader:
    """An open table: `columns` (header names or None), `n_columns`, `format`; iterate it once.

    Progress: `bytes_read` of `total_bytes` (None when unknown, as on stdin).
    """

    def __init__(self, source, fmt=None, *, batch_size=DEFAULT_BATCH_SIZE, header=None,
                 n_columns=None, dtype=np.float32, prefetch=True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.source = source
        self.name = display_name(str(source))
        self.batch_size = int(batch_size)
        self.dtype = np.dtype(dtype)
        self.columns: list[str] | None = None
        self.n_columns = n_columns
        self.total_bytes: int | None = None
        self.total_rows: int | None = None
        self._prefetch = prefetch
        self._header = header
        self._raw = None
        self._npy = None
        self._parquet = None
        self._spool = None
        self.format = format_for(str(source), fmt)
        self._open()

    # -- opening and sniffing --
    def _open(self) -> None:
        # Unbuffered streams: blocks are read in place, rows that arrive slowly on a pipe are
        # handled as they come, and no buffer lock is held by the reading thread at exit.
        if self.source == "-":
            self._raw = getattr(sys.stdin.buffer, "raw", sys.stdin.buffer)
        else:
            try:
                self._raw = open(self.source, "rb", buffering=0)
                size = os.fstat(self._raw.fileno()).st_size
            except IsADirectoryError:
                raise DataError("is a directory, not a data file", source=self.name) from None
            except OSError as exc:
                raise DataError(f"cannot open: {exc.strerror}", source=self.name) from None
            self.total_bytes = size or None
        self._input = _Input(self._raw)
        if self.format is None:
            self.format = self._sniff()
        if self.format in TEXT:
            self._start_text()
        elif self.format == "npy":
            self._start_npy()
        else:
            self._start_parquet()

    def _sniff(self) -> str:
        def enough(data: bytes) -> bool:  # a magic number, or what rules them out
            if len(data) >= 8:
                return True
            text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
            return bool(text) and not (NPY_MAGIC.startswith(data[:6])
                                       or PARQUET_MAGIC.startswith(data[:4]))

        start = self._input.peek(64, enough)
        if start.startswith(NPY_MAGIC):
            return "npy"
        if start.startswith(PARQUET_MAGIC):
            return "parquet"
        if start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            return "jsonl"
        return "csv"

    @property
    def bytes_read(self) -> int:
        if self._npy is not None and self.source != "-":
            return self._npy_done
        return self._input.bytes_read

    def close(self) -> None:
        for f in (self._spool, self._raw if self.source != "-" else None):
            if f is not None:
                f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self) -> Iterator[Batch]:
        parts = self._parts()
        if self._prefetch:
            parts = _prefetched(parts)
        return self._batched(parts)

    def _batched(self, parts) -> Iterator[Batch]:
        """Cut parts (array, lines) into batches of batch_size rows.

        Batches are shorter at the end, and when rows arrive slowly on a pipe: a filter
        should not sit on rows it has while its input pauses (`tail -f log | nnctl ...`).
        """
        size = self.batch_size
        pieces, rows, first = [], 0, 0
        try:
            for part in parts:
                if part is _FLUSH:
                    if rows:
                        yield Batch(_joined(pieces), first)
                        pieces, rows = [], 0
                    continue
                array, lines = part
                offset = 0
                while offset < len(array):
                    take = min(size - rows, len(array) - offset)
                    if rows == 0:
                        first = _line_at(lines, offset)
                    pieces.append(array[offset:offset + take])
                    rows += take
                    offset += take
                    if rows == size:
                        yield Batch(_joined(pieces), first)
                        pieces, rows = [], 0
        except DataError:
            if rows:  # the good rows before the bad one go out first
                yield Batch(_joined(pieces), first)
            raise
        if rows:
            yield Batch(_joined(pieces), first)

    # -- text: CSV, TSV, JSON Lines --
    def _start_text(self) -> None:
        self._sep = _SEPARATORS[self.format]
        self._line = 1  # physical line number of the next unread byte
        if self._input.peek(3, lambda d: not b"\xef\xbb\xbf".startswith(d[:3])) == \
                b"\xef\xbb\xbf":
            self._input.read(3)  # a UTF-8 byte order mark is not data
        first = self._peek_first_line()
        if first is None:
            return
        end, count, text = first
        cells = self._split_cells(text)
        names = [_cell_text(c) for c in cells]
        if self.format == "jsonl":
            json_names = _json_names(text)
            detected = json_names is not None
            names = json_names if detected else names
        else:
            detected = not any(NUMBER.fullmatch(c) for c in cells)
        if not (detected if self._header is None else self._header):
            if self.n_columns is None:
                self.n_columns = len(cells)
            return
        self._input.read(end)
        self._line += count
        self.columns = names
        if self.n_columns is None:
            self.n_columns = len(names)
        elif len(names) != self.n_columns:
            raise DataError(f"expected {self.n_columns} columns, got {len(names)} in the "
                            f"header", source=self.name, line=count)

    def _peek_first_line(self):
        """(bytes up to its end, physical lines up to it, the first non-blank line), or None.

        Nothing is consumed: the caller decides whether that line is a header.
        """
        want = 1 << 16
        while True:
            data = self._input.peek(want, lambda d: _first_line(d) is not None)
            found = _first_line(data)
            if found is not None:
                return found
            if len(data) < want:  # the end of the input, with no line or a last one
                if data.strip():
                    return len(data), data.count(b"\n") + 1, data.strip().split(b"\n")[-1]
                return None
            if want >= self._max_line():
                if b"\n" in data:
                    raise DataError(f"no row in the first {want >> 20} MB (only blank lines)",
                                    source=self.name, line=data.count(b"\n") + 1)
                raise self._line_too_long(1)
            want *= 4

    def _max_line(self) -> int:
        return max(MAX_LINE_BYTES, 256 * (self.n_columns or 0))

    def _line_too_long(self, line: int) -> DataError:
        return DataError(f"no line end in {self._max_line() >> 20} MB: not a table of numbers "
                         "(a binary file? give --input-format)", source=self.name, line=line)

    def _split_cells(self, text: bytes) -> list[bytes]:
        if self.format == "jsonl":
            if not (text.startswith(b"[") and text.endswith(b"]")):
                return [text]
            inner = text[1:-1].strip()
            return [c.strip() for c in inner.split(b",")] if inner else []
        if b'"' in text:
            try:
                row = next(csv.reader([text.decode("utf-8", "replace")], delimiter=self._sep))
                return [c.strip().encode() for c in row]
            except csv.Error:  # a carriage return inside the line: not a quoted cell then
                pass
        return [c.strip() for c in text.split(self._sep.encode())]

    def _text_blocks(self) -> Iterator[tuple[bytes, int, int, bool]]:
        """Blocks of whole lines: (block, its first line's number, newlines, input paused).

        One buffer is filled in place (readinto) and each block copied out once: the copies
        and counting here cost about a tenth of the parsing, so they are kept few.
        """
        pending = self._input.take()
        buffer = bytearray(max(2 * BLOCK_BYTES, 2 * len(pending)))
        view = memoryview(buffer)
        fill = len(pending)
        buffer[:fill] = pending
        end = False
        while True:
            # Read while no line is complete, or while the block is short and data flows (a
            # pipe gives 64 KB at a time); rows that trickle in go out within about 0.1 s.
            started = time.monotonic()
            while not end and (buffer.rfind(b"\n", 0, fill) < 0 or
                               fill < BLOCK_BYTES and _more_to_read(self._raw, started)):
                if len(buffer) - fill < BLOCK_BYTES:  # a line longer than a block: grow
                    if fill >= self._max_line() and buffer.rfind(b"\n", 0, fill) < 0:
                        raise self._line_too_long(self._line)
                    view.release()
                    buffer = buffer[:fill] + bytearray(max(len(buffer), BLOCK_BYTES))
                    view = memoryview(buffer)
                got = self._raw.readinto(view[fill:fill + BLOCK_BYTES]) or 0
                self._input.bytes_read += got
                fill += got
                end = got == 0
            cut = fill if end else buffer.rfind(b"\n", 0, fill) + 1
            if cut:
                block = bytes(view[:cut])
                newlines = _count_newlines(block)
                yield block, self._line, newlines, not end and fill < BLOCK_BYTES
                self._line += newlines
            if end:
                return
            tail = bytes(view[cut:fill])
            buffer[:len(tail)] = tail
            fill = len(tail)

    def _parts(self):
        if self.format == "npy":
            return self._npy_parts()
        if self.format == "parquet":
            return self._parquet_parts()
        return self._text_parts()

    def _text_parts(self):
        if self.n_columns is None:  # no data at all
            return
        parser = _TextParser(self.format, self.n_columns, self.dtype)
        for block, line, newlines, paused in self._text_blocks():
            array = parser.fast(block, newlines)
            if array is not None:
                yield array, line
            else:
                yield from self._unclean_block(parser, block, line)
            if paused:
                yield _FLUSH  # the input is slow: hand out the rows we have, do not wait

    def _unclean_block(self, parser, block: bytes, line: int):
        """A block the fast parser refused: narrow down where, look there line by line.

        Halving with the fast parser finds the first unclean stretch of lines in a few steps,
        so a bad row late in a block of a million short lines costs milliseconds, not seconds.
        Good rows the fast parser refuses all along (blank lines between rows, say) would make
        every stretch cost a parse of the rest of the block: after two such stretches, the
        rest is read line by line at once.
        """
        start, clean_refusals = 0, 0
        while start < len(block):
            if clean_refusals >= 2:
                array, lines, error = parser.careful(block[start:], line, self)
                if len(array):
                    yield array, lines
                if error is not None:
                    raise error
                return
            low, high = start, len(block)
            while high - low > CAREFUL_BYTES:
                middle = block.rfind(b"\n", low, (low + high) // 2) + 1
                if middle <= low:
                    break
                newlines = block.count(b"\n", low, middle)
                array = parser.fast(block[low:middle], newlines)
                if array is None:
                    high = middle
                    continue
                yield array, line
                line += newlines
                low = middle
            array, lines, error = parser.careful(block[low:high], line, self)
            if len(array):
                yield array, lines
            if error is not None:
                raise error
            line += block.count(b"\n", low, high)
            start = high
            clean_refusals += 1
            if start < len(block):
                newlines = block.count(b"\n", start)
                array = parser.fast(block[start:], newlines)
                if array is not None:
                    yield array, line
                    return

    # -- .npy --
    def _start_npy(self) -> None:
        from numpy.lib import format as npformat

        self._npy_done = 0
        if self.source != "-":  # a file: read its header from the start, then map it
            self._raw.close()
            self._raw = open(self.source, "rb")
            self._input = _Input(self._raw)
        try:
            version = npformat.read_magic(self._input)
            read_header = (npformat.read_array_header_1_0 if version == (1, 0)
                           else npformat.read_array_header_2_0)
            shape, fortran, dtype = read_header(self._input, max_header_size=1 << 20)
        except NPY_HEADER_ERRORS as exc:
            raise DataError(f"not a valid .npy file ({_detail(exc)})", source=self.name) \
                from None
        if any(d < 0 for d in shape) or math.prod(shape) * dtype.itemsize >= 1 << 62:
            raise DataError(f"not a valid .npy file (impossible shape {tuple(shape)})",
                            source=self.name)
        if dtype.hasobject:
            raise DataError("holds Python objects (a pickle), which nnctl never loads",
                            source=self.name)
        self._npy = (shape, fortran, dtype)
        if self.source != "-":
            self._raw.close()
            try:
                self._npy = np.load(self.source, mmap_mode="r", allow_pickle=False)
            except (ValueError, EOFError, OSError) as exc:
                raise DataError(f"not a valid .npy file ({_detail(exc)})", source=self.name) \
                    from None
        if dtype.kind not in "biuf":
            raise DataError(f"holds {dtype} values, not numbers", source=self.name)
        if len(shape) == 0:
            raise DataError("holds a single number, not rows of numbers", source=self.name)
        width = int(np.prod(shape[1:], dtype=np.int64))
        self.total_rows = int(shape[0])
        if self.n_columns is None:
            self.n_columns = width
        elif width != self.n_columns:
            raise DataError(f"rows have {width} values (shape {tuple(shape)}), expected "
                            f"{self.n_columns}", source=self.name)

    def _npy_parts(self):
        rows, width, step = self.total_rows, self.n_columns, self.batch_size
        if isinstance(self._npy, np.ndarray):
            array = self._npy
            row_bytes = width * array.dtype.itemsize
            for start in range(0, rows, step):
                # rows of a C-order file in the model's dtype are used where they lie, in the
                # read-only map (no engine writes into its input); others are converted
                with np.errstate(over="ignore"):  # float64 beyond float32 is inf, silently
                    part = np.ascontiguousarray(array[start:start + step], dtype=self.dtype)
                self._npy_done = (start + len(part)) * row_bytes
                yield part.reshape(len(part), width), start + 1
            return
        shape, fortran, dtype = self._npy
        if fortran and len(shape) > 1:  # rows are not contiguous: it has to be read whole
            from nnctl.limits import check_allocation

            check_allocation(shape, dtype, what=f"{self.name} (a Fortran-ordered .npy)")
            data = self._input.read(int(np.prod(shape)) * dtype.itemsize)
            if len(data) < int(np.prod(shape)) * dtype.itemsize:
                raise DataError(f"truncated .npy: shape {tuple(shape)} announced, "
                                f"{len(data)} bytes of data", source=self.name)
            whole = np.frombuffer(data, dtype=dtype).reshape(shape, order="F")
            for start in range(0, rows, step):
                with np.errstate(over="ignore"):
                    part = np.array(whole[start:start + step], dtype=self.dtype, order="C")
                yield part.reshape(len(part), width), start + 1
            return
        from nnctl.limits import check_allocation

        check_allocation((min(step, rows), width), dtype, what=f"{self.name}: a batch of rows",
                         copies=2)
        row_bytes = width * dtype.itemsize
        for start in range(0, rows, step):
            want = min(step, rows - start)
            data = self._input.read(want * row_bytes)
            got = len(data) // row_bytes if row_bytes else want
            if got:
                part = np.frombuffer(data, dtype=dtype, count=got * width)
                with np.errstate(over="ignore"):
                    part = part.astype(self.dtype)
                yield part.reshape(got, width), start + 1
            if got < want:
                raise DataError(f"truncated .npy: {rows} rows announced, {start + got} "
                                f"found", source=self.name)

    # -- Parquet --
    def _start_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.source == "-":  # Parquet keeps its index at the end: spool stdin to disk
            self._spool = tempfile.TemporaryFile()
            while True:
                data = self._input.read(BLOCK_BYTES)
                if not data:
                    break
                self._spool.write(data)
            self._spool.seek(0)
            target = self._spool
        else:
            target = self._raw
        try:
            self._parquet = pq.ParquetFile(target)
            schema = self._parquet.schema_arrow
        except (pa.ArrowException, OSError, ValueError) as exc:  # column names not UTF-8 too
            raise DataError(f"not a valid Parquet file ({_detail(exc)})", source=self.name) \
                from None
        for k, field in enumerate(schema, 1):
            if not (pa.types.is_floating(field.type) or pa.types.is_integer(field.type)
                    or pa.types.is_boolean(field.type)):
                raise DataError(f"column {k} ('{field.name}') holds {field.type}, not numbers",
                                source=self.name)
        self.columns = list(schema.names)
        self.total_rows = self._parquet.metadata.num_rows
        if self.n_columns is None:
            self.n_columns = len(self.columns)
        elif len(self.columns) != self.n_columns:
            raise DataError(f"expected {self.n_columns} columns, got {len(self.columns)}",
                            source=self.name)

    def _parquet_parts(self):
        import pyarrow as pa

        start = 0
        try:
            batches = self._parquet.iter_batches(batch_size=self.batch_size)
            for record in batches:
                columns = []
                for k, column in enumerate(record.columns, 1):
                    if column.null_count:
                        bad = int(np.flatnonzero(column.is_null().to_numpy(
                            zero_copy_only=False))[0])
                        good = [c.to_numpy(zero_copy_only=False)[:bad] for c in record.columns]
                        if bad:
                            yield _stacked(good, self.dtype), start + 1
                        raise DataError(f"row {start + bad + 1}: column {k}: missing value",
                                        source=self.name)
                    columns.append(column.to_numpy(zero_copy_only=False))
                yield _stacked(columns, self.dtype), start + 1
                start += record.num_rows
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataError(f"cannot read Parquet data ({_detail(exc)})", source=self.name) \
                from None


def _detail(exc: BaseException) -> str:
    """A library's error message on one line (pyarrow's and NumPy's can run over several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def read_npz_inputs(path, names, *, batch_size: int = DEFAULT_BATCH_SIZE,
                    dtype=np.float32) -> Iterator[dict[str, np.ndarray]]:
    """Batches of a model's several inputs from an .npz holding one array per input name.

    Yields {name: (rows, values per row)} for batch_size rows at a time, each array read in
    row blocks from the archive (compressed or not), so memory stays bounded by the batch.
    Checked up front: every name present, numbers only (no pickles), equal row counts.
    """
    import zipfile
    import zlib

    from numpy.lib import format as npformat

    name = str(path)
    broken = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, KeyError)
    try:
        archive = zipfile.ZipFile(name)
    except FileNotFoundError:
        raise DataError("cannot open: No such file or directory", source=name) from None
    except broken as exc:
        raise DataError(f"not a valid .npz file ({exc})", source=name) from None
    members, layouts = {}, {}
    try:
        available = [m[:-4] for m in archive.namelist() if m.endswith(".npy")]
        for key in names:
            if key not in available:
                from nnctl.naming import did_you_mean

                raise DataError(f"no array for input '{key}' (the archive has "
                                f"{', '.join(available) or 'nothing'})"
                                f"{did_you_mean(key, available)}", source=name)
            member = archive.open(f"{key}.npy")
            version = npformat.read_magic(member)
            read_header = (npformat.read_array_header_1_0 if version == (1, 0)
                           else npformat.read_array_header_2_0)
            shape, fortran, kind = read_header(member, max_header_size=1 << 20)
            if kind.hasobject or kind.kind not in "biuf":
                raise DataError(f"array '{key}' holds {kind}, not numbers", source=name)
            if len(shape) == 0:
                raise DataError(f"array '{key}' is a single number, not rows", source=name)
            if fortran and len(shape) > 1:  # rows not contiguous: read it whole
                from nnctl.limits import check_allocation

                check_allocation(shape, kind, what=f"{name}: array '{key}'")
                member = io.BytesIO(np.ascontiguousarray(
                    npformat.read_array(member, allow_pickle=False)).tobytes())
            members[key] = member
            layouts[key] = (int(shape[0]), int(np.prod(shape[1:], dtype=np.int64)), kind)
    except DataError:
        archive.close()
        raise
    except broken as exc:
        archive.close()
        raise DataError(f"not a valid .npz file ({exc})", source=name) from None
    counts = {rows for rows, _, _ in layouts.values()}
    if len(counts) > 1:
        archive.close()
        raise DataError("the input arrays have different numbers of rows: " + ", ".join(
            f"{key}: {rows}" for key, (rows, _, _) in layouts.items()), source=name)
    total = counts.pop() if counts else 0

    def batches():
        with archive:
            for start in range(0, total, batch_size):
                take = min(batch_size, total - start)
                batch = {}
                for key, (_, width, kind) in layouts.items():
                    try:
                        data = members[key].read(take * width * kind.itemsize)
                    except broken as exc:
                        raise DataError(f"array '{key}': {exc}", source=name) from None
                    if len(data) < take * width * kind.itemsize:
                        raise DataError(f"array '{key}' is truncated", source=name)
                    with np.errstate(over="ignore"):  # beyond float32: inf, silently
                        batch[key] = np.frombuffer(data, dtype=kind).astype(dtype).reshape(
                            take, width)
                yield batch

    return batches()


def _stacked(columns, dtype) -> np.ndarray:
    out = np.empty((len(columns[0]) if columns else 0, len(columns)), dtype=dtype)
    with np.errstate(over="ignore"):  # float64 beyond float32 is inf, silently
        for k, column in enumerate(columns):
            out[:, k] = column
    return out


_NON_BLANK = re.compile(rb"[^ \t\r\n\x0b\x0c]")  # what bytes.strip() does not strip


def _first_line(data: bytes):
    """(end offset, line number, text) of the first complete non-blank line, or None."""
    found = _NON_BLANK.search(data)
    if found is None:
        return None
    start = data.rfind(b"\n", 0, found.start()) + 1
    end = data.find(b"\n", found.start())
    if end < 0:
        return None
    return end + 1, data.count(b"\n", 0, start) + 1, data[start:end].strip()


PIPE_PAUSE = 0.01  # s: a pipe silent this long has paused (a fast writer refills it sooner)
PIPE_LATENCY = 0.1  # s: rows waiting for a block to fill go out after this long anyway


def _more_to_read(stream, started: float) -> bool:
    """Will `stream` give more bytes soon? Files: yes; a pipe: if it has some in PIPE_PAUSE."""
    wait = min(PIPE_PAUSE, started + PIPE_LATENCY - time.monotonic())
    if wait < 0:
        return False
    try:
        return bool(select.select([stream], [], [], wait)[0])
    except (OSError, ValueError, TypeError, io.UnsupportedOperation):
        return True


def _count_newlines(block: bytes) -> int:
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 10))


def _line_at(lines, index: int) -> int:
    return lines + index if isinstance(lines, int) else int(lines[index])


def _joined(pieces) -> np.ndarray:
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _cell_text(cell: bytes) -> str:
    return cell.decode("utf-8", "replace")


def _json_names(text: bytes) -> list[str] | None:
    """The names in a JSON Lines header (an array of strings), else None."""
    import json

    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def _quoted(cell: bytes) -> str:
    text = _cell_text(cell)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text) if "'" not in text else f'"{text}"'


class _TextParser:
    """Blocks of text lines -> arrays: fast (polars) when the block is clean, else careful."""

    def __init__(self, fmt: str, n_columns: int, dtype: np.dtype):
        import polars as pl

        self._pl = pl
        self.format = fmt
        self.sep = _SEPARATORS[fmt]
        self.n_columns = n_columns
        self.dtype = dtype
        kind = pl.Float64 if dtype == np.float64 else pl.Float32
        self.schema = {f"c{k}": kind for k in range(n_columns)}

    def _polars(self, text: bytes, sep: str):
        # NOTE: polars 2.1 panics (a BaseException, and a message on stderr) on a quote
        # opening the last cell of text that does not end with a newline: always end with one.
        if not text.endswith(b"\n"):
            text += b"\n"
        try:
            return self._pl.read_csv(text, has_header=False, schema=self.schema, separator=sep,
                                     quote_char='"', raise_if_empty=False, infer_schema=False)
        except self._pl.exceptions.PanicException as exc:  # any other panic: a refusal too
            raise ValueError(str(exc)) from None

    def fast(self, block: bytes, newlines: int) -> np.ndarray | None:
        """The rows of a clean block, or None when the block needs a careful look."""
        if self.n_columns == 0:
            return None
        rows = newlines + (not block.endswith(b"\n"))
        if self.format == "jsonl":
            if not _json_lines_shape(block, rows):
                return None
            block = block.translate(None, b"[]")
        try:
            frame = self._polars(block, self.sep)
        except Exception:  # noqa: BLE001 - any refusal sends the block to the careful path
            return None
        if frame.height != rows or any(column.null_count() for column in frame.get_columns()):
            return None  # blank lines, empty cells or short rows
        return self._array(frame)

    def _array(self, frame) -> np.ndarray:
        array = frame.to_numpy(order="c")
        return array if array.dtype == self.dtype else array.astype(self.dtype)

    def careful(self, block: bytes, first_line: int, reader):
        """(good rows, their line numbers, the first error or None), line by line."""
        good, numbers, error = [], [], None
        lines = block.split(b"\n")
        if block.endswith(b"\n"):
            lines.pop()
        for i, raw in enumerate(lines):
            text = raw.strip()
            if not text:
                continue  # blank lines are not rows
            line = first_line + i
            if self.format == "jsonl" and not (text.startswith(b"[") and text.endswith(b"]")):
                error = DataError(f"not a JSON array: {_quoted(text)}", source=reader.name,
                                  line=line)
                break
            cells = reader._split_cells(text)
            if len(cells) != self.n_columns:
                error = DataError(f"expected {self.n_columns} columns, got {len(cells)}",
                                  source=reader.name, line=line)
                break
            bad = next((k for k, c in enumerate(cells) if not NUMBER.fullmatch(c)), None)
            if bad is not None:
                error = DataError(f"column {bad + 1}: {_quoted(cells[bad])} is not a number",
                                  source=reader.name, line=line)
                break
            good.append(b",".join(cells))
            numbers.append(line)
        if not good or self.n_columns == 0:  # rows of no values (`[]`) need no parsing
            return (np.empty((len(good), self.n_columns), self.dtype),
                    np.array(numbers, dtype=np.int64), error)
        text = b"\n".join(good) + b"\n"
        try:
            array = self._array(self._polars(text, ","))
        except Exception:  # noqa: BLE001 - not expected: NUMBER accepts what polars accepts
            array = np.array([[float(c) for c in g.split(b",")] for g in good]).astype(self.dtype)
        return array, np.array(numbers, dtype=np.int64), error


def _json_lines_shape(block: bytes, rows: int) -> bool:
    """Every line is `[...]` with no other bracket in it (checked without a Python loop)."""
    if block.count(b"[") != rows or block.count(b"]") != rows:
        return False
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    starts = np.concatenate(([0], ends + 1))
    starts = starts[starts < len(data)]
    if len(starts) != rows or not np.all(data[starts] == ord("[")):
        return False
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(data))
    last = ends - 1
    last = np.where(data[np.maximum(last, 0)] == 13, last - 1, last)  # CRLF
    return bool(np.all(last >= 0) and np.all(data[last] == ord("]")))


def _prefetched(parts, depth: int = 2):
    """Run the `parts` generator in a thread, `depth` items ahead (parsing overlaps the model).

    polars and NumPy release the GIL, so on two cores the next block is parsed while the
    caller computes and writes the current one. Errors arrive in order, after the items
    before them.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def hand_over(entry) -> bool:
        while not stop.is_set():  # the consumer may have stopped listening
            try:
                items.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in parts:
                if not hand_over((item, None)):
                    return
            hand_over((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            hand_over((None, exc))

    worker = threading.Thread(target=work, name="nnctl-reader", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = items.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()


# --- writing --------------------------------------------------------------------------------

def open_writer(dest, fmt: str | None = None, *, dtype=None, columns=None,
                n_rows: int | None = None, n_columns: int | None = None,
                durable: bool = True, background: bool | None = None) -> "TableWriter":
    """A context manager with .write(array2d): rows to `dest` (a path, or "-" for stdout).

    A path is written atomically: nothing appears there unless the block ends without an
    exception, and a previous file stays whole until then. fmt: as read_batches (default by
    extension, else CSV). dtype: the precision of the numbers written (default: the array's,
    float32 for non-float arrays); floats are written in the shortest text that reads back to
    the same value in that dtype. columns: header names (CSV/TSV header line, Parquet column
    names). n_rows: the number of rows, if known, lets an .npy go to stdout without spooling.
    background: format text in a thread while the caller computes the next rows (default:
    when there is more than one core); the arrays given to write() must not change afterwards.
    Errors of that thread (a full disk, a closed pipe) come out of the next write() or close().

        with open_writer("out.csv") as out:
            for batch in read_batches("in.csv"):
                out.write(model(batch.array))
    """
    return TableWriter(dest, fmt, dtype=dtype, columns=columns, n_rows=n_rows,
                       n_columns=n_columns, durable=durable, background=background)


class TableWriter:
    def __init__(self, dest, fmt=None, *, dtype=None, columns=None, n_rows=None,
                 n_columns=None, durable=True, background=None):
        self.dest = dest
        self.name = display_name(str(dest), stdin=False)
        self.format = format_for(str(dest), fmt) or "csv"
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.columns = list(columns) if columns is not None else None
        self.n_rows = n_rows
        self.n_columns = n_columns if columns is None else len(self.columns)
        self.rows = 0
        self._started = False
        self._closed = False
        self._spool = None
        self._parquet = None
        self._header_at = None
        self._unsynced = None
        if background is None:
            background = (os.cpu_count() or 1) > 1
        self._background = background and self.format in TEXT
        self._worker = None
        if dest == "-":
            sys.stdout.flush()
            self._atomic = None
            self._out = sys.stdout.buffer
            if self._background:
                # Straight to the file descriptor: a thread blocked on a slow reader must not
                # hold the lock of sys.stdout's buffer when the interpreter exits.
                self._out.flush()
                self._out = _DescriptorWriter(self._out.fileno())
        else:
            from nnctl.atomic import atomic_write

            self._atomic = atomic_write(dest, "wb", durable=durable)
            self._out = self._atomic.__enter__()
            self._unsynced = 0 if durable else None  # bytes written since the last writeback

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.close()
        else:
            self.abort(kind, value, traceback)
        return False

    def write(self, array) -> None:
        """Append rows: a 2-D array (a 1-D array is one column; more axes are flattened)."""
        array = np.asarray(array)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        elif array.ndim != 2:
            array = array.reshape(len(array), -1)
        if self.dtype is None:
            self.dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float32)
        if array.dtype != self.dtype:
            array = array.astype(self.dtype)
        if not self._started:
            if self.n_columns is None:
                self.n_columns = array.shape[1]
            self._start()
        if array.shape[1] != self.n_columns:
            raise ValueError(f"{self.name}: rows of {array.shape[1]} values written to a table "
                             f"of {self.n_columns} columns")
        if self.format == "npy":
            (self._spool or self._out).write(
                np.ascontiguousarray(array, dtype=self.dtype.newbyteorder("<")).data)
        elif self.format == "parquet":
            self._write_parquet(array)
        elif self._background:
            if self._worker is None:
                self._worker = _BackgroundWriter(self._write_text)
            self._worker.submit(array)
        else:
            self._write_text(array)
        self.rows += len(array)

    def _write_text(self, array) -> None:
        step = max(1, (8 << 20) // (12 * max(1, array.shape[1])))
        for start in range(0, len(array), step):
            text = format_rows(array[start:start + step], self.format)
            self._out.write(text)
            if self._unsynced is not None:
                self._unsynced += len(text)
                if self._unsynced >= WRITEBACK_BYTES:
                    from nnctl.atomic import start_writeback

                    start_writeback(self._out)
                    self._unsynced = 0

    def _start(self) -> None:
        self._started = True
        if self.dtype is None:
            self.dtype = np.dtype(np.float32)
        if self.n_columns is None:
            self.n_columns = 0
        if self.format in ("csv", "tsv") and self.columns is not None:
            line = io.StringIO()
            csv.writer(line, delimiter=_SEPARATORS[self.format], lineterminator="\n"
                       ).writerow(self.columns)
            self._out.write(line.getvalue().encode())
        elif self.format == "npy":
            if self._atomic is not None and self._out.seekable():
                self._header_at = self._out.tell()
                self._out.write(_npy_header(self.dtype, self.n_columns, None))
            elif self.n_rows is not None:
                self._out.write(_npy_header(self.dtype, self.n_columns, self.n_rows))
            else:  # stdout and a row count we do not know yet: the header waits for the end
                self._spool = tempfile.TemporaryFile()
        elif self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            names = self.columns or [str(k) for k in range(self.n_columns)]
            kind = pa.float64() if self.dtype == np.float64 else pa.float32()
            self._schema = pa.schema([(n, kind) for n in names])
            self._parquet = pq.ParquetWriter(self._out, self._schema)

    def _write_parquet(self, array) -> None:
        import pyarrow as pa

        columns = [pa.array(np.ascontiguousarray(array[:, k])) for k in range(array.shape[1])]
        self._parquet.write_table(pa.Table.from_arrays(columns, schema=self._schema))

    def close(self) -> None:
        """Finish the file (npy header, Parquet footer) and put it in place."""
        if self._closed:
            return
        try:
            self._finish()
        except BaseException as exc:
            self.abort(type(exc), exc, exc.__traceback__)
            raise
        self._closed = True
        if self._atomic is not None:
            self._atomic.__exit__(None, None, None)
        else:
            self._out.flush()

    def _finish(self) -> None:
        if self._worker is not None:
            self._worker.finish()  # raises what went wrong in the thread, if anything
        if not self._started:
            self._start()
        if self.format == "npy":
            header = _npy_header(self.dtype, self.n_columns, self.rows)
            if self._header_at is not None:
                end = self._out.tell()
                self._out.seek(self._header_at)
                self._out.write(header)
                self._out.seek(end)
            elif self._spool is not None:
                self._out.write(header)
                self._spool.seek(0)
                while chunk := self._spool.read(BLOCK_BYTES):
                    self._out.write(chunk)
                self._spool.close()
            elif self.rows != self.n_rows:
                raise ValueError(f"{self.name}: {self.rows} rows written, {self.n_rows} "
                                 f"announced in the .npy header")
        elif self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def abort(self, kind=None, value=None, traceback=None) -> None:
        """Give up: a file destination is left as it was before (no partial file)."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            from nnctl.errors import NnctlError

            if self._atomic is None and isinstance(value, NnctlError):
                # a stream gives out the rows before a bad one (then the error): let the
                # thread write what it was given; a closed pipe or Ctrl-C drops it instead
                try:
                    self._worker.finish()
                except Exception:  # noqa: BLE001 - the error being raised matters more
                    pass
            else:
                self._worker.cancel()
        if self._spool is not None:
            self._spool.close()
        if self._parquet is not None:
            try:  # before its file goes away, or pyarrow complains when it is collected
                self._parquet.close()
            except Exception:  # noqa: BLE001 - the file is being thrown away anyway
                pass
        if self._atomic is not None:
            if value is None:
                kind, value = KeyboardInterrupt, KeyboardInterrupt()
            try:
                self._atomic.__exit__(kind, value, traceback)
            except BaseException as exc:  # noqa: BLE001 - the cleanup re-raises `value`
                if exc is not value:
                    raise


class _DescriptorWriter:
    """write() straight to a file descriptor, all of the data (pipes may take it in parts)."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(self.fd, view):]

    def flush(self) -> None:
        pass


class _BackgroundWriter:
    """One thread that runs `write(array)` for each submitted array, in order.

    polars formats without the GIL, so text is produced while the caller computes. The queue
    is short (memory stays bounded); a failure stops the writing, and the thread keeps
    draining the queue so that submit() never blocks on a dead thread.
    """

    _STOP = object()

    def __init__(self, write):
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._failure: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="nnctl-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._STOP:
                return
            if self._failure is None and not self._cancelled:
                try:
                    self._write(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self._cancelled = True
            raise failure

    def submit(self, array) -> None:
        self._raise_failure()
        self._queue.put(array)

    def finish(self) -> None:
        """Wait until everything submitted is written; raise the thread's error if any."""
        self._queue.put(self._STOP)
        self._thread.join()
        self._raise_failure()

    def cancel(self) -> None:
        """Stop writing (what is queued is dropped) and wait briefly for the thread."""
        self._cancelled = True
        for _ in range(100):  # a thread stuck on a stalled pipe is left behind (daemon)
            try:
                self._queue.put(self._STOP, timeout=0.1)
                break
            except queue.Full:
                pass
        self._thread.join(timeout=10)


def _npy_header(dtype: np.dtype, width: int, rows: int | None) -> bytes:
    """A version 1.0 .npy header for (rows, width); rows=None reserves room for any count.

    Every header is padded to the same length, so the final one overwrites the placeholder.
    """
    from numpy.lib import format as npformat

    shape = f"({rows if rows is not None else 0}, {width})"
    text = ("{'descr': %r, 'fortran_order': False, 'shape': %s, }"
            % (npformat.dtype_to_descr(np.dtype(dtype).newbyteorder("<")), shape))
    room = len(f"({10 ** 19}, {width})")
    text += " " * (room - len(shape))
    total = 10 + len(text) + 1
    text += " " * (-total % 64) + "\n"
    return NPY_MAGIC + b"\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


# Floats as text: polars writes the shortest round-trip form in the array's dtype (ryu), but
# `2.0` and `NaN` where nnctl writes `2` and `nan` (nnctl.floatfmt). Zeros, the common case
# (ReLU), are written as polars' null text "0"; other integral values and NaN are fixed up in
# the text, only in batches that hold them (checked on the numbers, which is cheaper).
_FIXES = {
    "csv": [(b".0,", b","), (b".0\n", b"\n")],
    "tsv": [(b".0\t", b"\t"), (b".0\n", b"\n")],
    "jsonl": [(b".0,", b","), (b".0\n", b"\n")],
}


def format_rows(array: np.ndarray, fmt: str = "csv") -> bytes:
    """Rows of a 2-D float array as CSV/TSV/JSON Lines text, one line per row."""
    import polars as pl

    rows, width = array.shape
    if rows == 0:
        return b""
    if width == 0:
        return (b"[]\n" if fmt == "jsonl" else b"\n") * rows
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
    frame.write_csv(sink, include_header=False, separator="\t" if fmt == "tsv" else ",",
                    quote_style="never", null_value="0")
    text = sink.getvalue()
    if integral.any():
        for old, new in _FIXES[fmt]:
            text = text.replace(old, new)
    if fmt == "jsonl":
        text = b"[" + text[:-1].replace(b"\n", b"]\n[") + b"]\n"
        if nan or not np.isfinite(array).all():
            text = text.replace(b"inf", b"Infinity")  # JSON spellings Python's json reads
    elif nan:
        text = text.replace(b"NaN", b"nan")
    return text
