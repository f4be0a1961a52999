# A model used as a shared layer (keras.io's "shared vision model"): one encoder on two inputs.
import keras
import numpy as np
from keras import layers

digit = keras.Input(shape=(4,), name="digit")
features = layers.Dense(3, activation="relu", name="features")(digit)
encoder = keras.Model(digit, features, name="encoder")

first = keras.Input(shape=(4,), name="first")
second = keras.Input(shape=(4,), name="second")
both = layers.concatenate([encoder(first), encoder(second)], name="both")
same = layers.Dense(1, activation="sigmoid", name="same")(both)
model = keras.Model([first, second], same, name="pair")
model.summary()
print(model.count_params(), [layer.name for layer in model.layers], len(model.weights))
rng = np.random.default_rng(4)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
a = rng.normal(size=(3, 4)).astype("float32")
b = rng.normal(size=(3, 4)).astype("float32")
print(np.round(model.predict([a, b], verbose=0), 4).tolist())
print(np.round(encoder.predict(b, verbose=0), 4).tolist())
model.save("pair.keras")
again = keras.models.load_model("pair.keras")
print(np.round(again.predict([a, b], verbose=0), 4).tolist(), again.count_params())
