# keras.io-style text models, functional, with padding masked by Embedding(mask_zero=True):
# Keras lists each mask as a NotEqual operation, connected to the layers called with it
import keras
from keras import layers

tokens = keras.Input(shape=(8,), dtype="int32", name="tokens")
x = layers.Embedding(100, 8, mask_zero=True)(tokens)
x = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(x)
x = layers.GRU(4)(x)
model = keras.Model(tokens, layers.Dense(1, activation="sigmoid")(x), name="text_classifier")
model.summary()

left = keras.Input(shape=(4,), dtype="int32")
right = keras.Input(shape=(5,), dtype="int32")
a = layers.SimpleRNN(3)(layers.Embedding(20, 3, mask_zero=True)(left))
b = layers.Dense(3)(layers.Embedding(20, 2, mask_zero=True)(right))
pair = keras.Model([left, right], layers.concatenate([a, layers.GRU(2)(b)]))
pair.summary()
