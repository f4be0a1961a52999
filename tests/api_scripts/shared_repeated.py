# One layer applied three times in a row (weights tied across the steps).
import keras
import numpy as np
from keras import layers

step = layers.Dense(3, activation="tanh", name="step")
inputs = keras.Input(shape=(3,), name="state")
x = step(inputs)
x = step(x)
x = step(x)
outputs = layers.Dense(2, name="readout")(x)
model = keras.Model(inputs, outputs, name="unrolled")
model.summary()
print(model.count_params(), len(model.layers), len(model.get_weights()))
rng = np.random.default_rng(7)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
data = rng.normal(size=(3, 3)).astype("float32")
print(np.round(model.predict(data, verbose=0), 4).tolist())
kernel, bias = step.get_weights()
manual = data
for _ in range(3):
    manual = np.tanh(manual @ kernel + bias)
print(np.allclose(keras.Model(inputs, x).predict(data, verbose=0), manual, atol=1e-5))
