"""The graph as text: boxes drawn with box-drawing characters, arrows routed between ranks.

The layout is the shared one (nnctl.plot.layout) in character cells. Between two ranks every
edge leaves its box at the middle of the bottom side, runs down to a track of its own, along
the track and down into its target, ending in an arrowhead; edges from one box share a track
(a fan-out). Where two edges cross, the line running with the flow is drawn unbroken.
With --rankdir LR the same drawing is turned: ranks are columns, arrows point right.
"""
from __future__ import annotations

import unicodedata

from nnctl.layers.base import format_shape
from nnctl.plot.graph import Box, Graph
from nnctl.plot.layout import Layered, Slot, layered_layout, middle_cell

GAP = 3                 # columns between boxes of one rank
DUMMY_GAP = 2

# abstract directions: U/D across ranks (against/with the flow), L/R along a rank
_SCREEN = {"TB": {"U": "N", "D": "S", "L": "W", "R": "E"},
           "LR": {"U": "W", "D": "E", "L": "N", "R": "S"}}
_LINES = {
    frozenset("NS"): "│", frozenset("EW"): "─", frozenset("SE"): "┌", frozenset("SW"): "┐",
    frozenset("NE"): "└", frozenset("NW"): "┘", frozenset("NSE"): "├", frozenset("NSW"): "┤",
    frozenset("EWS"): "┬", frozenset("EWN"): "┴", frozenset("NSEW"): "┼",
    frozenset("N"): "│", frozenset("S"): "│", frozenset("E"): "─", frozenset("W"): "─",
}
_ASCII = str.maketrans({"│": "|", "─": "-", "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+",
                        "┤": "+", "┬": "+", "┴": "+", "┼": "+", "▼": "v", "▶": ">",
                        "→": "->", "·": ".", "×": "x"})
_ARROW = {"TB": "▼", "LR": "▶"}
_PORT = {"TB": "┬", "LR": "├"}


# How much a box may say, from the most to the least; a drawing too wide for the screen
# drops the input shapes (the boxes above show them), then puts the type under the name.
LEVELS = 3


def box_lines(box: Box, options, level: int = 0) -> list[str]:
    """What a text box says: the title, then activation, shapes, dtype and trainability."""
    if level >= 2 and options.show_layer_names:
        lines = [box.name, f"({box.type})"]
    else:
        lines = [box.title(options)]
    activation = box.activation_line(options)
    if activation:
        lines.append(activation)
    if options.show_shapes:
        if box.input_shapes is None or level >= 1:
            lines.append(box.output_shape_text())
        else:
            lines.append(f"{_inputs_text(box)} → {box.output_shape_text()}")
    extra = []
    if options.show_dtype:
        extra.append(box.dtype)
    if options.show_trainable and box.trainable is not None:
        extra.append("Trainable" if box.trainable else "Non-trainable")
    if extra:
        lines.append(" · ".join(extra))
    return lines


def display_width(text: str) -> int:
    """Terminal columns: East Asian wide characters (e.g. CJK names) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _inputs_text(box: Box) -> str:
    """Keras' input shape text, shortened when every input has the same shape: `2 × (None, 8)`."""
    shapes = box.input_shapes
    if len(shapes) > 1 and all(s == shapes[0] for s in shapes):
        return f"{len(shapes)} × {format_shape(shapes[0])}"
    return box.input_shape_text()


def render_text(graph: Graph, width: int | None = None, ascii_only: bool = False) -> str:
    """The whole drawing, one string ending in a newline; as narrow as `width` allows."""
    for level in range(LEVELS):
        text = _render(graph, level)
        if width is None or max(map(display_width, text.splitlines()), default=0) <= width:
            break
    return text.translate(_ASCII) if ascii_only else text


def _render(graph: Graph, level: int) -> str:
    options = graph.options
    direction = "LR" if options.rankdir == "LR" else "TB"
    labels = {box.name: box_lines(box, options, level) for box in graph.boxes}
    in_degree = {box.name: 0 for box in graph.boxes}
    for _, target in graph.edges:
        in_degree[target] += 1

    def size(name):
        lines = labels[name]
        width, height = max(display_width(line) for line in lines) + 4, len(lines) + 2
        if direction == "TB":
            return max(width, 2 * in_degree[name] + 3), height
        # a side needs a row per arriving edge, corners excluded
        return max(height, in_degree[name] + 2), width

    layered = layered_layout([b.name for b in graph.boxes], graph.edges, size, gap=GAP,
                             dummy_breadth=1, dummy_gap=DUMMY_GAP, integer=True)
    canvas = _route(layered, direction)
    for box in graph.boxes:
        canvas.label(box.name, labels[box.name])
    return canvas.text()


