"""Option values the commands share: `-p/--param KEY=VALUE`, `--dtype`, array formats, and the
checks that make an option value outside its stated set a usage error.

The rule (docs/cli.md): a value outside the fixed set or range an option's --help states
(a format name, a count that must be positive, a dtype) is bad usage, exit 2, reported by click
as "Invalid value for '--option': ..."; a value that is data or a catalogue name (an activation,
an initializer, a number to evaluate, a --param value) is bad input, exit 1 (ParameterError).
This module is imported on every run: it imports nothing heavy.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Optional

import typer


class FloatType(str, Enum):
    float32 = "float32"
    float64 = "float64"


# --dtype of the values `act` and `init` compute
DtypeOption = Annotated[FloatType, typer.Option(
    "--dtype", help="Float type of the values: float32 or float64.")]


class ArrayFormat(str, Enum):
    """How `act` and `init` print an array (nnctl.cli.output)."""
    text = "text"
    csv = "csv"
    tsv = "tsv"
    json = "json"
    npy = "npy"


# ---------------------------------------------------------------------------------------------
# --param KEY=VALUE

PARAM_VALUES = ("VALUE: a number, true/false, None (Keras' None; null too), a JSON list "
                "such as [0,1], or text.")


def parse_params(items: list[str], *, kind: str, name: str) -> dict:
    """`-p k=v` items -> {k: value}, each value read by parse_value; the last of a repeated key
    wins. `kind` and `name` say what the arguments are for: `type` is NAME, not a --param."""
    from nnctl.errors import ParameterError

    args = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"--param {_short(item)!r}: expected KEY=VALUE, e.g. "
                                 f"--param {_EXAMPLES.get(kind, 'seed=1')}")
        if key == "type":
            raise ParameterError(f"--param {_short(item)}: the {kind} is NAME ('{name}'), "
                                 "not a --param")
        args[key] = parse_value(text, key)
    return args


_EXAMPLES = {"activation": "negative_slope=0.1", "initializer": "stddev=0.1"}
_INTEGER = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)",
                    re.IGNORECASE)


def parse_value(text: str, key: str = "VALUE"):
    """One --param value, the same for every command (as Keras would receive it):

    true/false (any case) -> bool; None/null -> None; 3 -> int; 0.5, 1e-3, inf, nan -> float;
    [0, 1] or "quoted" -> the JSON value; anything else -> the text itself (fan_avg).
    """
    import json

    from nnctl.errors import ParameterError

    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    if _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts: as a float (inf, most likely)
            return float(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text[:1] in ('[', '{', '"'):
        try:
            return json.loads(text)
        except RecursionError:
            raise ParameterError(f"--param {key}: the JSON value is nested too deeply") from None
        except ValueError as exc:
            raise ParameterError(f"--param {key}={_short(text)}: not valid JSON "
                                 f"({exc.msg} at character {exc.pos + 1})") from None
    return text


def _short(text: str, limit: int = 40) -> str:
    """Echoed user text, cut to a readable length."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Option values checked while the command line is parsed (typer callbacks): an error is
# click's usage error, "Invalid value for '--input-format': ...", exit 2.

def _data_format(value: str | None, extra: tuple[str, ...] = ()) -> str | None:
    """The canonical name of a data format (any alias, any case), or a usage error that
    keeps the did-you-mean of the formats' registry."""
    import typer

    from nnctl import tabular
    from nnctl.errors import ParameterError

    if value is None:
        return None
    if value.strip().lower() in extra:
        return value.strip().lower()
    try:
        return tabular.format_for(None, value)
    except ParameterError as exc:
        message = exc.message
        if extra and "(known: " in message and message.endswith(")"):
            message = message[:-1] + f", {', '.join(extra)})"
        raise typer.BadParameter(message) from None


def input_format(value: str | None) -> str | None:
    """typer callback of --input-format: a data format, or npz (one array per model input)."""
    return _data_format(value, extra=("npz",))


def output_format(value: str | None) -> str | None:
    """typer callback of --output-format: a data format."""
    return _data_format(value)


# MODEL, declared once for every command that takes one.
MODEL_HELP = ("A spec (.yaml/.yml), a model file (.npz), a Keras file (.keras, .h5, .json), "
              "file.py:NAME (imports and runs that Python file), or - for stdin.")
ModelArgument = Annotated[str, typer.Argument(metavar="MODEL", help=MODEL_HELP,
                                              show_default=False)]
# the checking commands (validate, lint) take several, as linters do: `nnctl lint configs/*.yaml`
ModelsArgument = Annotated[list[str], typer.Argument(
    metavar="MODEL", show_default=False,
    help=MODEL_HELP + " Several: each is checked, exit 1 if any fails.")]

# Where MODEL's weights come from (nnctl.cli.weights_source), declared once for every command
# that runs or writes a model.
WEIGHTS_HELP = ("Weights for MODEL instead of its own or drawn ones: an .npz of LAYER/WEIGHT "
                "arrays (Keras names) or a Keras .weights.h5.")
WeightsOption = Annotated[Optional[str], typer.Option("--weights", metavar="FILE",
                                                      help=WEIGHTS_HELP)]
SEED_HELP = ("Draw the weights from the initializers with this seed (default: MODEL's own "
             "weights, else the spec's `seed:`, else 0).")
SeedOption = Annotated[Optional[int], typer.Option("--seed", min=0, metavar="N", help=SEED_HELP)]


def complete_activation(incomplete: str) -> list[str]:
    """Shell completion of an activation name (nnctl --install-completion)."""
    from nnctl.activations import ACTIVATIONS

    return [n for n in ACTIVATIONS.names() if n.startswith(incomplete)]


def complete_initializer(incomplete: str) -> list[str]:
    """Shell completion of an initializer name, its aliases too (xavier_uniform...)."""
    from nnctl.initializers import catalog

    names = [n for row in catalog() for n in (row["name"], *row["aliases"]) if n.islower()]
    return [n for n in names if n.startswith(incomplete)]
