"""nnctl validate: check a spec; silent and exit 0 when it is valid."""
from __future__ import annotations

from typing import Annotated

import typer


def validate(
    model: Annotated[str, typer.Argument(help="A spec (.yaml/.yml), a model file (.npz) or file.py:NAME (runs that Python file).")],
):
    """Check a spec: names, arguments, references, shapes. Prints nothing but errors."""
    from nnctl.cli.console import warn
    from nnctl.cli.models import open_model

    built = open_model(model)
    for text in built.warnings:
        warn(text)
