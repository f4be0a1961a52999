"""nnctl inspect: statistics of every layer at initialization, and the chart that shows them."""
from __future__ import annotations

import math
import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from nnctl.cli import params


class InspectFormat(str, Enum):
    table = "table"
    json = "json"


def inspect(
    model: params.ModelArgument,
    input: Annotated[Optional[str], typer.Argument(
        help="Rows of data (CSV, TSV, JSON Lines, .npy, Parquet, .npz; - for stdin); at most "
             "--batch rows are read. Default: a seeded standard-normal batch.")] = None,
    batch: Annotated[int, typer.Option(
        "--batch", min=1, help="Rows in the batch (random, or read from INPUT).")] = 256,
    seed: Annotated[Optional[int], typer.Option(
        "--seed", min=0, help="Seed for the random batch and the initializers "
                              "(default: the spec's seed, else 0).")] = None,
    weights: params.WeightsOption = None,
    target: Annotated[Optional[str], typer.Option(
        "--target", metavar="FILE", help="Target rows (the outputs flattened): the loss is then their MSE "
                         "instead of the mean square of the outputs.")] = None,
    compare_init: Annotated[Optional[str], typer.Option(
        "--compare-init", metavar="NAMES",
        help="Comma-separated initializers (he_normal,lecun_normal): every kernel (Dense, "
             "convolutions) drawn from each, side by side.")] = None,
    format: Annotated[Optional[InspectFormat], typer.Option(
        "--format", "-f", help="table (with a chart on a terminal) or json.")] = None,
):
    """Report the statistics of every layer at initialization.

    Output mean and std, dead relu units, saturated sigmoid/tanh units and the gradient norm
    of each weight. On a terminal, a log-scale chart shows vanishing or exploding at a glance.

    Dead: a relu/relu6 unit whose slope is 0 for every sample of the batch.

    Saturated: a sigmoid/tanh-like output whose slope is below 5% of its slope at 0.

    Loss: the mean square of the outputs, or the MSE against --target (in float64).
    """
    from nnctl import inspection
    from nnctl.cli.console import choose_format
    from nnctl.cli.weights_source import model_and_weights
    from nnctl.errors import DataError

    names = _initializer_names(compare_init) if compare_init is not None else None
    built, values = model_and_weights(model, weights, seed)
    if seed is None:
        seed = built.spec.seed if built.spec.seed is not None else 0
    if input is None:
        inputs = inspection.random_inputs(built, batch, seed)
    else:
        from nnctl.forward import input_widths, split_inputs

        rows = _read_rows(input, built, sum(input_widths(built).values()), batch)
        inputs = split_inputs(built, rows)
    count = len(next(iter(inputs.values())))
    targets = None
    if target is not None:
        # one row more than the batch: a target longer than an INPUT read whole (fewer rows
        # than --batch) is misaligned with it; one longer than the batch is cut as INPUT is
        rows = _read_rows(target, built, inspection.target_width(built), count + 1, npz=False)
        whole_input = input is not None and count < batch
        if len(rows) < count or len(rows) > count and whole_input:
            more = len(rows) > count
            raise DataError(f"the target has {'more than ' * more}{len(rows) - more} rows, "
                            f"the input {'' if more else 'batch '}{count}"
                            + (" (a target row for each input row)" if more else ""),
                            source=target)
        rows = rows[:count]
        targets = inspection.split_outputs(built, rows, source=target)

    if names is not None:
        reports = inspection.compare(built, inputs, values, names, seed, targets)
    else:
        reports = [inspection.inspect(built, inputs, values, targets)]

    fmt = choose_format(format.value if format else None, terminal="table", piped="table")
    if fmt == "json":
        sys.stdout.write(to_json(reports, seed, compared=names is not None))
        return
    _print(reports, compared=names is not None)


def _initializer_names(text: str) -> list[str]:
    from nnctl import initializers
    from nnctl.errors import NnctlError, ParameterError, UsageError

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--compare-init needs initializer names, e.g. "
                         "--compare-init he_normal,glorot_uniform")
    for n in names:
        try:
            initializers.INITIALIZERS.get(n)
        except NnctlError as exc:
            raise ParameterError(f"--compare-init: {exc.message}") from None
    return names


