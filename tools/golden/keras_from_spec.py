"""Build the Keras 3 model that an nnctl spec describes (for golden files only).

Run with the reference environment: KERAS_BACKEND=numpy /opt/keras-ref/bin/python ...
This is test tooling: nnctl itself never imports Keras.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "numpy")

import re  # noqa: E402

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
    if ls["type"] == "Bidirectional":   # the wrapped layer first: Keras names it first
        inner = _layer(ls["layer"], dtype)
        cfg = {k: v for k, v in ls.items() if k not in ("type", "inputs", "layer")}
        return keras.layers.Bidirectional(inner, dtype=dtype, **cfg)
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


def _input(name, raw, default_dtype):
    """`[6, 3]`, `6` or `{shape: [6], dtype: int32}` -> keras.Input."""
    shape, dtype = (raw["shape"], raw.get("dtype", default_dtype)) if isinstance(raw, dict) \
        else (raw, default_dtype)
    shape = [shape] if isinstance(shape, int) else shape
    return keras.Input(shape=tuple(shape), name=name, dtype=dtype)


REFERENCE = re.compile(r"^(.*?)(?:\[(\d+)\])?(?:\[(\d+)\])?$")


def _tensor(tensors, ref):
    """`lstm`, `lstm[1]` or `lstm[0][1]` (Keras' layer[node][tensor]): a tensor or a list;
    `shared[2][0]`: output 0 of the third call of a shared layer."""
    if ref in tensors:    # a name, or a call's own (`shared[2]`, the last entry)
        return tensors[ref]
    name, first, second = REFERENCE.match(ref).groups()
    if second is not None and int(first) > 0:
        name = f"{name}[{int(first)}]"
    value = tensors[name]
    index = second if second is not None else first
    if index is None or not isinstance(value, (list, tuple)):   # `dense[1][0]`: the one
        return value
    return value[int(index)]


def build(spec):
    """An nnctl spec dict -> keras.Model (Sequential or Functional)."""
    keras.backend.clear_session()  # default names counted per model, as nnctl does
    dtype = spec.get("dtype", "float32")
    if "inputs" not in spec:
        model = keras.Sequential(name=spec.get("name", "sequential"))
        model.add(_input(None, spec["input"], dtype))
        for ls in spec["layers"]:
            model.add(_layer(ls, dtype))
        return model
    tensors = {name: _input(name, raw, dtype) for name, raw in spec["inputs"].items()}
    inputs = list(tensors.values())
    previous, last = inputs[0], None
    made, calls = {}, {}    # `{call: NAME, inputs: ...}`: layer NAME called again
    for ls in spec["layers"]:
        if "call" in ls:
            layer = made[ls["call"]]
            calls[layer.name] = calls.get(layer.name, 0) + 1
            key = f"{layer.name}[{calls[layer.name]}]"
        else:
            layer = _layer(ls, dtype)
            key = layer.name
            made[key] = layer
        refs = ls.get("inputs")
        if refs is None:
            args = previous
        elif isinstance(refs, str):
            args = _tensor(tensors, refs)
        else:
            args = [_tensor(tensors, r) for r in refs]
        out = layer(args)
        tensors[key] = out
        previous, last = out, key
    outputs = spec.get("outputs") or [last]
    outputs = [outputs] if isinstance(outputs, str) else outputs
    outs = []
    for ref in outputs:
        value = _tensor(tensors, ref)
        outs += list(value) if isinstance(value, (list, tuple)) else [value]
    return keras.Model(inputs=inputs, outputs=outs if len(outs) > 1 else outs[0],
                       name=spec.get("name", "functional"))


def vocabulary(spec) -> int:
    """The smallest Embedding input_dim of a spec: token ids below it fit every Embedding."""
    return min(ls["input_dim"] for ls in spec["layers"] if ls["type"] == "Embedding")


def weight_key(model, weight) -> str:
    """A weight's key in a weights file: `LAYER/PATH` with its path inside the layer
    (`dense/kernel`, `lstm/lstm_cell/kernel`, `bidirectional/forward_lstm/lstm_cell/bias`).
    Keras prefixes a Sequential's paths with the model's name, a Functional's not (a
    Functional model used as a layer: its paths are its own layers', `inner_a/kernel`)."""
    for layer in model.layers:
        if any(w is weight for w in layer.weights):
            parts = weight.path.split("/")
            start = parts.index(layer.name) + 1 if layer.name in parts else 0
            return "/".join([layer.name] + parts[start:])
    raise KeyError(weight.path)


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)
