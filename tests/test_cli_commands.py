"""nnctl.cli.commands: every listed command is registered; a broken one fails loudly."""
from __future__ import annotations

import pytest
import typer

from nnctl.cli import commands


def test_every_command_is_registered_in_order():
    app = typer.Typer()
    commands.register(app)
    assert [c.name for c in app.registered_commands] == list(commands.COMMANDS)
    assert all(c.help for c in app.registered_commands)


@pytest.mark.parametrize("target,error", [("nnctl.cli.no_such_command:run", ModuleNotFoundError),
                                          ("nnctl.cli.lint:no_such_function", AttributeError)])
def test_a_missing_command_is_an_error_not_a_gap(monkeypatch, target, error):
    monkeypatch.setattr(commands, "COMMANDS", {"lint": "nnctl.cli.lint:lint", "gone": target})
    with pytest.raises(error):
        commands.register(typer.Typer())
