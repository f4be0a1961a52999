"""One data file (or stdin) through a model into another (or stdout): the streaming pipeline.

`forward_file` is what `nnctl forward MODEL INPUT -o OUTPUT` runs, what the Python API runs,
and what each part of a many-file run runs on a Dask worker (nnctl.distributed): the reader
(nnctl.tabular), the engine and its BLAS threads (nnctl.engines), the batches through the
model (nnctl.forward.run), the writer. Memory stays bounded by the batch.
"""
from __future__ import annotations

import contextlib
import itertools
from typing import Callable

import numpy as np

from nnctl import engines
from nnctl import forward as rows_engine
from nnctl import tabular
from nnctl.errors import UsageError
from nnctl.model import Model

DEFAULT_BATCH_SIZE = tabular.DEFAULT_BATCH_SIZE


@contextlib.contextmanager
def _no_progress(reader):
    yield lambda: None


def forward_file(model: Model, weights: dict[str, np.ndarray], source: str, dest: str, *,
                 input_format: str | None = None, output_format: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, header: bool | None = None,
                 taps: list[str] | None = None, engine: str = "auto",
                 columns: list[str] | None = None, skip_columns: int = 0,
                 output_header: bool | None = None,
                 warn: Callable[[str], None] | None = None,
                 note: Callable[[str], None] | None = None,
                 progress=None) -> int:
    """Run `model` over every row of `source` into `dest` ("-": stdin, stdout); the rows
    written. A file `dest` is written atomically: whole, or not at all.

    columns, skip_columns: the input columns to read (names, or numbers from 1 and ranges),
    leading columns to drop (nnctl.tabular.read_batches). output_header: name the output
    columns: a CSV/TSV header row (default: when the input had a header, or several layers
    are tapped), JSON Lines objects keyed by name (default: arrays).
    engine: numpy, onnxruntime or auto (nnctl.engines). warn: told about NaN or Inf once;
    note: told which engine `auto` took when that is not numpy. progress: called with the
    open reader (None for an .npz), a context manager yielding `advance()`, called after each
    batch is written (nnctl.cli.progress draws a bar with it).
    """
    progress = progress or _no_progress
    wanted = rows_engine.check_taps(model, taps) if taps else model.outputs
    out_format = tabular.format_for(dest, output_format) or "csv"
    if output_header and out_format == "npy":
        raise UsageError("--output-header names the columns of CSV, TSV, JSON Lines (objects) "
                         "or Parquet; .npy has no names")
    widths = rows_engine.input_widths(model)
    n_columns = sum(widths.values())
    out_columns = rows_engine.output_columns(model, wanted)
    if input_format == "npz" or (input_format is None and str(source).endswith(".npz")):
        if columns is not None or skip_columns:
            raise UsageError("--columns and --skip-columns pick columns of a table; an .npz "
                             "holds one array per input name")
        reader, rows = None, rows_engine.npz_rows(source, model, batch_size)
    else:
        reader = tabular.read_batches(source, input_format, batch_size=batch_size,
                                      header=header, n_columns=n_columns,
                                      dtype=rows_engine.read_dtype(model),
                                      integers=rows_engine.integer_columns(model),
                                      sample_shape=rows_engine.sample_shape(model),
                                      width_parts=widths, skip_columns=skip_columns,
                                      column_names=rows_engine.input_columns(model),
                                      columns=columns)
        rows = (batch.array for batch in reader)
    try:
        first = next(rows, None)  # opens the input: its format and header are known after this
        named = rows_engine.output_header(out_format, output_header, taps,
                                          reader is not None and reader.columns is not None)
        if named:
            rows_engine.check_unique_columns(out_columns, wanted)
        rows = itertools.chain([first], rows) if first is not None else iter(())
        # values parsed or formatted as text per row: where they cost more than the arithmetic,
        # the arithmetic needs neither a second BLAS thread nor onnxruntime
        text_values = ((n_columns if reader is not None and reader.format in tabular.TEXT else 0)
                       + (len(out_columns) if out_format in tabular.TEXT else 0))
        runner = _runner(engine, model, weights, wanted, reader, first, source, text_values,
                         note)
        if runner.name == "numpy":
            engines.limit_blas_threads(engines.blas_threads(model, wanted, text_values))
        # a known row count lets an .npy go to stdout as it is computed, without a spool
        n_rows = reader.total_rows if reader is not None else None
        with tabular.open_writer(dest, output_format, dtype=model.dtype,
                                 columns=out_columns if named else None, n_rows=n_rows,
                                 n_columns=len(out_columns)) as writer, \
                progress(reader) as advance:
            for out in rows_engine.run(model, weights, rows, wanted, runner=runner, warn=warn):
                writer.write(out)
                advance()
            return writer.rows
    finally:
        if reader is not None:
            reader.close()


def _runner(engine, model, weights, outputs, reader, first, path, text_values, note):
    """The batch runner of `engine`; `note` hears when auto takes onnxruntime (or cannot)."""
    if engine != "auto":
        return engines.make_runner(engine, model, weights, outputs)
    if first is None:
        return engines.make_runner("numpy", model, weights, outputs)
    rows = engines.estimate_rows(reader, len(first), path, first.shape[1],
                                 np.dtype(model.dtype).itemsize)
    runner, told = engines.auto_runner(model, weights, outputs, rows, text_values)
    if told and note is not None:
        note(told)
    return runner
