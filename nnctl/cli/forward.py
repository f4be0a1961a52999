"""nnctl forward: run a network over every row of a data file or stdin, streaming."""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from nnctl.cli import params


BINARY = {"npy": ".npy", "parquet": "Parquet"}  # output formats a terminal cannot show


class Engine(str, Enum):
    auto = "auto"
    numpy = "numpy"
    onnxruntime = "onnxruntime"


def forward(
    model: params.ModelArgument,
    input: Annotated[str, typer.Argument(
        help="Rows of data: CSV, TSV, JSON Lines, .npy, Parquet or .npz (default: stdin).",
        show_default=False)] = "-",
    weights: Annotated[Optional[str], typer.Option(
        "--weights", metavar="FILE",
        help="Weights .npz with LAYER/WEIGHT arrays (Keras names).")] = None,
    seed: Annotated[Optional[int], typer.Option(
        "--seed", min=0, help="Seed for the initializers when there are no weights.")] = None,
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE", show_default=False,
        help="Where to write the rows (default: stdout); atomic for files.")] = "-",
    input_format: Annotated[Optional[str], typer.Option(
        "--input-format", metavar="FORMAT", callback=params.input_format,
        help="csv, tsv, jsonl, npy, parquet or npz (default: by extension, else by content).")] = None,
    output_format: Annotated[Optional[str], typer.Option(
        "--format", "-f", "--output-format", metavar="FORMAT", callback=params.output_format,
        help="csv, tsv, jsonl, npy or parquet (default: by extension, else csv).")] = None,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=1, help="Rows per batch; memory is bounded by it.")] = 16384,
    header: Annotated[Optional[bool], typer.Option(
        "--header/--no-header", help="Whether the input has a header row (default: detect).")] = None,
    columns: Annotated[Optional[str], typer.Option(
        "--columns", metavar="A,B,...",
        help="Input columns to read, in this order: header names, or numbers from 1 as "
             "cut -f takes them (ranges too: 2-785).")] = None,
    skip_columns: Annotated[int, typer.Option(
        "--skip-columns", metavar="N", min=0,
        help="Drop N leading input columns (an index column).")] = 0,
    output_header: Annotated[Optional[bool], typer.Option(
        "--output-header/--no-output-header",
        help="Write a header row naming the output columns (CSV/TSV; default: when the input "
             "has one or --tap names several layers).")] = None,
    tap: Annotated[Optional[list[str]], typer.Option(
        "--tap", metavar="LAYER",
        help="Write this layer's output instead of the model's (repeatable).")] = None,
    engine_choice: Annotated[Engine, typer.Option(
        "--engine", metavar="ENGINE",
        help="numpy (the reference), onnxruntime (pip install 'nnctl[onnx]'), or "
             "auto: onnxruntime for large inputs when it is installed.")] = Engine.auto,
):
    """Run MODEL over every row of INPUT, streaming.

    One output row per input row, in order. One row is one sample flattened in C order;
    several inputs take their columns in input order (or an .npz with one array per input
    name). Rows go to stdout as CSV, or to -o FILE in the format of its extension; .npy and
    Parquet are binary: to a file or a pipe, not a terminal.
    """
    import itertools
    import sys

    import numpy as np

    from nnctl import engines
    from nnctl import forward as engine
    from nnctl import tabular
    from nnctl.cli.console import is_terminal, refuse_binary_on_terminal, warn
    from nnctl.cli.progress import progress_for
    from nnctl.cli.tuning import keep_freed_memory
    from nnctl.cli.weights_source import model_and_weights
    from nnctl.errors import UsageError

    if model == "-" and input == "-":
        raise UsageError("MODEL and INPUT cannot both be stdin ('-'): give the data as a file")
    if input == "-" and input_format == "npz":
        raise UsageError("--input-format npz reads an .npz file, not stdin: give INPUT as a file")
    if input == "-" and is_terminal(sys.stdin):  # say so rather than wait in silence
        warn("reading rows from the terminal: type rows of numbers (1,2,3), then Ctrl-D; "
             "or give INPUT (nnctl forward MODEL data.csv), or pipe rows in")
    from nnctl.atomic import is_special
    from nnctl.cli.destination import check_output

    check_output(output, (model, input, weights))
    out_format = tabular.format_for(output, output_format)
    if out_format is None:
        if output != "-" and not is_special(output):
            raise UsageError(f"-o {output}: cannot tell the format from the file name; use "
                             "--output-format csv, tsv, jsonl, npy or parquet, or an "
                             "extension (.csv, .tsv, .jsonl, .npy, .parquet)")
        out_format = "csv"
    if output == "-" and out_format in BINARY:
        refuse_binary_on_terminal(BINARY[out_format])
    keep_freed_memory()  # a stream allocates and frees blocks of MBs: reuse them
    built, values = model_and_weights(model, weights, seed)
    wanted = engine.check_taps(built, tap) if tap else built.outputs
    if output_header and out_format not in ("csv", "tsv", "parquet"):
        raise UsageError(f"--output-header writes a CSV or TSV header row; {out_format} has "
                         "none")
    widths = engine.input_widths(built)
    n_columns = sum(widths.values())
    out_columns = engine.output_columns(built, wanted)
    if input_format == "npz" or (input_format is None and str(input).endswith(".npz")):
        if columns is not None or skip_columns:
            raise UsageError("--columns and --skip-columns pick columns of a table; an .npz "
                             "holds one array per input name")
        reader, rows = None, engine.npz_rows(input, built, batch_size)
    else:
        reader = tabular.read_batches(input, input_format, batch_size=batch_size, header=header,
                                      n_columns=n_columns, dtype=engine.read_dtype(built),
                                      integers=engine.integer_columns(built),
                                      sample_shape=engine.sample_shape(built),
                                      width_parts=widths, skip_columns=skip_columns,
                                      column_names=engine.input_columns(built),
                                      columns=columns.split(",") if columns is not None
                                      else None)
        rows = (batch.array for batch in reader)
    try:
        first = next(rows, None)  # opens the input: its format and header are known after this
        named = engine.output_header(out_format, output_header, tap,
                                     reader is not None and reader.columns is not None)
        rows = itertools.chain([first], rows) if first is not None else iter(())
        # values parsed or formatted as text per row: where they cost more than the arithmetic,
        # the arithmetic needs neither a second BLAS thread nor onnxruntime
        text_values = ((n_columns if reader is not None and reader.format in tabular.TEXT else 0)
                       + (len(out_columns) if out_format in tabular.TEXT else 0))
        runner = _runner(engine_choice.value, built, values, wanted, reader, first, input,
                         text_values)
        if runner.name == "numpy":
            engines.limit_blas_threads(engines.blas_threads(built, wanted, text_values))
        # a known row count lets an .npy go to stdout as it is computed, without a spool
        n_rows = reader.total_rows if reader is not None else None
        with tabular.open_writer(output, output_format, dtype=built.dtype,
                                 columns=out_columns if named else None, n_rows=n_rows,
                                 n_columns=len(out_columns)) as writer, \
                progress_for(reader) as advance:
            for out in engine.run(built, values, rows, wanted, runner=runner, warn=warn):
                writer.write(out)
                advance()
    finally:
        if reader is not None:
            reader.close()


def _runner(engine, model, weights, outputs, reader, first, path, text_values):
    """The batch runner of --engine; auto says on a terminal when it takes onnxruntime."""
    import numpy as np

    from nnctl import engines

    if engine != "auto":
        return engines.make_runner(engine, model, weights, outputs)
    if first is None:
        return engines.make_runner("numpy", model, weights, outputs)
    rows = engines.estimate_rows(reader, len(first), path, first.shape[1],
                                 np.dtype(model.dtype).itemsize)
    runner, note = engines.auto_runner(model, weights, outputs, rows, text_values)
    if note:
        from nnctl.cli.console import message

        message(note)
    return runner
