"""keras.utils.plot_model for the Python API, drawn by nnctl.plot (no pydot needed)."""
from __future__ import annotations

import inspect
import sys


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Draw the model into `to_file`, as `keras.utils.plot_model`: boxes and arrows.

    The file's extension picks the picture: `.svg` (drawn by nnctl), `.png` (drawn by
    Graphviz' `dot` when it is installed; without it an SVG is written next to the asked
    name, `model.svg`, and a line on stderr says so), `.dot`, `.mmd` (Mermaid), `.txt`.
    Returns the path written, which a Jupyter notebook shows as the picture (Keras returns
    an IPython Image for that), and which is still the path (a str) in a script.

    >>> import nnctl
    >>> x = nnctl.Input(shape=(3,), name="input")
    >>> model = nnctl.Model(x, nnctl.layers.Dense(2, name="layer1")(x), name="m")
    >>> nnctl.utils.plot_model(model, to_file="m.svg", show_shapes=True)
    'm.svg'
    """
    import os

    from nnctl.atomic import atomic_write
    from nnctl.errors import ParameterError
    from nnctl.plot import PlotOptions, draw, format_for_path
    from nnctl.plot.dot import graphviz_dot

    unknown = sorted(set(kwargs) - {"layer_range", "show_layer_range"})
    if unknown:
        from nnctl.naming import did_you_mean

        taken = [n for n in inspect.signature(plot_model).parameters if n != "kwargs"]
        raise TypeError(f"plot_model() got unexpected arguments: {', '.join(unknown)}"
                        + did_you_mean(unknown[0], taken))
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' or 'LR', got {rankdir!r}")
    path = os.fspath(to_file)
    fmt = format_for_path(path)
    if fmt is None:
        raise ParameterError(f"plot_model: cannot tell the picture format from '{path}'; "
                             "name it .svg, .png, .dot, .mmd or .txt")
    if fmt == "png" and graphviz_dot() is None:
        path = os.path.splitext(path)[0] + ".svg"
        fmt = "svg"
        print(f"nnctl: Graphviz' dot is not installed, so PNG cannot be drawn: wrote {path} "
              "(an SVG) instead", file=sys.stderr)
    options = PlotOptions(show_shapes=show_shapes, show_dtype=show_dtype,
                          show_layer_names=show_layer_names,
                          show_layer_activations=show_layer_activations,
                          show_trainable=show_trainable, rankdir=rankdir)
    picture = draw(model.engine, fmt, options)
    with atomic_write(path, "wb") as f:
        f.write(picture if isinstance(picture, bytes) else picture.encode("utf-8"))
    return PictureFile(path)


class PictureFile(str):
    """The path of a drawn model; Jupyter (IPython's display) shows an .svg or .png one as
    the picture itself, as the article's notebook shows keras.utils.plot_model's result."""

    def _read(self, fmt: str, mode: str):
        from nnctl.plot import format_for_path

        if format_for_path(self) != fmt:
            return None
        with open(self, mode) as f:
            return f.read()

    def _repr_svg_(self):
        return self._read("svg", "r")

    def _repr_png_(self):
        return self._read("png", "rb")
