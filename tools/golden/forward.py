"""Golden forward passes: Keras 3's outputs for every spec we test, with the weights used.

    KERAS_BACKEND=numpy /work/kenv/bin/python tools/golden/forward.py [SPEC_NAME...]

For each spec writes tests/golden/forward/NAME.npz holding `weights/LAYER/WEIGHT` (Keras'
weight paths), `inputs/INPUT` (a batch per model input) and `outputs/OUTPUT` (Keras' result).
"""
import glob
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import keras_from_spec  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "forward")
BATCH = 7


def draw_weights(model, rng):
    """Random weights with non-trivial values (BN variances positive)."""
    arrays = {}
    for w in model.weights:
        name = w.path.split("/")[-1]
        shape = tuple(w.shape)
        if name in ("moving_variance", "variance"):
            value = rng.uniform(0.2, 3.0, shape)
        elif name == "gamma":
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.6, shape)
        value = value.astype(w.dtype)
        w.assign(value)
        arrays["weights/" + keras_from_spec.weight_key(model, w)] = value  # LAYER/WEIGHT
    return arrays


def main():
    os.makedirs(OUT, exist_ok=True)
    specs = sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml")) +
                   glob.glob(os.path.join(ROOT, "tests", "specs", "*.yaml")))
    wanted = set(sys.argv[1:])   # spec names (stems) to remake; default: every spec
    for path in specs:
        stem = os.path.splitext(os.path.basename(path))[0]
        if wanted and stem not in wanted:
            continue
        spec = keras_from_spec.load(path)
        model = keras_from_spec.build(spec)
        rng = np.random.default_rng(zlib.crc32(stem.encode()))
        arrays = draw_weights(model, rng)
        for layer in model.layers:   # Normalization reads its weights here, as on loading
            getattr(layer, "finalize_state", lambda: None)()
        dtype = spec.get("dtype", "float32")
        inputs = []
        for t in model.inputs:
            shape = (BATCH,) + tuple(t.shape[1:])
            if "int" in str(t.dtype):   # token ids, zeros (padding) among them
                x = rng.integers(0, keras_from_spec.vocabulary(spec), shape).astype(t.dtype)
            else:
                x = (rng.normal(0.0, 2.0, shape)).astype(dtype)
                x.flat[0] = 30.0   # one large value: saturating activations
            inputs.append(x)
            name = t.name if "inputs" in spec else "input_layer"  # nnctl's Sequential input
            arrays["inputs/" + name] = x
        result = model(inputs if len(inputs) > 1 else inputs[0], training=False)
        result = result if isinstance(result, (list, tuple)) else [result]
        names = getattr(model, "output_names", None) or [model.layers[-1].name]
        for name, y in zip(names, result):
            arrays["outputs/" + name] = np.asarray(y)
        np.savez(os.path.join(OUT, stem + ".npz"), **arrays)
        print("wrote", stem, [a.shape for a in result])


if __name__ == "__main__":
    main()
