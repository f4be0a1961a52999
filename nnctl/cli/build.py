"""nnctl build: draw a model's weights from its initializers into a self-contained model file."""
from __future__ import annotations

from typing import Annotated, Optional

import typer


def build(
    model: Annotated[str, typer.Argument(help="A spec (.yaml/.yml) or a model file (.npz).")],
    output: Annotated[str, typer.Option("--output", "-o", help="The model file to write (.npz; - for stdout).")],
    seed: Annotated[Optional[int], typer.Option(
        "--seed", min=0, help="Seed for the initializers (default: the spec's `seed:`, else 0).")] = None,
    weights: Annotated[Optional[str], typer.Option(
        "--weights", help="Take the weights from this .npz instead of drawing them.")] = None,
):
    """Materialize the weights of MODEL (with its initializers) and write a model file.

    The file is an .npz of LAYER/WEIGHT arrays plus the spec (`__spec__`); every command
    that takes a spec takes it too. It is written atomically.
    """
    from nnctl.cli.console import message, stdout_is_terminal
    from nnctl.cli.weights_source import model_and_weights
    from nnctl.errors import UsageError
    from nnctl.weights import save_model

    if output == "-" and stdout_is_terminal():
        raise UsageError("will not write a model file (binary) to a terminal: -o FILE.npz, "
                         "or pipe it")

    if seed is None and weights is None and not str(model).endswith(".npz"):
        seed = 0
    built, values = model_and_weights(model, weights, seed)
    save_model(output, built.spec.doc.value, values)
    if output != "-":
        message(f"wrote {output}: {built.total_params:,} parameters")
