"""The article's network built with nnctl.Sequential (section 3.1 of the seed article).

    python examples/article_sequential.py                 # prints the summary
    nnctl summary examples/article_sequential.py:model    # the same, from the CLI
"""
import nnctl
from nnctl import layers

# A Sequential model of 3 layers
model = nnctl.Sequential(
    [
        # first (hidden) layer: relu activation, He-normal initialization
        layers.Dense(3, activation="relu",
                     kernel_initializer="he_normal", name="layer1", input_shape=(3,)),
        # second (hidden) layer: relu activation, He-normal initialization
        layers.Dense(2, activation="relu",
                     kernel_initializer="he_normal", name="layer2"),
        # third (output) layer: sigmoid activation, He-normal initialization
        layers.Dense(2, activation="sigmoid",
                     kernel_initializer="he_normal", name="layer3"),
    ],
    name="my_Sequential",  # the model's name
)

if __name__ == "__main__":
    model.summary()
