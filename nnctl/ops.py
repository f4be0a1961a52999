"""A few of Keras' `keras.ops`, for the `call` of a subclassed model or layer.

On symbolic tensors (while nnctl traces `call`) each op adds the layer that computes it
(`ops.add` an Add layer, `ops.relu` an Activation layer); on arrays it computes with NumPy.

    >>> import nnctl
    >>> nnctl.ops.relu([-1.0, 2.0]).tolist()
    [0.0, 2.0]
"""
from __future__ import annotations

import numpy as np


def _symbolic(values) -> bool:
    from nnctl.api.layers import SymbolicTensor

    return any(isinstance(v, SymbolicTensor) for v in values)


def _merge(layer_type: str, numpy_function):
    def op(x1, x2):
        if _symbolic([x1, x2]):
            from nnctl.api import layers

            return getattr(layers, layer_type)()([x1, x2])
        return numpy_function(np.asarray(x1), np.asarray(x2))

    name = numpy_function.__name__
    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"Element-wise {name} of two tensors, as `keras.ops.{name}`.\n\n"
                  f"    >>> import nnctl\n"
                  f"    >>> nnctl.ops.{name}([1.0, 4.0], [3.0, 2.0]).tolist()\n"
                  f"    {numpy_function(np.array([1.0, 4.0]), np.array([3.0, 2.0])).tolist()}\n")
    return op


add = _merge("Add", np.add)
subtract = _merge("Subtract", np.subtract)
multiply = _merge("Multiply", np.multiply)
maximum = _merge("Maximum", np.maximum)
minimum = _merge("Minimum", np.minimum)


def concatenate(xs, axis=-1):
    """Join tensors along `axis`, as `keras.ops.concatenate`.

    >>> import nnctl
    >>> nnctl.ops.concatenate([[[1.0]], [[2.0]]]).tolist()
    [[1.0, 2.0]]
    """
    if _symbolic(xs):
        from nnctl.api import layers

        return layers.Concatenate(axis=axis)(list(xs))
    return np.concatenate([np.asarray(x) for x in xs], axis=axis)


def _activation(name: str):
    from nnctl import activations

    function = getattr(activations, name)

    def op(x, **arguments):   # on a symbolic tensor, the function adds an Activation layer
        return function(x, **arguments)

    op.__name__ = op.__qualname__ = name
    op.activation_name = name    # Dense(3, activation=nnctl.ops.relu), as with activations.relu
    op.__signature__ = getattr(function, "__signature__", None)
    op.__doc__ = (f"The {name} activation, as `keras.ops.{name}`: on a symbolic tensor an "
                  f"Activation layer.\n\n"
                  f"    >>> import nnctl\n"
                  f"    >>> nnctl.ops.{name}([[0.0, 1.0]]).shape\n"
                  f"    (1, 2)\n")
    return op


relu = _activation("relu")
relu6 = _activation("relu6")
sigmoid = _activation("sigmoid")
tanh = _activation("tanh")
softmax = _activation("softmax")
gelu = _activation("gelu")
silu = _activation("silu")
elu = _activation("elu")
leaky_relu = _activation("leaky_relu")
softplus = _activation("softplus")


def ones(shape, dtype=None) -> np.ndarray:
    """An array of ones (float32 unless told), as `keras.ops.ones`.

    >>> import nnctl
    >>> nnctl.ops.ones((1, 3)).tolist()
    [[1.0, 1.0, 1.0]]
    """
    return np.ones(shape, dtype=dtype or "float32")


def zeros(shape, dtype=None) -> np.ndarray:
    """An array of zeros (float32 unless told), as `keras.ops.zeros`.

    >>> import nnctl
    >>> nnctl.ops.zeros((2,)).tolist()
    [0.0, 0.0]
    """
    return np.zeros(shape, dtype=dtype or "float32")


def convert_to_tensor(x, dtype=None) -> np.ndarray:
    """An array of x (floats as float32), as `keras.ops.convert_to_tensor`: nnctl's tensors
    are NumPy arrays.

    >>> import nnctl
    >>> nnctl.ops.convert_to_tensor([1.0, 2.0]).dtype.name
    'float32'
    """
    array = np.asarray(x, dtype=dtype)
    return array.astype("float32") if dtype is None and array.dtype == np.float64 else array


def convert_to_numpy(x) -> np.ndarray:
    """An array of the values of x, as `keras.ops.convert_to_numpy`.

    >>> import nnctl
    >>> nnctl.ops.convert_to_numpy([1, 2]).tolist()
    [1, 2]
    """
    return np.asarray(x)


__all__ = ["add", "concatenate", "convert_to_numpy", "convert_to_tensor", "ones", "zeros", "elu", "gelu", "leaky_relu", "maximum",
           "minimum", "multiply", "relu", "relu6", "sigmoid", "silu", "softmax", "softplus",
           "subtract", "tanh"]
