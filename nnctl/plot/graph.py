"""The picture as data: one box per layer, one edge per connection, as Keras' plot_model sees them.

Keras' model_to_dot draws `model.layers` for a Sequential model (no InputLayer box; the first
layer's input shape says what comes in) and every operation, InputLayers included, for a
Functional one. A box says `name (Type)`, optionally `Activation: relu`, and a row of cells:
`Input shape`, `Output shape`, `Output dtype`, `Trainable`/`Non-trainable`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nnctl.layers.base import format_shape


@dataclass(frozen=True)
class PlotOptions:
    """keras.utils.plot_model's switches (show_shapes on, as the article calls it)."""

    show_shapes: bool = True
    show_dtype: bool = False
    show_layer_names: bool = True
    show_layer_activations: bool = False
    show_trainable: bool = False
    rankdir: str = "TB"                 # "TB": top to bottom; "LR": left to right


@dataclass
class Box:
    """One layer (or model input) as plot_model labels it."""

    name: str                           # the layer name: unique, also the box's id
    type: str                           # Keras class name: Dense, InputLayer, ...
    output_shape: tuple                 # with the batch axis: (None, 3)
    input_shapes: list[tuple] | None    # None for an InputLayer
    dtype: str
    activation: str | None = None       # for layers that have one (Dense, Activation)
    trainable: bool | None = None       # None: the layer has no weights
    output_shapes: list[tuple] | None = None  # every output of a layer of several

    def title(self, options: PlotOptions) -> str:
        return f"{self.name} ({self.type})" if options.show_layer_names else self.type

    def input_shape_text(self) -> str:
        """Keras' text: `(None, 3)` for one input, `[(None, 8), (None, 8)]` for several."""
        shapes = [format_shape(s) for s in self.input_shapes or []]
        return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"

    def output_shape_text(self) -> str:
        if self.output_shapes and len(self.output_shapes) > 1:  # return_state: Keras' list
            return "[" + ", ".join(format_shape(s) for s in self.output_shapes) + "]"
        return format_shape(self.output_shape)

    def cells(self, options: PlotOptions) -> list[tuple[str, str]]:
        """The bottom row of Keras' label: (caption, value) pairs; a value of "" stands alone."""
        cells = []
        if options.show_shapes:
            if self.input_shapes is not None:
                cells.append(("Input shape", self.input_shape_text()))
            cells.append(("Output shape", self.output_shape_text()))
        if options.show_dtype:
            cells.append(("Output dtype", self.dtype))
        if options.show_trainable and self.trainable is not None:
            cells.append(("Trainable" if self.trainable else "Non-trainable", ""))
        return cells

    def activation_line(self, options: PlotOptions) -> str | None:
        if options.show_layer_activations and self.activation is not None:
            return f"Activation: {self.activation}"
        return None


@dataclass
class Graph:
    """Boxes in a stable order (inputs, then layers as written) and edges between them."""

    name: str
    boxes: list[Box]
    edges: list[tuple[str, str]]        # (from, to) box names, no duplicates
    options: PlotOptions = field(default_factory=PlotOptions)


def model_graph(model, options: PlotOptions | None = None) -> Graph:
    """The boxes and edges of plot_model for a built nnctl Model."""
    options = options or PlotOptions()
    shown = {node.name for node in model.layers}
    # model.nodes holds inputs first, then layers as the spec lists them (dependencies first):
    # the order a reader expects, and a good start for the layout's ordering.
    boxes = [_box(model, model.nodes[name]) for name in model.nodes if name in shown]
    edges: dict[tuple[str, str], None] = {}   # a set that keeps its order
    for box in boxes:   # a shared layer: one box, the edges of all its calls (not to itself:
        for call in model.calls(model.nodes[box.name]):   # the layout has no loops)
            for source in (model.nodes[i].layer_name for i in call.inbound):
                if source in shown and source != box.name:
                    edges[source, box.name] = None
    return Graph(model.name, boxes, list(edges), options)


def _box(model, node) -> Box:
    layer = node.layer
    if layer is None:
        return Box(node.name, "InputLayer", (None, *node.shape), None, node.dtype)
    activation = getattr(layer, "activation", None)
    return Box(
        name=node.name, type=node.type_name, output_shape=(None, *node.shape),
        input_shapes=[(None, *shape) for shape in model.inbound_shapes(node)], dtype=node.dtype,
        output_shapes=[(None, *shape) for shape in node.shapes],
        activation=activation.name if activation is not None else None,
        trainable=layer.trainable if node.weights else None)
