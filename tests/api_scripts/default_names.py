# Default names are numbered per Python session, as Keras 3 does.
import keras
from keras import layers

a = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4), layers.Dense(2)])
b = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(4), layers.Dropout(0.5),
                      layers.Dense(1)])
print(a.name, [layer.name for layer in a.layers])
print(b.name, [layer.name for layer in b.layers])
inputs = keras.Input(shape=(3,))
c = keras.Model(inputs, layers.Dense(2)(layers.BatchNormalization()(inputs)))
print(c.name, [layer.name for layer in c.layers])
d = keras.Model(inputs, layers.Dense(2)(inputs))
print(d.name, d.layers[-1].name)
b.summary()
grown = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(2)])
grown.add(layers.Dense(1))          # Keras builds it again: a Functional, and a name, each time
grown.layers[0].trainable = False   # no new build
print(grown.name, [layer.name for layer in grown.layers],
      keras.Model(inputs, layers.Dense(1)(inputs)).name)
