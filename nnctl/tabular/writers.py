"""Writing tables: `open_writer` gives a TableWriter for a file (written atomically) or stdout.

Text is formatted by nnctl.floatfmt.format_rows, in a background thread when there is more
than one core; an .npy gets its header at the end (patched in place in a file, or spooled on
stdout when the row count is not known, up to MAX_STDOUT_NPY_SPOOL_BYTES); Parquet goes through
polars' streaming writer (nnctl.tabular.parquet.ParquetSink), in its own threads.
"""
from __future__ import annotations

import os
import queue
import sys
import threading

import numpy as np

from nnctl.floatfmt import as_rows, format_rows, text_rows
from nnctl.tabular.formats import TEXT, display_name, format_for
from nnctl.tabular.npy import npy_header
from nnctl.tabular.streams import BLOCK_BYTES

# A durable output file has the kernel start writing it to disk every this many bytes, so that
# the fsync at the end has little left to wait for.
WRITEBACK_BYTES = 4 << 20

# An .npy on stdout of a row count not known in advance waits in a temporary file (its header
# comes first and holds the count), which may be memory (a tmpfs /tmp) or a small disk: past
# this size, endless input (`yes ... | nnctl forward ...`) is refused rather than fill it.
MAX_STDOUT_NPY_SPOOL_BYTES = 10 ** 9


def open_writer(dest, fmt: str | None = None, *, dtype=None, columns=None,
                n_rows: int | None = None, n_columns: int | None = None,
                durable: bool = True, background: bool | None = None) -> "TableWriter":
    """A context manager with .write(array2d): rows to `dest` (a path, or "-" for stdout).

    A path is written atomically: nothing appears there unless the block ends without an
    exception, and a previous file stays whole until then. fmt: as read_batches (default by
    extension, else CSV). dtype: the precision of the numbers written (default: the array's,
    float32 for non-float arrays); floats are written in the shortest text that reads back to
    the same value in that dtype. columns: header names (CSV/TSV header line, Parquet column
    names, JSON Lines objects keyed by them instead of arrays). n_rows: the number of rows, if known, lets an .npy go to stdout without spooling.
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
        self._spooled = 0
        self._spool_full = False
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
        array = as_rows(np.asarray(array))
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
            data = np.ascontiguousarray(array, dtype=self.dtype.newbyteorder("<"))
            if self._spool is not None:
                self._spooled += data.nbytes
                if self._spooled > MAX_STDOUT_NPY_SPOOL_BYTES:
                    self._spool_full = True
                    raise self._spool_too_large()
                self._spool.write(data.data)
            else:
                self._out.write(data.data)
        elif self.format == "parquet":
            self._parquet.write(array)
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
            if self.format == "jsonl" and self.columns is not None:
                from nnctl.tabular.objects import format_objects

                text = format_objects(text, self.columns)
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
            self._out.write(text_rows([self.columns], self.format).encode())
        elif self.format == "npy":
            if self._atomic is not None and self._out.seekable():
                self._header_at = self._out.tell()
                self._out.write(npy_header(self.dtype, self.n_columns, None))
            elif self.n_rows is not None:
                self._out.write(npy_header(self.dtype, self.n_columns, self.n_rows))
            else:  # stdout and a row count we do not know yet: the header waits for the end
                import tempfile

                self._spool = tempfile.TemporaryFile()
        elif self.format == "parquet":
            from nnctl.tabular.parquet import ParquetSink

            names = self.columns or [str(k) for k in range(self.n_columns)]
            self._parquet = ParquetSink(self._out, names, self.dtype)

    def _spool_too_large(self):
        from nnctl.errors import ResourceError
        from nnctl.limits import human_bytes

        return ResourceError(f".npy on a pipe needs the row count first: the rows wait in a "
                             f"temporary file, and these are over "
                             f"{human_bytes(MAX_STDOUT_NPY_SPOOL_BYTES)}: write to a file "
                             "(-o FILE.npy) or as CSV", source=self.name)

    def _write_spooled_npy(self) -> None:
        """The header, now that the row count is known, then the rows from the spool."""
        self._out.write(npy_header(self.dtype, self.n_columns, self.rows))
        self._spool.seek(0)
        while chunk := self._spool.read(BLOCK_BYTES):
            self._out.write(chunk)
        self._spool.close()
        self._spool = None

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
            header = npy_header(self.dtype, self.n_columns, self.rows)
            if self._header_at is not None:
                end = self._out.tell()
                self._out.seek(self._header_at)
                self._out.write(header)
                self._out.seek(end)
            elif self._spool is not None:
                self._write_spooled_npy()
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
            from nnctl.errors import NnctlError

            if isinstance(value, NnctlError) and not self._spool_full:
                # as the other formats on a stream: the rows before a bad one go out, here as
                # an .npy of those rows (a closed pipe, Ctrl-C or a full spool drop them)
                try:
                    self._write_spooled_npy()
                    self._out.flush()
                except Exception:  # noqa: BLE001 - the error being raised matters more
                    pass
            if self._spool is not None:
                self._spool.close()
        if self._parquet is not None:  # before its file goes away
            from nnctl.errors import NnctlError

            if self._atomic is None and isinstance(value, NnctlError):
                try:  # as text on a stream: the rows before a bad one go out, as a whole file
                    self._parquet.close()
                except Exception:  # noqa: BLE001 - the error being raised matters more
                    self._parquet.cancel()
            else:
                self._parquet.cancel()
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
        """Stop writing (what is queued is dropped) and wait briefly for the thread.

        Never blocks for long. Ctrl-C can land while the queue's lock is held (a with-statement
        is not atomic against KeyboardInterrupt), and then no put() would ever return: that
        hung `forward -o` about once in 70 interrupts. The thread is a daemon: one stuck on
        that lock, or on a stalled pipe, ends with the process.
        """
        self._cancelled = True
        if not self._queue.mutex.acquire(timeout=0.5):
            return
        self._queue.mutex.release()
        try:
            self._queue.put(self._STOP, timeout=1)
        except queue.Full:
            return
        self._thread.join(timeout=5)
