"""nnctl act: evaluate an activation function on values, a range, or rows on stdin."""
from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from nnctl.cli import params
from nnctl.cli.params import PARAM_VALUES, ArrayFormat, FloatType, parse_params


def act(
    name: Annotated[str, typer.Argument(
        help="Activation: relu, sigmoid, softmax, leaky_relu, ... (Keras names; see "
             "'nnctl list activations').", metavar="NAME", show_default=False,
        autocompletion=params.complete_activation)],
    values: Annotated[Optional[list[str]], typer.Argument(
        help="Values to evaluate at (negative numbers welcome: -1 2). Without values or "
             "--range, rows of numbers are read from stdin.", metavar="X",
        show_default=False)] = None,
    range_: Annotated[Optional[str], typer.Option(
        "--range", help="Evaluate at --num evenly spaced points from A to B, like "
                        "np.linspace(A, B, N): --range -10,10.", metavar="A,B",
        show_default=False)] = None,
    num: Annotated[Optional[int], typer.Option(
        "--num", "-n", min=1, help="Number of points of --range (default 100), or of "
                                   "--plot's default range.",
        metavar="N", show_default=False)] = None,
    param: Annotated[Optional[list[str]], typer.Option(
        "--param", "-p", help="Argument of the activation, repeatable: -p negative_slope=0.1 "
                              "-p max_value=None -p approximate=true. " + PARAM_VALUES,
        metavar="KEY=VALUE", show_default=False)] = None,
    derivative: Annotated[bool, typer.Option(
        "--derivative", "-d", help="Print the derivative instead (softmax, log_softmax, "
                                   "sparsemax: the Jacobian's diagonal; glu: d sum(glu)/dx). "
                                   "With --plot: draw both.")] = False,
    plot: Annotated[bool, typer.Option(
        "--plot", help="Draw the curve in the terminal (default range -10,10) instead of "
                       "printing the values.")] = False,
    dtype: params.DtypeOption = FloatType.float32,
    format: Annotated[Optional[ArrayFormat], typer.Option(
        "--format", "-f", help="text (as TensorFlow prints a tensor; the default on a "
                               "terminal), csv (the default when piped: one value per line, "
                               "one row per stdin row), tsv, json or npy.",
        show_default=False)] = None,
):
    """Evaluate an activation function: tf.keras.activations.NAME(x).

    Values come from the arguments, or from --range A,B (--num points, 100
    by default), or else from stdin: rows of numbers (commas or spaces
    between them, or JSON arrays), one output row per input row; softmax and
    the other vector functions work on each row.

    Examples:

    \b
      nnctl act softmax 0.2 0.02 0.15 1.3 0.5 \\
          0.06 1.1 0.05 3.75
      nnctl act relu -1 2
      nnctl act leaky_relu --range -5,5 --num 11 \\
          -p negative_slope=0.1
      seq -5 5 | nnctl act sigmoid
      nnctl act sigmoid --range -10,10 --plot --derivative
    """
    import numpy as np

    from nnctl import activations
    from nnctl.cli.console import is_terminal
    from nnctl.cli.output import array_format, write_array
    from nnctl.errors import UsageError

    if values and range_ is not None:
        raise UsageError("give values or --range, not both")
    if plot and num is not None and range_ is None and not values:
        range_ = "-10,10"    # --plot's own range, in --num points
    if num is not None and range_ is None:
        raise UsageError("--num goes with --range A,B (or --plot alone, for its range -10,10)")
    if plot and format is not None:
        raise UsageError("--plot draws a chart; --format applies to the values")
    params = parse_params(param or [], kind="activation", name=name)
    activation = activations.get({"type": name, **params})
    np_dtype = np.dtype(dtype.value)

    if values:
        x = to_array(values, np_dtype)
    elif range_ is not None:
        x = linspace(range_, 100 if num is None else num, np_dtype)
    elif plot and is_terminal(sys.stdin):
        x = np.linspace(-10, 10, 100, dtype=np_dtype)  # the article's np.linspace(-10, 10, 100)
    elif is_terminal(sys.stdin):
        raise UsageError("nothing to evaluate: give values (nnctl act relu -1 2), "
                         "--range A,B, or pipe rows of numbers to stdin")
    elif plot:  # the numbers on stdin, else the article's range
        x = np.concatenate([row for chunk in read_rows(sys.stdin.fileno(), np_dtype)
                            for row in chunk] or [np.zeros(0, np_dtype)])
        if x.size == 0:
            x = np.linspace(-10, 10, 100, dtype=np_dtype)
    else:
        fmt = array_format(format)
        if fmt == "npy":
            raise UsageError("--format npy writes one array: give values or --range "
                             "(rows on stdin are written row by row)")
        stream_rows(row_activation(activation), derivative, np_dtype, fmt)
        return

    if plot:
        sys.stdout.write(plot_text(activation, x, derivative) + "\n")
        return
    y = activation.derivative(x) if derivative else activation(x)
    write_array(y, array_format(format))


