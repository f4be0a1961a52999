"""Refusing requests too large for memory before allocating anything (docs/cli.md)."""
from __future__ import annotations

import math
import os
import struct

import numpy as np

from nnctl.errors import ResourceError

# A zip member (.npz, .keras) that inflates more than MAX_EXPANSION times, past
# BOMB_FLOOR_BYTES, is a decompression bomb: np.savez and Keras store members; zeros deflate
# about 1000 to 1 (docs/limits.md)
MAX_EXPANSION = 100
BOMB_FLOOR_BYTES = 16 << 20

# A line of text longer than this is not a row of numbers (forward's readers allow 256 bytes a
# column when that is more): reading /dev/zero or a binary file as rows, in forward or act,
# must end in an error, not in all the memory there is.
MAX_LINE_BYTES = 64 << 20


def zip_entry_count(source) -> int | None:
    """The number of entries a zip archive's end record declares (a path or a binary file),
    read from its last bytes without parsing the directory (zipfile parses every entry: 1-2 s
    for 100,000 of them), or None when there is no end record (zipfile will say why)."""
    import zipfile

    try:
        if isinstance(source, (str, bytes, os.PathLike)):
            with open(source, "rb") as f:
                end = zipfile._EndRecData(f)   # noqa: SLF001 - the record zipfile itself reads
        else:
            end = zipfile._EndRecData(source)   # noqa: SLF001
            source.seek(0)
    except (OSError, ValueError, AttributeError, struct.error):
        return None
    return None if end is None else int(end[zipfile._ECD_ENTRIES_TOTAL])   # noqa: SLF001


def json_values_at_most(text: bytes | str) -> int:
    """An upper bound of the values in a JSON text (mapping keys not counted), from its commas
    and opening brackets, without parsing it: each value but the first in a container follows
    a comma, and each container opens with a bracket. Parsing first would cost the memory the
    bound protects: 16 MB of `"a",` are 4 million strings, 300 MB in Python."""
    comma, square, curly = (",", "[", "{") if isinstance(text, str) else (b",", b"[", b"{")
    return text.count(comma) + text.count(square) + text.count(curly) + 1


def is_bomb(unpacked: int, stored: int) -> bool:
    """Whether `stored` bytes that declare `unpacked` bytes are a decompression bomb."""
    return unpacked > BOMB_FLOOR_BYTES and unpacked > MAX_EXPANSION * max(1, stored)


def available_memory() -> int:
    """Bytes of memory the machine can give now (MemAvailable, or 8 GiB if unknown), less
    where the process's address-space limit (`ulimit -v`) leaves less room."""
    free = _free_memory()
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit != resource.RLIM_INFINITY:
            free = min(free, max(0, limit - _address_space_used()))
    except (ImportError, OSError, ValueError):
        pass
    return free


def _free_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def _address_space_used() -> int:
    """The process's virtual size (what RLIMIT_AS counts), 0 if unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB", "EB"):
        if abs(n) < 1000 or unit == "EB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.2f} EB"


def check_allocation(shape, dtype="float32", what: str = "array", copies: int = 1) -> None:
    """Raise ResourceError when `copies` arrays of `shape` would not fit in half the free memory."""
    size = math.prod(int(d) for d in shape)
    needed = size * np.dtype(dtype).itemsize * copies
    budget = available_memory() // 2
    if needed > budget:
        raise ResourceError(
            f"{what} of shape {tuple(int(d) for d in shape)} needs {human_bytes(needed)}, "
            f"more than the {human_bytes(budget)} this machine can spare")
