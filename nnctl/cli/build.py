"""nnctl build: draw a model's weights from its initializers into a self-contained model file."""
from __future__ import annotations

from typing import Annotated

import typer

from nnctl.cli import params


def build(
    model: params.ModelArgument,
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE",
        help="The model file to write: .npz, or .keras, .onnx, .yaml, .json by its name (- for stdout: .npz).")],
    seed: params.SeedOption = None,
    weights: params.WeightsOption = None,
):
    """Draw MODEL's weights from its initializers into a model file.

    The file is an .npz of LAYER/WEIGHT arrays plus the spec (`__spec__`); every command
    that takes a spec takes it too. FILE.keras writes a Keras 3 model instead (other formats:
    see nnctl convert). It is written atomically. A model file or a Python model keeps its
    own weights unless --seed or --weights is given.
    """
    from nnctl.cli.console import message
    from nnctl.cli.destination import check_model_output
    from nnctl.cli.weights_source import model_and_weights
    from nnctl.modelfiles import save_model_as

    check_model_output(output, (model, weights))

    # no --seed: a model file or Python model keeps its weights; a spec uses its `seed:`, else 0
    built, values = model_and_weights(model, weights, seed, drawing_note=False)
    save_model_as(output, built, values)
    if output != "-":
        message(f"wrote {output}: {built.total_params:,} parameters")
