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
    "backend": ("nnctl.backend", None), "saving": ("nnctl.saving", None),
    "forward_file": ("nnctl.api.forwarding", "forward_file"),
    "forward_files": ("nnctl.api.forwarding", "forward_files"),
}


# Keras' names for training, which nnctl leaves to Keras: asked for, they say so.
_TRAINING = ("optimizers", "losses", "metrics", "callbacks", "Optimizer", "Loss", "Metric")


def __getattr__(name):
    if name in _TRAINING:
        raise AttributeError(f"module 'nnctl' has no attribute {name!r}: nnctl does not train "
                             "models (it builds, inspects and runs them); save the model with "
                             "model.save('model.keras') and train it with Keras")
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
