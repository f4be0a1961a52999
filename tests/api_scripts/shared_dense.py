# The keras.io "shared layers" idiom: one Dense applied to two inputs; its weights exist once.
import keras
import numpy as np
from keras import layers

shared = layers.Dense(4, activation="relu", name="shared")
a = keras.Input(shape=(3,), name="a")
b = keras.Input(shape=(3,), name="b")
merged = layers.concatenate([shared(a), shared(b)], name="merged")
outputs = layers.Dense(1, activation="sigmoid", name="head")(merged)
model = keras.Model([a, b], outputs, name="two_inputs")
model.summary()
model.summary(show_trainable=True)
print(model.count_params(), len(model.weights), [layer.name for layer in model.layers])
print([w.path for w in model.weights])
rng = np.random.default_rng(3)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
left = rng.normal(size=(4, 3)).astype("float32")
right = rng.normal(size=(4, 3)).astype("float32")
print(np.round(model.predict([left, right], verbose=0), 4).tolist())
print(np.round(model({"a": left, "b": right}), 4).tolist())
model.save("two_inputs.keras")
again = keras.models.load_model("two_inputs.keras")
print(np.round(again.predict([left, right], verbose=0), 4).tolist())
again.summary()
one_side = keras.Model(b, shared(b), name="one_side")
one_side.summary()
print(np.round(one_side.predict(right, verbose=0), 4).tolist())
# Keras numbers a layer's calls across models: here its fourth and fifth
again = keras.Model([a, b], layers.add([shared(a), shared(b)], name="sum"), name="again")
again.summary()
