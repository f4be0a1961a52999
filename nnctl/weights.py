"""Weights and model files (docs/formats.md): NumPy `.npz` archives, read without pickles.

A weights file maps `LAYER/WEIGHT` (Keras names: `dense/kernel`, `batch_normalization/gamma`)
to arrays. A model file is the same with one more entry, `__spec__`: the spec as UTF-8 JSON
bytes in a uint8 array, so that the file alone can rebuild the network.

Reading never unpickles (allow_pickle=False, always) and checks each array's declared size
against free memory before reading it, so a hostile or broken file gives a WeightsError that
names the file, not a crash. Writing goes through nnctl.atomic: all or nothing.
"""
from __future__ import annotations

import json
import lzma
import math
import os
import re
import tokenize
import zipfile
import zlib

import numpy as np

from nnctl.errors import FileError, NnctlError, WeightsError, no_such_file
from nnctl.limits import (MAX_EXPANSION, check_allocation, is_bomb, json_values_at_most,
                          zip_entry_count)
from nnctl.naming import did_you_mean, normalize_key

SPEC_KEY = "__spec__"
MAX_NPZ_MEMBERS = 100_000   # arrays in one .npz: 50,000 layers of kernel and bias
MAX_NPZ_NAME = 1024         # characters in an entry's name (layer names: 255, docs/limits.md)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _read_arrays(path, data: bytes | None = None) -> dict[str, np.ndarray]:
    """Every array of an .npz, by name, in file order; WeightsError for anything else.
    data: the archive's bytes, already read (from stdin); `path` then only names it."""
    import io

    from nnctl.npyformat import read_npy_header

    name = os.fspath(path)
    if data is None:
        if not os.path.exists(name):
            raise no_such_file(name)
        if os.path.isdir(name):
            raise WeightsError("is a directory, not an .npz file", source=name)
        if not _regular_or_new(name):  # zipfile reads a device such as /dev/zero to its "end"
            raise WeightsError("is not a regular file (an .npz archive is read from a file)",
                               source=name)
        try:
            with open(name, "rb") as f:
                magic = f.read(6)
        except OSError as exc:
            raise FileError(f"cannot open: {exc.strerror}", source=name) from None
    else:
        magic = data[:6]
    if magic == b"\x93NUMPY":
        raise WeightsError("is a single .npy array; weights come in an .npz archive of "
                           "named arrays (numpy.savez)", source=name)
    source = name if data is None else io.BytesIO(data)
    check_member_count(zip_entry_count(source), name)   # before the directory is parsed
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(source) as archive:
            members = _checked_directory(archive, name)   # before anything is inflated
            for key, info in members.items():
                with archive.open(info) as member:   # never inflated past info.file_size
                    shape, fortran, dtype = read_npy_header(member, max_header_size=1 << 16)
                    if dtype.hasobject:
                        raise WeightsError(f"entry '{key}' holds Python objects (a pickle); "
                                           "nnctl never loads those", source=name)
                    check_allocation(shape, dtype, what=f"{name}: entry '{key}'")
                    size = math.prod(shape) * dtype.itemsize
                    if member.tell() + size != info.file_size:
                        raise WeightsError(f"entry '{key}': its header says {dtype} of shape "
                                           f"{tuple(shape)} ({size:,} bytes), but the archive "
                                           f"declares {info.file_size:,} bytes for it",
                                           source=name)
                    arrays[key] = _array_from(member, shape, fortran, dtype, key, name)
    except NnctlError:  # ours (a ResourceError is a ValueError too): not a damaged file
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError,
            ValueError, KeyError, OSError, NotImplementedError, RuntimeError, SyntaxError,
            tokenize.TokenError, OverflowError, TypeError) as exc:
        # RuntimeError: an encrypted member; OSError: also a damaged bzip2 stream; SyntaxError,
        # TokenError, OverflowError: NumPy parses a damaged array header with ast and tokenize
        what = " ".join(str(exc).split()) or type(exc).__name__
        raise WeightsError(f"not a valid .npz file ({what})", source=name) from None
    return arrays


