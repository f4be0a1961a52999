"""The graph as a Mermaid flowchart, for Markdown that GitHub, GitLab and many wikis render.

Only a small subset of the flowchart grammar is written: the header, one node per line
(`L0["label"]`), one edge per line (`L0 --> L1`), and two class lines for colors. Node ids
are generated (a layer called `end` or `graph` would trip Mermaid's parser); the label
carries the name, with `"`, `<`, `>` and `&` as Mermaid entity codes.
"""
from __future__ import annotations

from nnctl.plot.graph import Box, Graph
from nnctl.plot.svg import COLORS

_ENTITIES = {"&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;"}


def render_mermaid(graph: Graph) -> str:
    options = graph.options
    ids = {box.name: f"L{i}" for i, box in enumerate(graph.boxes)}
    out = [f"flowchart {'LR' if options.rankdir == 'LR' else 'TB'}"]
    for box in graph.boxes:
        out.append(f'    {ids[box.name]}["{_label(box, options)}"]')
    for source, target in graph.edges:
        out.append(f"    {ids[source]} --> {ids[target]}")
    out.append(f"    classDef layer fill:{COLORS['body']},stroke:{COLORS['border']},"
               f"color:{COLORS['value']}")
    out.append(f"    classDef input fill:#d7efec,stroke:{COLORS['input_title']},"
               f"color:{COLORS['value']}")
    inputs = [ids[b.name] for b in graph.boxes if b.input_shapes is None]
    layers = [ids[b.name] for b in graph.boxes if b.input_shapes is not None]
    if layers:
        out.append(f"    class {','.join(layers)} layer")
    if inputs:
        out.append(f"    class {','.join(inputs)} input")
    return "\n".join(out) + "\n"


def _label(box: Box, options) -> str:
    if options.show_layer_names:
        lines = [f"<b>{text(box.name)}</b> ({text(box.type)})"]
    else:
        lines = [f"<b>{text(box.type)}</b>"]
    activation = box.activation_line(options)
    if activation:
        lines.append(text(activation))
    cells = [f"{caption}: {value}" if value else caption for caption, value in box.cells(options)]
    lines.extend(text(cell) for cell in cells)
    return "<br/>".join(lines)


def text(value: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return "".join(_ENTITIES.get(ch, ch) for ch in value)
