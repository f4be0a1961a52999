"""nnctl plot: the network as keras.utils.plot_model draws it, with nothing to install."""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from nnctl.cli import params


class PlotFormat(str, Enum):
    text = "text"
    dot = "dot"
    mermaid = "mermaid"
    svg = "svg"
    png = "png"


class RankDir(str, Enum):
    TB = "TB"
    LR = "LR"


def plot(
    model: params.ModelArgument,
    format: Annotated[Optional[PlotFormat], typer.Option(
        "--format", "-f", help="text (boxes and arrows), dot, mermaid, svg, or png (needs "
                               "Graphviz). Default: from -o's extension, else text.")] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="FILE", help="Write to this file (atomically); '-' is stdout.")] = None,
    show_shapes: Annotated[bool, typer.Option(
        "--show-shapes/--no-show-shapes", help="Input and output shapes in each box.")] = True,
    show_dtype: Annotated[bool, typer.Option(
        "--show-dtype", help="The output dtype of each layer.")] = False,
    show_layer_names: Annotated[bool, typer.Option(
        "--show-layer-names/--no-show-layer-names",
        help="Layer names before their types.")] = True,
    show_layer_activations: Annotated[bool, typer.Option(
        "--show-layer-activations", help="The activation of layers that have one.")] = False,
    show_trainable: Annotated[bool, typer.Option(
        "--show-trainable", help="Whether each layer with weights is trainable.")] = False,
    rankdir: Annotated[RankDir, typer.Option(
        "--rankdir", case_sensitive=False,
        help="TB: top to bottom; LR: left to right.")] = RankDir.TB,
    neurons: Annotated[bool, typer.Option(
        "--neurons", help="Every neuron a circle, every connection a line (svg, dot, png); "
                          "wide layers are shown with an ellipsis.")] = False,
):
    """Draw a network, as keras.utils.plot_model(show_shapes=True).

    By default the graph is drawn as text: boxes and arrows, branches side by side.

    -o net.svg (or -f svg): an SVG laid out by nnctl itself, no Graphviz needed.

    dot and mermaid: graph text for other tools; png: needs Graphviz' dot.
    """
    import shutil
    import sys

    from nnctl.atomic import write_bytes
    from nnctl.cli.console import can_draw_lines, message, stdout_is_terminal, warn
    from nnctl.cli.models import open_model
    from nnctl.errors import NnctlError, UsageError
    from nnctl.plot import NEURON_FORMATS, PlotOptions, draw, format_for_path

    from nnctl.cli.destination import check_output

    check_output(output, (model,))
    to_stdout = output in (None, "-")
    fmt = format.value if format else None
    if fmt is None and not to_stdout:
        fmt = format_for_path(output)
        if fmt is None:
            raise UsageError(f"cannot tell the format from the file name '{output}'; "
                             "use --format text, dot, mermaid, svg or png")
    if fmt is None:
        if neurons and stdout_is_terminal():
            raise UsageError("--neurons draws svg, dot or png: add -o FILE.svg, or "
                             "--format svg to print the SVG")
        fmt = "svg" if neurons else "text"
    if neurons and fmt not in NEURON_FORMATS:
        raise UsageError(f"--neurons draws {', '.join(NEURON_FORMATS)}, not {fmt}")
    if fmt == "png" and to_stdout and stdout_is_terminal():
        raise UsageError("will not write PNG bytes to a terminal: add -o FILE.png or pipe it")
    if fmt == "png":
        from nnctl.plot.dot import graphviz_dot

        if graphviz_dot() is None:
            raise NnctlError("--format png needs Graphviz' `dot` program, which is not "
                             "installed (not on PATH); use --format svg, which nnctl draws "
                             "by itself")

    built = open_model(model)
    options = PlotOptions(show_shapes=show_shapes, show_dtype=show_dtype,
                          show_layer_names=show_layer_names,
                          show_layer_activations=show_layer_activations,
                          show_trainable=show_trainable, rankdir=rankdir.value)
    width = shutil.get_terminal_size().columns if to_stdout and stdout_is_terminal() else 80
    picture = draw(built, fmt, options, neurons=neurons, width=width,
                   ascii_only=to_stdout and not can_draw_lines(sys.stdout))
    data = picture if isinstance(picture, bytes) else picture.encode("utf-8")
    if to_stdout:
        if isinstance(picture, bytes):
            write_bytes("-", data)
        else:
            sys.stdout.write(picture)
            from nnctl.plot.text import display_width

            widest = max(map(display_width, picture.splitlines()), default=0)
            if fmt == "text" and widest > width:
                message(f"the drawing is {widest} columns wide; -o {_stem(model)}.svg draws "
                        "it for a browser")
    else:
        write_bytes(output, data)
    for text in built.warnings:
        warn(text)


def _stem(path: str) -> str:
    import os

    return os.path.splitext(os.path.basename(path))[0] or "model"

