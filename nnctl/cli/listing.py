"""nnctl list: the names nnctl knows (activations, initializers, layers), with their arguments.

Each kind is a module with a `catalog()` returning rows of plain data: name, aliases, params
{argument: default}, and a line of text (formula, description, advice). This command only
renders them, so a kind appears here as soon as its module exists.
"""
from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

# what -> (module, title)
KINDS = {
    "activations": ("nnctl.activations", "Activations"),
    "initializers": ("nnctl.initializers", "Initializers"),
    "layers": ("nnctl.layers", "Layers"),
}
# The columns of text a catalog row may have, in the order they are shown.
TEXT_FIELDS = ("description", "formula", "advice", "derivative")
HEADINGS = {"description": "description", "formula": "formula", "advice": "when to use",
            "derivative": "--derivative gives"}


class ListFormat(str, Enum):
    table = "table"
    tsv = "tsv"
    json = "json"


def list_names(
    what: Annotated[Optional[str], typer.Argument(
        help="activations, initializers or layers (default: all three).", metavar="KIND",
        show_default=False)] = None,
    format: Annotated[Optional[ListFormat], typer.Option(
        "--format", "-f", help="table (the default on a terminal), tsv (the default when "
                               "piped: one name per line, tab-separated columns) or json.",
        show_default=False)] = None,
):
    """List the names nnctl knows, with arguments and Keras defaults.

    Examples:

    \b
      nnctl list activations
      nnctl list initializers --format json
      nnctl list layers | cut -f1
    """
    from nnctl.cli.console import choose_format

    kinds = [resolve_kind(what)] if what is not None else list(KINDS)
    catalogs = {kind: load_catalog(kind) for kind in kinds}
    fmt = choose_format(format.value if format else None, terminal="table", piped="tsv")
    if fmt == "json":
        import json

        data = catalogs[kinds[0]] if what is not None else catalogs
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif fmt == "tsv":
        sys.stdout.write("\n".join(tsv_text(catalogs[k], titled=what is None, kind=k)
                                   for k in kinds))
    else:
        render_tables(catalogs)


def resolve_kind(what: str) -> str:
    """`activations`, and the singular `activation`; a usage error with did-you-mean else."""
    from nnctl.errors import UsageError
    from nnctl.naming import did_you_mean, normalize_key

    key = normalize_key(what)
    for kind in KINDS:
        if key in (kind, kind[:-1]):
            return kind
    raise UsageError(f"nnctl list: unknown kind '{what}'" + (did_you_mean(what, KINDS) or "")
                     + f"; choose from {', '.join(KINDS)}")


def load_catalog(kind: str) -> list[dict]:
    import importlib

    from nnctl.errors import NnctlError

    module_name, _ = KINDS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        module = None
    catalog = getattr(module, "catalog", None)
    if catalog is None:
        raise NnctlError(f"'nnctl list {kind}' is not available yet in this version of nnctl")
    return catalog()


# ---------------------------------------------------------------------------------------------
# Rendering

def argument_text(row: dict, sep: str = ", ") -> str:
    """`negative_slope=0.0, max_value=None, threshold=0.0`; a required argument is bare."""
    required = set(row.get("required", ()))
    parts = []
    for arg, default in row.get("params", {}).items():
        if arg in required or default == "(required)":
            parts.append(arg)
        elif isinstance(default, str) and default.startswith("(") and default.endswith(")"):
            parts.append(f"{arg}={default}")  # a note such as (auto), not a value
        else:
            parts.append(f"{arg}={default!r}" if isinstance(default, str) else
                         f"{arg}={default}")
    return sep.join(parts)


def text_fields(rows: list[dict]) -> list[str]:
    return [f for f in TEXT_FIELDS if any(row.get(f) for row in rows)]


def _cell(text: str) -> str:
    return " ".join(str(text).split())  # one line: no tabs or newlines inside a cell


def tsv_text(rows: list[dict], titled: bool, kind: str) -> str:
    fields = text_fields(rows)
    lines = [f"# {kind}"] if titled else []
    lines.append("\t".join(["name", "aliases", "arguments", *fields]))
    for row in rows:
        lines.append("\t".join(_cell(c) for c in [row["name"], ", ".join(row.get("aliases", [])),
                                                  argument_text(row),
                                                  *(row.get(f, "") for f in fields)]))
    return "\n".join(lines) + "\n"


def render_tables(catalogs: dict) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from nnctl.cli.console import rich_console

    console = rich_console()
    for kind, rows in catalogs.items():
        fields = [f for f in text_fields(rows) if f != "derivative"]
        table = Table(title=f"{KINDS[kind][1]} ({len(rows)}), with Keras' defaults",
                      title_justify="left",
                      box=box.SIMPLE_HEAD, show_edge=False, expand=False)
        table.add_column("name", style="bold", no_wrap=True)
        table.add_column("arguments", overflow="fold")
        for field in fields:
            table.add_column(HEADINGS[field])
        for row in rows:
            name = escape(row["name"])
            if row.get("aliases"):
                name += "\n[dim]" + escape(", ".join(row["aliases"])) + "[/dim]"
            table.add_row(name, escape(argument_text(row, "\n")),
                          *(escape(str(row.get(f, ""))) for f in fields))
        console.print(table)
        console.print()
