"""Golden files for sequence models (Embedding, SimpleRNN, LSTM, GRU, Bidirectional, masks).

    KERAS_BACKEND=numpy /work/kenv/bin/python tools/golden/sequences.py [NAME...]

For each tests/specs/sequences/NAME.yaml writes tests/golden/sequences/NAME.txt (Keras 3's piped
summary), NAME.json (its facts, as tools/golden/summaries.py) and NAME.npz (`weights/PATH` by
Keras 3 weight paths without the model name, `inputs/INPUT`, `outputs/K`: Keras' outputs in
order). Token inputs hold zeros (padding) where the spec masks them. NAMEs: only these specs
(the others' files are left as they are).
"""
import glob
import json
import os
import sys
import zlib

import numpy as np

os.environ.pop("COLUMNS", None)
sys.path.insert(0, os.path.dirname(__file__))
import keras_from_spec  # noqa: E402
import summaries  # noqa: E402

keras = keras_from_spec.keras
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECS = os.path.join(ROOT, "tests", "specs", "sequences")
OUT = os.path.join(ROOT, "tests", "golden", "sequences")
BATCH = 4


def draw_inputs(model, spec, rng):
    arrays, values = {}, []
    raw_inputs = spec.get("inputs") or {"input_layer": spec["input"]}
    for n, (t, name) in enumerate(zip(model.inputs, raw_inputs)):
        shape = (BATCH,) + tuple(t.shape[1:])
        if "int" in str(t.dtype):
            high = keras_from_spec.vocabulary(spec)
            x = rng.integers(1, high, shape).astype(t.dtype)
            x[0, -2:] = 0      # padded at the end
            x[1, :3] = 0       # at the start
            x[2, 2] = 0        # in the middle
            x[3, :] = x[3, :]  # none
            x = np.roll(x, n, axis=1)   # a further input: its padding elsewhere (merged masks)
        else:
            x = rng.normal(0.0, 1.0, shape).astype(t.dtype)
        arrays["inputs/" + name] = x
        values.append(x)
    return arrays, values


def _inner_path(layer, weight):
    """A weight's path inside its layer: `lstm_cell/kernel` (Keras prefixes the model's name
    to a Sequential's paths but not to a Functional's)."""
    parts = weight.path.split("/")
    return "/".join(parts[parts.index(layer.name) + 1:])


def facts(model):
    """summaries.facts, with a list of shapes for a layer of several outputs and the weights
    by their path inside the layer (`lstm_cell/kernel`, `forward_lstm/lstm_cell/kernel`)."""
    layers = []
    for layer in model.layers:
        out = layer.output
        shape = ([list(t.shape) for t in out] if isinstance(out, (list, tuple))
                 else list(out.shape))
        layers.append({
            "name": layer.name,
            "type": layer.__class__.__name__,
            "output_shape": shape,
            "params": layer.count_params(),
            "weights": {_inner_path(layer, w): list(w.shape) for w in layer.weights},
        })
    return {"name": model.name,
            "type": "Sequential" if isinstance(model, keras.Sequential) else "Functional",
            "layers": layers, "total_params": model.count_params()}


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    for path in sorted(glob.glob(os.path.join(SPECS, "*.yaml"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        if only and stem not in only:
            continue
        spec = keras_from_spec.load(path)
        model = keras_from_spec.build(spec)
        rng = np.random.default_rng(zlib.crc32(stem.encode()))
        arrays = {}
        for layer in model.layers:
            for w in layer.weights:
                value = rng.normal(0.0, 0.5, tuple(w.shape)).astype(w.dtype)
                if "variance" in w.path:   # BatchNormalization's moving variance: positive
                    value = np.abs(value) + 0.5
                w.assign(value)
                arrays[f"weights/{layer.name}/{_inner_path(layer, w)}"] = value
        inputs, values = draw_inputs(model, spec, rng)
        arrays.update(inputs)
        result = model(values if len(values) > 1 else values[0], training=False)
        result = result if isinstance(result, (list, tuple)) else [result]
        for k, y in enumerate(result):
            arrays[f"outputs/{k}"] = np.asarray(y)
        np.savez_compressed(os.path.join(OUT, stem + ".npz"), **arrays)
        with open(os.path.join(OUT, stem + ".txt"), "w") as f:
            f.write(summaries.summary_text(model))
        with open(os.path.join(OUT, stem + ".json"), "w") as f:
            json.dump(facts(model), f, indent=1)
        print("wrote", stem, [a.shape for a in result])


if __name__ == "__main__":
    main()
