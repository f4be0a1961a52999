# The merge functions of keras.layers: add, subtract, multiply, average, maximum, minimum,
# concatenate.
import keras
import numpy as np
from keras import layers

a = keras.Input(shape=(3,), name="a")
b = keras.Input(shape=(3,), name="b")
merged = [layers.add([a, b]), layers.subtract([a, b]), layers.multiply([a, b]),
          layers.average([a, b]), layers.maximum([a, b]), layers.minimum([a, b])]
joined = layers.concatenate(merged, axis=-1)
model = keras.Model(inputs=[a, b], outputs=layers.Dense(2, name="out")(joined), name="merges")
model.summary()
rng = np.random.default_rng(7)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
xa, xb = rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(2, 3)).astype("float32")
print(np.round(model.predict([xa, xb], verbose=0), 4).tolist())
print(np.round(model.predict({"a": xa, "b": xb}, verbose=0), 4).tolist())
