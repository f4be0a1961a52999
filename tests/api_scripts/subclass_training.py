# keras.io's subclassing pattern: call(inputs, training=...) with Dropout and BatchNormalization.
import keras
import numpy as np
from keras import layers


class Classifier(keras.Model):
    def __init__(self, num_classes=3):
        super().__init__()
        self.dense = layers.Dense(8, activation="relu")
        self.norm = layers.BatchNormalization()
        self.dropout = layers.Dropout(0.5)
        self.classifier = layers.Dense(num_classes, activation="softmax")

    def call(self, inputs, training=False):
        x = self.dense(inputs)
        x = self.norm(x, training=training)
        x = self.dropout(x, training=training)
        return self.classifier(x)


model = Classifier()
data = np.random.default_rng(2).normal(size=(4, 6)).astype("float32")
model(data)
rng = np.random.default_rng(3)
model.set_weights([np.abs(rng.normal(size=w.shape)).astype("float32") + 0.5
                   for w in model.get_weights()])
model.summary()
print(np.round(model(data, training=False), 4).tolist())
print(np.round(model.predict(data, verbose=0), 4).tolist())
print([layer.name for layer in model.layers], model.count_params())
