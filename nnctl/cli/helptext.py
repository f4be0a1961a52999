"""How --help names values: `MODEL [INPUT]` and `--seed N`, as Unix manuals write them.

typer 0.29 labels every value with its Python type (`<str>`, `<int range> [x>=0]`,
`<list[str]>`, `<auto|numpy|onnxruntime>`) and flags with `<bool>`: noise that also takes
the room of the help text in 80 columns. Here a value is named by what it is instead: the
option's metavar where the command gives one (FILE, LAYER, FORMAT), else N for an integer,
NUMBER for a float, and the option's own name for the rest (`--dtype DTYPE`, whose help
lists the choices). A flag takes no value and shows none. Ranges are left to the error
message ("must be at least 1 (got 0)"). Arguments are upper case in the usage line and the
list, required ones without braces: `nnctl forward [OPTIONS] MODEL [INPUT]`. `nnctl --help`
gives each command's first sentence whole, wrapped in a narrow terminal.
"""
from __future__ import annotations

from enum import Enum
from typing import get_args, get_origin

SUMMARY_LIMIT = 76  # characters of a command's first sentence in `nnctl --help`, at most


def short_help(command, short_help_str, limit: int = 45) -> str:
    """`nnctl --help` lists each command with its first sentence, wrapped in a narrow
    terminal rather than cut with "..."."""
    return short_help_str(command, max(limit, SUMMARY_LIMIT))


def value_label(option) -> str | None:
    """What --help shows after an option: its metavar, N, NUMBER, its name; None for a flag."""
    if option.metavar is not None:
        return option.metavar
    if option.is_flag:
        return None
    annotation = option.type_descriptor.annotation
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUMBER"
    if annotation is str or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        longest = max(option.opts, key=len)
        return longest.lstrip("-").replace("-", "_").upper()
    return None


def _option_label(self, ctx) -> str | None:
    return value_label(self)


def _no_label(self, ctx) -> None:
    return None


def _no_range(self) -> None:
    return None


def _argument_name(self) -> str:
    return self.metavar if self.metavar is not None else self.name.upper()


def _argument_usage(self) -> str:
    name = self.display_name_raw
    if not self.required:
        name = f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")
