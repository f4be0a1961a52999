"""nnctl validate: check a spec; silent and exit 0 when it is valid."""
from __future__ import annotations

import typer

from nnctl.cli import params


def validate(
    models: params.ModelsArgument,
):
    """Check a spec: names, arguments, references, shapes. Prints nothing but errors.

    Every error is reported, one line each (up to 20 a file): a broken layer is left out and
    the layers after it that depend on it are not checked further.
    """
    from nnctl.cli.models import check_each

    if not check_each(models, _valid):
        raise typer.Exit(1)


def _valid(model: str) -> bool:
    """Check one MODEL; its errors go to stderr (a single one raised, as for any command)."""
    from nnctl.cli.console import error_line, warn
    from nnctl.cli.models import open_spec
    from nnctl.model import GraphBuilder

    builder = GraphBuilder(open_spec(model))
    errors = builder.check_all(limit=MAX_ERRORS)
    if len(errors) == 1:
        raise errors[0]
    for error in errors:
        error_line(str(error))
    for text in builder.warnings:
        warn(text)
    return not errors


MAX_ERRORS = 20
