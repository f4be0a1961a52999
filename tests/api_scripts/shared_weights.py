# One layer object in two models: both see the same weights, set through either.
import keras
import numpy as np
from keras import layers

shared = layers.Dense(2, name="shared")
first = keras.Sequential([keras.Input(shape=(3,)), shared], name="first")
second = keras.Sequential([keras.Input(shape=(3,)), shared, layers.Dense(1, name="head")],
                          name="second")
first.set_weights([np.ones((3, 2), dtype="float32"), np.array([0.5, -0.5], dtype="float32")])
print(np.asarray(second.layers[0].kernel).tolist())
second.layers[1].set_weights([np.ones((2, 1), dtype="float32"), np.zeros(1, dtype="float32")])
data = np.array([[1.0, 2.0, 3.0]], dtype="float32")
print(first.predict(data, verbose=0).tolist(), second.predict(data, verbose=0).tolist())
print(len(first.weights), len(second.weights), second.count_params())
