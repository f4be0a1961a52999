"""Where a MODEL argument comes from: a YAML spec, an nnctl model file (.npz), a Keras file
(.keras, .h5, model.to_json(): recognized by content, see nnctl.kerasfile), or Python;
"-" is any but Python on stdin.

`path/to/file.py:NAME` RUNS the file: it imports the file (as a module, not as __main__, so its
`if __name__ == "__main__":` block does not run) and takes NAME from it: an nnctl model, or a
function (or Model subclass) called with no arguments that returns one. Whatever the module
prints while it is imported goes to stderr: stdout carries the command's data. Only that
form, with both parts, NAME a Python identifier and the file existing, imports anything: any
other MODEL ending in `.py` (or `x.py:net.yaml`) is an error before a line of it runs.

The weights of a Python model are the model's own when it carries some: given with
set_weights() or loaded by nnctl.load_model(); else they are drawn as for a spec, with its
`seed=` (default 0), not with the fresh random draws of a Python session. As with a model
file, --weights FILE or --seed N replaces them.
"""
from __future__ import annotations

import re

_PYTHON = re.compile(r"^(?P<file>.+?\.py)(?::(?P<name>.*))?$", re.DOTALL)
_loaded: dict[str, object] = {}   # MODEL argument -> API model (a file is imported once);
                                  # "-" or a pipe -> (spec, weights) read from it


def is_python_model(path: str) -> bool:
    """Whether MODEL names a Python file (`file.py:NAME`, or a malformed form of it)."""
    return bool(_PYTHON.match(str(path)))


def python_file(path: str) -> str:
    """The file of a Python MODEL (`file.py` of `file.py:NAME`)."""
    return _PYTHON.match(str(path))["file"]


def is_stream(path: str) -> bool:
    """Whether MODEL is read once, front to back: "-" (stdin), or a pipe given as a path
    (`<(cat net.yaml)`, a FIFO), which a second opening would find empty."""
    import os
    import stat

    if str(path) == "-":
        return True
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def check_each(models: list[str], check) -> bool:
    """Run `check(model)` on each MODEL (validate, lint); True when every one passed. One
    MODEL: its error is raised, as any command's; several: an error is one line on stderr
    and the next MODEL is checked, as a linter goes through its files."""
    from nnctl.cli.console import error_line
    from nnctl.errors import NnctlError

    passed = True
    for model in models:
        try:
            passed = bool(check(model)) and passed
        except BrokenPipeError:   # stdout's reader is gone (| head -1): end as a filter does
            raise
        except (NnctlError, OSError) as exc:
            if len(models) == 1:
                raise
            error_line(str(exc) if isinstance(exc, NnctlError) or not exc.filename
                       else f"{exc.filename}: {exc.strerror or exc}")
            passed = False
    return passed


def open_spec(path: str):
    """The ModelSpec of MODEL (the CLI's one way of reading it)."""
    if is_stream(path):
        return _stream_model(path)[0]
    if is_python_model(path):
        from nnctl.spec import parse_spec
        from nnctl.yamlpos import Located

        return parse_spec(Located(python_model(path).to_spec(), {}, str(path)))
    from nnctl.spec import read_spec

    return read_spec(path)


def open_model(path: str):
    """The built Model of MODEL."""
    from nnctl.model import build_model

    return build_model(open_spec(path))


def open_weights(path: str) -> dict | None:
    """The weights MODEL carries (a model file's, a Keras file's, a Python model's own), or
    None for a spec or a Keras .json config: then they are drawn from its initializers."""
    if is_stream(path):
        weights = _stream_model(path)[1]
        return None if weights is None else dict(weights)
    if is_python_model(path):
        model = python_model(path)
        return model.weight_dict() if model.carries_weights() else None
    from nnctl.kerasfile import keras_kind

    if keras_kind(path):
        from nnctl.kerasfile import load_model

        return load_model(path)[1]   # None for a .json config: it has no weights
    if str(path).endswith(".npz"):
        from nnctl.weights import load_model_file

        return dict(load_model_file(path)[1])
    return None


def _stream_model(path: str):
    """(spec, weights or None) of MODEL "-" or a pipe: read once, for the spec and the
    weights."""
    key = str(path)
    if key not in _loaded:
        from nnctl.spec import read_stdin_model

        _loaded[key] = read_stdin_model(key)
    return _loaded[key]


def python_model(path: str):
    """The nnctl.Model named by `file.py:NAME` (imported once per process)."""
    if path not in _loaded:
        _loaded[path] = _load_python_model(path)
    return _loaded[path]


