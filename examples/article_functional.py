"""The article's network built with the functional API (section 3.2 of the seed article).

    python examples/article_functional.py                 # prints the summary
    nnctl plot examples/article_functional.py:model       # the graph, from the CLI
"""
import nnctl

# the model's input
inputs = nnctl.Input(shape=(3,), name="input")
# first layer: relu activation, other arguments by default
x = nnctl.layers.Dense(3, activation="relu", name="layer1")(inputs)
# second layer: relu activation, other arguments by default
x = nnctl.layers.Dense(2, activation="relu", name="layer2")(x)
# third (output) layer: sigmoid activation
outputs = nnctl.layers.Dense(2, activation="sigmoid", name="layer3")(x)
# the Model is made from its inputs and outputs
model = nnctl.Model(inputs=inputs, outputs=outputs, name="my_model")

if __name__ == "__main__":
    model.summary()
