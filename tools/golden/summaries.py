"""Golden summaries: Keras 3's model.summary() text and facts for every spec we test.

    KERAS_BACKEND=numpy /work/kenv/bin/python tools/golden/summaries.py [SPEC_NAME...]

Writes tests/golden/summaries/NAME.txt (the piped summary, 76 columns, show_trainable
variant in NAME.trainable.txt) and NAME.json (names, types, output shapes, params, totals).
"""
import glob
import io
import json
import os
import sys
from contextlib import redirect_stdout

os.environ.pop("COLUMNS", None)
sys.path.insert(0, os.path.dirname(__file__))
import keras_from_spec  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "summaries")


def summary_text(model, **kwargs):
    lines = []
    model.summary(print_fn=lambda text, line_break=False: lines.append(text), **kwargs)
    return "".join(lines)


def facts(model):
    layers = []
    for layer in model.layers:
        output = layer.output if hasattr(layer, "output") else None
        if isinstance(output, (list, tuple)):   # a layer of several outputs: the first's
            output = output[0]
        shape = output.shape if output is not None else None
        layers.append({
            "name": layer.name,
            "type": layer.__class__.__name__,
            "output_shape": list(shape),
            "params": layer.count_params(),
            "trainable_params": int(sum(w.numpy().size for w in layer.trainable_weights)),
            "non_trainable_params": int(sum(w.numpy().size for w in layer.non_trainable_weights)),
            "weights": {keras_from_spec.weight_key(model, w).split("/", 1)[1]: list(w.shape)
                        for w in layer.weights},
        })
    return {
        "name": model.name,
        "type": "Sequential" if isinstance(model, keras.Sequential) else "Functional",
        "layers": layers,
        "total_params": model.count_params(),
        "trainable_params": int(sum(w.numpy().size for w in model.trainable_weights)),
        "non_trainable_params": int(sum(w.numpy().size for w in model.non_trainable_weights)),
    }


keras = keras_from_spec.keras


def main():
    os.makedirs(OUT, exist_ok=True)
    specs = sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml")) +
                   glob.glob(os.path.join(ROOT, "tests", "specs", "*.yaml")))
    wanted = set(sys.argv[1:])   # spec names (stems) to remake; default: every spec
    for path in specs:
        stem = os.path.splitext(os.path.basename(path))[0]
        if wanted and stem not in wanted:
            continue
        model = keras_from_spec.build(keras_from_spec.load(path))
        with open(os.path.join(OUT, stem + ".txt"), "w") as f:
            f.write(summary_text(model))
        with open(os.path.join(OUT, stem + ".trainable.txt"), "w") as f:
            f.write(summary_text(model, show_trainable=True))
        with open(os.path.join(OUT, stem + ".json"), "w") as f:
            json.dump(facts(model), f, indent=1)
        print("wrote", stem)


if __name__ == "__main__":
    main()
