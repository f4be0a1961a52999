"""TimeDistributed: a layer applied to every step (axis 1) of its input, with one set of
weights, as Keras' wrapper (its weights are the wrapped layer's: `time_distributed/dense/
kernel`). Bidirectional, the other wrapper, is in recurrent.py."""
from __future__ import annotations

from nnctl.layers.base import ArgError, Layer, WeightSpec, cannot_draw, wrapped_layer


class TimeDistributed(Layer):
    """A layer applied to every step of a sequence (axis 1), with the same weights."""

    wrapped_layer_key = "layer"  # the model names it (Keras' default names, nnctl.model)
    wrapped_attribute = "layer"  # Keras saves its weights under `layer/vars` (kerasfile.h5)
    neuron_link = cannot_draw("TimeDistributed applies its layer to every step")
    affine = False   # whatever it wraps: lint sees no activation of its own

    def __init__(self, layer, **common):
        super().__init__(**common)
        self.layer = self._inner(layer)
        self.kernel_weights = tuple(f"{self.layer.name}/{w}" for w in self.layer.kernel_weights)

    def _inner(self, layer):
        from nnctl import layers as registry

        name = self.name
        if isinstance(layer, Layer):
            inner = layer
        else:
            if not isinstance(layer, dict) or "type" not in layer:
                raise ArgError("layer", f"layer '{name}': `layer` is the layer to apply to every "
                                        "step, e.g. `layer: {type: Dense, units: 8}`")
            cls = registry.get(layer["type"])
            inner = wrapped_layer(name, cls, layer, registry.default_name(cls))
        if getattr(inner, "recurrent", False) or getattr(inner, "arity", "one") != "one" or \
                isinstance(inner, TimeDistributed) or getattr(inner, "consumes_mask", False) \
                or getattr(inner, "mask_zero", False) or getattr(inner, "creates_mask", False):
            raise ArgError("layer", f"layer '{name}': TimeDistributed of {type(inner).__name__} "
                                    "is not supported; nnctl wraps layers of one input that "
                                    "hold no state across steps (Dense, convolutions, ...)")
        inner.applied_by = name   # its errors' hints say where a Reshape goes
        return inner

    def get_config(self):
        config = super().get_config()
        config["layer"] = self.layer.get_config()
        return config

    def _step_shape(self, shape):
        if len(shape) < 2:
            raise ArgError(None, f"layer '{self.name}': TimeDistributed takes inputs of at least "
                                 f"2 axes after the batch (steps, ...), got shape {tuple(shape)}")
        return tuple(shape[1:])

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        return (shape[0], *self.layer.output_shape([self._step_shape(shape)]))

    def weight_specs(self, input_shapes):
        step = self._step_shape(input_shapes[0])
        return [WeightSpec(f"{self.layer.name}/{w.name}", w.shape, w.initializer, w.trainable,
                           w.dtype) for w in self.layer.weight_specs([step])]

    def macs(self, input_shapes, output_shape):
        steps = input_shapes[0][0] or 1
        step = self._step_shape(input_shapes[0])
        return steps * self.layer.macs([step], tuple(output_shape[1:]))

    def _inner_weights(self, weights):
        prefix = self.layer.name + "/"
        return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}

    @staticmethod
    def _merged(x):
        """(batch, steps, ...) -> (batch * steps, ...)."""
        return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])

    def call(self, inputs, weights):
        x = inputs[0]
        y = self.layer.call([self._merged(x)], self._inner_weights(weights))
        return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])

    def backward(self, inputs, weights, output, grad):
        x = inputs[0]
        (gx,), gw = self.layer.backward([self._merged(x)], self._inner_weights(weights),
                                        self._merged(output), self._merged(grad))
        return [gx.reshape(x.shape)], {f"{self.layer.name}/{k}": v for k, v in gw.items()}

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape):
        from nnctl.onnx.graph import CannotExport

        shape = list(input_shapes[0])
        if shape[0] is None or None in shape[1:]:
            raise CannotExport("TimeDistributed over steps of a size known only at run time")
        step = shape[1:]
        merged = g.op("Reshape", inputs[0], g.ints([-1, *step]))
        inner_out = tuple(output_shape[1:])
        y = self.layer.to_onnx(g, [merged], self._inner_weights(weights), [step], inner_out)
        return g.op("Reshape", y, g.ints([-1, shape[0], *inner_out]))
