"""nnctl: build, inspect and run small neural networks (Keras vocabulary, NumPy engine).

The public Python API is loaded on first use, so that `nnctl` on the command line starts fast.
"""
__version__ = "0.1.0"

# name -> module that defines it (or the module itself); resolved by __getattr__ on first access.
_LAZY = {
    "Input": "nnctl.api", "Model": "nnctl.api", "Sequential": "nnctl.api",
    "from_spec": "nnctl.api", "load_model": "nnctl.api",
    "layers": "nnctl.layers", "activations": "nnctl.activations",
    "initializers": "nnctl.initializers",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nnctl' has no attribute {name!r}")
    import importlib

    value = importlib.import_module(module)
    if module != f"{__name__}.{name}":   # a name defined in the module, not the module itself
        value = getattr(value, name)
    globals()[name] = value
    return value
