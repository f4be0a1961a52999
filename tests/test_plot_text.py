"""The text drawing: every box once, readable at 80 columns, and arrows that lead from each
box to exactly the boxes it feeds — found by following the line characters themselves."""
from __future__ import annotations

import pytest

from conftest import CONFIGS, SPECS
from nnctl.model import load_model
from nnctl.plot import PlotOptions, draw
from nnctl.plot.text import box_lines

SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))

# the directions each character connects; a line entered from the side it does not
# connect is a crossing, and the path goes straight on
LINKS = {"│": "NS", "─": "EW", "┌": "SE", "┐": "SW", "└": "NE", "┘": "NW", "├": "NSE",
         "┤": "NSW", "┬": "EWS", "┴": "EWN", "┼": "NSEW", "▼": "N", "▶": "W"}
STEP = {"N": (-1, 0), "S": (1, 0), "E": (0, 1), "W": (0, -1)}
OPPOSITE = {"N": "S", "S": "N", "E": "W", "W": "E"}


def find_boxes(grid, model, options, level_titles):
    """Each box's rectangle (top, left, bottom, right), found from its title line."""
    boxes = {}
    for name, title in level_titles.items():
        hits = [(r, line.index(title)) for r, line in enumerate(grid) if title in line
                and _framed(line, line.index(title), len(title))]
        assert len(hits) == 1, f"{title!r} appears {len(hits)} times"
        r, c = hits[0]
        left = c
        while grid[r][left] != "│":
            left -= 1
        right = c + len(title)
        while grid[r][right] not in "│├":
            right += 1
        top = r
        while grid[top][left] != "┌":
            top -= 1
        bottom = r
        while grid[bottom][left] != "└":
            bottom += 1
        boxes[name] = (top, left, bottom, right)
    return boxes


def _framed(line, start, length):
    before, after = line[:start].rstrip(" "), line[start + length:].lstrip(" ")
    return before.endswith("│") and after[:1] in ("│", "├")     # ├: a port on the right


def owner(boxes, r, c):
    for name, (top, left, bottom, right) in boxes.items():
        if top <= r <= bottom and left <= c <= right:
            return name
    return None


def trace(grid, boxes, name, rankdir):
    """The boxes reached by following the lines that leave box `name`."""
    top, left, bottom, right = boxes[name]
    if rankdir == "TB":
        ports = [(bottom, c) for c in range(left, right + 1) if grid[bottom][c] == "┬"]
        out, arrow, ahead = "S", "▼", (1, 0)
    else:
        ports = [(r, right) for r in range(top, bottom + 1) if grid[r][right] == "├"]
        out, arrow, ahead = "E", "▶", (0, 1)
    assert len(ports) <= 1, f"{name} has {len(ports)} ports"
    reached, arrows = set(), 0
    if not ports:
        return reached, arrows
    dr, dc = STEP[out]
    todo = [(ports[0][0] + dr, ports[0][1] + dc, out)]
    seen = set()
    while todo:
        r, c, heading = todo.pop()
        if (r, c, heading) in seen:
            continue
        seen.add((r, c, heading))
        ch = grid[r][c] if 0 <= r < len(grid) and 0 <= c < len(grid[r]) else " "
        assert ch != " ", f"a line from {name} ends in the open at row {r}, column {c}"
        if ch == arrow:
            arrows += 1
            target = owner(boxes, r + ahead[0], c + ahead[1])
            assert target is not None, f"arrow at {r},{c} points at no box"
            reached.add(target)
            continue
        links = LINKS[ch]
        assert owner(boxes, r, c) is None, f"a line from {name} runs into a box at {r},{c}"
        if OPPOSITE[heading] not in links:          # a crossing: straight on
            nexts = [heading]
        else:
            nexts = [d for d in links if d != OPPOSITE[heading]]
        for d in nexts:
            todo.append((r + STEP[d][0], c + STEP[d][1], d))
    return reached, arrows


