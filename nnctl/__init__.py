"""nnctl: build, inspect and run small neural networks (Keras vocabulary, NumPy engine).

The public Python API is loaded on first use, so that `nnctl` on the command line starts fast.
"""
__version__ = "0.1.0"

# name -> module that defines it; resolved by __getattr__ on first access.
_LAZY = {}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nnctl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
