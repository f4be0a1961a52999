# A fixed batch size shows as the first axis of every summary row, as Keras shows it:
# Input(batch_size=...), batch_shape=, InputLayer's second argument, a Sequential built with
# build((5, 3)) or by its first call on data; kept through save and load_model; any number
# of rows still runs.
import numpy as np

import keras
from keras import layers

a = keras.Input((3,), batch_size=4, name="a")
model = keras.Model(a, layers.Dense(2, name="d")(a), name="functional_fixed")
model.summary()
print(model.predict(np.ones((7, 3), "float32"), verbose=0).shape)
keras.Sequential([keras.Input(batch_shape=(2, 3)), layers.Dense(2)], name="batch_shape").summary()
keras.Sequential([layers.InputLayer((3,), 8), layers.Dense(2)], name="input_layer_arg").summary()
built = keras.Sequential([layers.Dense(2)], name="built")
built.build((5, 3))
built.summary()
called = keras.Sequential([layers.Dense(2)], name="called")
called(np.ones((6, 3), "float32"))
called.summary()
called.save("called.keras")
keras.saving.load_model("called.keras").summary()
# predict builds on its first batch (32 rows by default), as fit does
predicted = keras.Sequential([layers.Dense(2)], name="predicted")
predicted.predict(np.ones((40, 3), "float32"), verbose=0)
predicted.summary()


class Sub(keras.Model):
    def __init__(self):
        super().__init__(name="sub")
        self.dense = layers.Dense(2)

    def call(self, x):
        return self.dense(x)


sub = Sub()
sub.predict(np.ones((40, 3), "float32"), batch_size=8, verbose=0)
sub.summary()
