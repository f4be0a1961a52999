"""Many data files in, one output file each: which files, what the outputs are called, which
outputs are already up to date, and the temporary files a stopped run may leave.

Paths are local (resolved to absolute paths, so that workers elsewhere on a shared file system
find them) or URLs (`s3://bucket/dir/`, `memory://...`), read through fsspec, which is imported
only for a URL. Nothing here imports Dask: nnctl.distributed runs the parts.
"""
from __future__ import annotations

import glob
import os
import time
from typing import Callable, NamedTuple

from nnctl.errors import DataError, UsageError
from nnctl.tabular import EXTENSIONS

# what a directory may hold that nnctl reads as rows (an .npz: one array per model input)
DATA_EXTENSIONS = tuple(EXTENSIONS) + (".npz",)
DEFAULT_OUTPUT_FORMAT = "parquet"
FSSPEC_HINT = ("pip install 'nnctl[dask]' (fsspec; for s3:// also s3fs, for gs:// gcsfs, for "
               "abfs:// adlfs)")


class Part(NamedTuple):
    """One input file and the output file made from it; `name` is the input as the user
    would recognize it (error lines say it)."""
    source: str
    dest: str
    name: str


def is_url(path: str) -> bool:
    return "://" in str(path)


def filesystem(url: str):
    """(fsspec file system, path inside it) for a URL; an install hint when fsspec is missing
    or the URL's protocol needs a package (s3fs, gcsfs)."""
    try:
        import fsspec
    except ImportError:
        from nnctl.errors import ResourceError

        raise ResourceError(f"{url}: URLs are read through fsspec, which is not installed: "
                            f"{FSSPEC_HINT}") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        from nnctl.errors import ResourceError

        raise ResourceError(f"{url}: {exc} ({FSSPEC_HINT})") from None


def local_path(url: str) -> str | None:
    """The local path of a `file://` URL (or of a plain path), None for a remote URL."""
    if not is_url(url):
        return os.path.abspath(url)
    fs, path = filesystem(url)
    from fsspec.implementations.local import LocalFileSystem

    return path if isinstance(fs, LocalFileSystem) else None


def _has_magic(path: str) -> bool:
    return glob.has_magic(path)


def expand_inputs(inputs: list[str], warn: Callable[[str], None] | None = None) -> list[str]:
    """Files, directories (their data files, sorted by name) and globs -> input files.

    A directory's files without a data extension are skipped with a warning (hidden files and
    subdirectories silently); a glob or a directory with nothing to read is an error. A name
    that is none of these stays as it is: reading it is what fails, for that file alone.
    """
    files: list[str] = []
    for given in inputs:
        if given == "-":
            raise UsageError("stdin ('-') is one stream: with -o OUTDIR/, give files")
        files += _expand_one(given, warn)
    return files


def _expand_one(given: str, warn) -> list[str]:
    if is_url(given):
        fs, path = filesystem(given)
        protocol = given.split("://", 1)[0]
        if _has_magic(path):
            found = sorted(fs.glob(path))
            if not found:
                raise DataError("no file matches", source=given)
            return [fs.unstrip_protocol(p) for p in found]
        if fs.isdir(path):
            entries = sorted(fs.ls(path, detail=True), key=lambda e: e["name"])
            names = [(e["name"], e["type"] == "directory") for e in entries]
            return [fs.unstrip_protocol(p) if protocol != "file" else "file://" + p
                    for p in _data_files(names, given, warn)]
        return [given]
    if _has_magic(given) and not os.path.exists(given):
        found = sorted(glob.glob(given))
        if not found:
            raise DataError("no file matches", source=given)
        return found
    if os.path.isdir(given):
        names = [(os.path.join(given, n), os.path.isdir(os.path.join(given, n)))
                 for n in sorted(os.listdir(given))]
        return _data_files(names, given, warn)
    return [given]


def _data_files(entries: list[tuple[str, bool]], directory: str, warn) -> list[str]:
    files, skipped = [], []
    for path, is_dir in entries:
        base = os.path.basename(path.rstrip("/"))
        if is_dir or base.startswith("."):
            continue
        if os.path.splitext(base)[1].lower() in DATA_EXTENSIONS:
            files.append(path)
        else:
            skipped.append(base)
    if skipped and warn is not None:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5
                                          else "")
        warn(f"{directory}: skipping {shown}: not a data file nnctl reads "
             f"({', '.join(DATA_EXTENSIONS)})")
    if not files:
        raise DataError(f"no data files in this directory ({', '.join(DATA_EXTENSIONS)})",
                        source=directory)
    return files


