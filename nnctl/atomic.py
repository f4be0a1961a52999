"""Writing a file all at once or not at all (docs/formats.md: "Files are written atomically").

The data goes to a hidden temporary file in the destination's directory (so the final rename
stays on one file system and is atomic); on success it is flushed, fsynced and renamed over the
destination. On any exception, Ctrl-C (KeyboardInterrupt) and SIGTERM (nnctl.cli.app raises a
BaseException for it) included, the temporary file is removed and the previous file, if any,
is untouched. A reader of the destination sees the old file or the whole new one, never half.

The destination's own name is replaced, never what it points to: a symlink there (planted in a
shared directory, say) is replaced by the new file, not followed to its target; the temporary
file is made with O_EXCL|O_NOFOLLOW, so nothing planted under its name is followed either.
Special files (/dev/null, /dev/stdout, a FIFO) are written in place, as the shell's `>` does.
An existing file keeps its permission bits (and its group where the system allows); one we
may not write, or one with other hard links (they would keep the old content), is refused.
Temporary files of this pattern left by a killed run (its process gone, the file older than
this one) are removed when the same destination is written again. docs/limits.md lists this.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import sys
import time
from contextlib import contextmanager
from functools import cache


def _umask() -> int:
    # Reading the umask via os.umask() briefly changes it for every thread; Linux shows it.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _is_special(path: str) -> bool:
    """A device, FIFO or socket: renaming over it would replace it (think /dev/null as root)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def is_special(path: str) -> bool:
    """Whether `path` (symlinks followed) is a device, FIFO or socket: written in place, and
    without an extension to tell a format by (/dev/null, /dev/stdout)."""
    return _is_special(os.fspath(path))


def check_destination(path, inputs=()) -> None:
    """Refuse, before any work, an output path that cannot be what the user meant.

    A name ending in '/' or naming a directory, and a file that is one of `inputs` (same device
    and inode, whatever the names: `build s.yaml -o s.yaml`, a hard link) are UsageErrors.
    """
    from nnctl.errors import UsageError

    path = os.fspath(path)
    if path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)):
        raise UsageError(f"-o {path}: names a directory (it ends in '/'); give a file name")
    if os.path.isdir(path):
        raise UsageError(f"-o {path}: is a directory; give a file name")
    try:
        out = os.stat(path)
    except OSError:
        return
    if not stat.S_ISREG(out.st_mode):
        return
    for source in inputs:
        if source is None or os.fspath(source) == "-":
            continue
        try:
            info = os.stat(source)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == (out.st_dev, out.st_ino):
            same = "is" if os.fspath(source) == path else f"is the same file as {source}, which is"
            raise UsageError(f"-o {path}: {same} an input; writing it would destroy "
                             "it: give another output file")


def _refuse_directory(path: str) -> None:
    if path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)) or os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)


def _existing(path: str):
    """The lstat of the destination if it is a regular file we may replace, else None (a
    symlink is replaced, not followed); OSError for one we must not replace."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    if not os.access(path, os.W_OK, follow_symlinks=False):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    if info.st_nlink > 1:
        raise OSError(errno.EMLINK, f"has {info.st_nlink - 1} other hard link(s), which would "
                      "keep the old content: remove it first or write another file", path)
    return info


_STARTED = time.time()


def _remove_stale(directory: str, name: str) -> None:
    """Remove temporary files of `name` left by killed runs: our pattern, a regular file of
    ours, its process gone, older than this process. Anything else is left alone."""
    pattern = re.compile(r"\." + re.escape(name) + r"\.(\d+)\.[0-9a-f]{16}\.tmp")
    try:
        entries = list(os.scandir(directory or "."))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid()
                    or info.st_mtime >= _STARTED or _alive(int(match[1]))):
                continue
            os.unlink(entry.path)
        except (OSError, ValueError):
            continue


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


@contextmanager
def _naming(path: str):
    """A failed write (a full disk: /dev/full) names the file the user gave."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno in _WRITE_ERRORS:
            raise OSError(exc.errno, exc.strerror, path) from None
        raise


def start_writeback(f) -> None:
    """Have the kernel start writing `f`'s data to disk now, without waiting for it.

    A durable write ends with an fsync that waits for every byte still in memory; started early
    (while the rest is computed), that wait is short: 20 ms less at the end of a 22 MB CSV here.
    Linux only (sync_file_range); elsewhere nothing happens.
    """
    sync_file_range = _sync_file_range()
    if sync_file_range is None:
        return
    f.flush()
    sync_file_range(f.fileno(), 0, 0, _SYNC_FILE_RANGE_WRITE)  # an error shows at the fsync


@cache
def _sync_file_range():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE_WRITE = 2  # start writing the dirty pages of the range; do not wait


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, durable: bool = True):
    """Yield a file object; on leaving the block without an exception it becomes `path`.

    `durable`: fsync before the rename, so that a power cut cannot leave an empty file behind a
    completed rename. Paths that are not regular files (/dev/null, a FIFO) are written in place:
    there is nothing to keep there and renaming over them would be wrong. A symlink at `path`
    is replaced by the file, not followed; a directory (or a name ending in '/') is an error.

        with atomic_write("model.npz") as f:
            np.savez(f, **arrays)
    """
    path = os.fspath(path)
    _refuse_directory(path)
    if _is_special(path):
        with _naming(path), _open_special(path, mode) as f:
            yield f
        return
    directory, name = os.path.split(path)  # the name itself: a symlink is replaced, not followed
    existing = _existing(path)
    permissions = (stat.S_IMODE(existing.st_mode) if existing is not None
                   else 0o666 & ~_umask())
    _remove_stale(directory, name)
    # NOTE: the temporary name is chosen before the file is made, and the file is made inside
    # the try below: a signal (KeyboardInterrupt, SIGTERM) that lands right after the file
    # appears still finds its name to remove. The pid and 64 random bits make it ours alone
    # (os.urandom: the secrets module would add 4 ms of imports to every command that writes).
    temporary = os.path.join(directory or ".",
                             f".{name}.{os.getpid()}.{os.urandom(8).hex()}.tmp")
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        try:
            fd = os.open(temporary, flags, 0o600)
        except OSError as exc:  # name the file the user gave, not our temporary one
            raise OSError(exc.errno, exc.strerror, path) from None
        with _naming(path):
            os.fchmod(fd, permissions)
            if existing is not None and existing.st_gid != os.getegid():
                try:  # keep the file's group where we may (we are in it, or root)
                    os.fchown(fd, -1, existing.st_gid)
                except OSError:
                    pass
            with os.fdopen(fd, mode) as f:
                yield f
                f.flush()
                if durable:
                    os.fsync(f.fileno())
            os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """`data` to `path` atomically, or to stdout for "-" (after any text already printed)."""
    if os.fspath(path) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with atomic_write(path) as f:
        f.write(data)


def _open_special(path: str, mode: str):
    """A device or FIFO opened in place, never created (it exists); if the name has become a
    regular file since it was looked at, that is refused rather than overwritten in place."""
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EAGAIN, "changed while being opened", path)
    return os.fdopen(fd, mode)
