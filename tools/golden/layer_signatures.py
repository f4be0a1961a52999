"""Keras 3's layer constructors: every argument's name and default, for
tests/test_layer_types.py (nnctl's layer types take Keras' arguments with Keras' defaults).

    KERAS_BACKEND=numpy /work/kenv/bin/python tools/golden/layer_signatures.py

Writes tests/golden/layer_signatures.json: {class name: {argument: default}} for every layer
class in keras.layers; a required argument is "<required>", tuples are lists, `self`, `name`
and `**kwargs` are left out.
"""
import inspect
import json
import os

import keras

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "layer_signatures.json")


def default(value):
    if value is inspect.Parameter.empty:
        return "<required>"
    if isinstance(value, tuple):
        return [default(v) for v in value]
    return value


def main():
    signatures = {}
    for name in sorted(dir(keras.layers)):
        cls = getattr(keras.layers, name)
        if not (inspect.isclass(cls) and issubclass(cls, keras.layers.Layer)):
            continue
        params = inspect.signature(cls.__init__).parameters.values()
        signatures[name] = {p.name: default(p.default) for p in params
                            if p.name not in ("self", "name") and p.kind in
                            (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    with open(OUT, "w") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}"
                                  for k, v in signatures.items()) + "\n}\n")
    print("wrote", len(signatures), "layer classes, keras", keras.__version__)


if __name__ == "__main__":
    main()