def _read_rows(path: str, model, n_columns: int, limit: int, npz: bool = True):
    """The first `limit` rows of a data file (or stdin) as one (rows, n_columns) array."""
    import numpy as np

    from nnctl import tabular
    from nnctl.errors import DataError

    if npz and str(path).endswith(".npz"):
        from nnctl.forward import npz_rows

        first = next(npz_rows(path, model, limit), None)
    else:
        from nnctl.forward import sample_shape

        with tabular.read_batches(path, batch_size=limit, n_columns=n_columns,
                                  dtype=np.dtype(model.dtype), prefetch=False,
                                  sample_shape=sample_shape(model)) as reader:
            first = next(iter(reader), None)
            first = None if first is None else first.array
    if first is None or len(first) == 0:
        raise DataError("no rows of data", source=tabular.display_name(path))
    return first


# --- rendering -----------------------------------------------------------------------------------

def number_text(value) -> str:
    """Three significant digits: 0.826, 1.5e-10, 12.3; '-' for none."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return "0" if value == 0 else f"{value:.3g}"


def percent_text(value) -> str:
    if value is None:
        return "-"
    if 0 < value < 0.01:
        return "<1%"
    return f"{value:.0%}"


class Table:
    """A table as text cells: headers, rows, alignment per column ('l' or 'r') and optional
    group labels over runs of columns ([(label, span), ...])."""

    def __init__(self, headers, rows, align, groups=None):
        self.headers, self.rows, self.align, self.groups = headers, rows, align, groups

    def widths(self) -> list[int]:
        widths = [max([len(self.headers[j])] + [len(r[j]) for r in self.rows])
                  for j in range(len(self.headers))]
        start = 0
        for label, span in self.groups or ():
            have = sum(widths[start:start + span]) + 2 * (span - 1)
            widths[start + span - 1] += max(0, len(label) - have)
            start += span
        return widths

    def fit(self, columns: int) -> "Table":
        """The table with its first column's long names cut short ("…") to fit `columns`."""
        widths = self.widths()
        room = columns - (sum(widths[1:]) + 2 * (len(widths) - 1))
        room = max(room, 8)
        if widths[0] <= room:
            return self

        def cut(text):
            return text if len(text) <= room else text[:room - 1] + "…"

        rows = [[cut(r[0]), *r[1:]] for r in self.rows]
        return Table([cut(self.headers[0]), *self.headers[1:]], rows, self.align, self.groups)

    def lines(self) -> list[str]:
        """Header lines (group labels first), then one line per row."""
        widths = self.widths()

        def line(cells):
            return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                             for c, w, a in zip(cells, widths, self.align)).rstrip()

        out = []
        if self.groups:
            parts, start = [], 0
            for label, span in self.groups:
                parts.append(label.ljust(sum(widths[start:start + span]) + 2 * (span - 1)))
                start += span
            out.append("  ".join(parts).rstrip())
        out.append(line(self.headers))
        out += [line(r) for r in self.rows]
        return out

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"


SHORT_TYPES = {"BatchNormalization": "BatchNorm", "LayerNormalization": "LayerNorm"}


def layer_table(report) -> Table:
    """One report: a row per layer, and a row per further trainable weight."""
    headers = ["layer", "act/type", "mean", "std", "dead", "sat", "weight", "grad norm"]
    rows = []
    for s in report.layers:
        kind = s.activation if s.activation is not None else SHORT_TYPES.get(s.type, s.type)
        trained = [w for w in s.weights if w.trainable] or [None]
        for i, w in enumerate(trained):
            weight = [w.name, number_text(w.grad_norm)] if w is not None else ["-", "-"]
            if i == 0:
                rows.append([s.name, kind, number_text(s.mean), number_text(s.std),
                             percent_text(s.dead), percent_text(s.saturated), *weight])
            else:
                rows.append(["", "", "", "", "", "", *weight])
    return Table(headers, rows, "llrrrrlr")


def compare_table(reports) -> Table:
    """Side by side: per initializer, each layer's output std and gradient norm."""
    headers, groups = ["layer"], [("", 1)]
    for r in reports:
        headers += ["std", "grad norm"]
        groups.append((r.kernel_initializer, 2))
    rows = []
    for i, s in enumerate(reports[0].layers):
        row = [s.name]
        for r in reports:
            row += [number_text(r.layers[i].std), number_text(r.layers[i].grad_norm)]
        rows.append(row)
    return Table(headers, rows, "l" + "r" * (len(headers) - 1), groups)


_EIGHTHS = " ▏▎▍▌▋▊▉"


def log_scale(values) -> tuple[int, int]:
    """Whole decades (lo, hi) that hold every positive finite value (at least one decade)."""
    logs = [math.log10(v) for v in values if v is not None and 0 < v < math.inf]
    if not logs:
        return 0, 1
    lo, hi = math.floor(min(logs)), math.ceil(max(logs))
    return lo, max(hi, lo + 1)


