"""The engine knows nothing of the command line (STYLE.md): checked on the imports of every module.

Three layers: nnctl/cli (typer, terminals) on top; the Python API (nnctl/api) and the shared
rich drawing (nnctl/render.py) in the middle, which may use rich but never the CLI; the
engine (every other module) below, which imports neither rich nor the CLI.
"""
from __future__ import annotations

import ast

import pytest

from conftest import ROOT

PACKAGE = ROOT / "nnctl"
CLI_ONLY = ("typer", "click", "nnctl.cli")
MIDDLE = ("api", "render.py")


def imported(path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(where):
    files = sorted(p for p in PACKAGE.rglob("*.py") if where(p.relative_to(PACKAGE).parts))
    return pytest.mark.parametrize("path", files, ids=[str(p.relative_to(ROOT)) for p in files])


def uses(names: set[str], packages) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in packages))


@modules(lambda parts: parts[0] not in ("cli", "__main__.py") + MIDDLE)
def test_the_engine_imports_neither_rich_nor_the_cli(path):
    assert uses(imported(path), CLI_ONLY + ("rich",)) == []


@modules(lambda parts: parts[0] in MIDDLE)
def test_the_api_and_the_drawing_never_import_the_cli(path):
    assert uses(imported(path), CLI_ONLY) == []
