"""Reading tables: `read_batches` (any format, in batches of rows) and `read_npz_inputs`.

A TableReader opens the source, finds its format (option, extension, else the first bytes),
and turns the parts its format yields (arrays of rows with their line numbers) into batches
of `batch_size` rows. The formats' own code is mixed in from nnctl.tabular.text (CSV, TSV,
JSON Lines), .npy and .parquet. Parts are produced in a thread a little ahead of the caller
(`_prefetched`), so that parsing overlaps the model.
"""
from __future__ import annotations

import io
import math
import os
import queue
import stat
import sys
import threading
from typing import Iterator, NamedTuple

import numpy as np

from nnctl.errors import DataError, FileError
from nnctl.tabular.formats import TEXT, display_name, format_for, sniff
from nnctl.tabular.npy import NpyReading, check_sample_shape
from nnctl.tabular.parquet import ParquetReading
from nnctl.tabular.picks import ColumnPicks
from nnctl.tabular.streams import FLUSH, PeekableInput
from nnctl.tabular.text import TextReading

DEFAULT_BATCH_SIZE = 16384


class Batch(NamedTuple):
    """Rows of the input: `array` is (rows, columns), C-contiguous, in the reader's dtype.

    `first_line` is the physical line (1-based, counting a header) of the first row in a text
    file, or the 1-based row number in a binary one (.npy, Parquet).
    """
    array: np.ndarray
    first_line: int


def read_batches(source, fmt: str | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 header: bool | None = None, n_columns: int | None = None,
                 dtype=np.float32, prefetch: bool = True,
                 integers: list | None = None,
                 sample_shape: tuple | None = None, width_parts: dict | None = None,
                 columns: list[str] | None = None, skip_columns: int = 0,
                 column_names: list[str] | None = None) -> "TableReader":
    """Open `source` (a path, or "-" for stdin) and return an iterable of Batch.

    fmt: csv, tsv, jsonl, npy or parquet; default by extension, else by content (.npy and
    Parquet magic bytes, a JSON array), else CSV. header: None detects it (a first line with no
    number in it is a header), True/False forces it. n_columns: the number of values a row must
    have; default: as many as the first row. integers: IntegerColumns (nnctl.tabular.integers)
    that must hold integers in their range (read them with dtype float64). sample_shape: the
    shape of one sample, which an .npy of more than two axes must carry (size-1 axes aside;
    flat rows always do). width_parts: what n_columns is made of ({"record": 6, "patch": 16}),
    named in a width error (`expected 22 columns (record 6 + patch 16), got 784`).
    columns: the columns to read, in this order, by header name or by 1-based number (as
    `cut -f`); skip_columns: leading columns to drop (an index column). With either, rows are
    as wide as the file's first row (or header), and what is picked must be n_columns wide.
    column_names: the names of the n_columns (a model's input columns): JSON Lines of objects
    keyed by exactly these are read in this order, others in the first line's key order.
    Errors (DataError) name the file, the physical line and the column, and come after every
    good row before them was yielded.

        for batch in read_batches("data.csv", batch_size=1024):
            process(batch.array)
    """
    return TableReader(source, fmt, batch_size=batch_size, header=header,
                       n_columns=n_columns, dtype=dtype, prefetch=prefetch, integers=integers,
                       sample_shape=sample_shape, width_parts=width_parts, columns=columns,
                       skip_columns=skip_columns, column_names=column_names)


