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

from nnctl.summary import Summary, mac_lines, readable_bytes


def print_summary_table(summary: Summary, console, *, width: int, show_trainable: bool = False,
                        macs: bool = False, batch: int | None = None) -> None:
    """Print Keras' summary (title, table, totals lines) on a rich Console, `width` columns
    wide (see nnctl.summary.table_width); colored when the Console has color."""
    import rich.markup
    import rich.table

    esc = rich.markup.escape

    def num(x):
        return f"[color({45 if x is None else 34})]{x}[/]"

    if summary.chain:
        positions = [0.45, 0.80, 1.0]   # where each column ends (Keras' fractions)
        header = ["Layer (type)", "Output Shape", "Param #"]
        align = ["left", "left", "right"]
    else:
        positions = [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        align = ["left", "left", "right", "left"]
    if show_trainable:
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        align.append("center")
    if macs:
        positions = [p * 0.88 for p in positions] + [1.0]
        header.append("MACs")
        align.append("right")
    widths, current = [], 0
    for pos in positions:
        widths.append(int(pos * width) - current)
        current += widths[-1]
    columns = [rich.table.Column(h, justify=a, width=w) for h, a, w in zip(header, align, widths)]
    table = rich.table.Table(*columns, width=width, show_lines=True)
    for r in summary.rows:
        shape = "(" + ", ".join(num(d) for d in r.output_shape) + ")"
        cells = [f"{esc(r.name)} ([color(33)]{esc(r.type)}[/])", shape, num(f"{r.params:,}")]
        if not summary.chain:
            cells.append(", ".join(f"{esc(c)}[{num(0)}][{num(0)}]"
                                   for c in r.connected_to) or "-")
        if show_trainable:
            cells.append({"Y": "[bold][color(34)]Y[/][/]", "N": "[bold][color(9)]N[/][/]"}
                         .get(r.trainable, "[bold]-[/]"))
        if macs:
            cells.append(num(f"{r.macs * (batch or 1):,}"))
        table.add_row(*cells)
    console.print(f'[bold]Model: "{esc(summary.name)}"[/]')
    console.print(table)
    for label, count, nbytes in (
            ("Total params", summary.total_params, summary.total_bytes),
            ("Trainable params", summary.trainable_params, summary.trainable_bytes),
            ("Non-trainable params", summary.non_trainable_params, summary.non_trainable_bytes)):
        console.print(f"[bold] {label}: [/]{num(f'{count:,}')} ({readable_bytes(nbytes)})")
    if macs:
        for line in mac_lines(summary, batch):
            console.print(line)
