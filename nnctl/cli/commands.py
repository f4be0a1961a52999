"""The list of commands: each lives in its own module and is registered here, in help order."""
from __future__ import annotations

import importlib

# command name -> "module:function"; modules import their engine pieces inside the function,
# so that `nnctl act relu 1` does not pay for YAML, rich or the model engine.
COMMANDS = {
    "summary": "nnctl.cli.summary:summary",
    "validate": "nnctl.cli.validate:validate",
    "init": "nnctl.cli.init:init",
    "act": "nnctl.cli.act:act",
    "build": "nnctl.cli.build:build",
    "forward": "nnctl.cli.forward:forward",
    "export": "nnctl.cli.export:export",
    "convert": "nnctl.cli.convert:convert",
    "plot": "nnctl.cli.plot:plot",
    "list": "nnctl.cli.listing:list_names",
    "inspect": "nnctl.cli.inspect:inspect",
    "lint": "nnctl.cli.lint:lint",
}


def register(app) -> None:
    """Add every command to the typer app.

    A command module that fails to import is a bug of nnctl: its ImportError propagates,
    rather than the command quietly missing from `nnctl --help`.
    """
    for name, target in COMMANDS.items():
        module_name, function_name = target.split(":")
        function = getattr(importlib.import_module(module_name), function_name)
        app.command(name, help=function.__doc__)(function)
