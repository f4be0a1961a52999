"""The graph as SVG, laid out by nnctl itself (no Graphviz): boxes like plot_model's, curved
edges with arrowheads, a picture that any browser shows.

Every box is a `<g class="layer" data-layer=NAME>` whose `<rect class="box">` is its outline;
every edge is a `<path class="edge" data-from=A data-to=B>` drawn with M, L and C commands
only, from the middle of its source's far side to a port on its target's near side. Between
ranks an edge is a cubic curve that stays inside the gap; inside a rank it runs straight
through the room the layout reserved for it, so it never crosses a box.
"""
from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from nnctl.plot.fontmetrics import text_width
from nnctl.plot.graph import Box, Graph
from nnctl.plot.layout import Layered, layered_layout

FONT = "Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
TITLE_SIZE = 13.0
CELL_SIZE = 11.5
TITLE_HEIGHT = 28.0
ROW_HEIGHT = 24.0
PAD = 10.0                  # text to cell edge
MIN_WIDTH = 120.0
MARGIN = 24.0
BOX_GAP = 36.0              # between boxes of one rank
RANK_GAP = 56.0             # between ranks: room for the curves
EDGE_ROOM = 14.0            # a long edge's lane through a rank
EDGE_GAP = 14.0

COLORS = {
    "title": "#263445", "input_title": "#0f6e6e", "title_text": "#ffffff",
    "body": "#ffffff", "border": "#263445", "rule": "#c8d1dc",
    "caption": "#4a5868", "value": "#111827", "edge": "#5b6b7d",
    "trainable": "#2e7d32", "non_trainable": "#b3261e", "background": "#ffffff",
}


@dataclass
class BoxLabel:
    """A box's rows, measured: the title, an optional activation row, a row of cells."""

    title: tuple[str, str]                   # (bold part, normal part)
    activation: tuple[str, str] | None       # ("Activation: ", "relu")
    cells: list[tuple[str, str]]             # ("Input shape: ", "(None, 3)"); trainability too
    width: float
    height: float
    stacked: bool = False                    # cells one under another (left-to-right plots)


def measure(box: Box, options) -> BoxLabel:
    if options.show_layer_names:
        title = (box.name, f" ({box.type})")
    else:
        title = (box.type, "")
    width = (text_width(title[0], TITLE_SIZE, bold=True) + text_width(title[1], TITLE_SIZE)
             + 2 * PAD)
    height = TITLE_HEIGHT
    activation = None
    if options.show_layer_activations and box.activation is not None:
        activation = ("Activation: ", box.activation)
        width = max(width, _cell_width(activation))
        height += ROW_HEIGHT
    cells = [(f"{caption}: " if value else caption, value)
             for caption, value in box.cells(options)]
    # Keras puts the cells side by side; in a left-to-right plot that makes long thin boxes
    # and a very wide picture, so there they go one under another.
    stacked = options.rankdir == "LR"
    if cells and stacked:
        width = max([width] + [_cell_width(c) for c in cells])
        height += ROW_HEIGHT * len(cells)
    elif cells:
        width = max(width, sum(_cell_width(c) for c in cells))
        height += ROW_HEIGHT
    return BoxLabel(title, activation, cells, max(width, MIN_WIDTH), height, stacked)


def _cell_width(cell: tuple[str, str]) -> float:
    caption, value = cell
    bold_caption = not value                # "Trainable" alone is bold, as Keras draws it
    return (text_width(caption, CELL_SIZE, bold=bold_caption)
            + text_width(value, CELL_SIZE, bold=True) + 2 * PAD)


