"""Layers that act only while training, the identity at inference as here: Dropout's kin
(SpatialDropout1D/2D/3D, GaussianDropout, AlphaDropout), GaussianNoise,
ActivityRegularization (which adds a loss), and the image augmentation layers keras.io's image
classifiers start with (RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
RandomContrast, RandomBrightness). Keras files of trained models hold them; their arguments
are checked and kept (a .keras file written back has them) but change nothing nnctl
computes."""
from __future__ import annotations

from nnctl.layers.base import ArgError, choice, number
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


def _factor(value, key: str, layer: str, bounds=(-1.0, 1.0), each=False, low_open=False):
    """A factor: a number, or [low, high] (kept as given: Keras reads either), in `bounds` as
    Keras checks it on making the layer: a number within them; a pair that reaches into them
    (its base class's _set_factor), or each of its two within them (`each`: RandomZoom's and
    RandomTranslation's own check; `low_open`: RandomZoom's -1 excluded)."""
    pair = isinstance(value, (list, tuple)) and len(value) == 2
    values = [number(v, key, layer) for v in value] if pair else [number(value, key, layer)]
    low, high = bounds

    def within(v):
        return (low < v if low_open else low <= v) and v <= high

    fits = all(map(within, values)) if each or not pair else \
        values[0] <= high and values[1] >= low
    if not fits:
        raise ArgError(key, f"layer '{layer}': `{key}` must be a number or [low, high] in "
                            f"{'(' if low_open else '['}{low:g}, {high:g}], as Keras checks "
                            f"it, got {value!r}")
    return values if pair else values[0]


FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


class _Augmentation(PassThrough):
    """An image augmentation layer: random while training, the identity at inference."""

    def _image_args(self, seed, data_format):
        self.seed = seed
        data_format_of(data_format, self.name)   # checked; kept as given
        self.data_format = data_format

    def _geometry_args(self, fill_mode, interpolation, fill_value):
        self.fill_mode = choice(fill_mode, FILL_MODES, "fill_mode", self.name)
        self.interpolation = choice(interpolation, INTERPOLATIONS, "interpolation", self.name)
        self.fill_value = number(fill_value, "fill_value", self.name)


class RandomFlip(_Augmentation):
    """Flips images at random while training; the identity at inference."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **common):
        super().__init__(**common)
        self.mode = choice(mode, ("horizontal", "vertical", "horizontal_and_vertical"), "mode",
                           self.name)
        self._image_args(seed, data_format)


class RandomRotation(_Augmentation):
    """Rotates images at random while training; the identity at inference."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **common):
        super().__init__(**common)
        self.factor = _factor(factor, "factor", self.name)
        self._geometry_args(fill_mode, interpolation, fill_value)
        self._image_args(seed, data_format)


class RandomZoom(_Augmentation):
    """Zooms images at random while training; the identity at inference."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **common):
        super().__init__(**common)
        self.height_factor = _factor(height_factor, "height_factor", self.name, each=True,
                                     low_open=True)
        self.width_factor = None if width_factor is None else _factor(
            width_factor, "width_factor", self.name, each=True, low_open=True)
        self._geometry_args(fill_mode, interpolation, fill_value)
        self._image_args(seed, data_format)


class RandomTranslation(_Augmentation):
    """Shifts images at random while training; the identity at inference."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **common):
        super().__init__(**common)
        self.height_factor = _factor(height_factor, "height_factor", self.name, each=True)
        self.width_factor = _factor(width_factor, "width_factor", self.name, each=True)
        self._geometry_args(fill_mode, interpolation, fill_value)
        self._image_args(seed, data_format)


class _RandomIntensity(_Augmentation):
    factor_bounds = (-1.0, 1.0)   # Keras' _FACTOR_BOUNDS

    # data_format: not in Keras' signature, but in its config (its base class takes it)
    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **common):
        super().__init__(**common)
        self._image_args(seed, data_format)
        self.factor = _factor(factor, "factor", self.name, self.factor_bounds)
        if not (isinstance(value_range, (list, tuple)) and len(value_range) == 2):
            raise ArgError("value_range", f"layer '{self.name}': `value_range` is [low, high], "
                                          f"got {value_range!r}")
        self.value_range = [number(v, "value_range", self.name) for v in value_range]


class RandomContrast(_RandomIntensity):
    """Changes images' contrast at random while training; the identity at inference."""

    factor_bounds = (0.0, 1.0)


class RandomBrightness(_RandomIntensity):
    """Changes images' brightness at random while training; the identity at inference."""


NOISE_LAYERS = (SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, GaussianDropout,
                AlphaDropout, GaussianNoise, ActivityRegularization, RandomFlip, RandomRotation,
                RandomZoom, RandomTranslation, RandomContrast, RandomBrightness)
