# layer.trainable = False after the model is built: Keras' counts follow (14 / 21).
import keras
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(4,)),
    layers.Dense(3, name="hidden"),
    layers.BatchNormalization(name="norm"),
    layers.Dense(2, name="head"),
], name="frozen")
print(len(model.trainable_weights), len(model.non_trainable_weights))
model.get_layer("hidden").trainable = False
print(len(model.trainable_weights), len(model.non_trainable_weights))
print([w.path for w in model.non_trainable_weights])
model.summary(show_trainable=True)
model.trainable = False
print(len(model.trainable_weights), [layer.trainable for layer in model.layers])
