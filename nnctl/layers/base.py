"""The Layer base class: Keras arguments in, shapes and weights out, a NumPy forward pass.

Shapes here are of one sample (no batch axis); None stands for a dimension known only at
run time. Axes in arguments follow Keras, which counts the batch axis: `axis=1` is the first
axis of a sample, `axis=-1` the last.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from nnctl.errors import NnctlError, SpecError
from nnctl.naming import did_you_mean


class ArgError(SpecError):
    """A bad layer argument; `key` says which, so the spec can point at it."""

    def __init__(self, key: str | None, message: str, unknown: bool = False):
        super().__init__(message)
        self.key = key
        self.unknown = unknown   # the key itself is wrong (point at the key, not its value)


@dataclass(frozen=True)
class WeightSpec:
    name: str            # Keras weight name: kernel, bias, gamma, ...
    shape: tuple
    initializer: object  # an nnctl.initializers initializer
    trainable: bool


class Layer:
    """Base class. A subclass's __init__ signature is its list of Keras arguments."""

    # "one": called on a single tensor; "many": a merge layer, called on a list.
    arity = "one"
    # Keras arguments accepted because configs copied from Keras carry them, but which change
    # nothing at inference (regularizers, constraints, ...).
    inert_args: tuple = ()

    def __init__(self, name: str, trainable: bool = True, dtype=None):
        self.name = name
        self.trainable = trainable

    # --- construction from a spec ------------------------------------------------------
    @classmethod
    def arguments(cls) -> dict:
        """Keras argument name -> default (inspect.Parameter.empty when required)."""
        params = inspect.signature(cls.__init__).parameters
        args = {n: p.default for n, p in params.items()
                if n not in ("self", "name", "trainable", "dtype")
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        args.update({n: None for n in cls.inert_args})
        return args

    @classmethod
    def from_config(cls, name: str, config: dict) -> "Layer":
        allowed = cls.arguments()
        common = ("name", "trainable", "dtype")
        for key in config:
            if key not in allowed and key not in common:
                hint = did_you_mean(str(key), list(allowed) + list(common))
                raise ArgError(key, f"layer '{name}': unknown argument '{key}' for "
                                    f"{cls.__name__}{hint}; allowed: "
                                    f"{', '.join(list(allowed) + list(common))}",
                               unknown=True)
        for key, default in allowed.items():
            if default is inspect.Parameter.empty and key not in config:
                raise ArgError(None, f"layer '{name}': {cls.__name__} needs `{key}`")
        trainable = config.get("trainable", True)
        if not isinstance(trainable, bool):
            raise ArgError("trainable", f"layer '{name}': `trainable` must be true or false, "
                                        f"got {trainable!r}")
        dtype = config.get("dtype")
        if dtype not in (None, "float32", "float64"):
            raise ArgError("dtype", f"layer '{name}': `dtype` must be float32 or float64, "
                                    f"got {dtype!r}")
        kwargs = {k: v for k, v in config.items() if k in allowed and k not in cls.inert_args}
        return cls(name=name, trainable=trainable, **kwargs)

    # --- what subclasses provide -------------------------------------------------------
    def output_shape(self, input_shapes: list[tuple]) -> tuple:
        return input_shapes[0]

    def weight_specs(self, input_shapes: list[tuple]) -> list[WeightSpec]:
        return []

    def call(self, inputs: list[np.ndarray], weights: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def macs(self, input_shapes: list[tuple], output_shape: tuple) -> int:
        """Multiply-accumulates for one sample."""
        return 0

    def get_config(self) -> dict:
        """The spec mapping of this layer (Keras arguments that differ from the defaults)."""
        config = {"type": type(self).__name__, "name": self.name}
        for key, default in self.arguments().items():
            if key in self.inert_args or not hasattr(self, key):
                continue
            value = self.config_value(key)
            if default is inspect.Parameter.empty or value != default:
                config[key] = value
        if not self.trainable:
            config["trainable"] = False
        return config

    def config_value(self, key):
        value = getattr(self, key)
        return value.get_config() if hasattr(value, "get_config") else value

    def __repr__(self):
        config = {k: v for k, v in self.get_config().items() if k not in ("type", "name")}
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({args}{', ' if args else ''}name={self.name!r})"


# --- argument checks shared by the layers --------------------------------------------------

def positive_int(value, key: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ArgError(key, f"layer '{layer}': `{key}` must be a positive integer, got {value!r}")
    return value


def number(value, key: str, layer: str, *, low=None, high=None, low_open=False,
           high_open=False) -> float:
    """A float argument; YAML 1.1 reads `1e-5` as text, so numeric text is accepted."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ArgError(key, f"layer '{layer}': `{key}` must be a number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ArgError(key, f"layer '{layer}': `{key}` must be {'>' if low_open else '>='} "
                            f"{low}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ArgError(key, f"layer '{layer}': `{key}` must be {'<' if high_open else '<='} "
                            f"{high}, got {value!r}")
    return float(value)


def boolean(value, key: str, layer: str) -> bool:
    if not isinstance(value, bool):
        raise ArgError(key, f"layer '{layer}': `{key}` must be true or false, got {value!r}")
    return value


def resolve(getter, value, key: str, layer: str):
    """An activation or initializer by name or mapping, its errors pinned to `key`."""
    try:
        return getter(value)
    except ArgError:
        raise
    except NnctlError as exc:
        raise ArgError(key, f"layer '{layer}': {exc.message}") from None


def sample_axes(axis, rank: int, layer: str, key: str = "axis") -> tuple[int, ...]:
    """Keras axes (batch counted, negatives from the end) -> axes of one sample (0-based)."""
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    result = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int):
            raise ArgError(key, f"layer '{layer}': `{key}` must be an integer or a list of "
                                f"integers, got {axis!r}")
        if a == 0:
            raise ArgError(key, f"layer '{layer}': axis 0 is the batch axis; use 1..{rank} "
                                "or a negative axis")
        if a < -rank or a > rank:
            raise ArgError(key, f"layer '{layer}': axis {a} is out of bounds for an input of "
                                f"rank {rank + 1} (batch axis included)")
        result.append(a - 1 if a > 0 else rank + a)
    if len(set(result)) != len(result):
        raise ArgError(key, f"layer '{layer}': repeated axis in {axis!r}")
    return tuple(sorted(result))


def format_shape(shape: tuple) -> str:
    """Keras' way of writing a shape: `(None, 3)`, `(None, 5, 1)`."""
    return "(" + ", ".join(str(d) for d in shape) + ")"
