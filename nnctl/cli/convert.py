"""nnctl convert: a model from one file format to another (spec, model file, Keras, ONNX)."""
from __future__ import annotations

from typing import Annotated

import typer

from nnctl.cli import params


def convert(
    model: params.ModelArgument,
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE",
        help="The file to write; its extension says the format: .yaml, .npz, .keras, .json, .onnx.")],
    seed: params.SeedOption = None,
    weights: params.WeightsOption = None,
):
    """Convert MODEL to the format of -o FILE's extension.

    .yaml/.yml: the spec (no weights); .npz: an nnctl model file; .keras: a Keras 3 model that
    keras.saving.load_model opens; .json: the Keras config, as model.to_json() writes it (no
    weights); .onnx: an ONNX model. A model without weights (a spec, a .json config) gets
    weights drawn from its initializers with --seed (default 0). Written atomically.
    """
    from nnctl.cli.console import message, warn
    from nnctl.cli.destination import check_model_output
    from nnctl.cli.weights_source import model_and_weights
    from nnctl.modelfiles import WITHOUT_WEIGHTS, save_model_as

    extension = check_model_output(output, (model, weights))
    built, values = model_and_weights(model, weights, seed, drawing_note=False)
    save_model_as(output, built, values)  # first: a file that cannot be written is one line
    if extension in WITHOUT_WEIGHTS and (weights is not None or _carries_weights(model)):
        warn(f"{output} holds no weights (a {extension} file has none): write .npz or .keras "
             "to keep them")
    if output != "-":
        message(f"wrote {output}: {built.total_params:,} parameters")


def _carries_weights(model: str) -> bool:
    from nnctl.cli.models import open_weights

    return open_weights(model) is not None