def bar(value, scale: tuple[int, int], width: int) -> str:
    """A bar of `width` cells at most, its length log10(value) on the decade scale."""
    if value is None or not value > 0 or math.isnan(value):
        return " " * width
    lo, hi = scale
    fraction = 1.0 if value == math.inf else (math.log10(value) - lo) / (hi - lo)
    eighths = max(1, round(min(max(fraction, 0.0), 1.0) * width * 8))
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(width)


def chart_lines(reports, columns: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """The chart as lines of (text, style) pieces: per layer, the output std and the gradient
    norm as bars on log scales shared by every report (so initializers compare)."""
    names = [s.name for s in reports[0].layers]
    name_w = min(max(len(n) for n in names + ["layer"]), 18)
    value_w = 8
    bar_w = max(8, (columns - name_w - 2 * (value_w + 3) - 1) // 2)
    std_scale = log_scale([s.std for r in reports for s in r.layers])
    grad_scale = log_scale([s.grad_norm for r in reports for s in r.layers])

    def axis(scale):
        left, right = f"1e{scale[0]:+03d}", f"1e{scale[1]:+03d}"
        return left + right.rjust(bar_w - len(left)) + " " * (value_w + 2)

    lines = []
    for r in reports:
        title = "output std and weight-gradient norm per layer (log scales)"
        if r.kernel_initializer is not None:
            title = f"kernel_initializer: {r.kernel_initializer}"
        lines.append([(title, "bold")])
        lines.append([("layer".ljust(name_w) + " ", "dim"),
                      ("output std".ljust(bar_w + value_w + 3), "dim"),
                      ("gradient norm", "dim")])
        for s in r.layers:
            name = s.name if len(s.name) <= name_w else s.name[:name_w - 1] + "…"
            lines.append([(name.ljust(name_w) + " ", ""),
                          (bar(s.std, std_scale, bar_w), "cyan"),
                          (" " + number_text(s.std).rjust(value_w) + "  ", ""),
                          (bar(s.grad_norm, grad_scale, bar_w), "magenta"),
                          (" " + number_text(s.grad_norm).rjust(value_w), "")])
        lines.append([(" " * (name_w + 1) + axis(std_scale) + axis(grad_scale).rstrip(), "dim")])
        lines.append([])
    return lines[:-1]


def terminal_tables(reports, compared: bool, columns: int) -> list[Table]:
    """The tables for a terminal `columns` wide: initializers side by side as many as fit."""
    if not compared:
        return [layer_table(reports[0]).fit(columns)]
    groups, current = [], []
    for r in reports:
        trial = compare_table(current + [r])
        if current and max(len(line) for line in trial.fit(columns).lines()) > columns:
            groups.append(current)
            current = [r]
        else:
            current.append(r)
    groups.append(current)
    return [compare_table(g).fit(columns) for g in groups]


def _print(reports, compared: bool) -> None:
    import shutil

    from nnctl.cli.console import color_allowed, rich_console, stdout_is_terminal

    if not stdout_is_terminal():
        table = compare_table(reports) if compared else layer_table(reports[0])
        sys.stdout.write(table.text())
        return
    from rich.text import Text

    console = rich_console()
    styled = color_allowed(sys.stdout)  # NO_COLOR: no escape codes at all, bold included
    columns = min(shutil.get_terminal_size().columns, 120)
    first = reports[0]
    loss = "MSE against the target" if first.loss == "mse" else "mean square of the outputs"
    console.print(Text(f"{first.model}: a batch of {first.batch}, loss = {loss}",
                       style="bold" if styled else ""))
    for table in terminal_tables(reports, compared, columns):
        lines = table.lines()
        depth = len(lines) - len(table.rows)
        for k, line in enumerate(lines):
            style = "bold" if k < depth and styled else ""
            console.print(Text(line, style=style), no_wrap=True, overflow="crop")
        console.print()
    for pieces in chart_lines(reports, columns):
        text = Text()
        for piece, style in pieces:
            text.append(piece, style=(style or None) if styled else None)
        console.print(text, no_wrap=True, overflow="crop")


def to_json(reports, seed: int, compared: bool) -> str:
    import json

    first = reports[0]
    head = {"model": first.model, "batch": first.batch, "seed": seed, "loss": first.loss}
    if compared:
        data = {**head, "compare": [{"kernel_initializer": r.kernel_initializer,
                                     "loss_value": r.loss_value,
                                     "layers": r.to_dict()["layers"]} for r in reports]}
    else:
        data = {**head, "loss_value": first.loss_value, "layers": first.to_dict()["layers"]}
    return json.dumps(data, indent=2) + "\n"
