"""nnctl init: sample an initializer, as tf.keras.initializers.NAME()(shape=...) does."""
from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from nnctl.cli import params
from nnctl.cli.params import PARAM_VALUES, ArrayFormat, FloatType, parse_params


def init(
    name: Annotated[str, typer.Argument(
        help="Initializer: he_normal, HeNormal, glorot_uniform, normal, ... "
             "(see 'nnctl list initializers').", metavar="NAME", show_default=False,
        autocompletion=params.complete_initializer)],
    shape: Annotated[str, typer.Option(
        "--shape", help="Shape of the tensor: 9,1 (a Dense kernel, inputs x units), 9, or "
                        "3,3,16,32 (a conv kernel: fans include the receptive field).",
        metavar="DIMS", show_default=False)],
    seed: Annotated[Optional[int], typer.Option(
        "--seed", min=0, help="Seed: the same seed gives the same values on every machine (and "
                              "Keras' own values under its NumPy backend). Default: a random one.",
        metavar="N", show_default=False)] = None,
    param: Annotated[Optional[list[str]], typer.Option(
        "--param", "-p", help="Argument of the initializer, repeatable: -p stddev=0.1 "
                              "-p mode=fan_avg -p seed=None. " + PARAM_VALUES,
        metavar="KEY=VALUE", show_default=False)] = None,
    dtype: params.DtypeOption = FloatType.float32,
    format: Annotated[Optional[ArrayFormat], typer.Option(
        "--format", "-f", help="text (tf.Tensor(...), the default on a terminal), csv (the "
                               "default when piped), tsv, json (nested lists) or npy. With "
                               "--stats: text, csv, tsv or json.", show_default=False)] = None,
    stats: Annotated[bool, typer.Option(
        "--stats", help="Print statistics of the sample instead of the values: mean, std, "
                        "min and max beside the theoretical mean, std, bounds and the "
                        "fan_in/fan_out used.")] = False,
    plot: Annotated[bool, typer.Option(
        "--plot", help="Draw a histogram of the sample with the theoretical density over it "
                       "instead of the values (after the statistics with --stats).")] = False,
):
    """Sample an initializer, as tf.keras.initializers.NAME()(shape).

    On a terminal the values print as TensorFlow prints a tensor; piped, as CSV (one row per
    line, higher ranks flattened after the first axis).

    Examples:

    \b
      nnctl init he_normal --shape 9,1 --seed 0
      nnctl init variance_scaling --shape 784,10 --stats \\
          -p scale=2 -p distribution=uniform
      nnctl init glorot_normal --shape 3,3,16,32 --plot
    """
    import numpy as np

    from nnctl import initializers
    from nnctl.cli.console import message
    from nnctl.cli.output import array_format, refuse_npy_on_terminal, write_array
    from nnctl.errors import UsageError

    if (stats or plot) and format == ArrayFormat.npy:
        raise UsageError("--stats and --plot print text; --format npy writes only the values")
    if plot and format is not None and not stats:
        raise UsageError("--plot draws a chart; --format applies to the values or --stats")
    if format == ArrayFormat.npy:
        refuse_npy_on_terminal()  # before a seed is drawn and said
    dims = parse_shape(shape)
    args = parse_params(param or [], kind="initializer", name=name)
    cls = initializers.INITIALIZERS.get(name)
    seed, drawn = _resolve_seed(cls, args, seed)
    if seed is not None:
        args["seed"] = seed
    initializer = initializers.get({"type": cls.name, **args})

    theory = initializer.theory(dims)  # shape errors (identity 3-D, ...) before sampling
    values = finite_sample(initializer, dims, np.dtype(dtype.value))
    if drawn:
        message(f"seed {seed} (pass --seed {seed} to draw the same values again)")

    if not stats and not plot:
        write_array(values, array_format(format))
        return
    report = stats_report(initializer, dims, np.dtype(dtype.value), seed, values, theory)
    if stats:
        # as the values: text on a terminal, CSV when piped (a table beside a --plot chart)
        fmt = "text" if plot and format is None else array_format(format)
        if fmt == "json":
            import json

            sys.stdout.write(json.dumps(report, indent=2) + "\n")
        elif fmt in ("csv", "tsv"):
            from nnctl.floatfmt import text_rows

            sys.stdout.write(text_rows([("statistic", "sample", "theory"), *stats_rows(report)],
                                       fmt))
        else:
            render_stats(report)
    if plot:
        sys.stdout.write(plot_text(values, theory, report["title"]) + "\n")


def parse_shape(text: str) -> tuple[int, ...]:
    """`9,1` -> (9, 1); `9` -> (9,); `(3, 3, 16, 32)` and `[9,1]` too; `()` is a scalar."""
    from nnctl.errors import ParameterError
    from nnctl.floatfmt import parse_int

    body = text.strip()
    if body[:1] in "([" and body[-1:] in ")]" and body:
        body = body[1:-1]
    pieces = [p.strip() for p in body.split(",")]
    if pieces and pieces[-1] == "":  # `9,` as Python writes a 1-tuple; `` for a scalar
        pieces.pop()
    dims = tuple(parse_int(p, f"--shape {text}") for p in pieces)
    bad = [d for d in dims if d <= 0]
    if bad:
        raise ParameterError(f"--shape {text}: dimensions must be positive integers, got {bad[0]}")
    return dims


