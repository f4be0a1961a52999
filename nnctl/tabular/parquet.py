"""Parquet through polars' own reader and writer, imported only when a Parquet file is used.

Reading streams the file in batches (polars' streaming engine: memory stays bounded by a batch
whatever the file's size), each batch turned into one row-major array. Parquet keeps its index
at the end, so stdin is spooled to a temporary file first, up to MAX_STDIN_PARQUET_BYTES.

Writing feeds polars' streaming Parquet sink from a queue: compression and writing run in
polars' threads while the caller computes the next rows, row groups are polars' size (not one
per batch), and a pipe works as well as a file (nothing is sought).
"""
from __future__ import annotations

import os
import queue
import threading

import numpy as np

from nnctl.errors import DataError, NnctlError
from nnctl.tabular.formats import error_detail
from nnctl.tabular.streams import BLOCK_BYTES

# Parquet on stdin is copied to a temporary file, which may be memory (a tmpfs /tmp) or a small
# disk: past this size, a file path is the way (read where it lies, nothing copied).
MAX_STDIN_PARQUET_BYTES = 10 ** 9


def _polars_errors(pl) -> tuple:
    """What polars raises on a bad file. NOTE: a Rust panic arrives as PanicException, a
    BaseException: it is a bad file too, not a reason to die with a traceback."""
    return (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError, ValueError)


class ParquetReading:
    """The Parquet half of TableReader (nnctl.tabular.readers), mixed into it.

    `_parquet` is what polars reads (a path, or the spool); `_spool` the temporary file of stdin.
    """

    def _start_parquet(self) -> None:
        import polars as pl

        if self._stream:  # Parquet keeps its index at the end: spool stdin (a pipe) to disk
            import tempfile

            self._spool = tempfile.TemporaryFile()
            spooled = 0
            while True:
                data = self._input.read(BLOCK_BYTES)
                if not data:
                    break
                spooled += len(data)
                if spooled > MAX_STDIN_PARQUET_BYTES:
                    self._spool.close()
                    raise self._stdin_too_large()
                self._spool.write(data)
            self._spool.seek(0)
            self._parquet = self._spool
        else:
            self._parquet = str(self.source)
        try:
            schema = pl.read_parquet_schema(self._rewound())
        except _polars_errors(pl) as exc:  # column names not UTF-8 too
            raise self._invalid(exc) from None
        for k, (name, kind) in enumerate(schema.items(), 1):
            if not (kind.is_integer() or kind.is_float() or kind == pl.Boolean):
                raise DataError(f"column {k} ('{name}') holds {kind}, not numbers",
                                source=self.name)
        self.columns = list(schema)
        if self.n_columns is None:
            self.n_columns = len(self.columns)
        elif len(self.columns) != self.n_columns:   # before the metadata is read again
            raise DataError(f"{self._expected_columns()}, got {len(self.columns):,}",
                            source=self.name)
        try:
            self.total_rows = pl.scan_parquet(self._rewound()).select(pl.len()).collect().item()
        except _polars_errors(pl) as exc:
            raise self._invalid(exc) from None
        self._refuse_a_bomb(len(self.columns))

    def _invalid(self, exc) -> DataError:
        return DataError(f"not a valid Parquet file ({error_detail(exc)})", source=self.name)

    def _refuse_a_bomb(self, n_columns: int) -> None:
        """Rows that would unpack to more than MAX_EXPANSION times the file, past
        BOMB_FLOOR_BYTES, are refused as the zip bombs of .npz and .keras are (a 0.2 MB file
        of 20,000,000 rows of zeros in one row group: docs/limits.md)."""
        from nnctl.limits import MAX_EXPANSION, is_bomb

        stored = (os.fstat(self._spool.fileno()).st_size if self._spool is not None
                  else os.stat(self._parquet).st_size)
        unpacked = self.total_rows * max(1, n_columns) * 8
        if is_bomb(unpacked, stored):
            raise DataError(f"declares {self.total_rows:,} rows of {n_columns} columns "
                            f"({unpacked / 1e6:,.0f} MB as numbers) from {stored / 1e6:.2f} MB "
                            f"stored, more than {MAX_EXPANSION} times: a decompression bomb",
                            source=self.name)

    def _rewound(self):
        if self._spool is not None:
            self._spool.seek(0)
        return self._parquet

    def _stdin_too_large(self) -> DataError:
        from nnctl.limits import human_bytes

        where = "on stdin" if self.source == "-" else "from a pipe"
        return DataError(f"Parquet {where} is copied to a temporary file first (Parquet keeps "
                         f"its index at the end), and this one is over "
                         f"{human_bytes(MAX_STDIN_PARQUET_BYTES)}: give it as a file path "
                         "instead", source=self.name)

    def _parquet_parts(self):
        import polars as pl

        start = 0
        try:
            batches = pl.scan_parquet(self._rewound()).collect_batches(
                chunk_size=self.batch_size)
            for frame in batches:
                if frame.width == 0:
                    continue
                if any(frame.null_count().row(0)):
                    row, column = _first_null(frame)
                    if row:
                        yield _rows(frame[:row], self.dtype), start + 1
                    raise DataError(f"row {start + row + 1}: column {column + 1}: missing value",
                                    source=self.name)
                yield _rows(frame, self.dtype), start + 1
                start += frame.height
        except NnctlError:  # ours, a ValueError too: already says what is wrong
            raise
        except _polars_errors(pl) as exc:
            raise DataError(f"cannot read Parquet data ({error_detail(exc)})", source=self.name) \
                from None


