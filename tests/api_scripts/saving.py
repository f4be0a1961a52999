# Saving and loading: .keras archives, to_json/model_from_json, weights files, configs, clones.
import keras
import numpy as np
from keras import layers

inputs = keras.Input(shape=(4,), name="x")
hidden = layers.Dense(5, activation="relu", name="hidden")(inputs)
normed = layers.BatchNormalization(name="norm")(hidden)
outputs = layers.Dense(2, activation="softmax", name="probs")(normed)
model = keras.Model(inputs, outputs, name="saved")
rng = np.random.default_rng(9)
model.set_weights([np.abs(rng.normal(size=w.shape)).astype("float32") + 0.1
                   for w in model.get_weights()])
data = rng.normal(size=(3, 4)).astype("float32")
want = model.predict(data, verbose=0)

model.save("model.keras")
loaded = keras.models.load_model("model.keras")
print(loaded.name, [layer.name for layer in loaded.layers], loaded.count_params())
print(np.allclose(loaded.predict(data, verbose=0), want, rtol=1e-5))

model.save_weights("model.weights.h5")
again = keras.models.model_from_json(model.to_json())
again.load_weights("model.weights.h5")
print(again.name, np.allclose(again.predict(data, verbose=0), want, rtol=1e-5))

config = model.get_config()
print(config["name"], [layer["class_name"] for layer in config["layers"]])
rebuilt = keras.Model.from_config(config)
print(rebuilt.count_params(), [w.shape for w in rebuilt.get_weights()] ==
      [w.shape for w in model.get_weights()])
clone = keras.models.clone_model(model)
print(clone.name, clone.count_params(), [layer.name for layer in clone.layers])
clone.set_weights(model.get_weights())
print(np.round(clone.predict(data, verbose=0), 4).tolist())
