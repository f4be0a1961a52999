"""Running a model over rows of data: flat rows in, flat rows out, batch by batch.

One input row is one sample flattened in C order; a model with several inputs takes their
columns one input after the other (docs/formats.md). Output rows are the outputs (or the
tapped layers) flattened and joined the same way.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator

import numpy as np

from nnctl.errors import DataError, SpecError
from nnctl.model import Model


def input_widths(model: Model) -> dict[str, int]:
    """Input name -> number of columns it takes in a flat row."""
    widths = {}
    for name, shape in model.input_shapes().items():
        if None in shape:
            raise SpecError(f"input '{name}' has a free dimension {tuple(shape)}; rows of data "
                            "need every dimension known")
        widths[name] = math.prod(shape)
    return widths


def output_columns(model: Model, names: list[str]) -> list[str]:
    """Header names for the flat output: `layer3_0, layer3_1`, or `layer` for one value."""
    columns = []
    for name in names:
        size = math.prod(d or 1 for d in model.nodes[name].shape)
        columns += [name] if size == 1 else [f"{name}_{k}" for k in range(size)]
    return columns


def split_inputs(model: Model, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Flat rows (batch, total columns) -> input name -> (batch, *shape)."""
    result, start = {}, 0
    for name, width in input_widths(model).items():
        shape = model.nodes[name].shape
        result[name] = rows[:, start:start + width].reshape((len(rows),) + tuple(shape))
        start += width
    return result


def join_outputs(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """Output name -> (batch, ...) arrays -> flat rows (batch, total columns)."""
    flat = [y.reshape(len(y), -1) for y in outputs.values()]
    return flat[0] if len(flat) == 1 else np.concatenate(flat, axis=1)


class NumpyRunner:
    """The reference engine: `runner(rows)` is one batch of flat rows through Model.forward.
    Other engines (nnctl.engines) take and give the same rows."""

    name = "numpy"

    def __init__(self, model: Model, weights: dict[str, np.ndarray],
                 outputs: list[str] | None = None):
        self.model, self.weights = model, weights
        self.outputs = list(outputs or model.outputs)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return join_outputs(self.model.forward(split_inputs(self.model, rows), self.weights,
                                               self.outputs))


def run(model: Model, weights: dict[str, np.ndarray], batches: Iterable[np.ndarray],
        taps: list[str] | None = None, runner=None,
        warn: Callable[[str], None] | None = None) -> Iterator[np.ndarray]:
    """Flat input rows -> flat output rows, one batch at a time, in order; `runner` computes a
    batch (default: NumpyRunner; see nnctl.engines).

    NaN and Inf propagate as IEEE arithmetic has them (NumPy's floating-point warnings are
    silenced); `warn`, if given, is told once, the first time one reaches the outputs.
    """
    step = runner or NumpyRunner(model, weights, taps)
    watch = NonFinite(weights, warn, np.dtype(model.dtype).name) if warn else None
    done = 0
    for rows in batches:
        with np.errstate(all="ignore"):
            out = step(rows)
        if watch is not None:
            watch.check(rows, out, done)
        done += len(rows)
        yield out


class NonFinite:
    """One warning per run about NaN or Inf (docs/formats.md: they propagate, with one warning):
    about the weights if any holds one, else about the first input row that holds one (saying
    whether it reached the outputs: relu(-inf) is 0), else about the first output row that
    overflowed."""

    def __init__(self, weights: dict[str, np.ndarray], warn: Callable[[str], None],
                 dtype: str = "float32"):
        self.warn, self.dtype, self.told = warn, dtype, False
        for key, value in weights.items():
            if not np.isfinite(value).all():
                self._tell(f"weight '{key}' holds NaN or Inf values; they propagate to the "
                           "outputs")
                break

    def _tell(self, text: str) -> None:
        self.told = True
        self.warn(text)

    def check(self, rows: np.ndarray, out: np.ndarray, first: int) -> None:
        """`rows` and their `out`puts, `first` being the number of rows before them."""
        if self.told:
            return
        if not np.isfinite(rows).all():  # said even where the model maps them to numbers
            k = _first_row_not_finite(rows)
            effect = (", which propagate to its outputs" if not np.isfinite(out[k]).all()
                      else "; its outputs are finite all the same")
            self._tell(f"row {first + k + 1} of the input holds NaN or Inf{effect} "
                       "(reported once)")
        elif not np.isfinite(out).all():
            k = _first_row_not_finite(out)
            self._tell(f"row {first + k + 1}: the outputs overflowed to NaN or Inf (beyond "
                       f"{self.dtype}'s range); they are written as they are (reported once)")


def _first_row_not_finite(array: np.ndarray) -> int:
    return int(np.flatnonzero(~np.isfinite(array).all(axis=tuple(range(1, array.ndim))))[0])


def check_taps(model: Model, taps: list[str]) -> list[str]:
    from nnctl.errors import ParameterError
    from nnctl.naming import did_you_mean

    for name in taps:
        if name not in model.nodes:
            raise ParameterError(f"--tap: no layer named '{name}' in the model"
                                 f"{did_you_mean(name, model.nodes)}")
    return taps


def npz_rows(path: str, model: Model, batch_size: int) -> Iterator[np.ndarray]:
    """An .npz with one array per input name -> flat rows, batch by batch (streamed)."""
    from nnctl.tabular import read_npz_inputs

    widths = input_widths(model)
    for arrays in read_npz_inputs(path, list(widths), batch_size=batch_size,
                                  dtype=np.dtype(model.dtype)):
        for name, width in widths.items():
            if arrays[name].shape[1] != width:
                raise DataError(f"array '{name}' has {arrays[name].shape[1]} values per row, "
                                f"input '{name}' takes {width} "
                                f"(shape {tuple(model.nodes[name].shape)})", source=str(path))
        yield np.concatenate([arrays[name] for name in widths], axis=1)
