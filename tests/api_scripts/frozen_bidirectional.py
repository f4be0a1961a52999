# A Bidirectional made frozen keeps the halves it makes trainable (the model counts them),
# while `trainable = False` set afterwards freezes them too.
import keras
from keras import layers

made_frozen = layers.Bidirectional(layers.GRU(2), trainable=False, name="made_frozen")
set_frozen = layers.Bidirectional(layers.LSTM(2), name="set_frozen")
x = keras.Input(shape=(3, 2))
model = keras.Model(x, layers.Concatenate()([made_frozen(x), set_frozen(x)]), name="bi")
print(len(model.trainable_weights), len(model.non_trainable_weights))
print(len(made_frozen.trainable_weights), len(made_frozen.non_trainable_weights))
set_frozen.trainable = False
print(len(model.trainable_weights), len(model.non_trainable_weights))
print(len(set_frozen.trainable_weights), len(set_frozen.non_trainable_weights))
model.summary(show_trainable=True)
set_frozen.trainable = True
print(len(model.trainable_weights), len(model.non_trainable_weights))