def output_extension(output_format: str | None) -> str:
    """`.parquet` for the default format, else the format's usual extension."""
    from nnctl.tabular import FORMATS

    fmt = FORMATS.canonical(output_format) if output_format else DEFAULT_OUTPUT_FORMAT
    return "." + fmt


def plan(inputs: list[str], outdir: str, output_format: str | None = None,
         warn: Callable[[str], None] | None = None) -> list[Part]:
    """The parts of a run: each input file and its output in `outdir` (same stem, the
    extension of `output_format`). Two inputs with the same stem are an error: one output
    would overwrite the other."""
    extension = output_extension(output_format)
    parts, taken = [], {}
    for given in expand_inputs(inputs, warn):
        base = os.path.basename(given.rstrip("/"))
        stem, ext = os.path.splitext(base)
        if ext.lower() not in DATA_EXTENSIONS:
            stem = base
        out_name = stem + extension
        if out_name in taken:
            raise UsageError(f"{taken[out_name]} and {given} would both write {out_name} in "
                             f"{outdir}: give them separate runs (or rename one)")
        taken[out_name] = given
        source = given if is_url(given) else os.path.abspath(given)
        output = join(outdir, out_name)
        if _same_file(source, output):   # it would count as done, or be written over
            raise UsageError(f"-o {outdir}: {given} is its own output there ({out_name}): "
                             "give another output directory or --output-format")
        parts.append(Part(source, output, given))
    return parts


def _same_file(a: str, b: str) -> bool:
    """Whether two local paths are one file (device and inode, whatever the names)."""
    if is_url(a) or is_url(b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def join(directory: str, name: str) -> str:
    if is_url(directory):
        return directory.rstrip("/") + "/" + name
    return os.path.join(os.path.abspath(directory), name)


def make_directory(outdir: str) -> None:
    """Create OUTDIR if it is missing; one error line when it cannot be."""
    if is_url(outdir):
        fs, path = filesystem(outdir)
        fs.makedirs(path, exist_ok=True)
        return
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise UsageError(f"-o {outdir}: not a directory (many inputs write one file each "
                         "into a directory)")
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, outdir) from None


def modified(path: str) -> float | None:
    """The modification time of a file or URL in seconds since the epoch; None when it does
    not exist (or its store does not say)."""
    if not is_url(path):
        try:
            return os.stat(path).st_mtime
        except OSError:
            return None
    fs, inner = filesystem(path)
    try:
        return fs.modified(inner).timestamp()
    except (FileNotFoundError, NotImplementedError, OSError, AttributeError):
        return None


def up_to_date(part: Part, model_time: float | None) -> bool:
    """The output exists and is newer than its input and the model (atomic writes: a file
    at the output's name is a complete one)."""
    made = modified(part.dest)
    if made is None:
        return False
    source_time = modified(part.source)
    if source_time is None:
        return False  # a missing input: its part is what reports it
    return made >= source_time and (model_time is None or made >= model_time)


def model_time(*paths: str | None) -> float | None:
    """The latest modification time of the files a model comes from (MODEL, --weights);
    a model on stdin is new every time."""
    times = []
    for path in paths:
        if path is None:
            continue
        if path == "-":
            return time.time()
        path = str(path).split(".py:")[0] + ".py" if ".py:" in str(path) else str(path)
        found = modified(path)
        if found is not None:
            times.append(found)
    return max(times) if times else None


def temporary_prefix(dest: str) -> str:
    """The start of a temporary file's name for `dest` (nnctl.atomic's naming: hidden, the
    name, then the writer's pid and random bits, `.tmp`)."""
    return "." + os.path.basename(dest) + "."


def remove_temporaries(parts: list[Part]) -> int:
    """Remove what a stopped part left (a worker killed mid-write); the number removed."""
    removed = 0
    by_directory: dict[str, list[str]] = {}
    for part in parts:
        directory = part.dest.rsplit("/", 1)[0] if is_url(part.dest) else \
            os.path.dirname(part.dest)
        by_directory.setdefault(directory, []).append(temporary_prefix(part.dest))
    for directory, prefixes in by_directory.items():
        if is_url(directory):
            fs, path = filesystem(directory)
            try:
                names = [p.rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)]
            except FileNotFoundError:
                continue
            remove = lambda name: fs.rm(path.rstrip("/") + "/" + name)  # noqa: E731
        else:
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            remove = lambda name: os.unlink(os.path.join(directory, name))  # noqa: E731
        for name in names:
            if name.endswith(".tmp") and any(name.startswith(p) for p in prefixes):
                try:
                    remove(name)
                    removed += 1
                except (OSError, FileNotFoundError):
                    pass
    return removed
