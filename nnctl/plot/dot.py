"""The graph in Graphviz' DOT language, with plot_model's HTML-table labels; PNG through `dot`.

The DOT text needs nothing to write; turning it into a PNG needs Graphviz' `dot` program,
which is looked up on PATH only when a PNG is asked for.
"""
from __future__ import annotations

import shutil
import subprocess
from xml.sax.saxutils import escape

from nnctl.errors import NnctlError
from nnctl.plot.graph import Box, Graph
from nnctl.plot.svg import COLORS

PNG_DPI = 144


def render_dot(graph: Graph) -> str:
    options = graph.options
    stacked = options.rankdir == "LR"
    out = [f"digraph {quote(graph.name)} {{",
           f'  graph [rankdir={options.rankdir}, nodesep=0.4, ranksep=0.5, '
           f'fontname="Helvetica"];',
           '  node [shape=plain, fontname="Helvetica"];',
           f'  edge [color="{COLORS["edge"]}", penwidth=1.4, arrowsize=0.8];']
    for box in graph.boxes:
        out.append(f"  {quote(box.name)} [label=<{_label(box, options, stacked)}>];")
    for source, target in graph.edges:
        out.append(f"  {quote(source)} -> {quote(target)};")
    out.append("}")
    return "\n".join(out) + "\n"


def _label(box: Box, options, stacked: bool) -> str:
    cells = box.cells(options)
    columns = 1 if stacked else max(1, len(cells))
    title_fill = COLORS["input_title" if box.input_shapes is None else "title"]
    if options.show_layer_names:
        title = f"<b>{html(box.name)}</b> ({html(box.type)})"
    else:
        title = f"<b>{html(box.type)}</b>"
    rows = [f'<tr><td colspan="{columns}" bgcolor="{title_fill}" cellpadding="7">'
            f'<font color="white" point-size="13">{title}</font></td></tr>']
    activation = box.activation_line(options)
    if activation:
        rows.append(f'<tr><td colspan="{columns}"><font point-size="11">Activation: '
                    f"<b>{html(box.activation)}</b></font></td></tr>")
    tds = [_cell(caption, value) for caption, value in cells]
    if stacked:
        rows.extend(f"<tr>{td}</tr>" for td in tds)
    elif tds:
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return ('<table border="0" cellborder="1" cellspacing="0" cellpadding="5" '
            f'color="{COLORS["border"]}" bgcolor="white">' + "".join(rows) + "</table>")


def _cell(caption: str, value: str) -> str:
    if not value:                       # Trainable / Non-trainable
        fill = COLORS["trainable" if caption == "Trainable" else "non_trainable"]
        return (f'<td bgcolor="{fill}"><font color="white" point-size="11">'
                f"<b>{html(caption)}</b></font></td>")
    return (f'<td><font point-size="11" color="{COLORS["caption"]}">{html(caption)}: </font>'
            f'<font point-size="11"><b>{html(value)}</b></font></td>')


def quote(text: str) -> str:
    """A DOT identifier in double quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def html(text: str) -> str:
    """Text inside a DOT HTML-like label."""
    return escape(text, {'"': "&quot;"})


def graphviz_dot() -> str | None:
    """The path of Graphviz' `dot` program, or None when it is not installed."""
    return shutil.which("dot")


def render_png(dot_text: str) -> bytes:
    """The PNG of a DOT graph, drawn by Graphviz' `dot`; a clear error when it is missing."""
    program = graphviz_dot()
    if program is None:
        raise NnctlError("PNG needs Graphviz' `dot` program, which is not installed (not on "
                         "PATH); SVG is drawn by nnctl itself")
    try:
        done = subprocess.run([program, "-Tpng", f"-Gdpi={PNG_DPI}"], input=dot_text.encode(),
                              capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NnctlError(f"Graphviz' dot failed: {exc}") from None
    if done.returncode != 0 or not done.stdout.startswith(b"\x89PNG"):
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise NnctlError("Graphviz' dot failed: " + (message[0] if message else
                                                      f"exit status {done.returncode}"))
    return done.stdout
