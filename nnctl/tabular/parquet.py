"""Parquet through pyarrow, imported (inside the methods) only when a Parquet file is read.

pyarrow needs a seekable file (Parquet keeps its index at the end): stdin is spooled to a
temporary file first, up to MAX_STDIN_PARQUET_BYTES.
"""
from __future__ import annotations

import tempfile

import numpy as np

from nnctl.errors import DataError, NnctlError
from nnctl.tabular.formats import error_detail
from nnctl.tabular.streams import BLOCK_BYTES

# Parquet on stdin is copied to a temporary file, which may be memory (a tmpfs /tmp) or a small
# disk: past this size, a file path is the way (read where it lies, nothing copied).
MAX_STDIN_PARQUET_BYTES = 10 ** 9


class ParquetReading:
    """The Parquet half of TableReader (nnctl.tabular.readers), mixed into it.

    `_parquet` is the pyarrow.parquet.ParquetFile; `_spool` the temporary file of stdin.
    """

    def _start_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.source == "-":  # Parquet keeps its index at the end: spool stdin to disk
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
            target = self._spool
        else:
            target = self._raw
        try:
            self._parquet = pq.ParquetFile(target)
            schema = self._parquet.schema_arrow
        except (pa.ArrowException, OSError, ValueError) as exc:  # column names not UTF-8 too
            raise DataError(f"not a valid Parquet file ({error_detail(exc)})", source=self.name) \
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

    def _stdin_too_large(self) -> DataError:
        from nnctl.limits import human_bytes

        return DataError(f"Parquet on stdin is copied to a temporary file first (pyarrow needs to "
                         f"seek), and this one is over {human_bytes(MAX_STDIN_PARQUET_BYTES)}: "
                         "give it as a file path instead", source=self.name)

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
        except NnctlError:  # ours, a ValueError too: already says what is wrong
            raise
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataError(f"cannot read Parquet data ({error_detail(exc)})", source=self.name) \
                from None


def _stacked(columns, dtype) -> np.ndarray:
    out = np.empty((len(columns[0]) if columns else 0, len(columns)), dtype=dtype)
    with np.errstate(over="ignore"):  # float64 beyond float32 is inf, silently
        for k, column in enumerate(columns):
            out[:, k] = column
    return out
