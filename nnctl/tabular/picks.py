"""Which columns of a table are read, and in what order: `--columns` and `--skip-columns`.

`--columns a,b,c` names header columns, or numbers them from 1 as `cut -f` does, ranges too
(`2-785`); `--skip-columns N` drops N leading columns (an index column). The rest of a row
is what a model reads: its width is checked once, when the header or first row is known, with
what the model's inputs take (`expected 22 columns (record 6 + patch 16)`).
"""
from __future__ import annotations

import re

import numpy as np

from nnctl.errors import DataError, UsageError

_NUMBERS = re.compile(r"([1-9][0-9]*)(?:-([1-9][0-9]*))?")


def width_text(n_columns: int, parts: dict | None) -> str:
    """`22 columns (record 6 + patch 16)`: a width and, for several inputs, what makes it."""
    text = f"{n_columns} column{'s' if n_columns != 1 else ''}"
    if parts and len(parts) > 1 and sum(parts.values()) == n_columns:
        text += " (" + " + ".join(f"{name} {width}" for name, width in parts.items()) + ")"
    return text


class ColumnPicks:
    """The columns asked for (names or 1-based numbers) or the leading ones skipped; false
    when neither is asked, so that a plain read costs nothing."""

    def __init__(self, columns=None, skip: int = 0, want: int | None = None,
                 parts: dict | None = None):
        if columns is not None and skip:
            raise UsageError("--columns and --skip-columns do not go together: --columns "
                             "alone says which columns to read")
        if skip < 0:
            raise UsageError(f"--skip-columns takes a count of 0 or more, got {skip}")
        self.columns = None if columns is None else [str(c).strip() for c in columns]
        if self.columns is not None and (not self.columns or not all(self.columns)):
            raise UsageError("--columns takes names or numbers separated by commas, "
                             f"got {','.join(self.columns)!r}")
        self.skip, self.want, self.parts = skip, want, parts

    def __bool__(self) -> bool:
        return self.columns is not None or self.skip > 0

    def expected(self, n_columns: int) -> str:
        """`expected 22 columns (record 6 + patch 16)`: the width every row must have."""
        return f"expected {width_text(n_columns, None if self else self.parts)}"

    def resolve(self, names: list[str] | None, n_columns: int,
                source: str) -> tuple[np.ndarray, list[str] | None]:
        """(indices into a file row, their names or None) for a file of n_columns."""
        if self.columns is None:
            if self.skip >= n_columns:
                raise DataError(f"--skip-columns {self.skip} leaves none of the {n_columns} "
                                "columns", source=source)
            picked = list(range(self.skip, n_columns))
            what = f"--skip-columns {self.skip} leaves {len(picked)}"
        else:
            picked = []
            for item in self.columns:
                picked += self._indices(item, names, n_columns, source)
            what = f"--columns picks {len(picked)}"
        if self.want is not None and len(picked) != self.want:
            raise DataError(f"expected {width_text(self.want, self.parts)}, {what}",
                            source=source)
        return (np.array(picked, dtype=np.intp),
                None if names is None else [names[k] for k in picked])

    @staticmethod
    def _indices(item: str, names, n_columns: int, source: str) -> list[int]:
        if names is not None and item in names:
            return [names.index(item)]
        numbers = _NUMBERS.fullmatch(item)
        if numbers is None:
            if names is None:
                raise DataError(f"--columns: '{item}' is a name, and there is no header row "
                                "to find it in: number the columns from 1 (as cut -f)",
                                source=source)
            from nnctl.naming import did_you_mean

            raise DataError(f"--columns: no column named '{item}' in the header"
                            f"{did_you_mean(item, names)}", source=source)
        first = int(numbers.group(1))
        last = int(numbers.group(2) or first)
        if last > n_columns or first > last:
            raise DataError(f"--columns: column {item}, but rows have {n_columns} columns "
                            "(numbered from 1)" if first <= last else
                            f"--columns: the range {item} runs backwards", source=source)
        return list(range(first - 1, last))
