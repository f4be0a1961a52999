# Weights: new ones on every build, the same ones after keras.utils.set_random_seed(n).
import keras
import numpy as np
from keras import layers


def build():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3), layers.Dense(2)])


print(np.array_equal(build().get_weights()[0], build().get_weights()[0]))
keras.utils.set_random_seed(7)
first = build().get_weights()
keras.utils.set_random_seed(7)
second = build().get_weights()
print(all(np.array_equal(x, y) for x, y in zip(first, second)))
print([w.shape for w in first], [float(np.abs(w).sum()) == 0.0 for w in first])
