# A model used as a layer of another model: its weights are shared.
import keras
import numpy as np
from keras import layers

encoder_input = keras.Input(shape=(6,), name="original")
encoded = layers.Dense(3, activation="relu", name="encode")(encoder_input)
encoder = keras.Model(encoder_input, encoded, name="encoder")

inputs = keras.Input(shape=(6,), name="img")
x = encoder(inputs)
outputs = layers.Dense(1, activation="sigmoid", name="head")(x)
model = keras.Model(inputs, outputs, name="classifier")
rng = np.random.default_rng(5)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
data = rng.normal(size=(2, 6)).astype("float32")
print(np.round(model.predict(data, verbose=0), 4).tolist())
print(np.round(encoder.predict(data, verbose=0), 4).tolist())
print(model.count_params(), encoder.count_params(), len(model.weights))
model.summary()
print([layer.name for layer in model.layers], [w.path for w in model.weights])
stacked = keras.Sequential([encoder, layers.Dense(2, name="h2")], name="stacked")
stacked.summary()
print(np.round(stacked.layers[0].predict(data, verbose=0), 4).tolist() ==
      np.round(encoder.predict(data, verbose=0), 4).tolist(), stacked.count_params())
branch = keras.Input(shape=(6,), name="side")
joined = layers.concatenate([encoder(branch), layers.Dense(2, name="skip")(branch)])
wide = keras.Model(branch, joined, name="wide")
wide.summary()
