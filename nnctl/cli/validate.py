"""nnctl validate: check a spec; silent and exit 0 when it is valid."""
from __future__ import annotations

from typing import Annotated

import typer

from nnctl.cli import params


def validate(
    model: params.ModelArgument,
):
    """Check a spec: names, arguments, references, shapes. Prints nothing but errors."""
    from nnctl.cli.console import warn
    from nnctl.cli.models import open_model

    built = open_model(model)
    for text in built.warnings:
        warn(text)
