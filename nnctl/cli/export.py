"""nnctl export: the network as an ONNX model, for ONNX Runtime, C++, mobile or the browser."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from nnctl.cli import params


def export(
    model: params.ModelArgument,
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE", help="The .onnx file to write (atomically); '-' is stdout.")],
    weights: params.WeightsOption = None,
    seed: params.SeedOption = None,
    opset: Annotated[Optional[int], typer.Option(
        "--opset", help="ONNX opset version (default 17; 13 and later).")] = None,
):
    """Write MODEL and its weights as an ONNX model.

    Standard ONNX operators only. Inputs and outputs keep the spec's names, the batch axis is dynamic,
    and the spec's name and nnctl's version are in the model's metadata.
    Needs the onnx package (pip install 'nnctl[onnx]').
    """
    from nnctl.cli.destination import check_output
    from nnctl.errors import ParameterError, UsageError
    from nnctl.onnx import require

    check_output(output, (model, weights), extensions=(".onnx",), what="an ONNX model")

    if output == "-":
        from nnctl.cli.console import stdout_is_terminal

        if stdout_is_terminal():
            raise UsageError("an ONNX model is binary: write it to a file with -o FILE.onnx, "
                             "or pipe stdout")
    require(("onnx",), "nnctl export")
    from nnctl.cli.console import message
    from nnctl.cli.weights_source import model_and_weights
    from nnctl.onnx.export import DEFAULT_OPSET, check_opset, to_onnx, write_onnx

    try:
        opset = check_opset(DEFAULT_OPSET if opset is None else opset)
    except ParameterError as exc:  # outside the range --help states: bad usage
        raise UsageError(exc.message) from None
    built, values = model_and_weights(model, weights, seed)
    proto = to_onnx(built, values, opset=opset)
    write_onnx(proto, output)
    if output != "-":
        params = sum(v.size for v in values.values())
        message(f"wrote {output}: opset {opset}, inputs {', '.join(built.input_names)}, "
                f"outputs {', '.join(built.outputs)}, {params:,} parameters")
