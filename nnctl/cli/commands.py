"""The list of commands: each lives in its own module and is registered here, in help order."""
from __future__ import annotations

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


def register(app, names=None) -> None:
    """Add the commands to the typer app: every one, or those in `names` (the command a run
    names: `nnctl act relu 1` then imports one command module, not twelve, about 10 ms less).
    A command already registered stays; the app's commands are kept in COMMANDS' order.

    A command module that fails to import is a bug of nnctl: its ImportError propagates,
    rather than the command quietly missing from `nnctl --help`.
    """
    present = {c.name for c in app.registered_commands}
    for name, target in COMMANDS.items():
        if name in present or (names is not None and name not in names):
            continue
        module_name, function_name = target.split(":")
        # __import__, not importlib.import_module: `python -X importtime` lists what the
        # import statement's machinery loads, and tests/test_startup_imports.py reads that list
        function = getattr(__import__(module_name, fromlist=[function_name]), function_name)
        app.command(name, help=function.__doc__)(function)
    order = list(COMMANDS)
    app.registered_commands.sort(key=lambda c: order.index(c.name))
