"""nnctl validate: check a spec; silent and exit 0 when it is valid."""
from __future__ import annotations

import typer

from nnctl.cli import params


def validate(
    model: params.ModelArgument,
):
    """Check a spec: names, arguments, references, shapes. Prints nothing but errors.

    Every error is reported, one line each (up to 20): a broken layer is left out and the
    layers after it that depend on it are not checked further.
    """
    from nnctl.cli.console import error_line, warn
    from nnctl.cli.models import open_spec
    from nnctl.model import GraphBuilder

    builder = GraphBuilder(open_spec(model))
    errors = builder.check_all(limit=MAX_ERRORS)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        for error in errors:
            error_line(str(error))
        raise typer.Exit(1)
    for text in builder.warnings:
        warn(text)


MAX_ERRORS = 20
