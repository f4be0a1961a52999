"""Process-wide settings: for every run, idle BLAS threads that sleep instead of spinning and
a garbage collector that does not rescan start-up's objects; for a long streaming run (nnctl
forward), freed memory kept for reuse.

glibc's malloc gives blocks of more than its mmap threshold (128 KB at first, raised as blocks
are freed) their own pages, and returns freed memory at the top of the heap past its trim
threshold. A forward pass allocates and frees blocks of a few MB per batch (text blocks,
parsed rows, layer outputs), so the kernel maps and zeroes fresh pages for most of them: on a
78 MB CSV through a 32-64-64-10 MLP, 48,000 page faults and 0.14 s of system time. Keeping
freed blocks for reuse halves both (24,000 faults, 0.09 s) and takes 5% off the run, for no
more peak memory (144 MB either way; memory stays bounded by the batch).
"""
from __future__ import annotations

import gc
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Have glibc's malloc reuse freed blocks up to these sizes; False where there is no glibc
    (or the environment already sets MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_)."""
    if not sys.platform.startswith("linux") or any(
            k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))


# OpenBLAS (NumPy's BLAS) keeps each idle thread spinning for 2^28 CPU cycles, about 0.1 s,
# after its last job, and from the moment NumPy starts it, before the thread sleeps: CPU taken
# from nnctl's own threads and from the other processes of a pipeline or a `make -j`. 2^16
# cycles (about 25 us) still bridges back-to-back matrix products. Idle 2-core machine (wall
# s / CPU s), 2^28 against 2^16: `nnctl act relu 1` 0.09/0.12 against 0.09/0.09 (best of 15),
# and 40 of them two at a time 2.5-2.7 s against 1.8-1.9 s; `forward` of 1,000,000 .npy rows
# through a 32-64-64-10 MLP on the NumPy engine 0.42/0.62 against 0.43/0.47, with exact GELU
# 0.95/1.60 against 0.85/0.95 (its element-wise slices run on both cores); a 32-1024-1024-10
# MLP over 100,000 rows 1.08/1.95 against 1.10/1.79, and over 20,000 rows in batches of 256
# 0.42/0.64 against 0.40/0.49.
BLAS_THREAD_TIMEOUT = "16"


def idle_blas_threads_sleep() -> None:
    """Make OpenBLAS' idle threads sleep after BLAS_THREAD_TIMEOUT, unless the user set the
    timeout: before NumPy is imported (OpenBLAS reads it once, when it starts), for this
    process and those it starts. Other BLAS libraries ignore the variable."""
    if "numpy" in sys.modules or any(
            name in os.environ for name in ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")):
        return
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = BLAS_THREAD_TIMEOUT


# Importing NumPy, polars, typer and nnctl makes about 50,000 objects that live as long as the
# process. Python's collector runs every 700 new objects (2,000 from Python 3.13) and then
# rescans the survivors (its older generations) again and again: 28 ms of a `forward` run
# (Python 3.11: 99 young, 9 middle and one full collection), 5 to 10 ms of `act` or `summary`,
# in the main thread, before any data moves. Collecting every 100,000 new objects instead (as
# mypy does, for the same reason) leaves start-up nearly alone: 1,000 CSV rows through the
# 32-64-64-10 MLP 0.246 s -> 0.213 s, 200,000 rows 0.499 s -> 0.473 s (idle 2-core machine,
# best of 15); `summary` of a 10,000-layer chain 1.82 s -> 1.41 s (a large model's own objects
# were rescanned too). Reference cycles are still freed, later: `forward` makes none per batch
# (tests/test_speed_choices.py), so its memory is what it was (200,000 CSV rows: 143 MB at the
# peak either way). Python 3.14's incremental collector keeps the first threshold's meaning
# (its young generation) and scans a slice of the old one with each young collection, in
# proportion to the objects made since the last: fewer, larger slices here.
GC_YOUNG_OBJECTS = 100_000


def collect_garbage_less_often() -> None:
    """Raise the collector's first threshold to GC_YOUNG_OBJECTS (the others stay)."""
    young, *older = gc.get_threshold()
    if young:  # 0: the collector is off (gc.disable() does not show here), leave it so
        gc.set_threshold(max(young, GC_YOUNG_OBJECTS), *older)