def check_member_count(count: int | None, name: str, error=WeightsError) -> None:
    """Refuse an archive of more than MAX_NPZ_MEMBERS members (None: not known)."""
    if count is not None and count > MAX_NPZ_MEMBERS:
        raise error(f"the archive has {count:,} members, more than the {MAX_NPZ_MEMBERS:,} "
                    "nnctl reads", source=name)


def _checked_directory(archive: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    """Entry name -> member, from the zip directory alone: the number of members, their
    names (text, no control characters, at most MAX_NPZ_NAME characters, none twice) and
    their declared sizes (in all, at most half the free memory; each inflating at most
    MAX_EXPANSION times past BOMB_FLOOR_BYTES) are checked before any member is read."""
    from nnctl.limits import available_memory, human_bytes

    infos = [info for info in archive.infolist() if not info.is_dir()]
    check_member_count(len(infos), name)
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if len(key) > MAX_NPZ_NAME or _CONTROL.search(key):
            shown = key[:60].encode("unicode_escape").decode("ascii")
            raise WeightsError(f"entry '{shown}' is not a weight name (control characters, or "
                               f"longer than {MAX_NPZ_NAME} characters)", source=name)
        if key in members:
            raise WeightsError(f"entry '{key}' appears twice in the archive", source=name)
        if is_bomb(info.file_size, info.compress_size):
            raise WeightsError(f"entry '{key}' declares {human_bytes(info.file_size)} from "
                               f"{human_bytes(info.compress_size)} stored, more than "
                               f"{MAX_EXPANSION} times: a zip bomb", source=name)
        members[key] = info
        total += info.file_size
    budget = available_memory() // 2
    if total > budget:
        raise WeightsError(f"the archive declares {human_bytes(total)} of arrays, more than "
                           f"the {human_bytes(budget)} this machine can spare", source=name)
    return members


def _array_from(member, shape, fortran: bool, dtype, key: str, name: str) -> np.ndarray:
    """The array whose header has been read, from the rest of the member."""
    size = math.prod(shape) * dtype.itemsize
    data = member.read(size)
    if len(data) != size:
        raise WeightsError(f"entry '{key}' is truncated", source=name)
    array = np.frombuffer(data, dtype=dtype).copy() if size else np.zeros(0, dtype)
    if fortran:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


def load_weights(path) -> dict[str, np.ndarray]:
    """`LAYER/WEIGHT` -> array from a weights or model file (its `__spec__` left out)."""
    arrays = _read_arrays(path)
    arrays.pop(SPEC_KEY, None)
    return _numeric(arrays, os.fspath(path))


def _numeric(arrays: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    for key, array in arrays.items():
        if array.dtype.kind not in "fiu":
            raise WeightsError(f"weight '{key}' holds {array.dtype} values, not numbers",
                               source=name)
    return arrays


def load_model_file(path, data: bytes | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """(spec as a dict, weights) from a model file written by save_model / `nnctl build`.
    data: the file's bytes, already read (a model file on stdin); `path` then only names it."""
    name = os.fspath(path)
    arrays = _read_arrays(path, data)
    raw = arrays.pop(SPEC_KEY, None)
    if raw is None:
        raise WeightsError(f"not a model file: no '{SPEC_KEY}' entry (a weights-only file "
                           f"goes with a spec: --weights FILE)", source=name)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise WeightsError(f"'{SPEC_KEY}' must be UTF-8 JSON bytes (a 1-D uint8 array), got "
                           f"{raw.dtype} of shape {raw.shape}", source=name)
    from nnctl.yamlpos import MAX_NODES, check_document

    text = raw.tobytes()
    if json_values_at_most(text) > 2 * MAX_NODES:   # parsing it would take 100s of MB
        raise WeightsError(f"'{SPEC_KEY}' has more than {MAX_NODES:,} values (counted from its "
                           "commas and brackets); refusing to parse it", source=name)
    try:
        spec = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WeightsError(f"'{SPEC_KEY}' is not valid UTF-8 JSON ({exc})", source=name) \
            from None
    except RecursionError:  # json recurses once per level: "[[[[...]]]]" runs out of stack
        raise WeightsError(f"'{SPEC_KEY}' is nested too deeply to be a spec", source=name) \
            from None
    check_document(spec, name)
    if not isinstance(spec, dict):
        raise WeightsError(f"'{SPEC_KEY}' must hold a JSON object, got "
                           f"{type(spec).__name__}", source=name)
    return spec, _numeric(arrays, name)


def spec_bytes(spec: dict) -> np.ndarray:
    """The `__spec__` entry for a spec: its UTF-8 JSON as a uint8 array."""
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def save_weights(path, weights: dict[str, np.ndarray], spec: dict | None = None) -> None:
    """Write `weights` (and `spec` as `__spec__`, if given) to an .npz, atomically;
    "-" writes it to stdout."""
    from nnctl.atomic import atomic_write, write_bytes

    if SPEC_KEY in weights:
        raise ValueError(f"'{SPEC_KEY}' is reserved for the spec, not a weight name")
    arrays = {key: np.asarray(value) for key, value in weights.items()}
    if spec is not None:
        arrays[SPEC_KEY] = spec_bytes(spec)
    if os.fspath(path) == "-" or not _regular_or_new(path):
        # stdout, /dev/null, a FIFO: zipfile's offsets need a file that seeks and tells, so
        # the archive is made in memory, then written whole
        import io

        archive = io.BytesIO()
        np.savez(archive, **arrays)
        write_bytes(path, archive.getvalue())
        return
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def _regular_or_new(path) -> bool:
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def save_model(path, spec: dict, weights: dict[str, np.ndarray]) -> None:
    """A self-contained model file: the weights plus the spec (docs/formats.md)."""
    save_weights(path, weights, spec=spec)


def _closest(key: str, candidates: list[str]) -> str | None:
    """The candidate a user most likely meant for `key` (a renamed layer), if any is close."""
    import difflib

    keys = {normalize_key(c): c for c in candidates}
    close = difflib.get_close_matches(normalize_key(key), list(keys), n=1, cutoff=0.6)
    return keys[close[0]] if close else None


def _shape_text(shape) -> str:
    return str(tuple(int(d) for d in shape))


def check_weights(expected: dict[str, tuple], given: dict[str, np.ndarray],
                  source: str | None = None) -> None:
    """Raise WeightsError unless `given` has exactly the `expected` keys and shapes.

    expected: `LAYER/WEIGHT` -> shape, in the model's layer order; the first problem in that
    order is reported, naming the layer, the weight and both shapes.
    """
    for key, shape in expected.items():
        layer, _, weight = key.partition("/")
        if key not in given:
            stray = _closest(key, [k for k in given if k not in expected])
            hint = f"; the file has '{stray}' instead" if stray else ""
            raise WeightsError(f"layer '{layer}': weight '{weight}' is missing (expected shape "
                               f"{_shape_text(shape)}){hint}", source=source)
        got = np.shape(given[key])
        if tuple(got) != tuple(shape):
            raise WeightsError(f"layer '{layer}': weight '{weight}' has shape "
                               f"{_shape_text(got)}, expected {_shape_text(shape)}",
                               source=source)
    extra = [k for k in given if k not in expected]
    if extra:
        key = extra[0]
        layer, _, weight = key.partition("/")
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise WeightsError(f"layer '{layer}': weight '{weight}' (shape "
                           f"{_shape_text(np.shape(given[key]))}) is not in the model"
                           f"{did_you_mean(key, list(expected))}{more}", source=source)
