"""nnctl forward MODEL INPUTS... -o OUTDIR/: many files, one output each, on a Dask cluster
(nnctl.distributed); this module decides when a run is one, and renders its progress."""
from __future__ import annotations

import os
import time


def is_many(inputs: list[str], output: str, workers, scheduler) -> bool:
    """Whether the run is of many files: several INPUTs, a directory, a glob or a URL among
    them, -o naming a directory (an existing one, a name ending in /, a URL), or a cluster
    option. One file to -o FILE (or stdout) is today's single stream, without Dask."""
    from nnctl.parts import is_url

    if len(inputs) > 1 or workers is not None or scheduler is not None:
        return True
    if output != "-" and (output.endswith(("/", os.sep)) or is_url(output)
                          or os.path.isdir(output)):
        return True
    source = inputs[0]
    if source == "-":
        return False
    return is_url(source) or os.path.isdir(source) or (
        not os.path.exists(source) and any(c in source for c in "*?["))


def _names_a_data_file(output: str) -> bool:
    """`-o scores.csv`, not there yet: a file meant, not a directory to make of that name."""
    from nnctl.parts import DATA_EXTENSIONS, is_url

    return (not is_url(output) and not output.endswith(("/", os.sep))
            and not os.path.exists(output)
            and os.path.splitext(output)[1].lower() in DATA_EXTENSIONS)


def forward_many(model, inputs, output, *, weights, seed, overwrite, workers, scheduler,
                 **options) -> int:
    """Plan the parts, run them, print a summary; one error line per bad input file."""
    from nnctl.cli.console import error_line, warn
    from nnctl.cli.weights_source import model_and_weights
    from nnctl.distributed import forward_parts
    from nnctl.errors import UsageError
    from nnctl.parts import make_directory, model_time, plan

    if output == "-":
        raise UsageError("many input files write one output file each: give -o OUTDIR/")
    if _names_a_data_file(output):
        raise UsageError(f"-o {output}: names a data file, and many input files write one "
                         "output file each into a directory: give -o OUTDIR/")
    if model == "-":
        raise UsageError("MODEL '-' is read once, here: with -o OUTDIR/, give it as a file")
    if workers is not None and scheduler is not None:
        raise UsageError("--workers N starts a local cluster, --scheduler ADDRESS uses the one "
                         "at ADDRESS: give one of them")
    parts = plan(inputs, output, options.get("output_format"), warn)
    built, values = model_and_weights(model, weights, seed)
    make_directory(output)
    start = time.monotonic()
    with _progress(len(parts)) as on_part:
        results = forward_parts(built, values, parts, model_time=model_time(model, weights),
                                overwrite=overwrite, workers=workers, scheduler=scheduler,
                                on_part=on_part, **options)
    for result in results:
        for text in result.warnings:
            warn(f"{result.part.name}: {text}")
        if result.error is not None:
            error_line(str(result.error))
    _summary(results, time.monotonic() - start)
    return 1 if any(r.status == "failed" for r in results) else 0


def _summary(results, seconds: float) -> None:
    import sys

    counts = {s: sum(r.status == s for r in results) for s in ("written", "skipped", "failed")}
    rows = sum(r.rows for r in results)
    rate = f" ({rows / seconds:,.0f} rows/s)" if seconds > 0 and rows else ""
    extra = "".join(f", {counts[s]} {s}" for s in ("skipped", "failed") if counts[s])
    print(f"nnctl: {counts['written']} of {len(results)} parts written{extra}; {rows:,} rows "
          f"in {seconds:.2f} s{rate}", file=sys.stderr)


class _progress:
    """One bar on stderr for the parts (and the rows they held), on a terminal only."""

    def __init__(self, total: int):
        self.total, self.done, self.rows = total, 0, 0
        self.bar = self.task = None

    def __enter__(self):
        from nnctl.cli.console import rich_console, stderr_is_terminal

        if stderr_is_terminal():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(TextColumn("[bold]forward[/]"), BarColumn(),
                                MofNCompleteColumn(), TextColumn("parts, {task.fields[rows]} rows"),
                                console=rich_console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("forward", total=self.total, rows="0")
        return self.advance

    def advance(self, result) -> None:
        self.done += 1
        self.rows += result.rows
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, rows=f"{self.rows:,}")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