def finite_sample(initializer, shape, dtype):
    """The initializer's sample; an error, not infinities and NumPy's overflow warning, when
    its arguments draw values beyond `dtype` (as `build` refuses such weights)."""
    import numpy as np

    from nnctl.errors import ParameterError

    with np.errstate(over="ignore", invalid="ignore"):  # said below, in one line
        values = initializer(shape, dtype=dtype)
    if not np.isfinite(values).all():
        raise ParameterError(f"{initializer.name}: the values drawn are not finite (beyond "
                             f"{np.finfo(dtype).max:.3g}, the largest {dtype.name}): make its "
                             "arguments smaller")
    return values


def _resolve_seed(cls, args: dict, seed):
    """(seed, drawn): --seed, --param seed=..., or a fresh random one (drawn=True)."""
    from nnctl import initializers
    from nnctl.errors import ParameterError

    if "seed" not in initializers.parameters(cls):
        return None, False  # a deterministic initializer: nothing to seed
    given = args.pop("seed", None)
    if seed is not None and given is not None and given != seed:
        raise ParameterError(f"--seed {seed} and --param seed={given} disagree")
    seed = seed if seed is not None else given
    if seed is not None:
        return seed, False
    import secrets

    return secrets.randbelow(2 ** 32), True


def stats_report(initializer, shape, dtype, seed, values, theory) -> dict:
    """The sample's statistics beside the theory, as data (rendered by render_stats)."""
    import numpy as np

    flat = values.astype(np.float64).ravel()
    sample = {"count": int(flat.size), "mean": float(flat.mean()), "std": float(flat.std()),
              "min": float(flat.min()), "max": float(flat.max())}
    config = initializer.get_config()
    title = (f"{config['type']}, shape {tuple(shape)}, {dtype.name}"
             + (f", seed {seed}" if seed is not None else ""))
    return {"title": title, "initializer": config, "shape": list(shape), "dtype": dtype.name,
            "seed": seed, "sample": sample, "theory": theory}


def stats_rows(report: dict) -> list[tuple[str, str, str]]:
    """(statistic, sample, theory) rows, as text."""
    sample, theory = report["sample"], report["theory"]
    low, high = theory["bounds"] if theory["bounds"] is not None else (-float("inf"), float("inf"))
    rows = [("distribution", "", theory["family"].replace("_", " ")),
            ("values", str(sample["count"]), ""),
            ("mean", _num(sample["mean"]), _num(theory["mean"])),
            ("std", _num(sample["std"]), _num(theory["std"])),
            ("min", _num(sample["min"]), _num(low)),
            ("max", _num(sample["max"]), _num(high))]
    if theory["family"] == "truncated_normal":
        rows.append(("sigma before the cut", "", _num(theory["scale"])))
    rows += [("fan_in", "", str(theory["fan_in"])), ("fan_out", "", str(theory["fan_out"]))]
    if "mode" in theory:
        rows.append((f"n = {theory['mode']}", "", _num(theory["n"])))
    if theory["family"] == "orthogonal":
        rows.append(("dim", "", str(theory["dim"])))
    return rows


def _num(x: float) -> str:
    text = f"{x:.6g}"
    return "0" if text == "-0" else text


def render_stats(report: dict) -> None:
    """A rich table on a terminal; plain aligned columns when piped."""
    from rich import box
    from rich.table import Table

    from nnctl.cli.console import rich_console, stdout_is_terminal

    terminal = stdout_is_terminal()
    table = Table(title=report["title"], box=box.SIMPLE_HEAD if terminal else None,
                  title_justify="left", show_edge=False)
    table.add_column("statistic")
    table.add_column("sample", justify="right")
    table.add_column("theory", justify="right")
    for row in stats_rows(report):
        table.add_row(*row)
    rich_console().print(table)


def plot_text(values, theory: dict, title: str) -> str:
    """A histogram of the values (as a density) with the theoretical density curve over it."""
    import math

    import numpy as np

    from nnctl.cli.charts import captioned, new_figure
    from nnctl.initializers import density

    flat = values.astype(np.float64).ravel()
    # The x range: the bounds, but no wider than 5 std around the mean (an orthogonal
    # matrix's entries are bounded by the gain, yet rarely come near it), nor narrower than
    # the sample.
    mean, std = theory["mean"], theory["std"]
    low, high = theory["bounds"] or (-math.inf, math.inf)
    span = (min(max(low, mean - 5 * std), flat.min()), max(min(high, mean + 5 * std), flat.max()))
    if span[1] <= span[0]:  # fixed values
        span = (span[0] - 0.5, span[1] + 0.5)
    bins = int(min(60, max(10, round(np.sqrt(flat.size)))))
    counts, edges = np.histogram(flat, bins=bins, range=span, density=True)
    centers = (edges[:-1] + edges[1:]) / 2

    figure, width, height = new_figure(piped=(76, 20), spare_lines=4, max_height=24)
    figure.draw(figure.bar(centers.tolist(), counts.tolist(), width=1.0))
    xs = np.linspace(span[0], span[1], 4 * width)
    pdf = density(theory, xs)
    if pdf is not None:
        pdf = np.minimum(pdf, 1.5 * max(counts.max(), 1e-300) + 1)  # keep spikes on the canvas
        figure.draw(figure.signal(xs.tolist(), pdf.tolist()))
        caption = f"{title}: histogram of the sample (bars), theoretical density (line)"
    else:
        caption = f"{title}: histogram of the sample (fixed values, no density)"
    return captioned(figure, caption)
