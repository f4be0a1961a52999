"""Writing a model in the format its file name asks for (`nnctl build -o`, `nnctl convert -o`).

Every format listed here is one that nnctl (and its target tool) reads back; a name with any
other extension is refused before any work, so no file is written that nothing can read.
"""
from __future__ import annotations

import os
import stat

from nnctl.errors import UsageError

# extension -> what is written
OUTPUT_FORMATS = {
    ".npz": "nnctl model file",
    ".keras": "Keras 3 model",
    ".yaml": "spec, no weights",
    ".yml": "spec, no weights",
    ".json": "Keras config, no weights",
    ".onnx": "ONNX model",
}
WITHOUT_WEIGHTS = (".yaml", ".yml", ".json")


def output_format(path: str) -> str:
    """The extension that decides how `path` is written: "-" and devices (/dev/null) take an
    .npz; anything else must end in one of OUTPUT_FORMATS (UsageError listing them)."""
    name = os.fspath(path)
    if name == "-" or _is_special(name):
        return ".npz"
    extension = os.path.splitext(name)[1].lower()
    if extension not in OUTPUT_FORMATS:
        listed = ", ".join(f"{ext} ({what})" for ext, what in OUTPUT_FORMATS.items())
        found = f"'{extension}'" if extension else "no extension"
        raise UsageError(f"{name}: {found} is not a model format nnctl writes; use one of: "
                         f"{listed}")
    return extension


def save_model_as(path: str, model, weights: dict, opset: int | None = None) -> str:
    """Write the built `model` with `weights` to `path` in the format of its extension;
    returns that extension."""
    extension = output_format(path)
    spec = model.spec.doc.value if model.spec.doc is not None else None
    if extension == ".npz":
        from nnctl.weights import save_model

        save_model(path, spec, weights)
    elif extension == ".keras":
        from nnctl.kerasfile import save_keras

        save_keras(path, model, weights)
    elif extension == ".json":
        from nnctl.kerasfile import spec_to_keras_json

        _write_text(path, spec_to_keras_json(model) + "\n")
    elif extension in (".yaml", ".yml"):
        from nnctl.spec import spec_yaml

        _write_text(path, spec_yaml(spec))
    else:
        from nnctl.onnx import require

        require(("onnx",), "writing .onnx")
        from nnctl.onnx.export import DEFAULT_OPSET, to_onnx, write_onnx

        write_onnx(to_onnx(model, weights, opset=opset or DEFAULT_OPSET), path)
    return extension


def _write_text(path: str, text: str) -> None:
    from nnctl.atomic import atomic_write

    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


def _is_special(path: str) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False
