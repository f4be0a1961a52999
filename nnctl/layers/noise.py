"""Layers that act only while training, the identity at inference as here: Dropout's kin
(SpatialDropout1D/2D/3D, GaussianDropout, AlphaDropout), GaussianNoise and
ActivityRegularization (which adds a loss). Keras files of trained models hold them; their
arguments are checked and kept (a .keras file written back has them) but change nothing
nnctl computes."""
from __future__ import annotations

from nnctl.layers.base import ArgError, number
from nnctl.layers.base import data_format as data_format_of
from nnctl.layers.core import PassThrough


def _rate(value, layer):
    return number(value, "rate", layer, low=0, high=1)


class _SpatialDropout(PassThrough):
    rank = 0    # the axes of one sample Keras requires (its InputSpec)
    # Keras' constructor takes no `trainable` and its config names the dtype, no policy: a
    # .keras file is written so (nnctl/kerasfile/config.py)
    keras_takes_no_common = True

    def __init__(self, rate, data_format=None, seed=None, **common):
        super().__init__(**common)
        self.rate = _rate(rate, self.name)
        data_format_of(data_format, self.name)   # checked; kept as given (None: Keras' default)
        self.data_format = data_format
        self.seed = seed

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if len(shape) != self.rank:
            raise ArgError(None, f"layer '{self.name}': {type(self).__name__} takes inputs of "
                                 f"{self.rank} axes after the batch, got shape "
                                 f"{tuple(shape)}")
        return shape


class SpatialDropout1D(_SpatialDropout):
    """Drops whole feature maps of a sequence while training; the identity at inference."""

    rank = 2

    def __init__(self, rate, seed=None, **common):
        super().__init__(rate, seed=seed, **common)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of an image while training; the identity at inference."""

    rank = 3


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature maps of a volume while training; the identity at inference."""

    rank = 4


class GaussianDropout(PassThrough):
    """Multiplies by noise of mean 1 while training; the identity at inference."""

    def __init__(self, rate, seed=None, **common):
        super().__init__(**common)
        self.rate = _rate(rate, self.name)
        self.seed = seed


class AlphaDropout(PassThrough):
    """Dropout keeping SELU's mean and variance while training; the identity at inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **common):
        super().__init__(**common)
        self.rate = _rate(rate, self.name)
        self.noise_shape = noise_shape
        self.seed = seed


class GaussianNoise(PassThrough):
    """Adds zero-mean noise while training; the identity at inference."""

    def __init__(self, stddev, seed=None, **common):
        super().__init__(**common)
        self.stddev = number(stddev, "stddev", self.name, low=0)
        self.seed = seed


class ActivityRegularization(PassThrough):
    """Adds l1/l2 of its input to the training loss; the identity at inference."""

    def __init__(self, l1=0.0, l2=0.0, **common):
        super().__init__(**common)
        self.l1 = number(l1, "l1", self.name, low=0)
        self.l2 = number(l2, "l2", self.name, low=0)


NOISE_LAYERS = (SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, GaussianDropout,
                AlphaDropout, GaussianNoise, ActivityRegularization)
