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


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


def lint(
    models: params.ModelsArgument,
    format: Annotated[Optional[LintFormat], typer.Option(
        "--format", "-f", help="text (FILE:LINE:COL: level: message) or json (an array of "
                               "one object a MODEL when there are several).")] = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", metavar="LEVEL", help="Exit 1 when a finding is at this level or above: "
                                           "error, warning (a CI job that allows none), or "
                                           "info.")] = FailOn.error,
):
    """Check activations and initializers by the article's advice.

    Rules: sigmoid/tanh hidden in a deep network; relu with Glorot or small random kernels;
    softmax over one unit; sigmoid over several output units; no non-linearity at all;
    five or more sigmoid layers stacked.

    Output: FILE:LINE:COL: level: message (fix: ...) [rule-id], one line per finding.

    Exit status 1 when an error-level rule fires (--fail-on warning: a warning too), or a
    MODEL cannot be read; else 0.
    """
    from nnctl import lint as rules
    from nnctl.cli.console import message
    from nnctl.cli.models import check_each

    as_json = format is not None and format.value == "json"
    reports = []   # (MODEL, its model's name, findings) of each MODEL read, in order: not
    # the built models, which many large MODELs would all keep in memory

    def check(model: str) -> bool:
        from nnctl.cli.console import warn
        from nnctl.cli.models import is_python_model, open_model

        built = open_model(model)
        for text in built.warnings:
            warn(text)
        findings = rules.lint(built, python=is_python_model(model))
        if not as_json:   # as each MODEL is checked: a long run shows its progress
            _print_findings(findings)
        reports.append((model, built.name, findings))
        failing = rules.LEVELS[:rules.LEVELS.index(fail_on.value) + 1]
        return not any(f.level in failing for f in findings)

    passed = check_each(models, check)
    if as_json:
        import json

        data = [{"model": name, "file": model, "findings": [f.to_dict() for f in found],
                 "counts": rules.counts(found)} for model, name, found in reports]
        sys.stdout.write(json.dumps(data[0] if len(models) == 1 else data, indent=2) + "\n")
    tally = rules.counts([f for _, _, found in reports for f in found])
    summary = ", ".join(f"{n} {level}{'s' if n != 1 and level != 'info' else ''}"
                        for level, n in tally.items() if n)
    message(summary or "no findings")
    if not passed:
        raise typer.Exit(1)


def _print_findings(findings) -> None:
    """One line per finding on stdout, styled on a terminal."""
    from nnctl.cli.console import color_allowed

    if not color_allowed(sys.stdout):
        sys.stdout.write("".join(f.text() + "\n" for f in findings))
        return
    from rich.text import Text

    from nnctl.cli.console import rich_console

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
