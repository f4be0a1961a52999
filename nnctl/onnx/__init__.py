"""ONNX: a built model as a graph of standard ONNX operators, and ONNX Runtime as an engine.

    export.py    to_onnx(model, weights) -> onnx.ModelProto; write_onnx(proto, path)
    runtime.py   OnnxRuntimeRunner: flat rows in, flat rows out, on ONNX Runtime

Both need the optional packages onnx and onnxruntime (`pip install 'nnctl[onnx]'`); nothing
else in nnctl imports them, and the NumPy engine stays the reference.
"""
from __future__ import annotations

import importlib

INSTALL_HINT = "pip install 'nnctl[onnx]' (or pip install onnx onnxruntime)"


def require(packages: tuple[str, ...], purpose: str) -> None:
    """Import `packages`; any that cannot be imported is one ResourceError line that says
    what needs it and how to install it (`purpose`: "nnctl export", "--engine onnxruntime")."""
    from nnctl.errors import ResourceError

    missing = []
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        what = " and ".join(missing)
        raise ResourceError(f"{purpose} needs the {what} package{'s' if len(missing) > 1 else ''}"
                            f", which {'are' if len(missing) > 1 else 'is'} not installed: "
                            f"{INSTALL_HINT}")
