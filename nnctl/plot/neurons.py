"""The article's picture: every neuron a circle, every connection a line, layers in columns.

A layer of n units is a column of n circles; a wide one shows its first 4 and last 2 units
around a "⋮", as NN-SVG draws it. Lines are the layer's connections between the units
shown, as its type says (Layer.neuron_link): a Dense layer joins every input unit to every
unit (within the last axis, for inputs of higher rank), element-wise layers pass unit i on to
unit i (broadcast, concatenated, flattened or reshaped as the layer does); a type that cannot
be drawn this way makes the picture an error naming the layer. Columns are ranks of the shared layout, so
branches stand one above another and a skip connection runs through a lane of its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from nnctl.layers.base import CannotDraw
from nnctl.plot.fontmetrics import text_width
from nnctl.plot.dot import html as _html, quote as _q
from nnctl.plot.layout import layered_layout
from nnctl.plot.svg import FONT, num

HEAD = 4                    # units shown before the ellipsis
TAIL = 2                    # and after it
RADIUS = 13.0
SPACING = 40.0              # between the centers of neighbouring circles
LABEL_SIZE = 13.0
LABEL_LINE = 18.0
MARGIN = 24.0
COLUMN_GAP = 130.0
GROUP_GAP = 40.0
LANE = 16.0
COLORS = {"stroke": "#263445", "input": "#d7efec", "hidden": "#ffffff", "output": "#fde7c8",
          "line": "#7b8a9a", "text": "#111827", "muted": "#4a5868", "background": "#ffffff"}


@dataclass
class Column:
    """One layer as a column of neurons."""

    name: str
    type: str
    activation: str | None
    units: int
    shown: list                  # unit indices drawn, None where the ellipsis stands
    role: str                    # "input", "hidden" or "output"

    def caption(self) -> str:
        kind = "Input" if self.type == "InputLayer" else self.type
        return f"{kind}, {self.activation}" if self.activation else kind

    def count(self) -> str:
        return f"{self.units:,} unit{'s' if self.units != 1 else ''}"   # 21,632 as summary writes it


@dataclass
class NeuronGraph:
    name: str
    columns: list[Column]
    edges: list[tuple[str, str]]                 # layer connections (from, to)
    links: dict                                  # (from, to) -> [(unit, unit)] among shown units


def shown_units(units: int) -> list:
    """All units when few, else the first HEAD, an ellipsis (None), the last TAIL."""
    if units <= HEAD + TAIL + 1:
        return list(range(units))
    return list(range(HEAD)) + [None] + list(range(units - TAIL, units))


def neuron_graph(model) -> NeuronGraph:
    """The columns and the connections between the units drawn, for a built Model."""
    names = list(model.nodes)
    outputs = {model.resolve(ref)[0] for ref in model.outputs}   # `dense[1][0]`: its node
    # a shared layer's call is drawn as Keras writes it (`dense[1][0]`), not as its node
    label = {name: model.written(name) if model.nodes[name].owner else name for name in names}
    columns = []
    for name in names:
        node = model.nodes[name]
        activation = getattr(node.layer, "activation", None)
        units = _size(node.shape)
        columns.append(Column(
            label[name], node.type_name, activation.name if activation is not None else None, units,
            shown_units(units),
            "input" if node.layer is None else "output" if name in outputs else "hidden"))
    by_name = {name: c for name, c in zip(names, columns)}
    edges, links = [], {}
    for name in names:
        node = model.nodes[name]
        for index, source in enumerate(node.inbound):
            edge = (label[source], label[name])
            if edge in links:
                continue
            edges.append(edge)
            shown_in = [u for u in by_name[source].shown if u is not None]
            shown_out = [u for u in by_name[name].shown if u is not None]
            try:
                links[edge] = [(s, d) for d in shown_out for s in shown_in
                                         if connected(model, node, index, s, d)]
            except CannotDraw as exc:
                raise model.spec.error(f"layer '{node.layer_name}': plot --neurons cannot draw a "
                                       f"{node.type_name} layer ({exc}); draw the model "
                                       "without --neurons", node.path) from None
    return NeuronGraph(model.name, columns, edges, links)


def _size(shape) -> int:
    return math.prod(d for d in shape if d is not None) if shape else 1


def connected(model, node, index: int, s: int, d: int) -> bool:
    """Whether unit s of the node's input `index` feeds unit d of the node (flat C order):
    the layer type says (Layer.neuron_link); where a size is known only at run time, unit i
    feeds unit i."""
    input_shapes = [model.nodes[i].shape for i in node.inbound]
    if None in input_shapes[index] or None in node.shape:
        return s == d
    return node.layer.neuron_link(input_shapes, node.shape, index, s, d)


# --- SVG -----------------------------------------------------------------------------------

def _label_lines(column: Column) -> list[tuple[str, bool]]:
    return [(column.name, True), (column.caption(), False), (column.count(), False)]


def _column_size(column: Column) -> tuple[float, float]:
    """(height, width) of a column: its label above its circles."""
    lines = _label_lines(column)
    label_width = max(text_width(t, LABEL_SIZE, bold) for t, bold in lines)
    height = 3 * LABEL_LINE + 8 + (len(column.shown) - 1) * SPACING + 2 * RADIUS
    return height, max(label_width, 2 * RADIUS)


def render_neurons_svg(graph: NeuronGraph) -> str:
    columns = {c.name: c for c in graph.columns}
    sizes = {name: _column_size(c) for name, c in columns.items()}
    layered = layered_layout(list(columns), graph.edges, lambda n: sizes[n], gap=GROUP_GAP,
                             dummy_breadth=LANE, dummy_gap=GROUP_GAP / 2)
    depths = layered.band_depth
    starts = layered.band_starts([COLUMN_GAP] * max(len(depths) - 1, 0), margin=MARGIN)
    width = (starts[-1] + depths[-1] + MARGIN) if starts else 2 * MARGIN
    height = layered.breadth + 2 * MARGIN
    label_height = 3 * LABEL_LINE + 8
    # A plain stack of layers (the article's picture): labels in one row, circles centered
    # on one line. Otherwise each column's label sits on top of its own circles.
    plain = all(len(rank) == 1 for rank in layered.ranks)
    tallest = max((len(c.shown) for c in columns.values()), default=1)
    tops = {}                                      # layer -> y of its label's top
    centers = {}                                   # (layer, unit) -> (x, y)
    for name, column in columns.items():
        slot = layered.slots[name]
        x = starts[slot.rank] + depths[slot.rank] / 2
        tops[name] = MARGIN if plain else MARGIN + slot.low
        first = tops[name] + label_height + RADIUS
        if plain:
            first += (tallest - len(column.shown)) * SPACING / 2
        for i, unit in enumerate(column.shown):
            centers[(name, unit if unit is not None else ("ellipsis",))] = (x, first + i * SPACING)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}" height="{num(height)}" '
           f'viewBox="0 0 {num(width)} {num(height)}" font-family={quoteattr(FONT)}>',
           f"<title>{escape(graph.name)}</title>",
           f'<rect width="100%" height="100%" fill="{COLORS["background"]}"/>',
           f'<g class="links" stroke="{COLORS["line"]}" stroke-width="1" fill="none" '
           'stroke-opacity="0.75">']
    for edge in graph.edges:
        chain = layered.chains[edge]
        lanes = [layered.slots[k] for k in chain[1:-1]]
        for s, d in graph.links[edge]:
            x0, y0 = centers[(edge[0], s)]
            x1, y1 = centers[(edge[1], d)]
            path = _link_path(x0, y0, x1, y1, lanes, starts, depths)
            out.append(f'<path class="link" data-from={quoteattr(f"{edge[0]}/{s}")} '
                       f'data-to={quoteattr(f"{edge[1]}/{d}")} d="{path}"/>')
    out.append("</g>")
    for name, column in columns.items():
        slot = layered.slots[name]
        x = starts[slot.rank] + depths[slot.rank] / 2
        y = tops[name]
        out.append(f'<g class="layer" data-layer={quoteattr(name)} '
                   f'data-units="{column.units}">')
        for i, (line, bold) in enumerate(_label_lines(column)):
            weight = ' font-weight="bold"' if bold else ""
            color = COLORS["text"] if bold else COLORS["muted"]
            out.append(f'<text x="{num(x)}" y="{num(y + (i + 0.75) * LABEL_LINE)}" '
                       f'font-size="{num(LABEL_SIZE)}" text-anchor="middle" fill="{color}"'
                       f'{weight}>{escape(line)}</text>')
        for unit in column.shown:
            if unit is None:
                cx, cy = centers[(name, ("ellipsis",))]
                out.append(f'<text class="ellipsis" x="{num(cx)}" y="{num(cy + 7)}" '
                           f'font-size="20" text-anchor="middle" fill="{COLORS["muted"]}">'
                           "⋮</text>")
                continue
            cx, cy = centers[(name, unit)]
            out.append(f'<circle class="neuron" data-unit="{unit}" cx="{num(cx)}" '
                       f'cy="{num(cy)}" r="{num(RADIUS)}" fill="{COLORS[column.role]}" '
                       f'stroke="{COLORS["stroke"]}" stroke-width="1.5"/>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _link_path(x0, y0, x1, y1, lanes, starts, depths) -> str:
    """A straight line to the next column; through the lanes of the columns in between."""
    if not lanes:
        return f"M{num(x0)},{num(y0)} L{num(x1)},{num(y1)}"
    parts = [f"M{num(x0)},{num(y0)}"]
    x, y = x0, y0
    for lane in lanes:
        ly = MARGIN + lane.center
        enter, leave = starts[lane.rank], starts[lane.rank] + depths[lane.rank]
        mid = (x + enter) / 2
        parts.append(f"C{num(mid)},{num(y)} {num(mid)},{num(ly)} {num(enter)},{num(ly)}")
        parts.append(f"L{num(leave)},{num(ly)}")
        x, y = leave, ly
    mid = (x + x1) / 2
    parts.append(f"C{num(mid)},{num(y)} {num(mid)},{num(y1)} {num(x1)},{num(y1)}")
    return " ".join(parts)


# --- DOT -----------------------------------------------------------------------------------

def render_neurons_dot(graph: NeuronGraph) -> str:
    """The same picture for Graphviz: a column per layer, its label on top, a circle per unit.

    NOTE: no clusters: Graphviz ignores the order of nodes inside a cluster's rank, and a
    column must read unit 0, 1, 2, ... from the top; an invisible chain in a `rank=same`
    subgraph keeps that order.
    """
    out = [f"digraph {_q(graph.name)} {{",
           '  graph [rankdir=LR, splines=line, nodesep=0.12, ranksep=1.6, fontname="Helvetica"];',
           '  node [shape=circle, label="", width=0.32, fixedsize=true, style=filled, '
           f'color="{COLORS["stroke"]}", penwidth=1.4, fontname="Helvetica"];',
           f'  edge [arrowhead=none, color="{COLORS["line"]}", penwidth=0.8];']
    for column in graph.columns:
        label = (f"<<b>{_html(column.name)}</b><br/>{_html(column.caption())}<br/>"
                 f"{_html(column.count())}>")
        head = _q(column.name + "/label")
        out.append(f"  {head} [shape=plaintext, fixedsize=false, style=\"\", fontsize=12, "
                   f"label={label}];")
        ids = [head]
        for unit in column.shown:
            if unit is None:
                ids.append(_q(column.name + "/..."))
                out.append(f'  {ids[-1]} [shape=plaintext, label="⋮", fontsize=20, style=""];')
            else:
                ids.append(_q(f"{column.name}/{unit}"))
                out.append(f'  {ids[-1]} [fillcolor="{COLORS[column.role]}"];')
        out.append(f"  {{rank=same; {' -> '.join(ids)} [style=invis];}}")
    for (a, b), pairs in graph.links.items():
        for s, d in pairs:
            out.append(f"  {_q(f'{a}/{s}')} -> {_q(f'{b}/{d}')};")
    out.append("}")
    return "\n".join(out) + "\n"
