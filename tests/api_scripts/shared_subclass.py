# A subclassed model that uses one layer on two inputs and a block twice.
import keras
import numpy as np
from keras import layers


class PairScorer(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.project = layers.Dense(4, activation="relu")
        self.mix = layers.Dense(4)
        self.out = layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        first, second = inputs
        x = layers.add([self.project(first), self.project(second)])
        x = self.mix(self.mix(x))
        return self.out(x)


model = PairScorer(name="pair_scorer")
rng = np.random.default_rng(2)
first = rng.normal(size=(2, 3)).astype("float32")
second = rng.normal(size=(2, 3)).astype("float32")
model([first, second])
model.summary()
print(model.count_params(), [layer.name for layer in model.layers])
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
print(np.round(model.predict([first, second], verbose=0), 4).tolist())
