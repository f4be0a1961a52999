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
    inputs: Annotated[Optional[list[str]], typer.Argument(
        metavar="INPUT",
        help="Rows of data: CSV, TSV, JSON Lines, .npy, Parquet or .npz (default: stdin); "
             "several files, a directory, a glob or URLs go with -o OUTDIR/.",
        show_default=False)] = None,
    weights: params.WeightsOption = None,
    seed: params.SeedOption = None,
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE", show_default=False,
        help="Where to write the rows (default: stdout); atomic for files. OUTDIR/ (a "
             "directory, or a name ending in /) takes one file per input.")] = "-",
    input_format: Annotated[Optional[str], typer.Option(
        "--input-format", metavar="FORMAT", callback=params.input_format,
        help="csv, tsv, jsonl, npy, parquet or npz (default: by extension, else by content).")] = None,
    output_format: Annotated[Optional[str], typer.Option(
        "--format", "-f", "--output-format", metavar="FORMAT", callback=params.output_format,
        help="csv, tsv, jsonl, npy or parquet (default: by extension, else csv; parquet "
             "into OUTDIR/).")] = None,
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
        help="Name the output columns: a CSV/TSV header row, JSON Lines objects (default: "
             "CSV/TSV when the input has a header or --tap names several layers).")] = None,
    tap: Annotated[Optional[list[str]], typer.Option(
        "--tap", metavar="LAYER",
        help="Write this layer's output instead of the model's (repeatable).")] = None,
    engine_choice: Annotated[Engine, typer.Option(
        "--engine", metavar="ENGINE",
        help="numpy (the reference), onnxruntime (pip install 'nnctl[onnx]'), or "
             "auto: onnxruntime for large inputs when it is installed.")] = Engine.auto,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=1, metavar="N",
        help="Many files: run on a local Dask cluster of N processes (default: the cores), "
             "even when $DASK_SCHEDULER_ADDRESS is set.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", metavar="ADDRESS",
        help="Many files: run on the Dask cluster at ADDRESS (tcp://host:8786; default: "
             "$DASK_SCHEDULER_ADDRESS, else a local cluster).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Many files: compute every output again, even up-to-date ones.")] = False,
):
    """Run MODEL over every row of INPUT, streaming.

    One output row per input row, in order. One row is one sample flattened in C order;
    several inputs take their columns in input order (or an .npz with one array per input
    name). Rows go to stdout as CSV, or to -o FILE in the format of its extension; .npy and
    Parquet are binary: to a file or a pipe, not a terminal.

    Many files (several INPUTs, a directory, a glob, or URLs such as s3://bucket/dir/ through
    fsspec) go to -o OUTDIR/, one output file per input file with the same stem, computed on a
    local Dask cluster of --workers processes or on the one at --scheduler (pip install
    'nnctl[dask]'); a rerun computes only the outputs missing or older than their input.
    """
    from nnctl.cli.forward_many import forward_many, is_many

    options = dict(input_format=input_format, output_format=output_format,
                   batch_size=batch_size, header=header, taps=tap, engine=engine_choice.value,
                   columns=columns.split(",") if columns is not None else None,
                   skip_columns=skip_columns, output_header=output_header)
    sources = list(inputs or ["-"])
    if is_many(sources, output, workers, scheduler):
        return forward_many(model, sources, output, weights=weights, seed=seed,
                            overwrite=overwrite, workers=workers, scheduler=scheduler,
                            **options)
    if overwrite:
        from nnctl.errors import UsageError

        raise UsageError("--overwrite is for -o OUTDIR/ (a file given with -o is always "
                         "replaced)")
    _forward_one(model, sources[0], output, weights=weights, seed=seed, **options)


def _forward_one(model, input, output, *, weights, seed, input_format, output_format,
                 **options):
    """One INPUT (or stdin) to -o FILE (or stdout): nnctl.pipeline.forward_file."""
    import sys

    from nnctl import tabular
    from nnctl.cli.console import is_terminal, message, refuse_binary_on_terminal, warn
    from nnctl.cli.progress import progress_for
    from nnctl.cli.tuning import keep_freed_memory
    from nnctl.cli.weights_source import model_and_weights
    from nnctl.errors import UsageError
    from nnctl.pipeline import forward_file

    if model == "-" and input == "-":
        raise UsageError("MODEL and INPUT cannot both be stdin ('-'): give the data as a file")
    if input == "-" and input_format == "npz":
        raise UsageError("--input-format npz reads an .npz file, not stdin: give INPUT as a file")
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
    if input == "-" and is_terminal(sys.stdin):  # say so rather than wait in silence; only
        # once the model opened: a missing model is the one line of its error
        warn("reading rows from the terminal: type rows of numbers (1,2,3), then Ctrl-D; "
             "or give INPUT (nnctl forward MODEL data.csv), or pipe rows in")
    forward_file(built, values, input, output, input_format=input_format,
                 output_format=output_format, warn=warn, note=message, progress=progress_for,
                 **options)