def render_svg(graph: Graph) -> str:
    options = graph.options
    across = options.rankdir == "LR"           # ranks run left to right
    labels = {box.name: measure(box, options) for box in graph.boxes}

    def size(name):
        label = labels[name]
        return (label.height, label.width) if across else (label.width, label.height)

    layered = layered_layout([b.name for b in graph.boxes], graph.edges, size, gap=BOX_GAP,
                             dummy_breadth=EDGE_ROOM, dummy_gap=EDGE_GAP)
    gaps = [RANK_GAP] * max(len(layered.ranks) - 1, 0)
    starts = layered.band_starts(gaps, margin=MARGIN)
    depths = layered.band_depth
    breadth = layered.breadth + 2 * MARGIN
    depth = (starts[-1] + depths[-1] + MARGIN) if starts else 2 * MARGIN

    def point(b, d):
        return (d, b) if across else (b, d)

    width, height = point(breadth, depth)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}" height="{num(height)}" '
           f'viewBox="0 0 {num(width)} {num(height)}" font-family={quoteattr(FONT)} '
           f'data-rankdir="{"LR" if across else "TB"}">',
           f"<title>{escape(graph.name)}</title>",
           "<defs>",
           '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="10" '
           'markerHeight="10" markerUnits="userSpaceOnUse" orient="auto">'
           f'<path d="M0,1 L10,5 L0,9 z" fill="{COLORS["edge"]}"/></marker>',
           "</defs>",
           f'<rect width="100%" height="100%" fill="{COLORS["background"]}"/>']
    ports = layered.in_ports()
    out.append('<g class="edges">')
    for edge in layered.edge_order:
        d = _edge_path(layered, edge, ports[edge], starts, depths, point)
        out.append(f'<path class="edge" data-from={quoteattr(edge[0])} '
                   f'data-to={quoteattr(edge[1])} d="{d}" fill="none" '
                   f'stroke="{COLORS["edge"]}" stroke-width="1.6" marker-end="url(#arrow)"/>')
    out.append("</g>")
    out.append('<g class="layers">')
    for i, box in enumerate(graph.boxes):
        slot = layered.slots[box.name]
        x, y = point(MARGIN + slot.low, starts[slot.rank])
        out.extend(_box(i, box, labels[box.name], x, y))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _edge_path(layered: Layered, edge, port: float, starts, depths, point) -> str:
    """M/L/C commands from the source's far side, through each rank, to the target port."""
    chain = [layered.slots[k] for k in layered.chains[edge]]
    source = chain[0]
    b = MARGIN + source.center
    d = starts[source.rank] + source.depth
    parts = [f"M{_p(point(b, d))}"]
    band_end = starts[source.rank] + depths[source.rank]
    if band_end > d:
        parts.append(f"L{_p(point(b, band_end))}")
    for slot in chain[1:]:
        top = starts[slot.rank]
        nb = MARGIN + (slot.center if slot.dummy else port)
        mid = (band_end + top) / 2
        parts.append(f"C{_p(point(b, mid))} {_p(point(nb, mid))} {_p(point(nb, top))}")
        b, band_end = nb, top + depths[slot.rank]
        if slot.dummy:
            parts.append(f"L{_p(point(b, band_end))}")
    return " ".join(parts)


def _box(index: int, box: Box, label: BoxLabel, x: float, y: float) -> list[str]:
    w, h = label.width, label.height
    title_fill = COLORS["input_title" if box.input_shapes is None else "title"]
    out = [f'<g class="layer" id="layer-{index}" data-layer={quoteattr(box.name)} '
           f'data-type={quoteattr(box.type)}>',
           f'<rect class="box" x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" '
           f'rx="6" fill="{COLORS["body"]}"/>',
           f'<path d="{_title_shape(x, y, w, h)}" fill="{title_fill}"/>',
           _text(x + w / 2, y + TITLE_HEIGHT / 2, TITLE_SIZE, label.title, COLORS["title_text"],
                 COLORS["title_text"], bold_first=True)]
    row = y + TITLE_HEIGHT
    if label.activation:
        out.append(_text(x + w / 2, row + ROW_HEIGHT / 2, CELL_SIZE, label.activation,
                         COLORS["caption"], COLORS["value"]))
        out.append(_rule(x, row + ROW_HEIGHT, x + w, row + ROW_HEIGHT))
        row += ROW_HEIGHT
    if label.cells and label.stacked:
        for i, cell in enumerate(label.cells):
            bottom = i == len(label.cells) - 1
            out.extend(_cell(cell, x, row, w, round_left=bottom, round_right=bottom))
            if i:
                out.append(_rule(x, row, x + w, row))
            row += ROW_HEIGHT
    elif label.cells:
        widths = [_cell_width(c) for c in label.cells]
        extra = (w - sum(widths)) / len(widths)
        at = x
        for i, (cell, cw) in enumerate(zip(label.cells, widths)):
            cw += extra
            out.extend(_cell(cell, at, row, cw, round_left=i == 0,
                             round_right=i == len(label.cells) - 1))
            if i:
                out.append(_rule(at, row, at, row + ROW_HEIGHT))
            at += cw
    out.append(f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" rx="6" '
               f'fill="none" stroke="{COLORS["border"]}" stroke-width="1.2"/>')
    out.append("</g>")
    return out


