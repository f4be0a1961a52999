# A custom Layer made of Keras layers and ops, in a functional model: same numbers as Keras.
import keras
import numpy as np
from keras import layers, ops


class ResidualBlock(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.Dense(units, activation="relu")
        self.outer = layers.Dense(units)

    def call(self, inputs):
        return ops.relu(ops.add(inputs, self.outer(self.inner(inputs))))


inputs = keras.Input(shape=(4,))
block = ResidualBlock(4, name="block")
outputs = layers.Dense(2)(block(inputs))
model = keras.Model(inputs, outputs)
rng = np.random.default_rng(4)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
data = rng.normal(size=(3, 4)).astype("float32")
print(np.round(model.predict(data, verbose=0), 4).tolist())
print(model.count_params(), block.count_params(), len(block.weights))
print([w.shape for w in block.get_weights()])
