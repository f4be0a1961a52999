# Feature extraction (keras.io FAQ): a model from another model's layer outputs, same weights.
import keras
import numpy as np
from keras import layers

inputs = keras.Input(shape=(5,), name="features")
x = layers.Dense(4, activation="tanh", name="hidden_1")(inputs)
x = layers.Dense(3, activation="relu", name="hidden_2")(x)
outputs = layers.Dense(1, name="score")(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="scorer")
rng = np.random.default_rng(1)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])

extractor = keras.Model(inputs=model.input, outputs=model.get_layer("hidden_2").output,
                        name="extractor")
extractor.summary()
data = rng.normal(size=(3, 5)).astype("float32")
print(np.round(extractor.predict(data, verbose=0), 4).tolist())
every = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers[1:]])
print([np.round(a, 4).tolist() for a in every(data)][2])
print(model.get_layer(index=2).name, model.input.shape, model.output.shape)
print([layer.name for layer in model.layers], len(model.weights), model.count_params())
print(model.get_layer("hidden_1").input.shape, model.get_layer("hidden_1").output.shape)
