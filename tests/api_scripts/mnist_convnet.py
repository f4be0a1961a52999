# keras.io "Simple MNIST convnet" (examples/vision/mnist_convnet.py): the model verbatim, then
# fixed weights and images instead of training; and the layers called on arrays.
import numpy as np
import keras
from keras import layers

num_classes = 10
input_shape = (28, 28, 1)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

rng = np.random.default_rng(0)
for layer in model.layers:
    layer.set_weights([rng.normal(0, 0.2, w.shape).astype("float32")
                       for w in layer.get_weights()])
x_test = rng.random((4, 28, 28, 1), dtype=np.float32)
probabilities = model.predict(x_test, verbose=0)
print(probabilities.shape, np.round(probabilities, 4))
print("classes:", probabilities.argmax(axis=1))

# a channels_first branch of depthwise, separable and transposed convolutions
inputs = keras.Input(shape=(3, 8, 8))
x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", data_format="channels_first")(inputs)
x = layers.SeparableConv2D(4, 3, strides=2, activation="relu", data_format="channels_first")(x)
x = layers.Conv2DTranspose(2, 3, strides=2, padding="same", data_format="channels_first")(x)
x = layers.AveragePooling2D(2, padding="same", data_format="channels_first")(x)
outputs = layers.GlobalMaxPooling2D(data_format="channels_first", keepdims=True)(x)
branch = keras.Model(inputs, outputs, name="channels_first")
branch.summary()
for layer in branch.layers:
    print(layer.name, [tuple(w.shape) for w in layer.weights])

images = rng.normal(size=(2, 8, 8, 3)).astype("float32")
print(layers.Conv2D(2, 3, padding="same", use_bias=False, kernel_initializer="ones")(images).shape)
pooled = layers.MaxPooling2D(pool_size=2, strides=1)(images)
print(pooled.shape, float(np.asarray(pooled).max()) == float(images.max()))
print(np.asarray(layers.GlobalAveragePooling2D()(images)).round(4))
