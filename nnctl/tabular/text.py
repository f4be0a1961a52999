"""CSV, TSV and JSON Lines: text cut into blocks of whole lines, parsed fast or line by line.

polars parses blocks of a few MB with its multi-threaded parser (correctly rounded to
float32/float64). Blocks are cut at line ends here, so every row keeps its physical line
number: a block the fast parser refuses is narrowed down and re-read line by line to find and
name the bad cell, after the good rows before it were handed out. Rows are written as text by
nnctl.floatfmt.format_rows.
"""
from __future__ import annotations

import csv
import io
import re
import time
from typing import Iterator

import numpy as np

from nnctl.errors import DataError, quoted
from nnctl.limits import MAX_LINE_BYTES
from nnctl.tabular.formats import SEPARATORS
from nnctl.tabular.streams import BLOCK_BYTES, FLUSH, more_to_read

CAREFUL_BYTES = 16 << 10  # an unclean stretch of a block is checked line by line at this size

# What counts as a number in a (stripped) text cell: exactly what the fast parser accepts
# (tested), so that the line-by-line check and the fast path agree. ASCII only: bytes.
NUMBER = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)",
                    re.IGNORECASE)


class TextReading:
    """The text half of TableReader (nnctl.tabular.readers), mixed into it.

    Its methods use the reader's attributes: `_input` and `_raw` (the stream), `name`,
    `format`, `n_columns`, `dtype`, `columns` and `_header`.
    """

    def _start_text(self) -> None:
        self._sep = SEPARATORS[self.format]
        self._line = 1  # physical line number of the next unread byte
        if self._input.peek(3, lambda d: not b"\xef\xbb\xbf".startswith(d[:3])) == \
                b"\xef\xbb\xbf":
            self._input.read(3)  # a UTF-8 byte order mark is not data
        first = self._peek_first_line()
        if first is None:
            return
        end, count, text = first
        not_text = _not_text(text)
        if not_text:
            raise DataError(f"{not_text} (a binary file? give --input-format for .npy/Parquet)",
                            source=self.name, line=count)
        if self.format == "jsonl" and text.startswith(b"{"):
            self._start_objects(text, count)
            return
        self.refuse_far_too_wide(text, count)
        cells = self._split_cells(text)
        names = [_cell_text(c) for c in cells]
        # a header is a line with no number in it (quoted numbers are numbers: "1","2" is data),
        # or pandas' names of unnamed columns
        detected = not any(NUMBER.fullmatch(c) for c in cells) or _numbered_names(cells)
        if self.format == "jsonl":  # and, in JSON Lines, an array of strings
            json_names = _json_names(text)
            detected = detected and json_names is not None
            names = json_names if json_names is not None else names
        if not (detected if self._header is None else self._header):
            if self.n_columns is None:
                self.n_columns = len(cells)
            return
        self._input.read(end)
        self._line += count
        self.columns = names
        if self.n_columns is None:
            self.n_columns = len(names)
        elif len(names) != self.n_columns:
            hint, data = _width_hint(text, cells, self.format, self.n_columns)
            if not hint and cells[:1] == [b""] and len(cells) == self.n_columns + 1:
                hint = " (an index column first? give --skip-columns 1)"
            raise DataError(f"{self._expected_columns()}, got {len(names)}"
                            f"{'' if data else ' in the header'}{hint}",
                            source=self.name, line=count)

    def _start_objects(self, text: bytes, line: int) -> None:
        """JSON Lines of objects: the first line's keys name the columns (nnctl.tabular.objects)."""
        from nnctl.tabular.objects import object_keys

        self.refuse_far_too_wide(text, line, "keys")
        self.columns = self._objects = object_keys(text, self.name, line, self._column_names)
        if self.n_columns is None:
            self.n_columns = len(self.columns)
        elif len(self.columns) != self.n_columns:
            raise DataError(f"{self._expected_columns()}, got {len(self.columns)} keys",
                            source=self.name, line=line)

    def refuse_far_too_wide(self, text: bytes, line: int, what: str = "") -> None:
        """Refuse a line far wider than the columns expected, from its separators (commas
        between an object's keys), before it is split or parsed: a line of a million cells
        or keys made a million Python objects (400-600 MB) to report a wrong width."""
        wide = _far_too_wide(text, self._sep, self.n_columns)
        if wide:
            raise DataError(f"{self._expected_columns()}, got {wide:,}{' ' + what if what else ''}",
                            source=self.name, line=line)

    def _peek_first_line(self):
        """(bytes up to its end, physical lines up to it, the first non-blank line), or None.

        Nothing is consumed: the caller decides whether that line is a header.
        """
        want = 1 << 16
        while True:
            data = self._input.peek(want, lambda d: _first_line(d) is not None)
            found = _first_line(data)
            if found is not None:
                return found
            if len(data) < want:  # the end of the input, with no line or a last one
                if data.strip():
                    return len(data), data.count(b"\n") + 1, data.strip().split(b"\n")[-1]
                return None
            if want >= self._max_line():
                if b"\n" in data:
                    raise DataError(f"no row in the first {want >> 20} MB (only blank lines)",
                                    source=self.name, line=data.count(b"\n") + 1)
                raise self._line_too_long(1)
            want *= 4

    def _max_line(self) -> int:
        return max(MAX_LINE_BYTES, 256 * (self.n_columns or 0))

    def _line_too_long(self, line: int) -> DataError:
        return DataError(f"no line end in {self._max_line() >> 20} MB: not a table of numbers "
                         "(a binary file? give --input-format)", source=self.name, line=line)

    def _split_cells(self, text: bytes) -> list[bytes]:
        """The stripped cells of a line, unquoted: what the fast parser would read in it."""
        if self.format == "jsonl":
            if not (text.startswith(b"[") and text.endswith(b"]")):
                return [text]
            inner = text[1:-1].strip()
            # a JSON string is a quoted cell to the fast parser: `[1,"2",3]` is three numbers
            return ([_unquoted(c) for c in _split_line(inner, ",", json=True)] if inner
                    else [])
        return _split_line(text, self._sep)

    def _text_blocks(self) -> Iterator[tuple[bytes, int, int, bool]]:
        """Blocks of whole lines: (block, its first line's number, newlines, input paused).

        One buffer is filled in place (readinto) and each block copied out once: the copies
        and counting here cost about a tenth of the parsing, so they are kept few.
        """
        pending = self._input.take()
        buffer = bytearray(max(2 * BLOCK_BYTES, 2 * len(pending)))
        view = memoryview(buffer)
        fill = len(pending)
        buffer[:fill] = pending
        end = False
        while True:
            # Read while no line is complete, or while the block is short and data flows (a
            # pipe gives 64 KB at a time); rows that trickle in go out within about 0.1 s.
            started = time.monotonic()
            while not end and (buffer.rfind(b"\n", 0, fill) < 0 or
                               fill < BLOCK_BYTES and more_to_read(self._raw, started)):
                if len(buffer) - fill < BLOCK_BYTES:  # a line longer than a block: grow
                    if fill >= self._max_line() and buffer.rfind(b"\n", 0, fill) < 0:
                        raise self._line_too_long(self._line)
                    view.release()
                    buffer = buffer[:fill] + bytearray(max(len(buffer), BLOCK_BYTES))
                    view = memoryview(buffer)
                got = self._raw.readinto(view[fill:fill + BLOCK_BYTES]) or 0
                self._input.bytes_read += got
                fill += got
                end = got == 0
            cut = fill if end else buffer.rfind(b"\n", 0, fill) + 1
            if cut:
                block = bytes(view[:cut])
                newlines = _count_newlines(block)
                yield block, self._line, newlines, not end and fill < BLOCK_BYTES
                self._line += newlines
            if end:
                return
            tail = bytes(view[cut:fill])
            buffer[:len(tail)] = tail
            fill = len(tail)

    def _text_parts(self):
        if self.n_columns is None:  # no data at all
            return
        if self._objects is not None:
            from nnctl.tabular.objects import ObjectParser

            parser = ObjectParser(self._objects, self.dtype)
        else:
            parser = TextParser(self.format, self.n_columns, self.dtype)
        for block, line, newlines, paused in self._text_blocks():
            array = parser.fast(block, newlines)
            if array is not None:
                yield array, line
            else:
                yield from self._unclean_block(parser, block, line)
            if paused:
                yield FLUSH  # the input is slow: hand out the rows we have, do not wait

    def _unclean_block(self, parser, block: bytes, line: int):
        """A block the fast parser refused: narrow down where, look there line by line.

        Halving with the fast parser finds the first unclean stretch of lines in a few steps,
        so a bad row late in a block of a million short lines costs milliseconds, not seconds.
        Good rows the fast parser refuses all along (blank lines between rows, say) would make
        every stretch cost a parse of the rest of the block: after two such stretches, the
        rest is read line by line at once.
        """
        start, clean_refusals = 0, 0
        while start < len(block):
            low, high = start, len(block)
            while clean_refusals < 2 and high - low > CAREFUL_BYTES:
                middle = block.rfind(b"\n", low, (low + high) // 2) + 1
                if middle <= low:
                    break
                newlines = block.count(b"\n", low, middle)
                array = parser.fast(block[low:middle], newlines)
                if array is None:
                    high = middle
                    continue
                yield array, line
                line += newlines
                low = middle
            array, lines, error = parser.careful(block[low:high], line, self)
            if len(array):
                yield array, lines
            if error is not None:
                raise error
            line += block.count(b"\n", low, high)
            start = high
            clean_refusals += 1
            if start < len(block):
                newlines = block.count(b"\n", start)
                array = parser.fast(block[start:], newlines)
                if array is not None:
                    yield array, line
                    return


_NON_BLANK = re.compile(rb"[^ \t\r\n\x0b\x0c]")  # what bytes.strip() does not strip


def _first_line(data: bytes):
    """(end offset, line number, text) of the first complete non-blank line, or None."""
    found = _NON_BLANK.search(data)
    if found is None:
        return None
    start = data.rfind(b"\n", 0, found.start()) + 1
    end = data.find(b"\n", found.start())
    if end < 0:
        return None
    return end + 1, data.count(b"\n", 0, start) + 1, data[start:end].strip()


def _numbered_names(cells: list[bytes]) -> bool:
    """Whether a line is `0,1,2,...,n-1` (n >= 2), the header `DataFrame.to_csv(index=False)`
    writes for unnamed columns, or `,0,1,...` (to_csv with its index column). A lone `0` is
    data: one column of numbers starts with 0 too often."""
    if cells and cells[0] == b"":
        cells = cells[1:]
    return len(cells) >= 2 and cells == [str(k).encode() for k in range(len(cells))]


def _split_line(text: bytes, sep: str, json: bool = False) -> list[bytes]:
    """The stripped cells of a line of text separated by `sep`, CSV quotes removed.

    json: spaces may come before a quote (`[1, "a,b"]`), as JSON allows between values.
    """
    if b'"' in text:
        try:
            row = next(csv.reader([text.decode("utf-8", "replace")], delimiter=sep,
                                  skipinitialspace=json))
            return [c.strip().encode() for c in row]
        except csv.Error:  # a carriage return inside the line: not a quoted cell then
            pass
    return [c.strip() for c in text.split(sep.encode())]


def _far_too_wide(text: bytes, sep: str, n_columns: int | None) -> int | None:
    """The number of cells of a line far wider than the n_columns expected, counted without
    splitting it (a line of a million cells made a million objects: 600 MB), else None.
    Far: more than 4 times as many separators, plus 64; quotes cannot explain that many."""
    if n_columns is None:
        return None
    count = text.count(sep.encode()) + 1
    return count if count > 4 * n_columns + 64 else None


def _unquoted(cell: bytes) -> bytes:
    """A JSON string's text (stripped, as the fast parser reads a quoted cell), else the cell."""
    if len(cell) >= 2 and cell.startswith(b'"') and cell.endswith(b'"'):
        return cell[1:-1].strip()
    return cell


# Control characters other than tab, LF and CR: text files of numbers do not hold them.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _not_text(line: bytes) -> str | None:
    """Why a (first) line is not text, or None: a binary file read as CSV stops here."""
    if _CONTROL.search(line):
        return "not text"
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    return None


# Other ways to separate values that a line of the wrong width may have been written with.
_OTHER_SEPARATORS = {
    "csv": ((b"\t", "the {what} look tab-separated: give --input-format tsv"),
            (b";", "CSV separates values with ',', not ';'"),
            (None, "CSV separates values with ',', not spaces")),
    "tsv": ((b",", "the {what} look comma-separated: give --input-format csv"),
            (b";", "TSV separates values with tabs, not ';'"),
            (None, "TSV separates values with tabs, not spaces")),
    "jsonl": ((b";", "JSON Lines separates values with ',', not ';'"),
              (None, "JSON Lines separates values with ',', not spaces")),
}


def _width_hint(text: bytes, cells: list[bytes], fmt: str, n_columns: int) -> tuple[str, bool]:
    """(" (a hint)" or "", whether the line looks like numbers) for a line of the wrong width.

    Only on the way to an error: it may take its time.
    """
    if b"\r" in text.rstrip(b"\r"):  # not a CRLF line end: a CR alone inside the line
        return (" (lines here end with a carriage return alone, as old Mac files do; nnctl "
                "reads lines that end with \\n or \\r\\n: convert with tr '\\r' '\\n')"), False
    extra = cells[n_columns:]
    if extra and not any(extra):
        return f" (a trailing {'tab' if fmt == 'tsv' else repr(',')}?)", False
    if fmt == "jsonl" and text.startswith(b"[") and text.endswith(b"]"):
        text = text[1:-1]
    for sep, hint in _OTHER_SEPARATORS[fmt]:
        parts = [p.strip() for p in (text.split(sep) if sep else text.split())]
        if len(parts) < 2 or len(parts) == len(cells):
            continue
        numbers = all(NUMBER.fullmatch(_unquoted(p)) for p in parts)
        # names: by the count they would make (not for spaces: `first name,age` has some)
        if numbers or (sep and len(parts) == n_columns):
            return f" ({hint.format(what='values' if numbers else 'names')})", numbers
    return "", False


def _count_newlines(block: bytes) -> int:
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 10))


