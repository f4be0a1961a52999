""".npy files: rows of a memory-mapped file, or of stdin read in row blocks; the .npy header.

NumPy reads the header (numpy.lib.format); a damaged or hostile one is a DataError, and an
array of Python objects (a pickle) is never loaded.
"""
from __future__ import annotations

import math
import os
import tokenize

import numpy as np

from nnctl.errors import DataError
from nnctl.limits import human_bytes
from nnctl.npyformat import read_npy_header
from nnctl.tabular.formats import NPY_MAGIC, error_detail
from nnctl.tabular.streams import PeekableInput

# numpy.lib.format parses a header with ast and tokenize: a damaged one fails in these ways
NPY_HEADER_ERRORS = (ValueError, EOFError, SyntaxError, OverflowError, TypeError,
                     tokenize.TokenError)


class NpyReading:
    """The .npy half of TableReader (nnctl.tabular.readers), mixed into it.

    `_npy` is the memory map of a file, or (shape, fortran, dtype) from the header of a stream;
    `_npy_done` counts the bytes of a map handed out (progress).
    """

    def _start_npy(self) -> None:
        self._npy_done = 0
        if not self._stream:  # a file: read its header from the start, then map it
            self._raw.close()
            self._raw = open(self.source, "rb")
            self._input = PeekableInput(self._raw)
        try:
            shape, fortran, dtype = read_npy_header(self._input, max_header_size=1 << 20)
        except NPY_HEADER_ERRORS as exc:
            raise DataError(f"not a valid .npy file ({error_detail(exc)})", source=self.name) \
                from None
        if any(d < 0 for d in shape) or math.prod(shape) * dtype.itemsize >= 1 << 62:
            raise DataError(f"not a valid .npy file (impossible shape {tuple(shape)})",
                            source=self.name)
        if dtype.hasobject:
            raise DataError("holds Python objects (a pickle), which nnctl never loads",
                            source=self.name)
        self._npy = (shape, fortran, dtype)
        if not self._stream:
            self._raw.close()
            try:
                self._npy = np.load(self.source, mmap_mode="r", allow_pickle=False)
            except (ValueError, EOFError, OSError) as exc:
                declared = math.prod(shape) * dtype.itemsize
                # mmap's 'length is greater than file size': the header and the data it declares
                if self._input.bytes_read + declared > os.path.getsize(self.source):
                    raise DataError(f"truncated .npy: shape {tuple(shape)} announced "
                                    f"({human_bytes(declared)} of data), the whole file is "
                                    f"{human_bytes(os.path.getsize(self.source))}",
                                    source=self.name) from None
                raise DataError(f"not a valid .npy file ({error_detail(exc)})", source=self.name) \
                    from None
        if dtype.kind not in "biuf":
            raise DataError(f"holds {dtype} values, not numbers", source=self.name)
        if len(shape) == 0:
            raise DataError("holds a single number, not rows of numbers", source=self.name)
        width = int(np.prod(shape[1:], dtype=np.int64))
        self.total_rows = int(shape[0])
        if self.n_columns is None:
            self.n_columns = width
        elif width != self.n_columns:
            raise DataError(f"rows have {width} values (shape {tuple(shape)}), "
                            f"{self._expected_columns()}", source=self.name)
        check_sample_shape(shape, self.sample_shape, self.name)

    def _npy_parts(self):
        rows, width, step = self.total_rows, self.n_columns, self.batch_size
        if isinstance(self._npy, np.ndarray):
            array = self._npy
            row_bytes = width * array.dtype.itemsize
            for start in range(0, rows, step):
                # rows of a C-order file in the model's dtype are used where they lie, in the
                # read-only map (no engine writes into its input); others are converted
                with np.errstate(over="ignore"):  # float64 beyond float32 is inf, silently
                    part = np.ascontiguousarray(array[start:start + step], dtype=self.dtype)
                self._npy_done = (start + len(part)) * row_bytes
                yield part.reshape(len(part), width), start + 1
            return
        shape, fortran, dtype = self._npy
        if fortran and len(shape) > 1:  # rows are not contiguous: it has to be read whole
            from nnctl.limits import check_allocation

            check_allocation(shape, dtype, what=f"{self.name} (a Fortran-ordered .npy)")
            data = self._input.read(int(np.prod(shape)) * dtype.itemsize)
            if len(data) < int(np.prod(shape)) * dtype.itemsize:
                raise DataError(f"truncated .npy: shape {tuple(shape)} announced, "
                                f"{len(data)} bytes of data", source=self.name)
            whole = np.frombuffer(data, dtype=dtype).reshape(shape, order="F")
            for start in range(0, rows, step):
                with np.errstate(over="ignore"):
                    part = np.array(whole[start:start + step], dtype=self.dtype, order="C")
                yield part.reshape(len(part), width), start + 1
            return
        from nnctl.limits import check_allocation

        check_allocation((min(step, rows), width), dtype, what=f"{self.name}: a batch of rows",
                         copies=2)
        row_bytes = width * dtype.itemsize
        for start in range(0, rows, step):
            want = min(step, rows - start)
            data = self._input.read(want * row_bytes)
            got = len(data) // row_bytes if row_bytes else want
            if got:
                part = np.frombuffer(data, dtype=dtype, count=got * width)
                with np.errstate(over="ignore"):
                    part = part.astype(self.dtype)
                yield part.reshape(got, width), start + 1
            if got < want:
                raise DataError(f"truncated .npy: {rows} rows announced, {start + got} "
                                f"found", source=self.name)


def check_sample_shape(shape, sample_shape, source: str, what: str = "") -> None:
    """An array of samples (more than two axes) must hold samples of `sample_shape`, size-1
    axes aside: (N, 28, 28) and (N, 28, 28, 1) for (28, 28, 1), never (N, 28, 14, 2). Flat
    rows (two axes) and a None sample_shape pass; so do arrays whose values per row differ
    (the caller's own check says that)."""
    if sample_shape is None or len(shape) <= 2 or None in sample_shape:
        return
    squeezed = [d for d in shape[1:] if d != 1]
    if squeezed != [d for d in sample_shape if d != 1] and \
            math.prod(shape[1:]) == math.prod(sample_shape):
        raise DataError(f"{what}samples have shape {tuple(int(d) for d in shape[1:])}, the model's "
                        f"input takes {tuple(sample_shape)} (or flat rows of "
                        f"{math.prod(sample_shape)} values)", source=source)


def npy_header(dtype: np.dtype, width: int, rows: int | None) -> bytes:
    """A version 1.0 .npy header for (rows, width); rows=None reserves room for any count.

    Every header is padded to the same length, so the final one overwrites the placeholder.
    """
    from numpy.lib import format as npformat

    shape = f"({rows if rows is not None else 0}, {width})"
    text = ("{'descr': %r, 'fortran_order': False, 'shape': %s, }"
            % (npformat.dtype_to_descr(np.dtype(dtype).newbyteorder("<")), shape))
    room = len(f"({10 ** 19}, {width})")
    text += " " * (room - len(shape))
    total = 10 + len(text) + 1
    text += " " * (-total % 64) + "\n"
    return NPY_MAGIC + b"\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")