def _load_python_model(arg: str):
    from pathlib import Path

    from nnctl.api import Model
    from nnctl.errors import FileError, SpecError, no_such_file
    from nnctl.naming import did_you_mean

    match = _PYTHON.match(arg)
    file, name = match["file"], match["name"]
    # NOTE: everything is checked before the import: importing runs the file's code
    if not name:
        raise SpecError(f"a Python model is given as {file}:NAME (NAME: the model, or a "
                        "function that returns one, in that file); the file is run to get it",
                        source=file)
    if not name.isidentifier():
        raise SpecError(f"'{name}' after the colon is not a Python name; a Python model is "
                        f"given as {file}:NAME, and the file is run to get it", source=file)
    if not Path(file).is_file():
        raise (no_such_file(file) if not Path(file).exists()
               else FileError("not a file", source=file))
    module = _import_file(file)
    if not hasattr(module, name):
        names = [k for k in vars(module) if not k.startswith("_")]
        raise SpecError(f"no '{name}' in the module{did_you_mean(name, names)}", source=file)
    obj = getattr(module, name)
    what = f"'{name}'"
    if not isinstance(obj, Model):
        if type(obj).__module__.split(".")[0] in KERAS_MODULES:   # a model built by Keras
            raise SpecError(f"{what} is {_a(obj)} of Keras, not an nnctl model: save it "
                            "(model.save('model.keras')) and give model.keras, or build it "
                            "with `import nnctl as keras`", source=file)
        if not callable(obj) or (isinstance(obj, type) and not issubclass(obj, Model)):
            raise SpecError(f"{what} is {_a(obj)}, not an nnctl model (nnctl.Sequential, "
                            "nnctl.Model, or a function that returns one)", source=file)
        _check_no_arguments(obj, what, file)
        try:
            obj = obj()
        except Exception as exc:  # the user's code: report it in one line
            raise _error_from(exc, f"{name}() failed", file) from exc
        what = f"{name}()"
        if not isinstance(obj, Model):
            raise SpecError(f"{what} returned {_a(obj)}, not an nnctl model", source=file)
    try:
        obj.to_spec()   # a subclassed model is traced here, if it has not been yet
    except Exception as exc:
        raise _error_from(exc, f"{what}: cannot build the model", file) from exc
    return obj


def _import_file(file: str):
    """Run a Python file as a fresh module; any failure becomes one SpecError line."""
    import contextlib
    import importlib.util
    import sys
    from pathlib import Path

    from nnctl.errors import SpecError

    stem = re.sub(r"\W", "_", Path(file).stem)
    module_name = f"_nnctl_model_{stem}_{len(_loaded)}"
    loader_spec = importlib.util.spec_from_file_location(module_name, file)
    if loader_spec is None or loader_spec.loader is None:
        raise SpecError("cannot be imported as a Python module", source=file)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module          # dataclasses and pickling look modules up
    directory = str(Path(file).resolve().parent)
    sys.path.insert(0, directory)              # its own imports work as with `python file.py`
    try:
        with contextlib.redirect_stdout(sys.stderr):
            loader_spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise SpecError(f"cannot import: SyntaxError: {exc.msg}", source=file,
                        line=exc.lineno, column=exc.offset) from None
    except SystemExit as exc:
        raise SpecError(f"cannot import: the module called sys.exit({exc.code!r})",
                        source=file) from None
    except Exception as exc:
        raise _error_from(exc, "cannot import", file) from exc
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)
    return module


def _error_from(exc: Exception, doing: str, file: str):
    """One line for an exception raised by the user's code, at its line in `file`."""
    import os

    from nnctl.errors import NnctlError, SpecError

    line = None
    tb = exc.__traceback__
    target = os.path.realpath(file)
    while tb is not None:
        if os.path.realpath(tb.tb_frame.f_code.co_filename) == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(exc, NnctlError):
        return exc.at(file, line)   # an nnctl error in the user's code: its own message
    text = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    if isinstance(exc, ModuleNotFoundError) and exc.name in KERAS_MODULES:
        detail += (" (nnctl runs Keras code without TensorFlow: write `import nnctl as keras`, "
                   "`from nnctl import layers`; docs/python-api.md)")
    return SpecError(f"{doing}: {detail}", source=file, line=line)


# what a Keras script imports, which nnctl stands for
KERAS_MODULES = ("tensorflow", "keras", "tf_keras")


def _check_no_arguments(obj, what: str, file: str) -> None:
    import inspect

    from nnctl.errors import SpecError

    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    required = [p.name for p in signature.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                       p.KEYWORD_ONLY)]
    if required:
        raise SpecError(f"{what} needs arguments ({', '.join(required)}); NAME must be a model "
                        "or a function of no arguments that returns one", source=file)


def _a(obj) -> str:
    if isinstance(obj, type):
        return f"a class ({obj.__name__})"
    kind = type(obj).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"
