"""Where a MODEL argument comes from: a YAML spec or an nnctl model file (.npz)."""
from __future__ import annotations


def open_spec(path: str):
    """The ModelSpec of MODEL (the CLI's one way of reading it)."""
    from nnctl.spec import read_spec

    return read_spec(path)


def open_model(path: str):
    """The built Model of MODEL."""
    from nnctl.model import build_model

    return build_model(open_spec(path))