def _rows(frame, dtype) -> np.ndarray:
    """A frame of numbers as one C-contiguous array of `dtype` (float64 beyond float32's range
    is inf there, silently)."""
    array = frame.to_numpy(order="c")
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(array, dtype=dtype)


def _first_null(frame) -> tuple[int, int]:
    """(row, column) of the first missing value, counted from 0, row first."""
    missing = np.column_stack([column.is_null().to_numpy() for column in frame.get_columns()])
    row = int(np.flatnonzero(missing.any(axis=1))[0])
    return row, int(np.flatnonzero(missing[row])[0])


class ParquetSink:
    """Rows to a Parquet file or stream: write(array) queues them; polars compresses and writes
    in its own threads. close() waits for the footer; cancel() stops without one."""

    _END = object()

    def __init__(self, out, names: list[str], dtype: np.dtype):
        import polars as pl
        from polars.io.plugins import register_io_source

        kind = pl.Float64 if dtype == np.float64 else pl.Float32
        self._names = names
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._failure: BaseException | None = None
        self._cancelled = False
        frames = register_io_source(self._frames, schema={n: kind for n in names})
        self._out = _Output(out)
        self._thread = threading.Thread(target=self._run, args=(frames, self._out),
                                        name="nnctl-parquet", daemon=True)
        self._thread.start()

    def _frames(self, with_columns, predicate, n_rows, batch_size):
        while True:
            frame = self._queue.get()
            if self._cancelled:
                raise _Cancelled()
            if frame is self._END:
                return
            yield frame

    def _run(self, frames, out) -> None:
        try:
            frames.sink_parquet(out)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            if not self._cancelled:  # a full disk is the OSError it was, not polars' wrapping
                self._failure = out.failure or exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def write(self, array: np.ndarray) -> None:
        """Queue rows (copied: the array may change afterwards); waits while two are queued."""
        import polars as pl

        self._put(pl.DataFrame(array, schema=self._names, orient="row"))

    def _put(self, item) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        self._raise_failure()

    def close(self) -> None:
        """Write the rest and the footer; raise what went wrong in polars, if anything."""
        self._put(self._END)
        self._thread.join()
        self._raise_failure()

    def cancel(self) -> None:
        """Stop: the file is left without a footer (the caller throws it away)."""
        self._cancelled = True
        try:
            self._queue.put(self._END, timeout=0.5)
        except queue.Full:
            return
        self._thread.join(timeout=5)


class _Output:
    """The file polars writes to, through Python: an OSError (a full disk, a closed pipe) is
    kept as it was raised, for the caller to see rather than polars' ComputeError about it."""

    def __init__(self, out):
        self._out = out
        self.failure: OSError | None = None

    def write(self, data) -> int:
        try:
            self._out.write(data)
        except OSError as exc:
            self.failure = self.failure or exc
            raise
        return len(data)

    def flush(self) -> None:
        self._out.flush()


class _Cancelled(Exception):
    """Raised in polars' source to stop the sink without a footer."""
