"""Keras 3 `.keras` archives: a zip of metadata.json, config.json and model.weights.h5.

Members are read only after their declared sizes are checked (config.json at most 16 MB, the
weights at most half the free memory), and never past the declared size, so neither a zip
bomb nor a member that lies about its size can exhaust memory.
"""
from __future__ import annotations

import io
import json
import zipfile
import zlib

from nnctl.errors import NnctlError, WeightsError
from nnctl.kerasfile import MAX_CONFIG_BYTES, MAX_CONFIG_VALUES, MAX_KERAS_MEMBERS
from nnctl.limits import (MAX_EXPANSION, available_memory, human_bytes, is_bomb,
                          json_values_at_most, zip_entry_count)

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"


def open_archive(source, name: str) -> zipfile.ZipFile:
    count = zip_entry_count(source)   # from the end record, before the directory is parsed
    if count is not None and count > MAX_KERAS_MEMBERS:
        raise WeightsError(f"the archive has {count:,} members, more than the "
                           f"{MAX_KERAS_MEMBERS:,} a .keras archive may have", source=name)
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise WeightsError(f"not a valid .keras archive ({exc})", source=name) from None


def read_member(archive: zipfile.ZipFile, member: str, limit: int, name: str) -> bytes:
    """A member's bytes, refused before reading when it declares more than `limit` bytes."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise WeightsError(f"the archive has no {member}", source=name) from None
    if info.file_size > limit:
        raise WeightsError(f"{member} declares {human_bytes(info.file_size)} uncompressed, more "
                           f"than the {human_bytes(limit)} nnctl reads (a zip bomb?)",
                           source=name)
    if is_bomb(info.file_size, info.compress_size):
        raise WeightsError(f"{member} declares {human_bytes(info.file_size)} from "
                           f"{human_bytes(info.compress_size)} stored, more than {MAX_EXPANSION} "
                           "times: a zip bomb", source=name)
    try:
        with archive.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError,
            NotImplementedError, ValueError) as exc:
        raise WeightsError(f"cannot read {member} ({' '.join(str(exc).split())})",
                           source=name) from None
    if len(data) != info.file_size:
        raise WeightsError(f"{member} is not the size its header declares", source=name)
    return data


def read_config(archive: zipfile.ZipFile, name: str):
    data = read_member(archive, CONFIG, MAX_CONFIG_BYTES, name)
    return parse_json(data, CONFIG, name)


def parse_json(data: bytes | str, what: str, name: str):
    if json_values_at_most(data) > MAX_CONFIG_VALUES:   # before parsing: see its docstring
        raise WeightsError(f"{what} has more than {MAX_CONFIG_VALUES:,} values (counted from "
                           "its commas and brackets); refusing to parse it", source=name)
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WeightsError(f"{what} is not valid JSON ({exc})", source=name) from None
    except RecursionError:
        raise WeightsError(f"{what} is nested too deeply", source=name) from None


def read_weights_bytes(archive: zipfile.ZipFile, name: str) -> bytes | None:
    """model.weights.h5 as bytes (None if the archive has no weights)."""
    if WEIGHTS not in archive.namelist():
        if "model.weights.npz" in archive.namelist():
            raise WeightsError("the archive keeps its weights as model.weights.npz; nnctl reads "
                               "the default model.weights.h5", source=name)
        return None
    return read_member(archive, WEIGHTS, available_memory() // 2, name)


def write_archive(f, config: dict, weights_h5: bytes) -> None:
    """Write a .keras archive to the binary file object `f`: what Keras 3's save writes."""
    from nnctl import __version__
    from nnctl.kerasfile.config import KERAS_VERSION_WRITTEN

    saved = _saved_at()
    metadata = {"keras_version": KERAS_VERSION_WRITTEN,
                "date_saved": saved.strftime("%Y-%m-%d@%H:%M:%S"),
                "written_by": f"nnctl {__version__}"}
    # a zip's dates run from 1980 to 2107: a time outside is written as the nearest one
    stamp = min(max(saved.timetuple()[:6], ZIP_FIRST_DATE), ZIP_LAST_DATE)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for member, data in ((METADATA, json.dumps(metadata)), (CONFIG, json.dumps(config)),
                             (WEIGHTS, weights_h5)):
            archive.writestr(zipfile.ZipInfo(member, date_time=stamp), data)
    f.write(buffer.getvalue())


ZIP_FIRST_DATE, ZIP_LAST_DATE = (1980, 1, 1, 0, 0, 0), (2107, 12, 31, 23, 59, 58)


def _saved_at():
    """When the archive says it was saved: now, as Keras writes it, or the time that
    SOURCE_DATE_EPOCH gives (reproducible-builds.org's convention): then the same spec and
    seed give the same bytes, for a Makefile's or a CI cache's checksums."""
    import datetime
    import os

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        return datetime.datetime.now()
    try:
        seconds = int(epoch)
        if seconds < 0:   # the convention's value is a non-negative integer
            raise ValueError(epoch)
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise NnctlError(f"SOURCE_DATE_EPOCH={epoch!r} is not a time in seconds since "
                         "1970-01-01 UTC") from None