def _cell(cell, x, y, w, round_left: bool, round_right: bool) -> list[str]:
    """One cell of the bottom row(s): a caption and a value, or Trainable in color."""
    caption, value = cell
    if value:
        return [_text(x + w / 2, y + ROW_HEIGHT / 2, CELL_SIZE, cell, COLORS["caption"],
                      COLORS["value"])]
    fill = COLORS["trainable" if caption == "Trainable" else "non_trainable"]
    # the box's bottom corners are round: a colored cell there follows them
    shape = _rounded(x, y, w, ROW_HEIGHT, bottom_right=6 if round_right else 0,
                     bottom_left=6 if round_left else 0)
    return [f'<path d="{shape}" fill="{fill}"/>',
            _text(x + w / 2, y + ROW_HEIGHT / 2, CELL_SIZE, (caption, ""), "#ffffff", "#ffffff",
                  bold_first=True)]


def _text(cx, cy, size, parts, first_color, second_color, bold_first=False) -> str:
    first, second = parts
    baseline = cy + size * 0.36
    spans = []
    if first:
        weight = ' font-weight="bold"' if bold_first else ""
        spans.append(f'<tspan fill="{first_color}"{weight}>{escape(first)}</tspan>')
    if second:
        weight = "" if bold_first else ' font-weight="bold"'
        spans.append(f'<tspan fill="{second_color}"{weight}>{escape(second)}</tspan>')
    return (f'<text x="{num(cx)}" y="{num(baseline)}" font-size="{num(size)}" '
            f'text-anchor="middle" xml:space="preserve">{"".join(spans)}</text>')


def _rule(x1, y1, x2, y2) -> str:
    return (f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
            f'stroke="{COLORS["rule"]}" stroke-width="1"/>')


def _title_shape(x, y, w, h) -> str:
    """The title bar: the box's rounded top corners, and its bottom ones when it is all."""
    bottom = 6 if h <= TITLE_HEIGHT else 0
    return _rounded(x, y, w, TITLE_HEIGHT, 6, 6, bottom, bottom)


def _rounded(x, y, w, h, top_left=0.0, top_right=0.0, bottom_right=0.0, bottom_left=0.0):
    """A rectangle path with some corners rounded (to fill the corners of a rounded box)."""
    return (f"M{num(x)},{num(y + top_left)} Q{num(x)},{num(y)} {num(x + top_left)},{num(y)} "
            f"L{num(x + w - top_right)},{num(y)} Q{num(x + w)},{num(y)} "
            f"{num(x + w)},{num(y + top_right)} "
            f"L{num(x + w)},{num(y + h - bottom_right)} Q{num(x + w)},{num(y + h)} "
            f"{num(x + w - bottom_right)},{num(y + h)} L{num(x + bottom_left)},{num(y + h)} "
            f"Q{num(x)},{num(y + h)} {num(x)},{num(y + h - bottom_left)} z")


def num(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _p(xy) -> str:
    return f"{num(xy[0])},{num(xy[1])}"
