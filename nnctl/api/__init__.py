"""The Python API: Keras' Sequential, functional API and subclassing, over the nnctl engine.

    import nnctl
    inputs = nnctl.Input(shape=(3,), name="input")
    x = nnctl.layers.Dense(3, activation="relu", name="layer1")(inputs)
    model = nnctl.Model(inputs, x, name="my_model")
    model.summary(); model.predict(np.ones((4, 3)))

Every model is a spec (docs/spec.md) built by nnctl.model: the API records layers and
their calls, it never computes a shape or a number itself.
"""
from nnctl.api import layers
from nnctl.api.layers import Input, InputLayer, SymbolicTensor
from nnctl.api.models import Model, Sequential, from_spec, load_model

__all__ = ["Input", "InputLayer", "Model", "Sequential", "SymbolicTensor", "from_spec",
           "layers", "load_model"]
