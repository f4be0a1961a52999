"""nnctl: build, inspect and run small neural networks (Keras vocabulary, NumPy engine).

As Keras: `import nnctl as keras`, then keras.Sequential, keras.Model, keras.Input,
keras.layers, keras.activations, keras.initializers, keras.models, keras.utils, keras.ops.
See docs/python-api.md. The API is loaded on first use, so that `nnctl` on the command line
starts fast.

    >>> import nnctl
    >>> model = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)])
    >>> model.count_params()
    8
"""
__version__ = "0.1.0"

# name -> (module, attribute) or (module, None) for the module itself; imported on first use.
_LAZY = {
    "Input": ("nnctl.api.layers", "Input"), "Layer": ("nnctl.api.layers", "Layer"),
    "Model": ("nnctl.api.models", "Model"), "Sequential": ("nnctl.api.models", "Sequential"),
    "Variable": ("nnctl.api.variables", "Variable"),
    "from_spec": ("nnctl.api.models", "from_spec"),
    "load_model": ("nnctl.api.models", "load_model"),
    "layers": ("nnctl.layers", None), "activations": ("nnctl.activations", None),
    "initializers": ("nnctl.initializers", None), "models": ("nnctl.models", None),
    "utils": ("nnctl.utils", None), "ops": ("nnctl.ops", None),
    "backend": ("nnctl.backend", None),
    "forward_file": ("nnctl.api.forwarding", "forward_file"),
    "forward_files": ("nnctl.api.forwarding", "forward_files"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'nnctl' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY)
