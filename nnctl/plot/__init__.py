"""Drawing a network: boxes and arrows as Keras' plot_model draws them, or neurons and lines.

The graph is data first (nnctl.plot.graph: boxes and edges; nnctl.plot.neurons: units and
connections), laid out once by nnctl.plot.layout, then rendered as text, DOT, Mermaid or
SVG; PNG goes through Graphviz when it is installed.

    from nnctl.model import load_model
    from nnctl.plot import PlotOptions, draw
    svg = draw(load_model("configs/residual_mlp.yaml"), "svg", PlotOptions(rankdir="LR"))
"""
from __future__ import annotations

import os

from nnctl.errors import ParameterError
from nnctl.plot.graph import Box, Graph, PlotOptions, model_graph

FORMATS = ("text", "dot", "mermaid", "svg", "png")
NEURON_FORMATS = ("svg", "dot", "png")
EXTENSIONS = {".txt": "text", ".text": "text", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
              ".mermaid": "mermaid", ".svg": "svg", ".png": "png"}


def format_for_path(path: str) -> str | None:
    """The format a file name asks for (`net.svg` -> svg), or None when it does not say."""
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def draw(model, fmt: str, options: PlotOptions | None = None, *, neurons: bool = False,
         width: int | None = None, ascii_only: bool = False) -> str | bytes:
    """The picture of a built Model in `fmt`: text (as narrow as `width` allows), dot,
    mermaid, svg (str), or png (bytes; needs Graphviz). `neurons`: the circles picture."""
    options = options or PlotOptions()
    if fmt not in FORMATS:
        raise ParameterError(f"unknown plot format '{fmt}' (use {', '.join(FORMATS)})")
    if neurons:
        from nnctl.plot.neurons import neuron_graph, render_neurons_dot, render_neurons_svg

        if fmt not in NEURON_FORMATS:
            raise ParameterError(f"the neurons picture is drawn as "
                                 f"{', '.join(NEURON_FORMATS)}, not {fmt}")
        graph = neuron_graph(model)
        if fmt == "svg":
            return render_neurons_svg(graph)
        dot_text = render_neurons_dot(graph)
    else:
        graph = model_graph(model, options)
        if fmt == "text":
            from nnctl.plot.text import render_text

            return render_text(graph, width=width, ascii_only=ascii_only)
        if fmt == "mermaid":
            from nnctl.plot.mermaid import render_mermaid

            return render_mermaid(graph)
        if fmt == "svg":
            from nnctl.plot.svg import render_svg

            return render_svg(graph)
        from nnctl.plot.dot import render_dot

        dot_text = render_dot(graph)
    if fmt == "png":
        from nnctl.plot.dot import render_png

        return render_png(dot_text)
    return dot_text


__all__ = ["Box", "Graph", "PlotOptions", "model_graph", "draw", "format_for_path", "FORMATS"]
