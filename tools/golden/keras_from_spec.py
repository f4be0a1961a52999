"""Build the Keras 3 model that an nnctl spec describes (for golden files only).

Run with the reference environment: KERAS_BACKEND=numpy /opt/keras-ref/bin/python ...
This is test tooling: nnctl itself never imports Keras.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "numpy")

import keras  # noqa: E402
import yaml  # noqa: E402


def _activation(value):
    if value is None or isinstance(value, str):
        return value
    args = {k: v for k, v in value.items() if k != "type"}
    fn = keras.activations.get(value["type"])
    return (lambda x: fn(x, **args)) if args else fn


def _initializer(value):
    if isinstance(value, str):
        return keras.initializers.get(value)
    args = {k: v for k, v in value.items() if k != "type"}
    from keras.src.initializers import ALL_OBJECTS_DICT

    return ALL_OBJECTS_DICT[value["type"]](**args)


def _layer(ls, dtype):
    cfg = {k: v for k, v in ls.items() if k not in ("type", "inputs", "input_shape")}
    for key in list(cfg):
        if key == "activation":
            cfg[key] = _activation(cfg[key])
        elif key.endswith("_initializer"):
            cfg[key] = _initializer(cfg[key])
        elif key in ("epsilon", "momentum") and isinstance(cfg[key], str):
            cfg[key] = float(cfg[key])
        elif key == "axis" and ls["type"] == "Softmax" and isinstance(cfg[key], list):
            cfg[key] = tuple(cfg[key])   # Keras tracks a list attribute as a TrackedList,
            # which its logsumexp cannot take as axes
    cfg.setdefault("dtype", dtype)
    return getattr(keras.layers, ls["type"])(**cfg)


def build(spec):
    """An nnctl spec dict -> keras.Model (Sequential or Functional)."""
    keras.backend.clear_session()  # default names counted per model, as nnctl does
    dtype = spec.get("dtype", "float32")
    if "inputs" not in spec:
        shape = spec["input"]
        shape = [shape] if isinstance(shape, int) else shape
        model = keras.Sequential(name=spec.get("name", "sequential"))
        model.add(keras.Input(shape=tuple(shape), dtype=dtype))
        for ls in spec["layers"]:
            model.add(_layer(ls, dtype))
        return model
    tensors = {}
    inputs = []
    for name, shape in spec["inputs"].items():
        shape = [shape] if isinstance(shape, int) else shape
        t = keras.Input(shape=tuple(shape), name=name, dtype=dtype)
        tensors[name] = t
        inputs.append(t)
    previous = inputs[0]
    last = None
    for ls in spec["layers"]:
        layer = _layer(ls, dtype)
        refs = ls.get("inputs")
        if refs is None:
            args = previous
        elif isinstance(refs, str):
            args = tensors[refs]
        else:
            args = [tensors[r] for r in refs]
        out = layer(args)
        tensors[layer.name] = out
        previous = out
        last = layer.name
    outputs = spec.get("outputs") or [last]
    outputs = [outputs] if isinstance(outputs, str) else outputs
    outs = [tensors[o] for o in outputs]
    return keras.Model(inputs=inputs, outputs=outs if len(outs) > 1 else outs[0],
                       name=spec.get("name", "functional"))


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)
