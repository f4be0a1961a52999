"""The header of a .npy array (NumPy's numpy.lib.format), read from a stream: an .npy file,
stdin, or a member of an .npz archive."""
from __future__ import annotations


def read_npy_header(stream, max_header_size: int):
    """(shape, fortran_order, dtype) from the magic string and header at the start of `stream`.

    A damaged header raises NumPy's own errors (ValueError, EOFError, SyntaxError, ...: it is
    parsed with ast); version 2.0 and later headers are read as 2.0.
    """
    from numpy.lib import format as npformat

    version = npformat.read_magic(stream)
    read = (npformat.read_array_header_1_0 if version == (1, 0)
            else npformat.read_array_header_2_0)
    return read(stream, max_header_size=max_header_size)
