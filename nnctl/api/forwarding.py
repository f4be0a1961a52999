"""Files through a model from Python: `nnctl.forward_file` (one stream) and
`nnctl.forward_files` (many files, one output each, on a Dask cluster).

    import nnctl
    nnctl.forward_file("model.npz", "data.csv", "predictions.parquet")
    written = nnctl.forward_files("model.npz", "data/*.parquet", "out/", workers=4)

Both run nnctl.pipeline.forward_file, the engine of `nnctl forward`: the same numbers, the
same errors (NnctlError subclasses), memory bounded by the batch.
"""
from __future__ import annotations

import os
from typing import Callable

from nnctl.pipeline import DEFAULT_BATCH_SIZE


def forward_file(model, source, dest, *, weights=None, input_format: str | None = None,
                 output_format: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 header: bool | None = None, taps: list[str] | None = None,
                 engine: str = "auto", columns: list[str] | None = None,
                 skip_columns: int = 0, output_header: bool | None = None,
                 warn: Callable[[str], None] | None = None) -> int:
    """Run `model` over every row of the file `source` into the file `dest` (written
    atomically, in the format of its extension); the number of rows written.

    model: an nnctl.Model, or the path of a spec or model file (`weights`: a weights .npz).
    The other arguments are nnctl forward's options (nnctl.pipeline.forward_file).
    """
    from nnctl.pipeline import forward_file as run

    built, values, _ = model_and_weights(model, weights)
    return run(built, values, os.fspath(source), os.fspath(dest), input_format=input_format,
               output_format=output_format, batch_size=batch_size, header=header, taps=taps,
               engine=engine, columns=columns, skip_columns=skip_columns,
               output_header=output_header, warn=warn)


def forward_files(model, inputs, outdir, *, weights=None, output_format: str | None = None,
                  input_format: str | None = None, batch_size: int | None = None,
                  header: bool | None = None, taps: list[str] | None = None,
                  engine: str = "auto", columns: list[str] | None = None,
                  skip_columns: int = 0, output_header: bool | None = None,
                  workers: int | None = None,
                  scheduler: str | None = None, overwrite: bool = False,
                  on_part: Callable | None = None,
                  warn: Callable[[str], None] | None = None) -> list[str]:
    """Run `model` over every row of each input file into `outdir`; the outputs written.

    inputs: a path, URL (`s3://bucket/in/`, through fsspec), directory or glob, or a list of
    them. Outputs are named after their input (`a.csv` -> `OUTDIR/a.parquet`), in
    `output_format` (default Parquet). The parts run on a local Dask cluster of `workers`
    processes (default: the cores), or on the cluster at `scheduler` (default:
    $DASK_SCHEDULER_ADDRESS when `workers` is not given; giving both is a UsageError); a single
    part with neither runs in this process.
    Parts already up to date are skipped (newer than their input and, for a model given as a
    path, than the model file); `overwrite=True` computes them again. When some input files
    are bad, the good parts are completed first, then nnctl.distributed.PartsFailed is raised
    (its `failures` hold each file's error, `written` the outputs made).

        nnctl.forward_files(model, "s3://bucket/in/*.parquet", "s3://bucket/out/",
                            scheduler="tcp://10.0.0.5:8786")
    """
    from nnctl.distributed import PartsFailed, forward_parts
    from nnctl.parts import make_directory, plan

    built, values, since = model_and_weights(model, weights)
    outdir = os.fspath(outdir)
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    parts = plan([os.fspath(i) for i in inputs], outdir, output_format, warn)
    make_directory(outdir)
    results = forward_parts(built, values, parts, model_time=since, overwrite=overwrite,
                            workers=workers, scheduler=scheduler, on_part=on_part,
                            output_format=output_format, input_format=input_format,
                            batch_size=batch_size, header=header, taps=taps, engine=engine,
                            columns=columns, skip_columns=skip_columns,
                            output_header=output_header)
    written = [r.part.dest for r in results if r.status == "written"]
    failures = [r for r in results if r.status == "failed"]
    if failures:
        raise PartsFailed(failures, written)
    return written


def model_and_weights(model, weights=None):
    """(engine Model, weights, the model's modification time or None) of the API's `model`
    argument: an nnctl.Model, or a path (then its file's time dates the outputs)."""
    from nnctl.parts import model_time

    if isinstance(model, (str, os.PathLike)):
        from nnctl.api.models import load_model

        path = os.fspath(model)
        api_model, since = load_model(path), model_time(path, weights)
    else:
        api_model, since = model, model_time(weights)
    values = api_model.weight_dict()
    if weights is not None:
        from nnctl.weights import load_weights

        values = api_model.engine.check_weights(load_weights(weights), source=str(weights))
    return api_model.engine, values, since
