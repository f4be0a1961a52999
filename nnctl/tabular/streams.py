"""Bytes from files and pipes: peeking at stdin without losing bytes, telling a pause in a pipe.

Also the FLUSH marker readers put between parts when their input pauses.
"""
from __future__ import annotations

import io
import select
import time

# Bytes read or copied at a time; text is parsed in blocks of about this size (cut at a line
# end). NOTE: a module that uses it imports the value: patch it there, not here.
BLOCK_BYTES = 4 << 20

PIPE_PAUSE = 0.01  # s: a pipe silent this long has paused (a fast writer refills it sooner)
PIPE_LATENCY = 0.1  # s: rows waiting for a block to fill go out after this long anyway

FLUSH = object()  # in a stream of parts: hand out the rows gathered so far


class PeekableInput:
    """A binary stream we can peek into without losing bytes (stdin is not seekable)."""

    def __init__(self, raw):
        self.raw = raw
        self.pending = b""
        self.bytes_read = 0

    def peek(self, n: int, enough=None) -> bytes:
        """Up to n bytes ahead, without consuming them; stops early once `enough(data)`.

        Reading from a pipe blocks until its writer sends more, so the caller says when
        what arrived suffices (a slow producer's first row need not wait for 64 KB).
        """
        chunks, size, checked = [self.pending], len(self.pending), -1
        while size < n:
            # enough() looks at everything peeked: asked again only once that has doubled
            # (or is still small), so that peeking far ahead stays linear, not quadratic
            if enough and (size < 1 << 16 or size >= 2 * checked):
                chunks, checked = [b"".join(chunks)], size
                if enough(chunks[0]):
                    break
            more = self.raw.read(max(n - size, 1 << 16))
            if not more:
                break
            chunks.append(more)
            size += len(more)
        self.pending = b"".join(chunks)
        return self.pending[:n]

    def read(self, n: int) -> bytes:
        """Up to n bytes; fewer only at the end of the stream."""
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
            if len(data) < n:
                data += self._read_raw(n - len(data))
        else:
            data = self._read_raw(n)
        self.bytes_read += len(data)
        return data

    def take(self) -> bytes:
        """What was peeked and not read yet; the caller reads the raw stream from there on."""
        data, self.pending = self.pending, b""
        self.bytes_read += len(data)
        return data

    def _read_raw(self, n: int) -> bytes:
        parts, size = [], 0
        while size < n:  # a pipe returns what it has; keep reading until n or the end
            more = self.raw.read(n - size)
            if not more:
                break
            parts.append(more)
            size += len(more)
        return b"".join(parts)


def more_to_read(stream, started: float) -> bool:
    """Will `stream` give more bytes soon? Files: yes; a pipe: if it has some in PIPE_PAUSE."""
    wait = min(PIPE_PAUSE, started + PIPE_LATENCY - time.monotonic())
    if wait < 0:
        return False
    try:
        return bool(select.select([stream], [], [], wait)[0])
    except (OSError, ValueError, TypeError, io.UnsupportedOperation):
        return True
