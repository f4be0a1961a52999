# A model used as a layer on the two calls of a shared Dense: its row is connected to both
# calls (`shared[0][0], shared[1][0]`), for a Sequential and a Functional model.
import keras
import numpy as np
from keras import layers

left = keras.Input(shape=(4,), name="left")
right = keras.Input(shape=(4,), name="right")
shared = layers.Dense(4, name="shared")
stack = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="s1")], name="stack")
inner = keras.Input((3,))
graph = keras.Model(inner, layers.Dense(2, name="g1")(inner), name="graph")
x, y = shared(left), shared(right)
merged = layers.Add(name="merged")([graph(stack(x)), graph(stack(y))])
model = keras.Model([left, right], merged, name="two_calls")
model.summary()
model.summary(expand_nested=True)
rng = np.random.default_rng(5)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
a = rng.normal(size=(2, 4)).astype("float32")
b = rng.normal(size=(2, 4)).astype("float32")
print(np.round(model.predict([a, b], verbose=0), 4).tolist())
