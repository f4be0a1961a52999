# model.summary() before the model is built (no input shape yet): Keras prints its layers
# with "?" and "0 (unbuilt)"; then the same model built.
import keras
from keras import layers

model = keras.Sequential([layers.Dense(2), layers.Dense(3, name="out")], name="s")
model.summary()
keras.Sequential(name="empty").summary()


class MyModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2)

    def call(self, x):
        return self.dense(x)


MyModel().summary()
keras.Sequential([layers.Dense(2)]).summary(show_trainable=True)
model.build((None, 4))
model.summary()