def check_drawing(model, options, width=80):
    text = draw(model, "text", options, width=width)
    grid = text.splitlines()
    # the drawing may have chosen a shorter label: find which level it used
    from nnctl.plot.graph import model_graph
    from nnctl.plot.text import LEVELS

    graph = model_graph(model, options)
    for level in range(LEVELS):
        titles = {b.name: box_lines(b, options, level)[0] for b in graph.boxes}
        if all(sum(t in line for line in grid) >= 1 for t in titles.values()):
            break
    boxes = find_boxes(grid, model, options, titles)
    successors = {b.name: set() for b in graph.boxes}
    in_degree = {b.name: 0 for b in graph.boxes}
    for a, b in graph.edges:
        successors[a].add(b)
        in_degree[b] += 1
    arrows_into = {b.name: 0 for b in graph.boxes}
    for name in boxes:
        reached, _ = trace(grid, boxes, name, options.rankdir)
        assert reached == successors[name], f"{name}: arrows reach {reached}"
    arrow = "▼" if options.rankdir == "TB" else "▶"
    for r, line in enumerate(grid):
        for c, ch in enumerate(line):
            if ch == arrow:
                target = owner(boxes, r + (options.rankdir == "TB"), c + (options.rankdir == "LR"))
                arrows_into[target] += 1
    assert arrows_into == in_degree
    return text


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_text_top_to_bottom_fits_80_columns_and_connects(spec):
    text = check_drawing(load_model(str(spec)), PlotOptions())
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_text_left_to_right_connects(spec):
    check_drawing(load_model(str(spec)), PlotOptions(rankdir="LR", show_trainable=True),
                  width=None)


def test_text_shows_shapes_like_keras():
    text = draw(load_model(str(CONFIGS / "residual_mlp.yaml")), "text", PlotOptions(),
                width=200)
    assert "stem (Dense)" in text
    assert "(None, 16) → (None, 32)" in text
    assert "features (InputLayer)" in text
    assert "2 × (None, 32) → (None, 32)" in text       # an Add of two equal shapes
    two = draw(load_model(str(SPECS / "broadcast_merge.yaml")), "text", PlotOptions(),
               width=200)
    assert "[(None, 4, 3), (None, 1, 3)] → (None, 4, 3)" in two


def test_narrow_screens_get_shorter_labels():
    model = load_model(str(SPECS / "diamond.yaml"))
    wide = draw(model, "text", PlotOptions(), width=200)
    narrow = draw(model, "text", PlotOptions(), width=60)
    assert "(None, 6) → (None, 4)" in wide and "(None, 6) → (None, 4)" not in narrow
    assert max(map(len, narrow.splitlines())) <= 60
    check_drawing(model, PlotOptions(), width=60)


def test_options_change_the_boxes():
    model = load_model(str(SPECS / "frozen.yaml"))
    text = draw(model, "text", PlotOptions(show_dtype=True, show_trainable=True,
                                           show_layer_activations=True), width=200)
    assert "float32 · Non-trainable" in text and "float32 · Trainable" in text
    assert "Activation: relu" in text
    bare = draw(model, "text", PlotOptions(show_shapes=False, show_layer_names=False))
    assert "(None" not in bare and "frozen_base" not in bare and "Dense" in bare


def test_ascii_only():
    text = draw(load_model(str(CONFIGS / "two_input.yaml")), "text", PlotOptions(),
                ascii_only=True)
    assert text.isascii() and "v" in text and "+--" in text


def test_wide_characters_keep_the_boxes_square(tmp_path):
    from nnctl.plot.text import display_width

    spec = tmp_path / "net.yaml"
    spec.write_text('inputs: {"输入": [3]}\nlayers:\n'
                    '  - {name: "隐藏层", type: Dense, units: 2, inputs: "输入"}\n',
                    encoding="utf-8")
    lines = draw(load_model(str(spec)), "text", PlotOptions()).splitlines()
    first = [line for line in lines[:4]]                      # the input's box
    assert len({display_width(line.rstrip()) for line in first}) == 1
    assert "输入 (InputLayer)" in lines[1]
