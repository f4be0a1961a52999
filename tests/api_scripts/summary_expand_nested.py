# summary(expand_nested=True): the rows of each model used as a layer under its row, as Keras.
import keras
import numpy as np
from keras import layers

encoder_input = keras.Input(shape=(6,), name="original")
x = layers.Dense(4, activation="relu", name="encode")(encoder_input)
encoded = layers.Dense(3, name="code")(x)
encoder = keras.Model(encoder_input, encoded, name="encoder")
head = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="h1"), layers.Dense(1, name="h2")], name="head")

inputs = keras.Input(shape=(6,), name="img")
outputs = head(encoder(inputs))
model = keras.Model(inputs, outputs, name="classifier")
model.summary(expand_nested=True)
model.summary(expand_nested=True, show_trainable=True)
stacked = keras.Sequential([encoder, layers.Dense(2, name="top")], name="stacked")
stacked.summary(expand_nested=True)
outer = keras.Sequential([keras.Input((6,)), keras.Sequential([encoder, head], name="mid")], name="outer")
outer.summary(expand_nested=True)

pixels = keras.Input(shape=(4,), name="pixels")
features = layers.Dense(3, activation="relu", name="features")(pixels)
pair_encoder = keras.Model(pixels, features, name="pair_encoder")
first = keras.Input(shape=(4,), name="first")
second = keras.Input(shape=(4,), name="second")
both = layers.concatenate([pair_encoder(first), pair_encoder(second)], name="both")
model = keras.Model([first, second], layers.Dense(1, name="same")(both), name="pair")
model.summary(expand_nested=True)
branch = keras.Input(shape=(4,), name="side")
joined = layers.concatenate([pair_encoder(branch), layers.Dense(2, name="skip")(branch)])
wide = keras.Model(branch, joined, name="wide")
wide.summary(expand_nested=True, show_trainable=True)
