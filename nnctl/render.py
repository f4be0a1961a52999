"""Keras' summary table drawn with rich: shared by `nnctl summary` and Model.summary().

Three layers, each knowing less than the one above it:
- the front ends, nnctl.cli (the command line) and nnctl.api (Python), choose the rich Console
  (a terminal or a pipe, color or not, how wide) and call this module;
- this module draws on the Console it is given: it never looks at a terminal, the environment
  or the command line, so both front ends print the same table;
- the engine, nnctl.summary, computes the rows and totals and knows nothing of rich.
rich is imported inside the function: start-up time is part of the product.
"""
from __future__ import annotations

from nnctl.summary import (Summary, batch_figures, column_layout, format_output_shape,
                           mac_lines, macs_layout, readable_bytes)


def print_summary_table(summary: Summary, console, *, width: int, show_trainable: bool = False,
                        macs: bool = False, batch: int | None = None,
                        positions: list | None = None) -> None:
    """Print Keras' summary (title, table, totals lines) on a rich Console, `width` columns
    wide (see nnctl.summary.table_width); colored when the Console has color. `positions`:
    where each column ends, as fractions of the width (Keras' argument; default Keras')."""
    import rich.markup
    import rich.table

    esc = rich.markup.escape

    def num(x):
        return f"[color({45 if x is None else 34})]{x}[/]"

    if macs:  # nnctl's own table: widths that cut no number
        header, widths = macs_layout(summary, show_trainable, width, batch)
        width = sum(widths) + 3 * len(widths) + 1
    else:     # Keras' table, to the character
        header, widths = column_layout(summary.chain, show_trainable, False, width,
                                       positions)
    align = {"Param #": "right", "MACs": "right", "Trainable": "center"}
    align = [align.get(h, "left") for h in header]
    figures = batch_figures(summary, batch)
    row_macs = figures.macs if macs else [None] * len(summary.rows)

    def new_table(count):
        columns = [rich.table.Column(h, justify=a, width=w)
                   for h, a, w in zip(header, align, widths)]
        table = rich.table.Table(*columns, width=width, show_lines=True)
        for r, m in zip(summary.rows[:count], row_macs):
            table.add_row(*_cells(r, summary.chain, show_trainable, m, esc, num))
        return table

    console.print(f'[bold]Model: "{esc(summary.name)}"[/]')
    lines = _plain_table(summary, console, new_table, align, show_trainable, row_macs)
    if lines is not None:
        console.out("\n".join(lines), highlight=False)   # captured too (Model.summary)
    else:
        console.print(new_table(len(summary.rows)))
    if summary.error:  # a broken spec: the rows before the broken layer, and no totals
        return
    for label, count, nbytes in (
            ("Total params", summary.total_params, summary.total_bytes),
            ("Trainable params", summary.trainable_params, summary.trainable_bytes),
            ("Non-trainable params", summary.non_trainable_params, summary.non_trainable_bytes),
            *([("Optimizer params", *summary.optimizer)] if summary.optimizer else [])):
        console.print(f"[bold] {label}: [/]{num(f'{count:,}')} ({readable_bytes(nbytes)})")
    if macs:
        for line in mac_lines(summary, batch):
            console.print(line)


def _cells(r, chain, show_trainable, row_macs, esc, num, style=None) -> list[str]:
    """One row's cells as rich markup (esc, num, style: escaping and styling; plain text
    with str, str and a style that returns the text)."""
    style = style or (lambda text, markup: f"[{markup}]{text}[/]")
    shape = format_output_shape(r.output_shape, num)
    cells = [f"{esc(r.name)} ({style(esc(r.type), 'color(33)')})", shape,
             num(f"{r.params:,}") + (" (unbuilt)" if r.unbuilt else "")]
    if not chain:
        index = r.connected_index or [0] * len(r.connected_to)
        node = r.connected_node or [0] * len(r.connected_to)
        cells.append(", ".join(f"{esc(c)}[{num(n)}][{num(k)}]"
                               for c, n, k in zip(r.connected_to, node, index)) or "-")
    if show_trainable:
        cells.append(style(style(r.trainable, {"Y": "color(34)", "N": "color(9)"}[r.trainable]),
                           "bold") if r.trainable in ("Y", "N") else style("-", "bold"))
    if row_macs is not None:
        cells.append(num(f"{row_macs:,}"))
    return cells


def _plain_table(summary, console, new_table, align, show_trainable, row_macs):
    """The table's lines without rich, when no color is wanted and every cell is plain ASCII
    that fits its column on one line (else None: rich draws it). rich takes about 1 ms a row,
    which is 10 s for a 10,000-layer model; the borders and column widths are taken from rich's
    drawing of the first two rows, and those two rows must come out the same both ways."""
    rows = summary.rows
    if console.color_system is not None or len(rows) < 2 or \
            not console.encoding.lower().startswith("utf"):   # rich draws ASCII boxes then
        return None
    plain = [_cells(r, summary.chain, show_trainable, m, str, str, lambda text, markup: text)
             for r, m in zip(rows, row_macs)]
    import io

    import rich.console

    sample = rich.console.Console(file=io.StringIO(), width=console.width, color_system=None,
                                  force_terminal=False, highlight=False, emoji=False)
    sample.print(new_table(2))   # not console.capture(): that would end a caller's capture
    drawn = sample.file.getvalue().splitlines()
    if len(drawn) != 7:   # top, header, rule, row, separator, row, bottom: one line each
        return None
    bars = [i for i, c in enumerate(drawn[1]) if c == "┃"]
    inner = [b - a - 3 for a, b in zip(bars, bars[1:])]   # a space of padding each side
    if len(inner) != len(align):
        return None
    justify = {"left": str.ljust, "right": str.rjust, "center": _center}

    def line(cells):
        if not all(c.isascii() and c.isprintable() for c in cells) or \
                any(len(c) > w for c, w in zip(cells, inner)):
            return None
        return "│" + "│".join(" " + justify[a](c, w) + " "
                              for c, a, w in zip(cells, align, inner)) + "│"

    body = [line(cells) for cells in plain]
    if None in body or body[0] != drawn[3] or body[1] != drawn[5]:
        return None
    separator = drawn[4]
    lines = drawn[:3]
    for text in body:
        lines += [text, separator]
    lines[-1] = drawn[6]
    return lines


def _center(text: str, width: int) -> str:
    left = (width - len(text)) // 2
    return " " * left + text + " " * (width - len(text) - left)
