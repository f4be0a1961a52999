"""Golden Python-API models: the same few lines of model code run by Keras 3, as facts.

    KERAS_BACKEND=numpy /opt/keras-ref/bin/python tools/golden/api_models.py

Each scenario is source code that builds `model` from the names Input, Model, Sequential and
layers; tests/test_api.py runs the same code with nnctl's and compares. Written to
tests/golden/api/models.json: per scenario the code and Keras' layers (name, type, output
shape, params) in model.layers order, and the weight paths in model.weights order.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "numpy")

import keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "api", "models.json")

SCENARIOS = {
    # Keras names layers in the order they are made, not the order a model lists them.
    "sequential_made_in_another_order": """
a = layers.Dense(2)
b = layers.Dense(3)
model = Sequential([Input(shape=(4,)), b, a])
""",
    "sequential_default_names": """
model = Sequential([
    Input(shape=(6,)),
    layers.Dense(8),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.Dropout(0.5),
    layers.Dense(3, activation="softmax"),
])
""",
    "functional_unnamed_branches": """
inputs = Input(shape=(4,))
left = layers.Dense(3, activation="relu")(inputs)
right = layers.Dense(3, activation="tanh")(inputs)
joined = layers.Concatenate()([left, right])
model = Model(inputs, layers.Dense(1)(joined))
""",
    "functional_two_unnamed_inputs": """
a = Input(shape=(2,))
b = Input(shape=(3, 1))
flat = layers.Flatten()(b)
x = layers.Concatenate()([a, flat])
model = Model(inputs=[a, b], outputs=layers.Dense(2)(x))
""",
    "functional_residual": """
inputs = Input(shape=(5,), name="features")
stem = layers.Dense(8, activation="relu", name="stem")(inputs)
block = layers.Dense(8, activation="relu")(stem)
added = layers.Add()([stem, block])
normed = layers.LayerNormalization()(added)
model = Model(inputs=inputs, outputs=layers.Dense(1, name="head")(normed), name="residual")
""",
    "functional_two_outputs": """
x = Input(shape=(5,), name="x")
trunk = layers.Dense(8, activation="relu", name="trunk")(x)
a = layers.Dense(3, activation="softmax", name="head_a")(trunk)
b = layers.Dense(1, name="head_b")(trunk)
model = Model(inputs=x, outputs=[a, b], name="two_outputs")
""",
}


def facts(model):
    rows = [{"name": layer.name, "type": type(layer).__name__,
             "output_shape": list(layer.output.shape), "params": layer.count_params()}
            for layer in model.layers]
    return {"name": model.name, "layers": rows, "weights": [w.path for w in model.weights]}


def main():
    result = {}
    for name, code in SCENARIOS.items():
        keras.backend.clear_session()   # default names counted per model, as nnctl does
        scope = {"Input": keras.Input, "Model": keras.Model, "Sequential": keras.Sequential,
                 "layers": keras.layers}
        exec(code, scope)
        result[name] = {"code": code.strip() + "\n", **facts(scope["model"])}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(result)} scenarios")


if __name__ == "__main__":
    main()
