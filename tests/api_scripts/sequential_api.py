# Sequential: add, pop, build, layers, get_layer, inputs and outputs.
import keras
import numpy as np
from keras import layers

model = keras.Sequential(name="stack")
model.add(layers.Dense(4, activation="relu", name="first"))
model.add(layers.Dense(3, name="second"))
print(model.built)
model.build((None, 5))
print(model.built, model.count_params(), [layer.name for layer in model.layers])
model.add(layers.Dense(2, name="third"))
print(model.get_layer(index=2).name, model.get_layer("second").units)
print(model.pop().name, len(model.layers), model.outputs[0].shape)
print(model.inputs[0].shape, model.layers[0].output.shape, model.layers[1].input.shape)
rng = np.random.default_rng(8)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
print(np.round(model(np.ones((2, 5), dtype="float32")), 4).tolist())
model.summary()
