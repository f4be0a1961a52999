"""Every registered layer type has every piece (nnctl/layers/base.py, Layer.PIECES): a type
that leaves one out fails here, not in a user's `inspect`, `export` or `plot --neurons`."""
from __future__ import annotations

import inspect

import pytest

from nnctl.layers import LAYERS
from nnctl.layers.base import Layer   # the engine's base (nnctl.layers.Layer is the API's)

TYPES = LAYERS.names()


def missing_pieces(cls) -> list[str]:
    missing = [piece for piece in Layer.PIECES if getattr(cls, piece) is getattr(Layer, piece)]
    missing += [name for name in Layer.DECLARATIONS if getattr(cls, name) is None]
    if "activation" in inspect.signature(cls.__init__).parameters and \
            cls.pre_activation is Layer.pre_activation:
        missing.append("pre_activation")
    return missing


@pytest.mark.parametrize("type_name", TYPES)
def test_layer_type_has_every_piece(type_name):
    assert missing_pieces(LAYERS.get(type_name)) == []


def test_kernel_weights_have_initializers():
    """lint and inspect find a kernel's initializer as `<weight>_initializer` (or the
    argument Layer.initializer_args names)."""
    for type_name in TYPES:
        cls = LAYERS.get(type_name)
        for weight in cls.kernel_weights:
            assert cls.initializer_arg(weight) in cls.arguments(), (type_name, weight)


def test_a_missing_piece_is_caught():
    class Half(Layer):
        affine = True

        def call(self, inputs, weights):
            return inputs[0]

    assert missing_pieces(Half) == ["output_shape", "weight_specs", "backward", "to_onnx",
                                    "macs", "neuron_link"]
    with pytest.raises(NotImplementedError):
        Half(name="half").macs([(3,)], (3,))


def test_an_undeclared_affine_is_caught():
    class Undeclared(Layer):
        pass

    assert "affine" in missing_pieces(Undeclared)
