"""The one exception family of nnctl: every failure a user can cause is an NnctlError.

The CLI turns these into one line on stderr and an exit code (see nnctl.cli.app); the engine
never prints. A position (file, line, column) is attached where the input has one.

For Python callers each kind is also the built-in a Keras user would catch: bad specs, data,
weights and values are ValueErrors; a file that cannot be opened is an OSError (FileError).
"""
from __future__ import annotations


class NnctlError(Exception):
    """Bad input: a spec, data, weights, a value or a resource. Exit status 1."""

    exit_code = 1

    def __init__(self, message: str, *, source: str | None = None,
                 line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line
        self.column = column

    def at(self, source: str | None = None, line: int | None = None,
           column: int | None = None) -> "NnctlError":
        """Fill in a position that is not known yet (innermost position wins)."""
        if self.source is None:
            self.source = source
        if self.line is None:
            self.line, self.column = line, column
        return self

    @property
    def location(self) -> str:
        parts = [str(p) for p in (self.source, self.line, self.column) if p is not None]
        return ":".join(parts)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class SpecError(NnctlError, ValueError):
    """A network spec (YAML or a model file's __spec__) is malformed or inconsistent."""


class DataError(NnctlError, ValueError):
    """An input data file or stream cannot be read as numbers of the right shape."""


class WeightsError(NnctlError, ValueError):
    """A weights or model file is missing, corrupt, or does not fit the network."""


class ParameterError(NnctlError, ValueError):
    """A name or argument (activation, initializer, --param, --shape, ...) is not valid."""


class ResourceError(NnctlError, ValueError):
    """A request would need more memory or disk than is sensible; refused up front."""


class FileError(NnctlError, OSError):
    """A file cannot be opened or read: missing, a directory, no permission. Exit status 1."""

    def __init__(self, message: str, **position):
        NnctlError.__init__(self, message, **position)


# what a MODEL or weights file is named: the names a missing one is compared with
MODEL_EXTENSIONS = (".yaml", ".yml", ".npz", ".keras", ".h5", ".hdf5", ".json", ".py")


def no_such_file(path) -> FileError:
    """'no such file', with the file of that directory it was likely meant to be: a typo
    (article_sequental.yaml), or the extension left out (configs/article_sequential)."""
    import difflib
    import os

    directory, base = os.path.split(os.fspath(path))
    try:
        names = [n for n in os.listdir(directory or ".") if n.endswith(MODEL_EXTENSIONS)]
    except OSError:
        names = []
    close = difflib.get_close_matches(base, names, n=1, cutoff=0.85)
    hint = f" (did you mean '{os.path.join(directory, close[0])}'?)" if close else ""
    return FileError("no such file" + hint, source=os.fspath(path))


class UsageError(NnctlError):
    """The command line itself is wrong (bad combination of options). Exit status 2."""

    exit_code = 2


def quoted(text: str) -> str:
    """A value echoed in an error: quoted, and cut to 40 characters (`'abc'`, `"it's"`)."""
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text) if "'" not in text else f'"{text}"'