class _Canvas:
    """Cells in abstract coordinates (breadth, depth), turned to screen ones when written."""

    def __init__(self, direction: str, breadth: int, depth: int):
        self.direction = direction
        self.breadth, self.depth = breadth, depth
        self.lines: dict = {}        # (b, d) -> list of (net, set of abstract directions)
        self.glyphs: dict = {}       # (b, d) -> a character that wins over lines
        self.frames: dict = {}       # box name -> (breadth start, depth start, breadth, depth)
        self.ports: dict = {}        # box name -> (b, d) of the cell where its edges leave
        self.labels: dict = {}       # box name -> lines of text

    def line(self, net, b: int, d: int, dirs: str) -> None:
        for owner, have in self.lines.setdefault((b, d), []):
            if owner == net:
                have.update(dirs)
                return
        self.lines[(b, d)].append((net, set(dirs)))

    def run_depth(self, net, b: int, d0: int, d1: int) -> None:
        """A line with the flow from depth d0 to d1 (inclusive), open at both ends."""
        for d in range(d0, d1 + 1):
            self.line(net, b, d, "UD")

    def frame(self, name: str, b: int, d: int, breadth: int, depth: int) -> None:
        self.frames[name] = (b, d, breadth, depth)

    def label(self, name: str, lines: list[str]) -> None:
        self.labels[name] = lines

    def _screen(self, b: int, d: int) -> tuple[int, int]:
        return (d, b) if self.direction == "TB" else (b, d)       # (row, column)

    def text(self) -> str:
        rows, cols = ((self.depth, self.breadth) if self.direction == "TB"
                      else (self.breadth, self.depth))
        grid = [[" "] * cols for _ in range(rows)]
        screen = _SCREEN[self.direction]
        for (b, d), owners in self.lines.items():
            if len(owners) == 1:
                dirs = owners[0][1]
            else:  # a crossing: the line that runs with the flow stays whole
                dirs = next((have for _, have in owners if have <= set("UD")), owners[0][1])
            r, c = self._screen(b, d)
            grid[r][c] = _LINES[frozenset(screen[x] for x in dirs)]
        for (b, d), glyph in self.glyphs.items():
            r, c = self._screen(b, d)
            grid[r][c] = glyph
        for name, frame in self.frames.items():
            self._draw_box(grid, frame, self.labels.get(name, []), self.ports.get(name))
        return "".join("".join(row).rstrip() + "\n" for row in grid)

    def _draw_box(self, grid, frame, lines, port) -> None:
        b0, d0, breadth, depth = frame
        if self.direction == "TB":
            x, y, w, h = b0, d0, breadth, depth
        else:
            x, y, w, h = d0, b0, depth, breadth
        grid[y][x:x + w] = list("┌" + "─" * (w - 2) + "┐")
        grid[y + h - 1][x:x + w] = list("└" + "─" * (w - 2) + "┘")
        for r in range(y + 1, y + h - 1):
            grid[r][x] = grid[r][x + w - 1] = "│"
            grid[r][x + 1:x + w - 1] = [" "] * (w - 2)
        top = y + 1 + (h - 2 - len(lines)) // 2
        for i, line in enumerate(lines):
            at = x + 1 + (w - 2 - display_width(line)) // 2
            for ch in line:
                grid[top + i][at] = ch
                if display_width(ch) == 2:     # the next cell is the right half of ch
                    grid[top + i][at + 1] = ""
                    at += 1
                at += 1
        if port is not None:           # where the edges leave
            r, c = self._screen(*port)
            grid[r][c] = _PORT[self.direction]


def _route(layered: Layered, direction: str) -> _Canvas:
    """Tracks for every gap between ranks, then the band positions, then every line."""
    in_ports = _spread_ports(layered, layered.in_ports(integer=True))
    depth = layered.band_depth
    plans = [_plan_gap(layered, r, in_ports) for r in range(len(layered.ranks) - 1)]
    # a row for the arrowheads; across the page, a column of line before them too
    gaps = [plan["tracks"] + (1 if direction == "TB" else 2) for plan in plans]
    starts = layered.band_starts(gaps)
    total_depth = int(starts[-1] + depth[-1]) if starts else 0
    canvas = _Canvas(direction, int(layered.breadth), total_depth)
    for r, rank in enumerate(layered.ranks):
        band_end = int(starts[r] + depth[r]) - 1
        leaving = {a.key for a, _, _ in layered.segments(r)}
        for slot in rank:
            top, column = int(starts[r]), _out_port(slot)
            if slot.dummy:
                canvas.run_depth(("dummy", slot.key), column, top, band_end)
                continue
            canvas.frame(slot.key, int(slot.low), top, int(slot.breadth), int(slot.depth))
            if slot.key in leaving:   # down from the box to the end of the band
                bottom = top + int(slot.depth) - 1
                canvas.ports[slot.key] = (column, bottom)
                canvas.run_depth(("stub", slot.key), column, bottom + 1, band_end)
    for r, plan in enumerate(plans):
        first = int(starts[r] + depth[r])            # first row of the gap
        arrow_row = first + gaps[r] - 1
        for net in plan["nets"]:
            src, targets, track = net["source"], net["targets"], net["track"]
            key = net["key"]
            if track is None:                        # straight down
                canvas.run_depth(key, src, first, arrow_row)
            else:
                row = first + track
                canvas.run_depth(key, src, first, row - 1)
                canvas.line(key, src, row, "U")
                low = min([src] + [c for c, _ in targets])
                high = max([src] + [c for c, _ in targets])
                for b in range(low, high + 1):
                    canvas.line(key, b, row, ("L" if b > low else "") + ("R" if b < high else ""))
                for column, _ in targets:
                    canvas.line(key, column, row, "D")
                    canvas.run_depth(key, column, row + 1, arrow_row)
            for column, is_box in targets:
                if is_box:
                    canvas.glyphs[(column, arrow_row)] = _ARROW[direction]
    return canvas


