# A custom Layer is one row of the summary and one entry of model.layers, as Keras shows it.
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


inputs = keras.Input(shape=(4,), name="x")
block = ResidualBlock(4, name="block")
h = block(inputs)
outputs = layers.Dense(2, name="head")(layers.concatenate([h, inputs], name="cat"))
model = keras.Model(inputs, outputs, name="with_block")
model.summary()
model.summary(expand_nested=True)
print([layer.name for layer in model.layers], model.count_params(), len(model.weights))
print([w.path for w in model.weights])
rng = np.random.default_rng(8)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
data = rng.normal(size=(2, 4)).astype("float32")
print(np.round(model.predict(data, verbose=0), 4).tolist())

stack = keras.Sequential([keras.Input((4,)), ResidualBlock(4, name="block2"),
                          layers.Dense(1, name="out")], name="stack")
stack.summary()
print([layer.name for layer in stack.layers], stack.count_params())


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = ResidualBlock(4, name="block3")
        self.head = layers.Dense(1, name="out3")

    def call(self, x):
        return self.head(self.block(x))


net = Net(name="net")
net(np.ones((2, 4), "float32"))
net.summary()
print([layer.name for layer in net.layers])