class TableReader(TextReading, NpyReading, ParquetReading):
    """An open table: `columns` (the names of the columns read, or None without a header),
    `n_columns` (the width of the file's rows), `width` (of the batches: the columns picked),
    `format`; iterate it once.

    Progress: `bytes_read` of `total_bytes` (None when unknown, as on stdin). Each family of
    formats brings its `_start_*` (header, width) and `_*_parts` (rows) methods as a mixin.
    """

    def __init__(self, source, fmt=None, *, batch_size=DEFAULT_BATCH_SIZE, header=None,
                 n_columns=None, dtype=np.float32, prefetch=True, integers=None,
                 sample_shape=None, width_parts=None, columns=None, skip_columns=0,
                 column_names=None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.source = source
        self.name = display_name(str(source))
        self.batch_size = int(batch_size)
        self.dtype = np.dtype(dtype)
        self.columns: list[str] | None = None
        self._picks = ColumnPicks(columns, skip_columns, n_columns, width_parts)
        self.n_columns = None if self._picks else n_columns  # picking: the file says its width
        self.sample_shape = None if self._picks else sample_shape
        self.total_bytes: int | None = None
        self.total_rows: int | None = None
        self._prefetch = prefetch
        self._integers = list(integers or [])
        self._header = header
        self._column_names = column_names
        self._objects = None  # JSON Lines of objects: their keys, in the order read
        self._raw = None
        self._stream = source == "-"   # read once, front to back: no reopening, no mapping
        self._npy = None
        self._parquet = None
        self._spool = None
        self.format = format_for(str(source), fmt)
        self._open()

    def _open(self) -> None:
        # Unbuffered streams: blocks are read in place, rows that arrive slowly on a pipe are
        # handled as they come, and no buffer lock is held by the reading thread at exit.
        if self.source == "-":
            self._raw = getattr(sys.stdin.buffer, "raw", sys.stdin.buffer)
        else:
            try:
                self._raw = open(self.source, "rb", buffering=0)
                info = os.fstat(self._raw.fileno())
            except IsADirectoryError:
                raise DataError("is a directory, not a data file", source=self.name) from None
            except OSError as exc:
                raise FileError(f"cannot open: {exc.strerror}", source=self.name) from None
            # a pipe given as a path (<(zcat rows.npy.gz), a FIFO) is read once, as stdin is
            self._stream = stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode)
            self.total_bytes = info.st_size or None
        self._input = PeekableInput(self._raw)
        if self.format is None:
            self.format = sniff(self._input)
        if self.format == "npz":  # a zip: its arrays are read by name (read_npz_inputs)
            raise DataError("an .npz archive is read from a file, not stdin: give its path"
                            if self.source == "-" else
                            "a zip archive, not a table (an .npz? give --input-format npz)",
                            source=self.name)
        if self.format in TEXT:
            self._start_text()
        elif self.format == "npy":
            self._start_npy()
        else:
            self._start_parquet()
        self.width = self.n_columns
        if self._picks and self.n_columns is not None:
            self._picked, self.columns = self._picks.resolve(self.columns, self.n_columns,
                                                             self.name)
            self.width = len(self._picked)

    def _expected_columns(self) -> str:
        """`expected 22 columns (record 6 + patch 16)`: the width rows must have."""
        return self._picks.expected(self.n_columns)

    @property
    def bytes_read(self) -> int:
        if self._npy is not None and not self._stream:
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

    def _parts(self):
        if self.format == "npy":
            parts = self._npy_parts()
        elif self.format == "parquet":
            parts = self._parquet_parts()
        else:
            parts = self._text_parts()
        if self._picks:
            parts = self._picked_parts(parts)
        return self._checked(parts) if self._integers else parts

    def _picked_parts(self, parts):
        for part in parts:
            yield part if part is FLUSH else (np.ascontiguousarray(part[0][:, self._picked]),
                                              part[1])

    def _checked(self, parts):
        """Parts whose integer columns hold valid integers; the rows before a bad value
        come out, then its error (with its line, or row in a binary file, and column)."""
        from nnctl.tabular.integers import check_part

        binary = self.format not in TEXT
        for part in parts:
            if part is FLUSH:
                yield part
                continue
            array, lines = part
            good, error = check_part(array, lines, self._integers, self.name, binary)
            if len(good):
                yield good, lines
            if error is not None:
                raise error

    def _batched(self, parts) -> Iterator[Batch]:
        """Cut parts (array, lines) into batches of batch_size rows.

        Batches are shorter at the end, and when rows arrive slowly on a pipe: a filter
        should not sit on rows it has while its input pauses (`tail -f log | nnctl ...`).
        """
        size = self.batch_size
        pieces, rows, first = [], 0, 0
        try:
            for part in parts:
                if part is FLUSH:
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


