# keras.initializers: classes and get, given to layers.
import keras
import numpy as np
from keras import layers

print(keras.initializers.he_normal(seed=1)(shape=(9, 1)).shape)
print(type(keras.initializers.get("glorot_uniform")).__name__)
print(np.asarray(keras.initializers.Constant(0.5)(shape=(2, 2))).tolist())
print(np.asarray(keras.initializers.Ones()(shape=(3,))).tolist())
model = keras.Sequential([
    keras.Input(shape=(3,)),
    layers.Dense(2, kernel_initializer=keras.initializers.Ones(),
                 bias_initializer=keras.initializers.Constant(0.25)),
    layers.Dense(1, kernel_initializer="zeros", bias_initializer="ones"),
])
print(model.predict(np.array([[1.0, 2.0, 3.0]], dtype="float32"), verbose=0).tolist())
print([w.tolist() for w in model.get_weights()])
