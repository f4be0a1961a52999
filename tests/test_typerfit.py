"""nnctl's fit of typer (nnctl.cli.typerfit) is contained: the CLI works whole without it."""
from __future__ import annotations

import pytest

from conftest import CONFIGS

SMOKE = [
    ["summary", str(CONFIGS / "article_sequential.yaml")],
    ["summary", str(CONFIGS / "residual_mlp.yaml"), "--macs", "--batch", "2", "-f", "json"],
    ["validate", str(CONFIGS / "article_functional.yaml")],
    ["init", "he_normal", "--shape", "3,2", "--seed", "7", "--format", "csv"],
    ["act", "softmax", "0.2", "-0.5", "3.75"],
    ["act", "relu", "--range", "-2,2", "--num", "5"],
    ["list", "initializers"],
    ["lint", str(CONFIGS / "article_sequential.yaml")],
    ["plot", str(CONFIGS / "article_functional.yaml"), "--format", "mermaid"],
    ["summary", str(CONFIGS / "article_sequential.yaml"), "--format", "jsn"],   # bad choice
    ["init", "he_normal", "--shape", "3,2", "--seed", "x"],                    # bad number
    ["act", "relu", "--num", "0", "--range", "0,1"],                            # out of range
    ["summary", "--nope"],                                                      # unknown option
]


def _run(args, fit: bool, monkeypatch, capsysbinary):
    from nnctl.cli import app, typerfit

    monkeypatch.setenv("NNCTL_TYPER_FIT", "1" if fit else "0")
    typerfit._classes.cache_clear()
    try:
        code = app.run(list(args))
    finally:
        typerfit._classes.cache_clear()
    out, err = capsysbinary.readouterr()
    return code, out, err


@pytest.mark.parametrize("args", SMOKE, ids=lambda a: " ".join(a[:3])[:40])
def test_every_command_works_the_same_on_typers_own_path(args, monkeypatch, capsysbinary):
    fitted = _run(args, True, monkeypatch, capsysbinary)
    plain = _run(args, False, monkeypatch, capsysbinary)
    assert plain[0] == fitted[0]
    assert plain[1] == fitted[1]
    if fitted[0] != 0:  # one error line either way (typer's own wording may differ)
        assert plain[2].count(b"\n") == 1 and plain[2].startswith(b"nnctl: error: ")


def test_the_fit_applies_only_to_tested_typer_versions(monkeypatch):
    import typer

    from nnctl.cli import typerfit

    monkeypatch.setattr(typer, "__version__", "0.99.0")
    typerfit._classes.cache_clear()
    try:
        assert not typerfit.enabled()
        group = typer.main.get_command(__import__("nnctl.cli.app", fromlist=["app"]).app)
        assert typerfit.adopt(group) is group and type(group) is typer.core.TyperGroup
    finally:
        typerfit._classes.cache_clear()


def test_the_fit_touches_no_other_typer_app():
    import typer

    from nnctl.cli.app import click_command

    click_command()  # nnctl's app fitted...
    other = typer.Typer()

    @other.command()
    def hello(count: int = 1):
        pass

    command = typer.main.get_command(other)  # ...another app in the same process is not
    assert type(command) is typer.core.TyperCommand
    assert all(type(p).__module__.startswith("typer") for p in command.params)
