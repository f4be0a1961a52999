"""nnctl lint: the article's advice on activations and initialization, checked on a spec."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from nnctl.cli import params


class LintFormat(str, Enum):
    text = "text"
    json = "json"


def lint(
    model: params.ModelArgument,
    format: Annotated[Optional[LintFormat], typer.Option(
        "--format", "-f", help="text (FILE:LINE:COL: level: message) or json.")] = None,
):
    """Check activations and initializers by the article's advice.

    Rules: sigmoid/tanh hidden in a deep network; relu with Glorot or small random kernels;
    softmax over one unit; sigmoid over several output units; no non-linearity at all;
    five or more sigmoid layers stacked.

    Output: FILE:LINE:COL: level: message (fix: ...) [rule-id], one line per finding.

    Exit status 1 when an error-level rule fires, else 0.
    """
    from nnctl import lint as rules
    from nnctl.cli.console import color_allowed, message, warn
    from nnctl.cli.models import is_python_model, open_model

    built = open_model(model)
    for text in built.warnings:
        warn(text)
    findings = rules.lint(built, python=is_python_model(model))
    tally = rules.counts(findings)
    if format is not None and format.value == "json":
        import json

        data = {"model": built.name, "file": model,
                "findings": [f.to_dict() for f in findings], "counts": tally}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif color_allowed(sys.stdout):
        from nnctl.cli.console import rich_console
        from rich.text import Text

        console = rich_console()
        styles = {"error": "bold red", "warning": "yellow", "info": "cyan"}
        for f in findings:
            line = Text()
            if f.location:
                line.append(f"{f.location}: ", style="bold")
            line.append(f.level, style=styles[f.level])
            line.append(f": {f.message} ")
            line.append(f"(fix: {f.fix})", style="green")
            line.append(f" [{f.rule}]", style="dim")
            console.print(line)
    else:
        sys.stdout.write("".join(f.text() + "\n" for f in findings))
    summary = ", ".join(f"{n} {level}{'s' if n != 1 and level != 'info' else ''}"
                        for level, n in tally.items() if n)
    message(summary or "no findings")
    if tally["error"]:
        raise typer.Exit(1)
