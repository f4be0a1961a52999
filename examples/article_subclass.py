"""The article's network as a subclass of nnctl.Model (section 3.3 of the seed article).

Layers are made in __init__ and used in call. nnctl traces call on a symbolic input, so the
subclassed model has the full layer-by-layer summary and plot of the other two versions.

    python examples/article_subclass.py                   # prints the summary
    nnctl summary examples/article_subclass.py:MyModel    # MyModel() is traced from the
                                                          # input_shape of layer1
"""
import numpy as np

import nnctl


# a subclass of Model
class MyModel(nnctl.Model):
    # the layers are defined in __init__
    def __init__(self):
        super(MyModel, self).__init__()
        # first layer: relu activation, He-normal initialization
        self.layer1 = nnctl.layers.Dense(3, activation="relu",
                                         kernel_initializer="he_normal", name="layer1",
                                         input_shape=(3,))
        # second layer: relu activation, He-normal initialization
        self.layer2 = nnctl.layers.Dense(2, activation="relu",
                                         kernel_initializer="he_normal", name="layer2")
        # third (output) layer: sigmoid activation, He-normal initialization
        self.layer3 = nnctl.layers.Dense(2, activation="sigmoid",
                                         kernel_initializer="he_normal", name="layer3")

    # the forward pass is written in call
    def call(self, inputs):
        x = self.layer1(inputs)
        x = self.layer2(x)
        return self.layer3(x)


# make the model, and call it once on an input (as the article does before summary())
model = MyModel()
x = np.ones((1, 3), dtype=np.float32)
y = model(x)

if __name__ == "__main__":
    model.summary()