def read_npz_inputs(path, names, *, batch_size: int = DEFAULT_BATCH_SIZE,
                    dtype=np.float32,
                    sample_shapes: dict | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Batches of a model's several inputs from an .npz holding one array per input name.

    Yields {name: (rows, values per row)} for batch_size rows at a time, each array read in
    row blocks from the archive (compressed or not), so memory stays bounded by the batch.
    Checked up front: every name present, numbers only (no pickles), equal row counts, and
    the samples of an array of more than two axes shaped as `sample_shapes[name]` says.
    """
    import zipfile
    import zlib

    from nnctl.limits import MAX_EXPANSION, human_bytes, is_bomb, zip_entry_count
    from nnctl.npyformat import read_npy_header
    from nnctl.weights import check_member_count

    name = str(path)
    broken = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, KeyError)
    if os.path.isfile(name):   # before the directory is parsed: 1-2 s for 100,000 members
        check_member_count(zip_entry_count(name), name, DataError)
    elif os.path.isdir(name):
        raise DataError("is a directory, not an .npz file", source=name)
    elif os.path.exists(name):  # zipfile reads a device (/dev/zero) or a pipe to its "end"
        raise DataError("is not a regular file (an .npz archive is read from a file)",
                        source=name)
    try:
        archive = zipfile.ZipFile(name)
    except FileNotFoundError:
        raise FileError("cannot open: No such file or directory", source=name) from None
    except broken as exc:
        raise DataError(f"not a valid .npz file ({exc})", source=name) from None
    members, layouts = {}, {}
    try:
        available = [m[:-4] for m in archive.namelist() if m.endswith(".npy")]
        twice = next((key for key in names if available.count(key) > 1), None)
        if twice is not None:   # zipfile would read the last one
            raise DataError(f"array '{twice}' appears twice in the archive", source=name)
        for key in names:
            if key not in available:
                from nnctl.naming import did_you_mean

                shown = ", ".join(available[:10]) + (f", ... ({len(available):,} arrays)"
                                                     if len(available) > 10 else "")
                raise DataError(f"no array for input '{key}' (the archive has "
                                f"{shown or 'nothing'}){did_you_mean(key, available)}",
                                source=name)
            info = archive.getinfo(f"{key}.npy")
            if is_bomb(info.file_size, info.compress_size):   # as a Parquet file's rows
                raise DataError(f"array '{key}' declares {human_bytes(info.file_size)} from "
                                f"{human_bytes(info.compress_size)} stored, more than "
                                f"{MAX_EXPANSION} times: a decompression bomb", source=name)
            member = archive.open(info)
            shape, fortran, kind = read_npy_header(member, max_header_size=1 << 20)
            if kind.hasobject or kind.kind not in "biuf":
                raise DataError(f"array '{key}' holds {kind}, not numbers", source=name)
            size = math.prod(shape) * kind.itemsize
            if member.tell() + size != info.file_size:   # zipfile stops at the declared size
                raise DataError(f"array '{key}': its header says {kind} of shape {tuple(shape)} "
                                f"({size:,} bytes), but the archive declares "
                                f"{info.file_size:,} bytes for it", source=name)
            if len(shape) == 0:
                raise DataError(f"array '{key}' is a single number, not rows", source=name)
            check_sample_shape(shape, (sample_shapes or {}).get(key), name, f"array '{key}': ")
            if fortran and len(shape) > 1:  # rows not contiguous: read it whole
                from nnctl.limits import check_allocation

                check_allocation(shape, kind, what=f"{name}: array '{key}'", copies=2)
                # the header is read: the rest is the values, last axis first (it re-read
                # the header as values: "the magic string is not correct")
                values = np.frombuffer(member.read(size), dtype=kind)
                if values.size != math.prod(shape):
                    raise DataError(f"array '{key}' is truncated", source=name)
                member = io.BytesIO(values.reshape(shape[::-1]).T.tobytes(order="C"))
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


def _line_at(lines, index: int) -> int:
    return lines + index if isinstance(lines, int) else int(lines[index])


def _joined(pieces) -> np.ndarray:
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


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