def _cell_text(cell: bytes) -> str:
    return cell.decode("utf-8", "replace")


def _json_names(text: bytes) -> list[str] | None:
    """The names in a JSON Lines header (an array of strings), else None."""
    import json

    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can go
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def _quoted(cell: bytes) -> str:
    return quoted(_cell_text(cell))


class TextParser:
    """Blocks of text lines -> arrays: fast (polars) when the block is clean, else careful."""

    def __init__(self, fmt: str, n_columns: int, dtype: np.dtype):
        import polars as pl

        self._pl = pl
        self.format = fmt
        self.sep = SEPARATORS[fmt]
        self.n_columns = n_columns
        self.dtype = dtype
        kind = pl.Float64 if dtype == np.float64 else pl.Float32
        self.schema = {f"c{k}": kind for k in range(n_columns)}
        # JSON Lines' fast path reads `[1,2]` as ` 1,2,`: one more column, all empty; and
        # `["1",2]` as `,"1",2,`: one more on either side (see _json_lines_unwrapped)
        self._bracket_schemas = {
            ("close",): {**self.schema, "close": kind},
            ("open", "close"): {"open": kind, **self.schema, "close": kind}}

    def _polars(self, text: bytes | io.BytesIO, sep: str, schema=None):
        # NOTE: polars (1.44) panics (a BaseException, and a message on stderr) on a quote
        # opening the last cell of text that does not end with a newline: always end with one
        # (a BytesIO, from _json_lines_unwrapped, does).
        if isinstance(text, bytes) and not text.endswith(b"\n"):
            text += b"\n"
        try:
            return self._pl.read_csv(text, has_header=False, schema=schema or self.schema,
                                     separator=sep,
                                     quote_char='"', raise_if_empty=False, infer_schema=False)
        except self._pl.exceptions.PanicException as exc:  # any other panic: a refusal too
            raise ValueError(str(exc)) from None

    def fast(self, block: bytes, newlines: int) -> np.ndarray | None:
        """The rows of a clean block, or None when the block needs a careful look."""
        if self.n_columns == 0:
            return None
        rows = newlines + (not block.endswith(b"\n"))
        schema, brackets = None, ()
        if self.format == "jsonl":
            unwrapped = _json_lines_unwrapped(block, rows)
            if unwrapped is None:
                return None
            block, brackets = unwrapped
            schema = self._bracket_schemas[brackets]
        try:
            frame = self._polars(block, self.sep, schema)
        except Exception:  # noqa: BLE001 - any refusal sends the block to the careful path
            return None
        for name in brackets:  # the columns of the brackets: empty, then dropped
            if frame.drop_in_place(name).null_count() != frame.height:
                return None
        columns = frame.get_columns()
        if frame.height != rows or any(column.null_count() for column in columns):
            return None  # blank lines, empty cells or short rows
        return self._array(frame)

    def _array(self, frame) -> np.ndarray:
        array = frame.to_numpy(order="c")
        return array if array.dtype == self.dtype else array.astype(self.dtype)

    def careful(self, block: bytes, first_line: int, reader):
        """(good rows, their line numbers, the first error or None), line by line."""
        good, numbers, error = [], [], None
        for line, raw in numbered_rows(block, first_line):
            text = raw.strip()
            if self.format == "jsonl" and not (text.startswith(b"[") and text.endswith(b"]")):
                error = DataError(f"not a JSON array: {_quoted(text)}", source=reader.name,
                                  line=line)
                break
            wide = _far_too_wide(text, self.sep, self.n_columns)
            if wide:
                error = DataError(f"{reader._expected_columns()}, got {wide:,}",
                                  source=reader.name, line=line)
                break
            cells = reader._split_cells(text)
            if len(cells) != self.n_columns:
                hint = _width_hint(text, cells, self.format, self.n_columns)[0]
                error = DataError(f"{reader._expected_columns()}, got {len(cells)}{hint}",
                                  source=reader.name, line=line)
                break
            bad = next((k for k, c in enumerate(cells) if not NUMBER.fullmatch(c)), None)
            if bad is not None:
                error = DataError(f"column {bad + 1}: {_quoted(cells[bad])} is not a number",
                                  source=reader.name, line=line)
                break
            good.append(b",".join(cells))
            numbers.append(line)
        if not good or self.n_columns == 0:  # rows of no values (`[]`) need no parsing
            return (np.empty((len(good), self.n_columns), self.dtype),
                    np.array(numbers, dtype=np.int64), error)
        text = b"\n".join(good) + b"\n"
        try:
            array = self._array(self._polars(text, ","))
        except Exception:  # noqa: BLE001 - not expected: NUMBER accepts what polars accepts
            array = np.array([[float(c) for c in g.split(b",")] for g in good]).astype(self.dtype)
        return array, np.array(numbers, dtype=np.int64), error


