# A layer's weights: built by a call, read and written as in Keras.
import keras
import numpy as np

dense = keras.layers.Dense(3, activation="relu")
print(dense.built, dense.get_weights(), dense.weights)
y = dense(np.ones((2, 4), dtype="float32"))
print(dense.built, y.shape, dense.count_params())
print([w.shape for w in dense.get_weights()])
print([(w.path, w.name, tuple(w.shape), w.trainable) for w in dense.weights])
print(dense.kernel.shape, dense.bias.shape, dense.dtype, dense.trainable)
rng = np.random.default_rng(0)
dense.set_weights([rng.normal(size=(4, 3)).astype("float32"), np.arange(3, dtype="float32")])
print(np.round(dense.bias.numpy(), 4).tolist())
print(np.round(dense(np.ones((1, 4), dtype="float32")), 4).tolist())
print(np.round(np.asarray(dense.kernel) * 2, 4)[0].tolist())
try:
    dense.set_weights([np.zeros((4, 3))])
except ValueError as e:
    print("ValueError:", e)
try:
    keras.layers.Dense(2, name="unbuilt").count_params()
except ValueError as e:
    print("ValueError:", e)
