# model.summary's arguments: line_length, positions, print_fn, show_trainable; long titles.
import keras
from keras import layers

model = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(4, name="hidden"),
                          layers.Dense(1, name="out")],
                         name="a_model_whose_name_is_long_enough_to_wrap_the_title_of_its_summary_at_eighty_columns")
model.summary()
model.summary(line_length=60)
model.summary(line_length=70, positions=[0.5, 0.8, 1.0])
lines = []
model.summary(print_fn=lambda text: lines.append(text))
print(len(lines), repr(lines[0][-40:]))
model.layers[0].trainable = False
model.summary(show_trainable=True, line_length=90)