def numbered_rows(block: bytes, first_line: int) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for each line of `block` that is not blank (a blank line is not a
    row); the block's first line is number `first_line`."""
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    for i, raw in enumerate(lines):
        if raw.strip():
            yield first_line + i, raw


def _json_lines_unwrapped(block: bytes, rows: int) -> tuple[io.BytesIO, tuple[str, ...]] | None:
    """(the block as CSV for the fast parser, the names of its brackets' columns) when every
    line is `[...]`, else None. `[1,2]` becomes ` 1,2,`, read with one more column ("close"),
    which must be empty. Where a line opens with a quote (a JSON string is a quoted cell:
    `["1",2]`), a space would spoil that cell: the block's `[`s become commas, `,"1",2,`, and
    the empty column "open" precedes (2 columns: 14% more parse time, 10 columns: 3%).
    Checked without a Python loop, in a quarter of the parse's CPU time (20,000 rows of 32
    floats: 5 ms, the parse 22 ms; half of it finding the line ends): the first byte of every
    line must be `[` and the last one `]` (before a CR); a bracket anywhere else is not a
    number to the parser."""
    if not rows:
        return None
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(data))
    if len(ends) != rows:
        return None
    starts = ends[:-1] + 1
    if data[0] != ord("[") or not np.all(data[starts] == ord("[")):
        return None
    last = ends - 1  # >= 0: the line starts with a bracket
    last[data[last] == 13] -= 1  # CRLF
    if not np.all(data[last] == ord("]")):
        return None
    # every line holds 2 bytes or more: the one after its `[` is in it
    quoted = data[1] == ord('"') or bool(np.any(data[starts + 1] == ord('"')))
    # One copy of the block, changed in place: the buffer of a BytesIO (getbuffer() unshares
    # it), which polars then reads as it is; a NumPy copy made bytes again (tobytes) was two,
    # 45 ms of CPU for 70 MB (a tenth of a whole run)
    text = io.BytesIO(block if block.endswith(b"\n") else block + b"\n")  # see _polars
    with text.getbuffer() as view:
        changed = np.frombuffer(view, dtype=np.uint8)
        changed[0] = changed[starts] = ord("," if quoted else " ")
        changed[last] = ord(",")
        del changed  # its hold on the buffer ends before the view's
    return text, ("open", "close") if quoted else ("close",)
