"""Embedding: integer indices -> rows of a learned matrix; `mask_zero` masks index 0.

The indices are checked (integers in [0, input_dim)): Keras would fail or read out of bounds.
"""
from __future__ import annotations

import numpy as np

from nnctl.errors import DataError
from nnctl.layers.base import ArgError, Layer, WeightSpec, boolean, cannot_draw, positive_int
from nnctl.layers.core import _initializer


class Embedding(Layer):
    """Integer indices -> rows of a learned (input_dim, output_dim) matrix."""

    inert_args = ("embeddings_regularizer", "embeddings_constraint", "activity_regularizer",
                  "input_length")
    takes_integers = True   # Model.forward hands it the indices as they are, not as floats
    affine = False
    neuron_link = cannot_draw("an Embedding looks up one row of its table per index")

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 mask_zero=False, weights=None, **common):
        super().__init__(**common)
        name = self.name
        self.input_dim = positive_int(input_dim, "input_dim", name)
        self.output_dim = positive_int(output_dim, "output_dim", name)
        self.embeddings_initializer = _initializer(embeddings_initializer,
                                                   "embeddings_initializer", name)
        self.mask_zero = boolean(mask_zero, "mask_zero", name)
        if weights is not None:
            raise ArgError("weights", f"layer '{name}': `weights` is not taken here; give "
                                      "weights in a weights file")

    def output_shape(self, input_shapes):
        return tuple(input_shapes[0]) + (self.output_dim,)

    def weight_specs(self, input_shapes):
        return [WeightSpec("embeddings", (self.input_dim, self.output_dim),
                           self.embeddings_initializer, self.trainable)]

    def indices(self, x) -> np.ndarray:
        """The indices in `x`, checked: integers in [0, input_dim)."""
        x = np.asarray(x)
        if x.dtype.kind == "f":
            if x.size and not np.array_equal(x, np.floor(x)):
                raise DataError(f"layer '{self.name}': Embedding takes integer indices, got "
                                f"{float(x[x != np.floor(x)].flat[0])!r} (give its input "
                                "`dtype: int32` to have the ids checked as they are read)")
            x = x.astype(np.int64)
        if x.size and (x.min() < 0 or x.max() >= self.input_dim):
            bad = x[(x < 0) | (x >= self.input_dim)].flat[0]
            raise DataError(f"layer '{self.name}': index {bad} is out of range [0, "
                            f"{self.input_dim}) (input_dim {self.input_dim})")
        return x

    def call(self, inputs, weights, mask=None):
        return weights["embeddings"][self.indices(inputs[0])]

    def compute_mask(self, inputs):
        return inputs[0] != 0 if self.mask_zero else None

    def backward(self, inputs, weights, output, grad):
        x = self.indices(inputs[0])
        table = weights["embeddings"]
        g = np.zeros_like(table)
        np.add.at(g, x.reshape(-1), grad.reshape(-1, self.output_dim))
        return [np.zeros(x.shape, dtype=table.dtype)], {"embeddings": g}

    def macs(self, input_shapes, output_shape):
        return 0   # a lookup: no multiplication

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        return g.op("Gather", g.initializer(weights["embeddings"], "embeddings"), inputs[0],
                    axis=0)
