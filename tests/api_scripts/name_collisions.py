# Names that collide are refused, with Keras' messages.
import keras
from keras import layers

try:
    keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="same"),
                      layers.Dense(2, name="same")])
except ValueError as e:
    print("ValueError:", e)
first = layers.Dense(2, name="dense_9")
inputs = keras.Input(shape=(3,))
try:
    keras.Model(inputs, layers.Dense(2, name="dense_9")(first(inputs)))
except ValueError as e:
    print("ValueError:", e)
named = layers.Dense(2, name="dense")   # an explicit name does not count...
auto = layers.Dense(2)                  # ...so the first default name is `dense` too
print(named.name, auto.name)
try:
    keras.Model(inputs, auto(named(inputs)))
except ValueError as e:
    print("ValueError:", e)
