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
    columns = [rich.table.Column(h, justify=align.get(h, "left"), width=w)
               for h, w in zip(header, widths)]
    figures = batch_figures(summary, batch)
    table = rich.table.Table(*columns, width=width, show_lines=True)
    for r, row_macs in zip(summary.rows, figures.macs):
        shape = format_output_shape(r.output_shape, num)
        cells = [f"{esc(r.name)} ([color(33)]{esc(r.type)}[/])", shape, num(f"{r.params:,}")]
        if not summary.chain:
            index = r.connected_index or [0] * len(r.connected_to)
            cells.append(", ".join(f"{esc(c)}[{num(0)}][{num(k)}]"
                                   for c, k in zip(r.connected_to, index)) or "-")
        if show_trainable:
            cells.append({"Y": "[bold][color(34)]Y[/][/]", "N": "[bold][color(9)]N[/][/]"}
                         .get(r.trainable, "[bold]-[/]"))
        if macs:
            cells.append(num(f"{row_macs:,}"))
        table.add_row(*cells)
    console.print(f'[bold]Model: "{esc(summary.name)}"[/]')
    console.print(table)
    if summary.error:  # a broken spec: the rows before the broken layer, and no totals
        return
    for label, count, nbytes in (
            ("Total params", summary.total_params, summary.total_bytes),
            ("Trainable params", summary.trainable_params, summary.trainable_bytes),
            ("Non-trainable params", summary.non_trainable_params, summary.non_trainable_bytes)):
        console.print(f"[bold] {label}: [/]{num(f'{count:,}')} ({readable_bytes(nbytes)})")
    if macs:
        for line in mac_lines(summary, batch):
            console.print(line)