# ---------------------------------------------------------------------------------------------
# Command-line values

def parse_number(text: str) -> float | None:
    """A float, or None when `text` is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def number_problem(text: str, value, dtype) -> str | None:
    """Why `text` (read as `value`) cannot be a value of `dtype`, or None when it can."""
    import math

    import numpy as np

    from nnctl.errors import quoted

    if value is None:
        return f"{quoted(text)} is not a number"
    top = float(np.finfo(dtype).max)
    if math.isfinite(value) and abs(value) > top:
        return f"{quoted(text)} is out of range for {np.dtype(dtype).name} (largest {top:.8g})"
    return None


def to_array(texts: list[str], dtype, what: str = "value"):
    """Command-line numbers -> a 1-D array of `dtype`; a clear error for the first bad one."""
    import numpy as np

    from nnctl.errors import DataError

    numbers = [parse_number(t) for t in texts]
    for text, value in zip(texts, numbers):
        problem = number_problem(text, value, dtype)
        if problem:
            raise DataError(f"{what} {problem}")
    return np.array(numbers, dtype=np.float64).astype(dtype)


def linspace(text: str, num: int, dtype):
    import math

    import numpy as np

    from nnctl.errors import ParameterError
    from nnctl.limits import check_allocation

    pieces = [p.strip() for p in text.split(",")]
    ends = [parse_number(p) for p in pieces]
    if len(ends) != 2 or None in ends or not all(math.isfinite(e) for e in ends):
        raise ParameterError(f"--range '{text}': expected A,B, two finite numbers "
                             "(e.g. --range -10,10)")
    check_allocation((num,), dtype, "--num")
    to_array(pieces, dtype, what="--range end")  # each end must fit the dtype
    # computed in float64 and rounded once, as np.linspace(A, B, N, dtype=...) does
    return np.linspace(ends[0], ends[1], num, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Rows on stdin

def row_activation(activation):
    """The activation applied to one row: a vector function's axis must be the row's."""
    from nnctl import activations
    from nnctl.errors import ParameterError

    if activation.elementwise:
        return activation
    axis = activation.params["axis"]
    if axis not in (0, -1):
        raise ParameterError(f"axis={axis}: on stdin each row is one vector, so the axis "
                             f"of activation '{activation.name}' can only be 0 or -1")
    return activations.get({**activation.get_config(), "axis": -1})


def read_rows(fd: int, dtype):
    """Chunks of rows (1-D arrays) from a file descriptor, as the bytes arrive: a slow
    producer gets its answers line by line, a fast one in large chunks.

    A row is numbers separated by commas, or else by white space, or a JSON array of numbers
    (as act -f json and forward -f jsonl write them); rows may differ in length and an empty
    line is an empty row; a byte order mark and CRLF line ends are read too. A field that is
    not a number is an error at its line and field number, as forward's reader words it:
    `<stdin>:2: column 3: 'x' is not a number`.

    NOTE: not nnctl.tabular.read_batches: that reads a table (every row as wide as the first,
    blank lines skipped, CSV or TSV but not numbers between spaces), while `seq` or a person
    typing gives rows of any width, one answer each.
    """
    import os

    from nnctl.errors import DataError
    from nnctl.limits import MAX_LINE_BYTES

    number = 0
    parts, size = [], 0  # the line being read, in pieces (joining each time is quadratic)
    while True:
        data = os.read(fd, 1 << 16)
        if data and b"\n" not in data:
            parts.append(data)
            size += len(data)
            if size > MAX_LINE_BYTES:  # /dev/zero, a binary file: not rows of numbers
                raise DataError(f"no line end in {MAX_LINE_BYTES >> 20} MB: not rows of numbers",
                                source="<stdin>", line=number + 1)
            continue
        text = b"".join(parts) + data
        parts, size = [], 0
        if data:
            *lines, rest = text.split(b"\n")
            if rest:
                parts, size = [rest], len(rest)
        else:
            lines = [text] if text else []
        if lines:
            rows = []
            for line in lines:
                number += 1
                if number == 1:  # a byte order mark (Windows' UTF-8) is not part of a number
                    line = line.removeprefix(b"\xef\xbb\xbf")
                rows.append(parse_row(line.decode("utf-8", "replace").rstrip("\r"), number,
                                      dtype))
            yield rows
        if not data:
            return


def parse_row(line: str, number: int, dtype):
    """One line of stdin -> a 1-D array; a bad field is a DataError at the line, naming the
    field by its number (counted from 1)."""
    import numpy as np

    from nnctl.errors import DataError

    body = line.strip()
    if body[:1] == "[" and body[-1:] == "]":  # a JSON array (act -f json, forward -f jsonl)
        line = body[1:-1]
    fields = [f.strip() for f in line.split(",")] if "," in line else line.split()
    numbers = []
    for k, text in enumerate(fields, start=1):
        value = parse_number(text)
        problem = "empty value" if not text else number_problem(text, value, dtype)
        if problem:
            raise DataError(f"column {k}: {problem}", source="<stdin>", line=number)
        numbers.append(value)
    return np.array(numbers, dtype=np.float64).astype(dtype)


def stream_rows(activation, derivative: bool, dtype, fmt: str) -> None:
    """One output row per input row, written as each chunk of input arrives."""
    import numpy as np

    apply = activation.derivative if derivative else activation
    from nnctl.cli.output import write_text

    render = row_renderer(fmt)
    for rows in read_rows(sys.stdin.fileno(), dtype):
        lengths = [len(r) for r in rows]
        if activation.elementwise:  # one call for the whole chunk
            flat = apply(np.concatenate(rows)) if sum(lengths) else np.zeros(0, dtype)
            results = np.split(flat, np.cumsum(lengths)[:-1])
        elif len(set(lengths)) == 1 and lengths[0]:  # a rectangle: one call along the rows
            results = list(apply(np.stack(rows)))
        else:
            results = [apply(r) if len(r) else r for r in rows]
        write_text("".join(render(y) for y in results))
        sys.stdout.flush()


def row_renderer(fmt: str):
    import numpy as np

    from nnctl.cli.output import json_text
    from nnctl.floatfmt import format_rows

    if fmt == "json":
        return json_text  # JSON Lines: one array per line
    if fmt in ("csv", "tsv"):
        return lambda y: format_rows(y.reshape(1, -1), fmt).decode()
    # text: as NumPy prints the row, on one line, without brackets
    return lambda y: np.array2string(y, max_line_width=sys.maxsize)[1:-1].strip() + "\n"


# ---------------------------------------------------------------------------------------------
# The chart

def plot_text(activation, x, derivative: bool) -> str:
    """The curve y = act(x) (and its derivative) as a chart with axes and a grid, like the
    article's plt.plot(x, y); plt.grid()."""
    import numpy as np

    from nnctl.cli.charts import captioned, new_figure
    from nnctl.errors import DataError, UsageError

    if activation.name == "glu":
        raise UsageError("glu maps 2n values to n: it has no curve y(x) to plot")
    if x.size == 0:
        raise UsageError("nothing to plot: no values")
    x = np.sort(x)  # the vector functions are permutation-equivariant: sorting is harmless
    series = [(f"{activation.name}(x)", activation(x), "hd")]
    if derivative:
        series.append((f"derivative of {activation.name}", activation.derivative(x), "braille"))
    keep = np.all([np.isfinite(x)] + [np.isfinite(y) for _, y, _ in series], axis=0)
    if not keep.any():
        raise DataError(f"{activation.name} has no finite values to plot on this range")

    figure, width, height = new_figure(piped=(80, 24), spare_lines=3, max_height=25)
    xs = x[keep].astype(np.float64)
    low, high = np.inf, -np.inf
    for label, y, marker in series:
        ys = y[keep].astype(np.float64)
        low, high = min(low, ys.min()), max(high, ys.max())
        signal = figure.signal(xs.tolist(), ys.tolist(), marker=marker)
        signal.lines()
        signal.label(label)
        figure.draw(signal)
    figure.ruler('both').grid()
    for axis, (a, b), count in (("x", (xs.min(), xs.max()), max(3, width // 10)),
                                ("y", (low, high), max(3, height // 4))):
        # round ticks, allowed a hair outside the data (sigmoid's 0 and 1), and the axis
        # widened to show them
        margin = 0.02 * (b - a)
        ticks = nice_ticks(a - margin, b + margin, (b - a) / max(1, count - 1))
        if len(ticks) >= 2:
            figure.ruler(axis).ticks(ticks, [tick_label(t) for t in ticks])
            figure.ruler(axis).lim(min(a, ticks[0]), max(b, ticks[-1]))
    params = ", ".join(f"{k}={v}" for k, v in activation.get_config().items() if k != "type")
    caption = (f"{activation.name}({'x, ' + params if params else 'x'})"
               + (" and its derivative" if derivative else "")
               + f", x from {tick_label(x[0])} to {tick_label(x[-1])}"
               + f", {x.size} point{'s' if x.size != 1 else ''}")
    return captioned(figure, caption)


def nice_ticks(low: float, high: float, spacing: float) -> list[float]:
    """Round tick positions in [low, high], about `spacing` apart: the step is 1, 2, 2.5 or 5
    times a power of ten, as matplotlib picks them (-10, -7.5, ..., 10 for the article's plot)."""
    import math

    if not (math.isfinite(low) and math.isfinite(high) and spacing > 0) or high <= low:
        return []
    power = 10 ** math.floor(math.log10(spacing))
    step = min((m * power for m in (1, 2, 2.5, 5, 10)),
               key=lambda s: abs(math.log(s / spacing)))
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(k * step, 12) + 0.0 for k in range(first, last + 1)]


def tick_label(value: float) -> str:
    text = f"{value:.6g}"
    return "0" if text in ("-0", "0") else text
