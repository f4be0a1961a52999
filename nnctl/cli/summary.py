"""nnctl summary: Keras' model.summary() table, and more (MACs, JSON, Markdown)."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from nnctl.cli import params


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def summary(
    model: params.ModelArgument,
    format: Annotated[Optional[SummaryFormat], typer.Option(
        "--format", "-f", help="table (Keras' layout), json or markdown.")] = None,
    show_trainable: Annotated[bool, typer.Option(
        "--show-trainable", help="Add Keras' Trainable column (Y/N/-).")] = False,
    macs: Annotated[bool, typer.Option(
        "--macs", help="Add multiply-accumulates per layer and activation memory.")] = False,
    batch: Annotated[Optional[int], typer.Option(
        "--batch", min=1, metavar="N",
        help="Batch size for --macs: MACs and activation memory of a batch of N, per layer "
             "and in total (default 1).")] = None,
):
    """Print the Keras 3 model.summary() table of a network.

    Layers, output shapes, parameters and the totals lines, as Keras prints them. When a layer of the spec is broken, the rows before it are printed, then the error.
    """
    from nnctl.cli.console import rich_console, stdout_is_terminal
    from nnctl.cli.models import is_python_model, open_spec, python_model
    from nnctl.errors import SpecError, UsageError
    from nnctl.model import GraphBuilder
    from nnctl import summary as summaries

    if batch is not None and not macs:
        raise UsageError("--batch goes with --macs (the MACs and activation memory of a batch)")
    spec = open_spec(model)
    builder = GraphBuilder(spec)
    error = None
    try:
        builder.build()
        built = builder.model()
    except SpecError as exc:
        error, built = exc, builder.partial_model()
    data = summaries.summarize(built, error=str(error) if error else None,
                               optimizer=_keras_optimizer(model))
    if error is None and is_python_model(model):
        data = python_model(model)._summary_data()   # a subclassed model: as Keras shows it
    fmt = (format.value if format else "table")
    if error is not None and not data.rows:
        raise error
    if fmt == "json":
        sys.stdout.write(summaries.to_json(data, macs=macs, batch=batch,
                                           show_trainable=show_trainable))
    elif fmt == "markdown":
        sys.stdout.write(summaries.to_markdown(data, show_trainable, macs, batch))
    else:
        import shutil

        from nnctl.render import print_summary_table

        columns = shutil.get_terminal_size().columns if stdout_is_terminal() else 80
        console = rich_console()
        if not stdout_is_terminal() and not macs:
            # Keras prints on an 80-column console when piped: a title longer than that
            # wraps (the table itself is 76 wide)
            console.soft_wrap, console.width = False, 80
        print_summary_table(data, console,
                            width=summaries.table_width(data, columns, show_trainable, macs),
                            show_trainable=show_trainable, macs=macs, batch=batch)
    if error is not None:
        sys.stdout.flush()
        raise error
    _warn(built)


def _warn(model) -> None:
    from nnctl.cli.console import warn

    for text in model.warnings:
        warn(text)


def _keras_optimizer(model: str):
    """A compiled model's optimizer, when MODEL is a .keras archive (Keras' summary counts
    its variables), else None."""
    from nnctl.cli.models import is_python_model, is_stream

    if is_stream(model) or is_python_model(model):
        return None
    from nnctl.kerasfile import keras_optimizer

    return keras_optimizer(model)
