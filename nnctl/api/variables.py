"""Weights as Keras shows them: `layer.kernel`, `model.weights[0]` are Variables.

A Variable is a view of one weight array held by its layer: `numpy()` copies it out,
`assign()` replaces it, and NumPy functions and arithmetic see the array itself
(`np.abs(dense.kernel)`, `dense.kernel * 2`).
"""
from __future__ import annotations

import operator

import numpy as np


class Variable:
    """One weight of a layer, as Keras' Variable: `path` (`dense/kernel`), `name`, `shape`,
    `dtype`, `trainable`, `numpy()`, `assign(value)`.

    >>> import numpy as np, nnctl
    >>> dense = nnctl.layers.Dense(2)
    >>> _ = dense(np.ones((1, 3)))
    >>> dense.kernel.shape, dense.bias.numpy().tolist()
    ((3, 2), [0.0, 0.0])
    """

    def __init__(self, layer, name: str, path: str, trainable: bool):
        self._layer = layer
        self.name = name
        self.path = path
        self.trainable = trainable

    @property
    def value(self) -> np.ndarray:
        return self._layer._weights[self.name]

    def numpy(self) -> np.ndarray:
        """A copy of the values."""
        return np.array(self.value)

    def assign(self, value) -> None:
        """Replace the values (same shape), as Keras' `variable.assign(array)`."""
        array = np.asarray(value, dtype=self.dtype)
        if array.shape != self.shape:
            raise ValueError(f"The shape of the target variable and the shape of the target "
                             f"value in `variable.assign(value)` must match. "
                             f"variable.shape={self.shape}, Received: value.shape={array.shape}. "
                             f"Target variable: {self!r}")
        self._layer._weights[self.name] = array.copy()
        self._layer._weights_set = True

    @property
    def shape(self) -> tuple:
        return self.value.shape

    @property
    def dtype(self) -> str:
        return self.value.dtype.name

    @property
    def ndim(self) -> int:
        return self.value.ndim

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    def __len__(self):
        return len(self.value)

    def __getitem__(self, key):
        return self.value[key]

    def __iter__(self):
        return iter(self.value)

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"value={self.value}>")


def _binary(op, reflected=False):
    if reflected:
        return lambda self, other: op(np.asarray(other), self.value)
    return lambda self, other: op(self.value, np.asarray(other))


for _name, _op in (("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("matmul", operator.matmul),
                   ("pow", operator.pow), ("lt", operator.lt), ("le", operator.le),
                   ("gt", operator.gt), ("ge", operator.ge)):
    setattr(Variable, f"__{_name}__", _binary(_op))
    if _name in ("add", "sub", "mul", "truediv", "matmul", "pow"):
        setattr(Variable, f"__r{_name}__", _binary(_op, reflected=True))
Variable.__neg__ = lambda self: -self.value
Variable.__abs__ = lambda self: abs(self.value)
