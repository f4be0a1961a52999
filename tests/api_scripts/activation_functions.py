# keras.activations: functions usable on arrays and as `activation=`.
import keras
import numpy as np
from keras import layers

x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]], dtype="float32")
print(np.round(keras.activations.relu(x), 4).tolist())
print(np.round(keras.activations.relu(x, negative_slope=0.1, max_value=1.0), 4).tolist())
print(np.round(keras.activations.sigmoid(x), 4).tolist())
print(np.round(keras.activations.softmax(x), 4).tolist())
print(np.round(keras.activations.leaky_relu(x, negative_slope=0.3), 4).tolist())
print(np.round(keras.activations.get("tanh")(x), 4).tolist())
print(keras.activations.serialize(keras.activations.relu))
model = keras.Sequential([keras.Input(shape=(5,)),
                          layers.Dense(3, activation=keras.activations.relu),
                          layers.Dense(2, activation=keras.activations.softmax)])
rng = np.random.default_rng(6)
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
print(np.round(model.predict(x, verbose=0), 4).tolist())
print(model.layers[0].get_config()["activation"], model.layers[1].get_config()["activation"])