def _out_port(slot: Slot) -> int:
    return middle_cell(slot)


def _spread_ports(layered: Layered, ports: dict) -> dict:
    """Move arrowheads off columns where another line comes down, and apart from each other:
    side by side, two lines read as one."""
    ports = dict(ports)
    for r in range(1, len(layered.ranks)):
        upper = {}                                    # out-port column -> upper slot key
        for a, _, _ in layered.segments(r - 1):
            upper[_out_port(a)] = a.key
        by_target: dict = {}
        for a, b, edge in layered.segments(r - 1):
            if not b.dummy:
                by_target.setdefault(b.key, []).append((ports[edge], a, edge))
        taken = {_out_port(s) for s in layered.ranks[r] if s.dummy}
        for key, arriving in by_target.items():
            slot = layered.slots[key]
            low, high = int(slot.low) + 1, int(slot.low + slot.breadth) - 2
            chosen, previous = {}, low - 2
            for ideal, source, edge in sorted(arriving, key=lambda item: item[0]):
                def clear(c, source=source, previous=previous):
                    return (c > previous + 1 and c not in taken
                            and all(abs(c - col) > 1 for col, k in upper.items()
                                    if k != source.key))
                mine = _out_port(source)
                if len(arriving) > 1 and low <= mine <= high and clear(mine):
                    ideal = mine                     # straight down, when it keeps the order
                choice = next((c for c in sorted(range(low, high + 1),
                                                 key=lambda c: (abs(c - ideal), c))
                               if clear(c) and abs(c - ideal) <= 3), None)
                if choice is None:                   # no room: keep the even spread
                    break
                chosen[edge] = previous = choice
            else:
                ports.update(chosen)
    return ports


def _plan_gap(layered: Layered, r: int, in_ports: dict) -> dict:
    """Group the gap's edge pieces by where they leave, and give each group a track."""
    nets: dict = {}
    for upper, lower, edge in layered.segments(r):
        net = nets.setdefault(upper.key, {"key": ("net", upper.key), "source": _out_port(upper),
                                          "targets": [], "track": None})
        column = _out_port(lower) if lower.dummy else in_ports[edge]
        if (column, not lower.dummy) not in net["targets"]:
            net["targets"].append((column, not lower.dummy))
    nets = list(nets.values())
    bending = [n for n in nets if any(c != n["source"] for c, _ in n["targets"])]
    # a net that leaves from column c must turn above any net that arrives in column c
    arriving = {c: n["key"] for n in nets for c, _ in n["targets"]}
    above = {n["key"]: set() for n in bending}
    for n in bending:
        other = arriving.get(n["source"])
        if other is not None and other != n["key"] and other in above:
            above[other].add(n["key"])
    tracks: list[list[tuple[int, int]]] = []
    placed = {}
    pending = sorted(bending, key=lambda n: min([n["source"]] + [c for c, _ in n["targets"]]))
    while pending:
        ready = [n for n in pending if above[n["key"]] <= set(placed)] or pending[:1]
        for n in ready:
            pending.remove(n)
            cols = [n["source"]] + [c for c, _ in n["targets"]]
            low, high = min(cols), max(cols)
            t = 1 + max((placed[k] for k in above[n["key"]] if k in placed), default=-1)
            while t < len(tracks) and any(not (high < a - 1 or low > b + 1) for a, b in tracks[t]):
                t += 1
            if t == len(tracks):
                tracks.append([])
            tracks[t].append((low, high))
            n["track"] = placed[n["key"]] = t
    return {"nets": nets, "tracks": len(tracks)}
