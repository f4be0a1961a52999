# A siamese text model: one Embedding and one LSTM read two token inputs.
import keras
import numpy as np
from keras import layers

left = keras.Input(shape=(5,), dtype="int32", name="left")
right = keras.Input(shape=(5,), dtype="int32", name="right")
embed = layers.Embedding(20, 6, name="embed")
encode = layers.LSTM(4, name="encode")
left_code = encode(embed(left))
right_code = encode(embed(right))
distance = layers.subtract([left_code, right_code], name="distance")
score = layers.Dense(1, activation="sigmoid", name="score")(distance)
model = keras.Model(inputs=[left, right], outputs=score, name="siamese")
model.summary()
print(model.count_params(), [layer.name for layer in model.layers])
rng = np.random.default_rng(11)
model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                   for w in model.get_weights()])
tokens_a = rng.integers(0, 20, size=(3, 5)).astype("int32")
tokens_b = rng.integers(0, 20, size=(3, 5)).astype("int32")
print(np.round(model.predict([tokens_a, tokens_b], verbose=0), 4).tolist())
print(np.round(model.predict([tokens_a, tokens_a], verbose=0), 4).tolist())
